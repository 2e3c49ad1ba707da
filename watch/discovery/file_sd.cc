// file_sd: parsing Prometheus's target group files (JSON and YAML), and the
// file system helpers the manager polls with.
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "watch/discovery/discovery.h"
#include "watch/discovery/internal.h"
#include "watch/model/text.h"

namespace watch::discovery {
namespace detail {

std::string quote(std::string_view s, std::size_t max) {
  std::string out = "\"";
  const bool cut = s.size() > max;
  if (cut) s = s.substr(0, max);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out += static_cast<char>(c);
    }
  }
  out += cut ? "\"..." : "\"";
  return out;
}

}  // namespace detail

namespace {

using detail::quote;

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// `s` on one printable line: control characters and bytes that are not
// UTF-8 as \xNN (library messages may quote the input they stopped at).
std::string one_line(std::string_view s) {
  std::string out;
  while (!s.empty()) {
    const std::size_t bad = first_invalid_utf8(s);
    const std::string_view good = s.substr(0, bad);
    for (unsigned char c : good) {
      if (c < 0x20 || c == 0x7f)
        out += fmt::format("\\x{:02x}", c);
      else
        out += static_cast<char>(c);
    }
    if (bad == std::string_view::npos) break;
    out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[bad]));
    s.remove_prefix(bad + 1);
  }
  return out;
}

int line_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
}

std::string at(int line, int column, std::string_view message) {
  if (line <= 0) return std::string(message);
  if (column <= 0) return fmt::format("line {}: {}", line, message);
  return fmt::format("line {}, column {}: {}", line, column, message);
}

// A group as read from the file, before it becomes a TargetGroup.
struct RawGroup {
  std::vector<std::string> targets;
  std::vector<Label> labels;  // in file order; a repeated name's last value wins
};

// What both readers fill. Bounds the decoded data: without YAML aliases it
// is never more than the text, so a document that expands beyond twice its
// size (an alias bomb) is refused.
class Collector {
 public:
  explicit Collector(std::size_t text_size) : budget_(2 * text_size + 4096) {}

  bool charge(std::size_t bytes) {
    used_ += bytes + 1;
    return used_ <= budget_;
  }
  std::vector<RawGroup> groups;

 private:
  std::size_t budget_;
  std::size_t used_ = 0;
};

constexpr std::string_view kTooMuch = "the document expands to more data than it holds (aliases?)";

// ---------------------------------------------------------------------------
// JSON, through nlohmann's SAX parser: strict JSON, no recursion, and the
// reader stops at the first thing out of place, so nesting stays shallow.

using Json = nlohmann::json;

// Records the last byte the parser read, to give semantic errors a line.
class TrackingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator() = default;
  TrackingIterator(const char* p, const char** last_read) : p_(p), last_read_(last_read) {}
  reference operator*() const {
    *last_read_ = p_;
    return *p_;
  }
  TrackingIterator& operator++() {
    ++p_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator old = *this;
    ++p_;
    return old;
  }
  bool operator==(const TrackingIterator& o) const { return p_ == o.p_; }

 private:
  const char* p_ = nullptr;
  const char** last_read_ = nullptr;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// Go's encoding/json into []*targetgroup.Group (with the group's own
// UnmarshalJSON: DisallowUnknownFields, keys matched case-insensitively).
class JsonReader {
 public:
  JsonReader(std::string_view text, Collector& out) : text_(text), out_(out) {}

  // "" when the document was read, else the error detail.
  std::string run() {
    const char* last_read = text_.data();
    last_read_ = &last_read;
    bool ok = false;
    try {
      ok = Json::sax_parse(TrackingIterator(text_.data(), &last_read),
                           TrackingIterator(text_.data() + text_.size(), &last_read), this);
    } catch (const std::exception& e) {
      if (error_.empty()) error_ = std::string("json: ") + e.what();
    }
    if (!ok && error_.empty()) error_ = "json: cannot be read";
    return ok ? std::string() : error_;
  }

