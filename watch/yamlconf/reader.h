// Reading Prometheus- and Alertmanager-shaped YAML the way their Go loaders
// (yaml.v2) do, with errors a user can act on: each names the line, column
// and key path ("receivers[0].slack_configs[1].api_url"), unknown keys get the
// closest known key as a suggestion, repeated keys are errors, merge keys
// (<<) are honoured and aliases cannot make the work unbounded.
//
//   std::vector<watch::yamlconf::Error> errors;
//   watch::yamlconf::Reader r("/etc/firebreak", errors);
//   watch::yamlconf::Entries f;
//   if (r.entries(node, "receivers[0]", &kKeys, f)) {
//     std::string url;
//     if (const YAML::Node* v = f.get("url")) r.string_value(*v, "receivers[0].url", url);
//   }
//   // errors[0].to_string(): "14:9: receivers[0].urll: unknown key \"urll\" (did you mean
//   \"url\"?)"
//
// Loaders of blocks (http_config.h, alerting/integrations.h) take or extend a
// Reader; a document's loader keeps one for the whole document so that the
// error cap and the work budget are the document's.
//
// Thread-safety: a Reader is used by one thread at a time; the free
// functions are pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "watch/yamlconf/error.h"

namespace watch::yamlconf {

struct Pos {
  int line = 0;  // 1-based; 0 unknown
  int column = 0;
};
Pos pos_of(const YAML::Node& n);

// Go's %q for short user text in messages (never for secrets): printable
// UTF-8 kept, quotes, backslashes and control bytes escaped; cut with "..."
// after 200 characters.
std::string quote(std::string_view s);
// "a, b, c".
std::string join(const std::vector<std::string_view>& names);
// The key of `allowed` closest to `key` when close enough to be a typo of
// it (edit distance at most a third of its length, and at least 2), else "".
std::string_view closest_key(std::string_view key, const std::vector<std::string_view>& allowed);
// "unknown key \"x\" (did you mean \"y\"?)" or "... (expected one of: a, b)".
std::string unknown_key_message(std::string_view key, const std::vector<std::string_view>& allowed);
// "a mapping", "a list", "a string", "null", "nothing".
const char* shape_of(const YAML::Node& n);
// Untagged (plain) scalar or key.
bool is_plain(const YAML::Node& n);
// "parent.child", the child (from the file) escaped so the path stays one line.
std::string join_key(const std::string& parent, std::string_view child);
// Without surrounding white space.
std::string trim(std::string_view s);

// One entry of a mapping: its name, key node (for positions) and value.
struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

// A mapping's entries after Reader::entries() checked them, merged ones
// included (a key of the mapping itself wins over a merged one).
class Entries {
 public:
  void add(std::string name, YAML::Node key, YAML::Node value);
  bool has(std::string_view name) const;
  // The value, nullptr when absent or null.
  const YAML::Node* get(std::string_view name) const;
  const Entry* entry(std::string_view name) const;
  const std::vector<Entry>& all() const { return entries_; }
  // Absent, null or "": what Alertmanager fills from its `global` block.
  bool unset(std::string_view name) const;
  // Replaces (or adds) `name`.
  void set(std::string name, YAML::Node key, YAML::Node value);

 private:
  std::vector<Entry> entries_;
};

class Reader {
 public:
  static constexpr std::size_t kDefaultWorkBudget = 200'000;  // YAML nodes, aliases included
  static constexpr std::size_t kDefaultMaxErrors = 100;       // then one "too many errors"

  // Errors go to `errors` (appended; at most max_errors of this reader's,
  // then one "too many errors" and nothing more). Relative paths given to
  // path() are resolved against `base_dir` ("" leaves them as written).
  Reader(std::string base_dir, std::vector<Error>& errors,
         std::size_t max_errors = kDefaultMaxErrors, std::size_t work_budget = kDefaultWorkBudget);

  void error(Pos pos, std::string key, std::string message);
  // How many errors `errors` holds (the caller's included).
  std::size_t error_count() const { return errors_.size(); }
  // Charges one unit of work: false (after one error) once the budget is
  // spent or errors stopped the reading.
  bool charge();

  // Checks that `n` is a mapping with string keys, each in `allowed`
  // (nullptr: any) and not repeated; follows merge keys. False (with an
  // error) when `n` is not a mapping.
  bool entries(const YAML::Node& n, const std::string& key,
               const std::vector<std::string_view>* allowed, Entries& out);

  // f(item, "key[i]") for each item of a list (nullptr: none).
  template <typename F>
  void each(const YAML::Node* n, const std::string& key, F&& f) {
    if (!n) return;
    if (!n->IsSequence()) {
      error(pos_of(*n), key, fmt::format("expected a list, got {}", shape_of(*n)));
      return;
    }
    std::size_t i = 0;
    for (auto it = n->begin(); it != n->end(); ++it, ++i) {
      if (!charge()) return;
      const YAML::Node item = *it;
      f(item, fmt::format("{}[{}]", key, i));
    }
  }

  // yaml.v2's string: any scalar's text; "" for null.
  bool string_value(const YAML::Node& n, const std::string& key, std::string& out);
  // yaml.v2's bool (y, yes, true, on, ... in their three cases).
  bool bool_value(const YAML::Node& n, const std::string& key, bool& out);
  bool uint_value(const YAML::Node& n, const std::string& key, std::size_t& out);

  // `p` resolved against the base directory (absolute and "" as they are).
  std::string path(const std::string& p) const;
  const std::string& base_dir() const { return base_dir_; }

  // A key the format has and this loader does not support: an error naming
  // it, with `why`, when it is present and not null.
  void refuse(const Entries& f, const std::string& key, std::string_view name,
              std::string_view why);
  // The position of `name`'s key, or of `fallback` when absent.
  Pos key_pos(const Entries& f, std::string_view name, const YAML::Node& fallback) const;

 private:
  void collect(const YAML::Node& n, const std::string& key,
               const std::vector<std::string_view>* allowed, Entries& out, int depth);

  std::string base_dir_;
  std::vector<Error>& errors_;
  std::size_t errors_before_;
  std::size_t max_errors_;
  std::size_t work_budget_;
  std::size_t work_ = 0;
  bool stop_ = false;
};

}  // namespace watch::yamlconf
