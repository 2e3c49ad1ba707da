// Problem details (RFC 9457): the error body every shop endpoint answers
// with, as application/problem+json, so that clients get one shape for every
// error and can tell which field was wrong.
//
//   {"type":"about:blank","title":"Bad Request","status":400,
//    "detail":"quantity: must be an integer from 1 to 1000",
//    "invalid_params":[{"name":"quantity","reason":"must be an integer from 1 to 1000"}]}
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shop {

inline constexpr std::string_view kProblemJson = "application/problem+json";

struct InvalidParam {
  std::string name;  // the JSON field (or query parameter)
  std::string reason;
};

struct Problem {
  int status = 500;
  std::string title;   // the status's reason phrase
  std::string detail;  // for humans: what went wrong with this request
  std::vector<InvalidParam> invalid_params = {};

  std::string json() const;

  static Problem bad_request(std::string detail, std::vector<InvalidParam> params = {});
  static Problem not_found(std::string detail);
  static Problem too_large(std::size_t limit);
  static Problem unavailable(std::string detail);  // 503: a dependency is down
  static Problem internal(std::string detail);
};

}  // namespace shop