  // The SAX interface.
  bool null() { return value(Kind::kNull, nullptr); }
  bool boolean(bool) { return value(Kind::kBool, nullptr); }
  bool number_integer(Json::number_integer_t) { return value(Kind::kNumber, nullptr); }
  bool number_unsigned(Json::number_unsigned_t) { return value(Kind::kNumber, nullptr); }
  bool number_float(Json::number_float_t, const Json::string_t&) {
    return value(Kind::kNumber, nullptr);
  }
  bool string(Json::string_t& s) { return value(Kind::kString, &s); }
  bool binary(Json::binary_t&) { return value(Kind::kOther, nullptr); }
  bool start_object(std::size_t) { return value(Kind::kObject, nullptr); }
  bool start_array(std::size_t) { return value(Kind::kArray, nullptr); }

  bool key(Json::string_t& k) {
    if (where_ == Where::kGroup) {
      if (iequals(k, "targets")) {
        field_ = Field::kTargets;
      } else if (iequals(k, "labels")) {
        field_ = Field::kLabels;
      } else {
        return fail(fmt::format("group {}: unknown field {} (a group has targets and labels)",
                                group_index(), quote(k)));
      }
      return true;
    }
    // where_ == kLabels (keys come only inside objects we entered)
    if (!valid_label_name(k))
      return fail(
          fmt::format("group {}: labels: {} is not a valid label name", group_index(), quote(k)));
    if (!out_.charge(k.size())) return fail(std::string(kTooMuch));
    label_name_ = std::move(k);
    return true;
  }

  bool end_object() {
    where_ = where_ == Where::kLabels ? Where::kGroup : Where::kList;
    field_ = Field::kNone;
    return true;
  }

  bool end_array() {
    where_ = where_ == Where::kTargets ? Where::kGroup : Where::kDone;
    field_ = Field::kNone;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    std::string_view what = ex.what();
    std::size_t line = 0, column = 0;
    if (const auto p = what.find("at line "); p != std::string_view::npos) {
      std::sscanf(std::string(what.substr(p)).c_str(), "at line %zu, column %zu", &line, &column);
      if (const auto colon = what.find(": ", p); colon != std::string_view::npos)
        what = what.substr(colon + 2);
    }
    if (error_.empty())
      error_ = at(static_cast<int>(line), static_cast<int>(column),
                  "json: " + std::string(what.substr(0, 200)));
    return false;
  }

 private:
  enum class Kind { kNull, kBool, kNumber, kString, kObject, kArray, kOther };
  enum class Where { kTop, kList, kGroup, kTargets, kLabels, kDone };
  enum class Field { kNone, kTargets, kLabels };

  static std::string_view kind_name(Kind k) {
    switch (k) {
      case Kind::kNull:
        return "null";
      case Kind::kBool:
        return "a boolean";
      case Kind::kNumber:
        return "a number";
      case Kind::kString:
        return "a string";
      case Kind::kObject:
        return "an object";
      case Kind::kArray:
        return "a list";
      case Kind::kOther:
        break;
    }
    return "binary data";
  }

  std::size_t group_index() const { return out_.groups.empty() ? 0 : out_.groups.size() - 1; }

