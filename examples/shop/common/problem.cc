#include "common/problem.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace shop {

std::string Problem::json() const {
  nlohmann::json j = {{"type", "about:blank"}, {"title", title}, {"status", status}};
  if (!detail.empty()) j["detail"] = detail;
  if (!invalid_params.empty()) {
    auto& params = j["invalid_params"] = nlohmann::json::array();
    for (const auto& p : invalid_params) params.push_back({{"name", p.name}, {"reason", p.reason}});
  }
  // Details may quote client input: never throw on invalid UTF-8 in it.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Problem Problem::bad_request(std::string detail, std::vector<InvalidParam> params) {
  return {400, "Bad Request", std::move(detail), std::move(params)};
}

Problem Problem::not_found(std::string detail) {
  return {404, "Not Found", std::move(detail)};
}

Problem Problem::too_large(std::size_t limit) {
  return {413, "Content Too Large",
          "the request body is larger than " + std::to_string(limit) + " bytes"};
}

Problem Problem::unavailable(std::string detail) {
  return {503, "Service Unavailable", std::move(detail)};
}

Problem Problem::internal(std::string detail) {
  return {500, "Internal Server Error", std::move(detail)};
}

}  // namespace shop
