#include "watch/yamlconf/reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>

namespace watch::yamlconf {

namespace {

constexpr std::size_t kMaxSuggestLength = 64;  // keys longer than this get no suggestion
constexpr std::size_t kMaxQuotedLength = 200;  // of user text quoted in a message
constexpr int kMaxMergeDepth = 16;

// Optimal string alignment distance (a transposition counts as one edit).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string Error::to_string() const {
  std::string out;
  if (line > 0) out += fmt::format("{}:{}: ", line, column);
  if (!key.empty()) out += key + ": ";
  return out + message;
}

Pos pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (std::size_t i = 0; i < s.size(); ++i, ++shown) {
    if (shown == kMaxQuotedLength) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // A well-formed multi-byte character is kept; a stray byte escaped.
      std::size_t width = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      bool ok = width > 0 && i + width <= s.size() && c <= 0xF4;
      for (std::size_t k = 1; ok && k < width; ++k)
        ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(s.substr(i, width));
        i += width - 1;
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
    }
  }
  return out + "\"";
}

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string_view closest_key(std::string_view key, const std::vector<std::string_view>& allowed) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  if (key.size() <= kMaxSuggestLength) {
    for (std::string_view a : allowed) {
      if (const std::size_t d = edit_distance(key, a); d < best_distance) {
        best_distance = d;
        best = a;
      }
    }
  }
  if (!best.empty() && best_distance <= std::max<std::size_t>(2, best.size() / 3)) return best;
  return {};
}

std::string unknown_key_message(std::string_view key,
                                const std::vector<std::string_view>& allowed) {
  if (const std::string_view best = closest_key(key, allowed); !best.empty())
    return fmt::format("unknown key {} (did you mean \"{}\"?)", quote(key), best);
  return fmt::format("unknown key {} (expected one of: {})", quote(key), join(allowed));
}

const char* shape_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

bool is_plain(const YAML::Node& n) {
  return n.Tag() == "?";
}

std::string join_key(const std::string& parent, std::string_view child) {
  const std::string quoted = quote(child);
  const std::string part = quoted.substr(1, quoted.size() - 2);
  return parent.empty() ? part : parent + "." + part;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// ---------------------------------------------------------------------------
// Entries

void Entries::add(std::string name, YAML::Node key, YAML::Node value) {
  entries_.push_back({std::move(name), std::move(key), std::move(value)});
}

bool Entries::has(std::string_view name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.name == name; });
}

const YAML::Node* Entries::get(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return e.value.IsNull() ? nullptr : &e.value;
  return nullptr;
}

