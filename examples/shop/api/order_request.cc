#include "api/order_request.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace shop {
namespace {

using nlohmann::json;

// A JSON string's length in characters (code points), as clients count them.
std::size_t utf8_length(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::optional<std::string> text_field(const json& body, const char* name, bool required,
                                      std::vector<InvalidParam>& errors) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) errors.push_back({name, "is required"});
    return std::nullopt;
  }
  if (!it->is_string()) {
    errors.push_back({name, fmt::format("must be a string, not {}", it->type_name())});
    return std::nullopt;
  }
  std::string value = it->get<std::string>();
  if (blank(value)) {
    errors.push_back({name, "must not be empty"});
    return std::nullopt;
  }
  if (utf8_length(value) > kMaxItemLength) {
    errors.push_back({name, fmt::format("must be at most {} characters", kMaxItemLength)});
    return std::nullopt;
  }
  return value;
}

std::optional<int> quantity_field(const json& body, std::vector<InvalidParam>& errors) {
  const auto it = body.find("quantity");
  const std::string range = fmt::format("must be an integer from 1 to {}", kMaxQuantity);
  if (it == body.end() || it->is_null()) {
    errors.push_back({"quantity", "is required"});
    return std::nullopt;
  }
  // 2.0 and "2" are refused: a client that sends them has a bug worth seeing.
  if (!it->is_number_integer()) {
    errors.push_back({"quantity", fmt::format("{}, not {}", range, it->type_name())});
    return std::nullopt;
  }
  // Compare as the widest type the parser produced, so huge values cannot wrap.
  const bool in_range =
      it->is_number_unsigned()
          ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxQuantity) &&
                it->get<std::uint64_t>() >= 1
          : it->get<std::int64_t>() >= 1 && it->get<std::int64_t>() <= kMaxQuantity;
  if (!in_range) {
    errors.push_back({"quantity", range});
    return std::nullopt;
  }
  return static_cast<int>(it->get<std::int64_t>());
}

}  // namespace

OrderRequest parse_order_request(std::string_view body) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.what() carries the byte offset ("at line 1, column 9"); keep the part
    // after the library's prefix.
    std::string why = e.what();
    if (const auto colon = why.find("parse error"); colon != std::string::npos)
      why = why.substr(colon);
    return {std::nullopt, Problem::bad_request("the body is not valid JSON: " + why,
                                               {{"body", "is not valid JSON"}})};
  }
  if (!parsed.is_object())
    return {std::nullopt, Problem::bad_request(fmt::format("the body must be a JSON object, not {}",
                                                           parsed.type_name()),
                                               {{"body", "must be a JSON object"}})};

  std::vector<InvalidParam> errors;
  auto item = text_field(parsed, "item", /*required=*/true, errors);
  auto quantity = quantity_field(parsed, errors);
  auto customer = text_field(parsed, "customer", /*required=*/false, errors);
  if (!errors.empty()) {
    std::string detail;
    for (const auto& e : errors) {
      if (!detail.empty()) detail += "; ";
      detail += e.name + ": " + e.reason;
    }
    return {std::nullopt, Problem::bad_request(std::move(detail), std::move(errors))};
  }
  return {
      NewOrder{.item = std::move(*item), .quantity = *quantity, .customer = std::move(customer)},
      {}};
}

}  // namespace shop