  bool value(Kind kind, Json::string_t* s) {
    switch (where_) {
      case Where::kTop:
        if (kind == Kind::kArray) {
          where_ = Where::kList;
          return true;
        }
        if (kind == Kind::kNull) {  // Go leaves the slice nil: no groups
          where_ = Where::kDone;
          return true;
        }
        return fail(fmt::format("expected a list of target groups, got {}", kind_name(kind)));
      case Where::kList:
        if (kind == Kind::kObject) {
          if (!out_.charge(0)) return fail(std::string(kTooMuch));
          out_.groups.emplace_back();
          where_ = Where::kGroup;
          return true;
        }
        if (kind == Kind::kNull)  // "nil target group item found"
          return fail(fmt::format("group {}: null is not a target group", out_.groups.size()));
        return fail(fmt::format("group {}: expected an object, got {}", out_.groups.size(),
                                kind_name(kind)));
      case Where::kGroup: {
        RawGroup& g = out_.groups.back();
        if (field_ == Field::kTargets) {
          g.targets.clear();  // a repeated key: the last one wins
          if (kind == Kind::kArray) where_ = Where::kTargets;
          if (kind == Kind::kArray || kind == Kind::kNull) return true;
          return fail(fmt::format("group {}: targets: expected a list of strings, got {}",
                                  group_index(), kind_name(kind)));
        }
        g.labels.clear();
        if (kind == Kind::kObject) where_ = Where::kLabels;
        if (kind == Kind::kObject || kind == Kind::kNull) return true;
        return fail(fmt::format("group {}: labels: expected an object, got {}", group_index(),
                                kind_name(kind)));
      }
      case Where::kTargets:
        if (kind == Kind::kString || kind == Kind::kNull) {  // null: Go leaves ""
          std::string t = s ? std::move(*s) : std::string();
          if (!out_.charge(t.size())) return fail(std::string(kTooMuch));
          out_.groups.back().targets.push_back(std::move(t));
          return true;
        }
        return fail(fmt::format("group {}: targets: expected a string, got {}", group_index(),
                                kind_name(kind)));
      case Where::kLabels:
        if (kind == Kind::kString || kind == Kind::kNull) {
          std::string v = s ? std::move(*s) : std::string();
          if (!out_.charge(v.size())) return fail(std::string(kTooMuch));
          out_.groups.back().labels.push_back({std::move(label_name_), std::move(v)});
          return true;
        }
        return fail(fmt::format("group {}: labels: value of {}: expected a string, got {}",
                                group_index(), quote(label_name_), kind_name(kind)));
      case Where::kDone:
        break;
    }
    return fail("unexpected data after the list");  // the parser reports it first
  }

  bool fail(std::string message) {
    if (error_.empty()) {
      const std::size_t offset = static_cast<std::size_t>(*last_read_ - text_.data());
      error_ = at(line_at(text_, offset), 0, message);
    }
    return false;
  }

  std::string_view text_;
  Collector& out_;
  const char** last_read_ = nullptr;
  Where where_ = Where::kTop;
  Field field_ = Field::kNone;
  std::string label_name_;
  std::string error_;
};

// ---------------------------------------------------------------------------
// YAML, through yaml-cpp, as yaml.v2's UnmarshalStrict into
// []*targetgroup.Group: any scalar reads as its text, keys are exact,
// repeated keys and unknown fields are errors.

class YamlReader {
 public:
  explicit YamlReader(Collector& out) : out_(out) {}

  std::string run(std::string_view text) {
    if (const auto bad = first_invalid_utf8(text); bad != std::string_view::npos)
      return at(line_at(text, bad), 0, "yaml: invalid UTF-8");
    try {
      const YAML::Node root = YAML::Load(std::string(text));
      if (!root || root.IsNull()) return "";  // an empty document: no groups
      if (!root.IsSequence())
        return fail(root, fmt::format("expected a list of target groups, got {}", kind(root)));
      std::size_t index = 0;
      for (const YAML::Node& g : root) {
        if (std::string e = group(g, index++); !e.empty()) return e;
      }
      return "";
    } catch (const YAML::Exception& e) {
      return at(e.mark.line >= 0 ? e.mark.line + 1 : 0, e.mark.column >= 0 ? e.mark.column + 1 : 0,
                "yaml: " + e.msg);
    } catch (const std::exception& e) {
      return std::string("yaml: ") + e.what();
    }
  }