const Entry* Entries::entry(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

bool Entries::unset(std::string_view name) const {
  const Entry* e = entry(name);
  return !e || e->value.IsNull() || (e->value.IsScalar() && e->value.Scalar().empty());
}

void Entries::set(std::string name, YAML::Node key, YAML::Node value) {
  std::erase_if(entries_, [&](const Entry& e) { return e.name == name; });
  add(std::move(name), std::move(key), std::move(value));
}

// ---------------------------------------------------------------------------
// Reader

Reader::Reader(std::string base_dir, std::vector<Error>& errors, std::size_t max_errors,
               std::size_t work_budget)
    : base_dir_(std::move(base_dir)),
      errors_(errors),
      errors_before_(errors.size()),
      max_errors_(max_errors),
      work_budget_(work_budget) {}

void Reader::error(Pos pos, std::string key, std::string message) {
  if (stop_) return;
  if (errors_.size() - errors_before_ >= max_errors_) {
    errors_.push_back({pos.line, pos.column, "",
                       fmt::format("too many errors (more than {}); stopping", max_errors_)});
    stop_ = true;
    return;
  }
  errors_.push_back({pos.line, pos.column, std::move(key), std::move(message)});
}

bool Reader::charge() {
  if (work_ >= work_budget_) {
    if (!stop_) {
      error({}, "",
            fmt::format("configuration too complex (more than {} YAML nodes, aliases included)",
                        work_budget_));
      stop_ = true;
    }
    return false;
  }
  ++work_;
  return !stop_;
}

bool Reader::entries(const YAML::Node& n, const std::string& key,
                     const std::vector<std::string_view>* allowed, Entries& out) {
  if (!n.IsMap()) {
    error(pos_of(n), key, fmt::format("expected a mapping, got {}", shape_of(n)));
    return false;
  }
  collect(n, key, allowed, out, 0);
  return true;
}

void Reader::collect(const YAML::Node& n, const std::string& key,
                     const std::vector<std::string_view>* allowed, Entries& out, int depth) {
  std::vector<YAML::Node> merges;
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!charge()) return;
    const YAML::Node k = it->first;
    if (!k.IsScalar() && !k.IsNull()) {
      error(pos_of(k), key, "keys must be strings");
      continue;
    }
    const std::string name = k.IsNull() ? "" : k.Scalar();
    if (name == "<<" && is_plain(k)) {
      merges.push_back(YAML::Node(it->second));
      continue;
    }
    if (allowed && std::find(allowed->begin(), allowed->end(), name) == allowed->end()) {
      error(pos_of(k), join_key(key, name), unknown_key_message(name, *allowed));
      continue;
    }
    if (!seen.insert(name).second) {
      error(pos_of(k), join_key(key, name), "key repeated");
      continue;
    }
    out.add(name, k, YAML::Node(it->second));
  }
  for (const YAML::Node& merge : merges) {
    if (depth >= kMaxMergeDepth) {
      error(pos_of(merge), key, "merge keys nested too deeply");
      return;
    }
    std::vector<YAML::Node> sources;
    if (merge.IsMap()) {
      sources.push_back(merge);
    } else if (merge.IsSequence()) {
      for (auto it = merge.begin(); it != merge.end(); ++it) sources.push_back(*it);
    } else {
      error(pos_of(merge), key, "map merge requires map or sequence of maps as the value");
      continue;
    }
    for (const YAML::Node& source : sources) {
      if (!charge()) return;
      if (!source.IsMap()) {
        error(pos_of(source), key, "map merge requires map or sequence of maps as the value");
        continue;
      }
      Entries merged;
      collect(source, key, allowed, merged, depth + 1);
      for (const Entry& e : merged.all())
        if (!out.has(e.name)) out.add(e.name, e.key, e.value);
    }
  }
}

bool Reader::string_value(const YAML::Node& n, const std::string& key, std::string& out) {
  if (n.IsNull()) {
    out.clear();
    return true;
  }
  if (!n.IsScalar()) {
    error(pos_of(n), key, fmt::format("expected a string, got {}", shape_of(n)));
    return false;
  }
  out = n.Scalar();
  return true;
}

bool Reader::bool_value(const YAML::Node& n, const std::string& key, bool& out) {
  static constexpr std::array<std::string_view, 11> kTrue{
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static constexpr std::array<std::string_view, 11> kFalse{
      "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  if (n.IsScalar() && (is_plain(n) || n.Tag() == "tag:yaml.org,2002:bool")) {
    const std::string& s = n.Scalar();
    if (std::find(kTrue.begin(), kTrue.end(), s) != kTrue.end()) {
      out = true;
      return true;
    }
    if (std::find(kFalse.begin(), kFalse.end(), s) != kFalse.end()) {
      out = false;
      return true;
    }
  }
  error(pos_of(n), key,
        n.IsScalar() ? fmt::format("expected true or false, got {}", quote(n.Scalar()))
                     : fmt::format("expected true or false, got {}", shape_of(n)));
  return false;
}

bool Reader::uint_value(const YAML::Node& n, const std::string& key, std::size_t& out) {
  if (n.IsScalar() && is_plain(n)) {
    const std::string& s = n.Scalar();
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) {
      out = static_cast<std::size_t>(v);
      return true;
    }
  }
  error(pos_of(n), key,
        n.IsScalar() ? fmt::format("expected a non-negative integer, got {}", quote(n.Scalar()))
                     : fmt::format("expected a non-negative integer, got {}", shape_of(n)));
  return false;
}

std::string Reader::path(const std::string& p) const {
  if (p.empty() || p.front() == '/' || base_dir_.empty()) return p;
  return base_dir_ + "/" + p;
}

void Reader::refuse(const Entries& f, const std::string& key, std::string_view name,
                    std::string_view why) {
  if (const Entry* e = f.entry(name); e && !e->value.IsNull())
    error(pos_of(e->key), join_key(key, name), std::string(why));
}

Pos Reader::key_pos(const Entries& f, std::string_view name, const YAML::Node& fallback) const {
  if (const Entry* e = f.entry(name)) return pos_of(e->key);
  return pos_of(fallback);
}

}  // namespace watch::yamlconf
