// Fuzz target: Alertmanager 0.25's label matcher syntax
// (watch/routing/matchers.h), which reads user configuration (routes' and
// inhibit rules' `matchers`) and, later, silences from the API.
//
// Besides "no crash, no hang, no sanitizer report", it checks properties that
// hold for every input:
// - a refused text gives a non-empty message;
// - an accepted list holds names of [a-zA-Z_:][a-zA-Z0-9_:]*, and printed as
//   Alertmanager prints it ({a="x",b=~"y"}) it parses back to the same list;
// - each matcher printed alone parses back to itself with parse_matcher();
// - = and != agree with their own value, and a regex matcher and its negation
//   never agree on a value;
// - parse_matcher() on the whole input accepts or refuses without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "watch/routing/matchers.h"

namespace {

using watch::routing::Matcher;
using watch::routing::MatchType;

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

bool is_matcher_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void check_matcher(const Matcher& m, std::string_view input) {
  if (!is_matcher_name(m.name())) violated("accepted a bad label name", input);
  std::string error;
  const auto again = watch::routing::parse_matcher(m.to_string(), &error);
  if (!again || !(*again == m)) violated("a matcher does not parse back from its text", input);
  switch (m.type()) {
    case MatchType::kEqual:
      if (!m.matches(m.value())) violated("= does not match its own value", input);
      break;
    case MatchType::kNotEqual:
      if (m.matches(m.value())) violated("!= matches its own value", input);
      break;
    case MatchType::kRegex:
    case MatchType::kNotRegex: {
      const MatchType negated =
          m.type() == MatchType::kRegex ? MatchType::kNotRegex : MatchType::kRegex;
      const auto other = Matcher::make(m.name(), negated, m.value());
      if (!other) violated("a regex compiles for one operator but not the other", input);
      for (std::string_view v : {std::string_view(m.value()), std::string_view(), input}) {
        if (m.matches(v) == other->matches(v)) violated("=~ and !~ agree on a value", input);
      }
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto list = watch::routing::parse_matchers(text, &error);
  if (!list) {
    if (error.empty()) violated("refused without a message", text);
  } else {
    for (const Matcher& m : *list) check_matcher(m, text);
    const auto again = watch::routing::parse_matchers(watch::routing::to_string(*list), &error);
    if (!again || *again != *list) violated("a list does not parse back from its text", text);
  }
  error.clear();
  if (const auto one = watch::routing::parse_matcher(text, &error)) {
    check_matcher(*one, text);
  } else if (error.empty()) {
    violated("one matcher refused without a message", text);
  }
  return 0;
}