 private:
  static std::string_view kind(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Null:
        return "null";
      case YAML::NodeType::Scalar:
        return "a scalar";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Map:
        return "a mapping";
      case YAML::NodeType::Undefined:
        break;
    }
    return "nothing";
  }

  static std::string fail(const YAML::Node& n, std::string_view message) {
    const YAML::Mark m = n.Mark();
    return at(m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0, message);
  }

  std::string group(const YAML::Node& g, std::size_t index) {
    if (g.IsNull()) return fail(g, fmt::format("group {}: null is not a target group", index));
    if (!g.IsMap())
      return fail(g, fmt::format("group {}: expected a mapping, got {}", index, kind(g)));
    if (!out_.charge(0)) return fail(g, kTooMuch);
    RawGroup& raw = out_.groups.emplace_back();
    bool seen_targets = false, seen_labels = false;
    for (const auto& kv : g) {
      const YAML::Node& k = kv.first;
      const YAML::Node& v = kv.second;
      const std::string name = k.IsScalar() ? k.Scalar() : std::string();
      bool* seen = name == "targets" ? &seen_targets : name == "labels" ? &seen_labels : nullptr;
      if (!k.IsScalar() || !seen)
        return fail(k, fmt::format("group {}: unknown field {} (a group has targets and labels)",
                                   index, k.IsScalar() ? quote(name) : std::string(kind(k))));
      if (*seen) return fail(k, fmt::format("group {}: field {} given twice", index, name));
      *seen = true;
      std::string e = seen == &seen_targets ? targets(v, index, raw) : labels(v, index, raw);
      if (!e.empty()) return e;
    }
    return "";
  }

  std::string targets(const YAML::Node& v, std::size_t index, RawGroup& raw) {
    if (v.IsNull()) return "";
    if (!v.IsSequence())
      return fail(
          v, fmt::format("group {}: targets: expected a list of strings, got {}", index, kind(v)));
    for (const YAML::Node& t : v) {
      if (!t.IsScalar() && !t.IsNull())
        return fail(t, fmt::format("group {}: targets: expected a string, got {}", index, kind(t)));
      std::string s = t.IsScalar() ? t.Scalar() : std::string();
      if (!out_.charge(s.size())) return fail(t, kTooMuch);
      raw.targets.push_back(std::move(s));
    }
    return "";
  }

  std::string labels(const YAML::Node& v, std::size_t index, RawGroup& raw) {
    if (v.IsNull()) return "";
    if (!v.IsMap())
      return fail(v, fmt::format("group {}: labels: expected a mapping, got {}", index, kind(v)));
    std::set<std::string, std::less<>> names;
    for (const auto& kv : v) {
      const YAML::Node& k = kv.first;
      const YAML::Node& val = kv.second;
      if (!k.IsScalar() && !k.IsNull())
        return fail(k, fmt::format("group {}: labels: a label name must be a string, not {}", index,
                                   kind(k)));
      std::string name = k.IsScalar() ? k.Scalar() : std::string();
      if (!valid_label_name(name))
        return fail(
            k, fmt::format("group {}: labels: {} is not a valid label name", index, quote(name)));
      if (!names.insert(name).second)
        return fail(k, fmt::format("group {}: labels: {} given twice", index, quote(name)));
      if (!val.IsScalar() && !val.IsNull())
        return fail(val, fmt::format("group {}: labels: value of {}: expected a string, got {}",
                                     index, quote(name), kind(val)));
      std::string value = val.IsScalar() ? val.Scalar() : std::string();
      if (!out_.charge(name.size() + value.size())) return fail(val, kTooMuch);
      raw.labels.push_back({std::move(name), std::move(value)});
    }
    return "";
  }

  Collector& out_;
};

std::string lower_extension(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "";
  std::string ext(path.substr(dot));
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return ext;
}

}  // namespace

