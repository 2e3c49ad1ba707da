// Alertmanager 0.25's label matchers: the `matchers` of routes and inhibit
// rules, silences' matchers and amtool's filters (pkg/labels).
//
//   using namespace watch::routing;
//   std::string error;
//   auto matchers = parse_matchers(R"({service="api", severity=~"critical|page"})", &error);
//   if (!matchers) return config_error(error);  // e.g. "bad matcher format: 1a=b"
//   matches_all(*matchers, alert.labels);         // every matcher holds
//   (*matchers)[1].to_string();                   // severity=~"critical|page"
//
// The syntax is 0.25's (before the UTF-8 matchers of 0.27): a label name
// ([a-zA-Z_:][a-zA-Z0-9_:]*), one of = != =~ !~, and a value, optionally in
// double quotes, with whitespace allowed around each; inside the value `\"`,
// `\n` and `\\` are escapes and any other backslash is literal. A list is
// comma-separated (commas inside quotes do not count), optionally in braces,
// and may end with a comma. Regexes are Go's regexp syntax, fully anchored
// (^(?:re)$), run by RE2.
//
// Thread-safety: a Matcher is an immutable value (copies share the compiled
// regex); const matchers may be used from any number of threads. The free
// functions keep no state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/model/model.h"

namespace re2 {
class RE2;
}

namespace watch::routing {

enum class MatchType : std::uint8_t { kEqual, kNotEqual, kRegex, kNotRegex };

// "=", "!=", "=~", "!~".
std::string_view to_string(MatchType type);

class Matcher {
 public:
  // Alertmanager's NewMatcher: the name is taken as given (parse_matcher and
  // the loader check it); a regex value is compiled as ^(?:value)$. nullopt
  // with `*error` (Go's words: "error parsing regexp: missing closing ):
  // `^(?:()$`") when the regex is not valid Go syntax. Cost: one regex
  // compilation for =~ and !~.
  static std::optional<Matcher> make(std::string name, MatchType type, std::string value,
                                     std::string* error = nullptr);

  const std::string& name() const { return name_; }
  MatchType type() const { return type_; }
  const std::string& value() const { return value_; }

  // Whether a label with this value satisfies the matcher; a missing label
  // is "". Text that is not valid UTF-8 is matched as Go does (each bad byte
  // is U+FFFD). Cost: a comparison, or one RE2 match.
  bool matches(std::string_view label_value) const;
  bool matches(const LabelSet& labels) const { return matches(labels.get(name_)); }

  // As Alertmanager prints it: name="value", name=~"re" (value always
  // quoted; `"`, `\` and newline escaped).
  std::string to_string() const;

  // Alertmanager's order (labels.Matchers.Less): by name, then value, then type.
  friend bool operator<(const Matcher& a, const Matcher& b);
  // Same name, type and value.
  friend bool operator==(const Matcher& a, const Matcher& b);

 private:
  Matcher(std::string name, MatchType type, std::string value,
          std::shared_ptr<const re2::RE2> regex);

  std::string name_;
  MatchType type_ = MatchType::kEqual;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;  // =~ and !~ only
};

// One matcher as 0.25's labels.ParseMatcher reads it: `foo="bar"`,
// `foo=~bar.*`, ` foo != "a \"quoted\" value" `. Errors are Alertmanager's:
// "bad matcher format: <text>", "matcher value contains unescaped double
// quote: <value>", "matcher value not valid UTF-8: <value>", or the regex
// error (bytes that are not UTF-8 are shown as U+FFFD in messages).
std::optional<Matcher> parse_matcher(std::string_view text, std::string* error = nullptr);

// A list as 0.25's labels.ParseMatchers reads it: `{foo="bar", baz!~"x|y"}`,
// `foo=bar,baz=~"a,b"`, `{a="1",}`; "" and "{}" are empty lists. The first
// bad matcher fails the whole list. As in Alertmanager, bytes that are not
// UTF-8 become U+FFFD (so values are always valid UTF-8 here).
std::optional<std::vector<Matcher>> parse_matchers(std::string_view text,
                                                   std::string* error = nullptr);

// Every matcher matches `labels` (true for an empty list).
bool matches_all(const std::vector<Matcher>& matchers, const LabelSet& labels);

// Alertmanager's labels.Matchers.String(): {a="b",c=~"d"} (no spaces; "{}"
// when empty).
std::string to_string(const std::vector<Matcher>& matchers);

// Whether `name` is a label name as Prometheus's model.LabelNameRE
// ([a-zA-Z_][a-zA-Z0-9_]*): what `match`, `group_by` and `equal` accept.
bool is_valid_label_name(std::string_view name);

}  // namespace watch::routing
