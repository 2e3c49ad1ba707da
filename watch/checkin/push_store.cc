#include "watch/checkin/push_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "watch/scrape/parser.h"

namespace watch::checkin {

namespace {

constexpr std::string_view kBase64Suffix = "@base64";

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    auto hex = [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
    };
    out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
    i += 2;
  }
  return out;
}

// URL-safe base64 (RFC 4648 section 5); also accepts '+' and '/'; padding optional.
std::optional<std::string> base64_decode(std::string_view s) {
  if (s == "=") return std::string();
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '-' || c == '+') {
      v = 62;
    } else if (c == '_' || c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

bool valid_label_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto c = static_cast<unsigned char>(n[i]);
    if (!(std::isalpha(c) || c == '_' || (i > 0 && std::isdigit(c)))) return false;
  }
  return true;
}

std::string clip(std::string_view s) {
  return std::string(s.substr(0, 64)) + (s.size() > 64 ? "..." : "");
}

}  // namespace

Result<LabelSet> parse_push_path(std::string_view path) {
  constexpr std::string_view kPrefix = "/metrics/";
  if (path.substr(0, kPrefix.size()) != kPrefix) {
    return ParseError{"push: path must be /metrics/job/<job>{/<label>/<value>}", 1};
  }
  if (path.size() > 4096) return ParseError{"push: path longer than 4096 bytes", 0};
  std::vector<std::string_view> segments;
  std::string_view rest = path.substr(kPrefix.size());
  while (true) {
    const std::size_t slash = rest.find('/');
    segments.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  // A trailing slash (".../value/") is tolerated, as Pushgateway's router does.
  if (segments.size() > 2 && segments.back().empty() && segments.size() % 2 == 1) {
    segments.pop_back();
  }
  if (segments.size() % 2 != 0) {
    return ParseError{fmt::format("push: label '{}' has no value (the path must alternate "
                                  "/<label>/<value>)",
                                  clip(segments.back())),
                      0};
  }
  std::vector<Label> labels;
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < segments.size(); i += 2) {
    auto name = percent_decode(segments[i]);
    auto raw = percent_decode(segments[i + 1]);
    if (!name || !raw) return ParseError{"push: bad percent-encoding in the path", 0};
    std::string n = *name;
    std::string value = *raw;
    if (n.size() > kBase64Suffix.size() &&
        std::string_view(n).substr(n.size() - kBase64Suffix.size()) == kBase64Suffix) {
      n.resize(n.size() - kBase64Suffix.size());
      auto decoded = base64_decode(value);
      if (!decoded) {
        return ParseError{
            fmt::format("push: value of label '{}' is not valid base64: '{}'", n, clip(value)), 0};
      }
      value = std::move(*decoded);
    }
    if (i == 0 && n != "job") {
      return ParseError{fmt::format("push: the path must start with /metrics/job/, not "
                                    "/metrics/{}/",
                                    clip(n)),
                        kPrefix.size() + 1};
    }
    if (!valid_label_name(n)) {
      return ParseError{fmt::format("push: invalid label name '{}'", clip(n)), 0};
    }
    if (n.starts_with("__")) {
      return ParseError{fmt::format("push: label name '{}' is reserved (starts with __)", clip(n)),
                        0};
    }
    if (!seen.insert(n).second) {
      return ParseError{fmt::format("push: label '{}' appears twice in the path", clip(n)), 0};
    }
    if (n == "job" && value.empty()) return ParseError{"push: job name must not be empty", 0};
    labels.push_back(Label{std::move(n), std::move(value)});
  }
  return LabelSet::from(std::move(labels));
}

PushStore::PushStore(const firebreak::Clock& clock, Options options)
    : clock_(clock), options_(options) {}