namespace detail {

FileSdResult parse_file_sd_detail(std::string_view text, std::string_view path) {
  FileSdResult result;
  if (text.size() > kFileSdMaxBytes) {
    result.detail =
        fmt::format("larger than {} MiB ({} bytes)", kFileSdMaxBytes >> 20, text.size());
    return result;
  }
  Collector collected(text.size());
  const std::string ext = lower_extension(path);
  if (ext == ".json") {
    result.detail = JsonReader(text, collected).run();
  } else if (ext == ".yml" || ext == ".yaml") {
    result.detail = YamlReader(collected).run(text);
  } else {
    result.detail = "not a .json, .yml or .yaml file";
  }
  if (!result.detail.empty()) {
    result.detail = one_line(result.detail);
    return result;
  }

  result.groups.reserve(collected.groups.size());
  for (std::size_t i = 0; i < collected.groups.size(); ++i) {
    RawGroup& raw = collected.groups[i];
    TargetGroup& g = result.groups.emplace_back();
    g.source = fmt::format("{}:{}", path, i);
    raw.labels.push_back({std::string(kFilepathLabel), std::string(path)});  // last: it wins
    g.labels = LabelSet::from(std::move(raw.labels));
    g.targets.reserve(raw.targets.size());
    for (std::string& t : raw.targets) {
      if (t.empty()) continue;  // no address: Prometheus drops the target too
      g.targets.push_back(LabelSet::adopt_sorted({{std::string(kAddressLabel), std::move(t)}}));
    }
  }
  return result;
}

}  // namespace detail

FileSdParse parse_file_sd(std::string_view text, std::string_view path) {
  detail::FileSdResult r = detail::parse_file_sd_detail(text, path);
  FileSdParse out;
  if (!r.detail.empty()) {
    out.error = fmt::format("{}: {}", path, r.detail);
    return out;
  }
  out.groups = std::move(r.groups);
  return out;
}

// ---------------------------------------------------------------------------
// File system helpers.

namespace detail {

bool has_glob_chars(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") != std::string_view::npos;
}

std::vector<std::string> expand_patterns(const std::vector<std::string>& patterns,
                                         std::vector<std::string>* missing) {
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  for (const std::string& pattern : patterns) {
    std::vector<std::string> matches;
    if (!has_glob_chars(pattern)) {
      struct stat st {};
      if (::stat(pattern.c_str(), &st) == 0)
        matches.push_back(pattern);
      else if (missing)
        missing->push_back(pattern);
    } else {
      // GLOB_PERIOD: Go's filepath.Match lets * match a leading dot.
      glob_t g{};
      if (::glob(pattern.c_str(), GLOB_PERIOD, nullptr, &g) == 0)
        for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
      ::globfree(&g);
      std::sort(matches.begin(), matches.end());  // bytes, whatever the locale
    }
    for (std::string& m : matches)
      if (seen.insert(m).second) out.push_back(std::move(m));
  }
  return out;
}

std::vector<FileStamp> stamp_files(const std::vector<std::string>& paths) {
  std::vector<FileStamp> out;
  out.reserve(paths.size());
  for (const std::string& p : paths) {
    FileStamp& s = out.emplace_back();
    s.path = p;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;
    s.device = st.st_dev;
    s.inode = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  }
  return out;
}

std::optional<std::string> read_file_bounded(const std::string& path, std::size_t limit,
                                             std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    error = "is a directory";
    return std::nullopt;
  }
  if (st.st_size > 0 && static_cast<std::uint64_t>(st.st_size) > limit) {
    error = fmt::format("larger than {} MiB ({} bytes)", limit >> 20, st.st_size);
    return std::nullopt;
  }
  std::string text;
  text.resize(st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 64 * 1024);
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (text.size() > limit) break;
      text.resize(std::min(text.size() * 2, limit + 1));
    }
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > limit) {  // grew while we read it
    error = fmt::format("larger than {} MiB", limit >> 20);
    return std::nullopt;
  }
  text.resize(used);
  return text;
}

}  // namespace detail
}  // namespace watch::discovery