PushResult PushStore::push(PushMethod method, std::string_view path, std::string_view body,
                           std::string_view content_type) {
  auto key = parse_push_path(path);
  if (!key.ok()) return PushResult{400, key.error().to_string()};
  const LabelSet& grouping = key.value();
  const double now = clock_.wall_seconds();

  if (method == PushMethod::kDelete) {
    std::lock_guard lock(mu_);
    if (groups_.erase(grouping)) changed_.insert(grouping);
    return PushResult{202, ""};
  }

  // Parse and validate outside the lock.
  std::optional<PushResult> failure;
  std::map<std::string, std::vector<PushedSample>, std::less<>> families;
  std::string lowered(content_type.substr(0, 256));
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (body.size() > options_.body_size_limit) {
    failure = PushResult{413, fmt::format("push: body of {} bytes is over the limit of {} bytes",
                                          body.size(), options_.body_size_limit)};
  } else if (lowered.find("protobuf") != std::string::npos) {
    failure = PushResult{415, "push: protobuf bodies are not supported; push the text format"};
  } else {
    scrape::ParseOptions po;
    po.body_size_limit = options_.body_size_limit;
    po.sample_limit = options_.sample_limit;
    po.fallback_format = scrape::Format::kPrometheusText;
    const scrape::ParseResult parsed = scrape::parse_exposition(body, content_type, po);
    if (!parsed.ok()) {
      failure = PushResult{400, "push: " + parsed.error->to_string()};
    } else {
      std::set<LabelSet> seen;
      for (const auto& s : parsed.samples) {
        if (s.timestamp_ms) {
          failure = PushResult{400, fmt::format("push: sample {} has a timestamp; pushed "
                                                "samples must not",
                                                clip(s.labels.to_string()))};
          break;
        }
        LabelSet labels = s.labels;
        for (const auto& g : grouping) {
          const std::string_view have = labels.get(g.name);
          if (!have.empty() && have != g.value) {
            failure = PushResult{
                400,
                fmt::format("push: sample {} has label {}=\"{}\", which conflicts with the "
                            "grouping key's {}=\"{}\"",
                            clip(s.labels.to_string()), g.name, clip(have), g.name, clip(g.value))};
            break;
          }
          labels = labels.with(g.name, g.value);
        }
        if (failure) break;
        if (!seen.insert(labels).second) {
          failure = PushResult{400, fmt::format("push: sample {} appears twice in the body",
                                                clip(labels.to_string()))};
          break;
        }
        const std::string family = s.family != scrape::kNoFamily
                                       ? parsed.families[s.family].name
                                       : std::string(s.labels.metric_name());
        families[family].push_back(PushedSample{std::move(labels), s.value});
      }
    }
  }

  std::lock_guard lock(mu_);
  auto it = groups_.find(grouping);
  if (it == groups_.end()) {
    if (groups_.size() >= options_.max_groups) {
      return PushResult{400, fmt::format("push: the store holds its limit of {} groups; delete "
                                         "some first",
                                         options_.max_groups)};
    }
    it = groups_.emplace(grouping, Group{}).first;
  }
  Group& group = it->second;
  changed_.insert(grouping);
  if (failure) {
    group.push_failure_time = now;
    return *failure;
  }
  if (method == PushMethod::kPut) {
    group.families = std::move(families);
  } else {
    for (auto& [name, samples] : families) group.families[name] = std::move(samples);
  }
  group.push_time = now;
  return PushResult{200, ""};
}

std::vector<SeriesSample> PushStore::snapshot() const {
  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
          .count();
  std::vector<SeriesSample> out;
  std::lock_guard lock(mu_);
  for (const auto& [key, group] : groups_) {
    for (const auto& [name, samples] : group.families) {
      for (const auto& s : samples) out.push_back(SeriesSample{s.labels, Sample{t, s.value}});
    }
    out.push_back(
        SeriesSample{key.with(kMetricNameLabel, "push_time_seconds"), Sample{t, group.push_time}});
    out.push_back(SeriesSample{key.with(kMetricNameLabel, "push_failure_time_seconds"),
                               Sample{t, group.push_failure_time}});
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesSample& a, const SeriesSample& b) { return a.labels < b.labels; });
  return out;
}

std::size_t PushStore::group_count() const {
  std::lock_guard lock(mu_);
  return groups_.size();
}

std::vector<PushGroupSnapshot> PushStore::take_changes() {
  std::lock_guard lock(mu_);
  std::vector<PushGroupSnapshot> out;
  out.reserve(changed_.size());
  for (const LabelSet& key : changed_) {
    PushGroupSnapshot snap;
    snap.key = key;
    auto it = groups_.find(key);
    if (it == groups_.end()) {
      snap.deleted = true;
    } else {
      snap.families = it->second.families;
      snap.push_time = it->second.push_time;
      snap.push_failure_time = it->second.push_failure_time;
    }
    out.push_back(std::move(snap));
  }
  changed_.clear();
  return out;
}

void PushStore::keep_changed(const std::vector<PushGroupSnapshot>& unsaved) {
  std::lock_guard lock(mu_);
  for (const PushGroupSnapshot& g : unsaved) changed_.insert(g.key);
}

void PushStore::restore(std::vector<PushGroupSnapshot> groups) {
  std::lock_guard lock(mu_);
  for (PushGroupSnapshot& g : groups) {
    if (g.deleted) continue;
    if (!groups_.contains(g.key) && groups_.size() >= options_.max_groups) continue;
    groups_[g.key] = Group{std::move(g.families), g.push_time, g.push_failure_time};
  }
}

}  // namespace watch::checkin
