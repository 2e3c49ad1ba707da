#include "watch/scrape/scraper.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "firebreak/log.h"
#include "watch/model/gzip.h"
#include "watch/model/text.h"

namespace watch::scrape {
namespace {

using Ms = std::chrono::milliseconds;

double seconds_between(firebreak::Clock::MonoTime a, firebreak::Clock::MonoTime b) {
  return std::chrono::duration<double>(b - a).count();
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
  h *= 0x100000001b3ull;
  return h;
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

std::string status_reason(int status) {
  return fmt::format("server returned HTTP status {}", status);
}

}  // namespace

// ---------------------------------------------------------------------------
// Free functions

std::optional<std::string> validate(const TargetConfig& c) {
  if (c.name.empty()) return std::string("a scrape target has no name");
  std::string why;
  if (!firebreak::valid_http_url(c.metrics_url, &why))
    return fmt::format("target \"{}\": invalid metrics_url \"{}\": {}", c.name, c.metrics_url, why);
  if (!c.ready_url.empty() && !firebreak::valid_http_url(c.ready_url, &why))
    return fmt::format("target \"{}\": invalid ready_url \"{}\": {}", c.name, c.ready_url, why);
  if (c.interval_ms <= 0)
    return fmt::format("target \"{}\": interval_ms must be positive, not {}", c.name,
                       c.interval_ms);
  if (c.timeout_ms <= 0)
    return fmt::format("target \"{}\": timeout_ms must be positive, not {}", c.name, c.timeout_ms);
  if (c.timeout_ms > c.interval_ms)
    return fmt::format("target \"{}\": timeout_ms {} is longer than interval_ms {}", c.name,
                       c.timeout_ms, c.interval_ms);
  for (const auto& l : c.labels)
    if (!firebreak::is_valid_label_name(l.name))
      return fmt::format("target \"{}\": invalid label name \"{}\"", c.name, l.name);
  return std::nullopt;
}

std::string instance_of(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return {};
  const std::string scheme = ascii_lower(url.substr(0, sep));
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  if (authority.empty()) return {};
  bool has_port = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    has_port = close != std::string_view::npos && close + 1 < authority.size() &&
               authority[close + 1] == ':';
  } else {
    has_port = authority.find(':') != std::string_view::npos;
  }
  std::string out(authority);
  if (!has_port) {
    if (scheme == "http")
      out += ":80";
    else if (scheme == "https")
      out += ":443";
  }
  return out;
}

MetricRelabel metric_relabel(const std::vector<relabel::Rule>& rules) {
  MetricRelabel out;
  if (rules.empty()) return out;
  out.rules = std::make_shared<const std::vector<relabel::Rule>>(rules);
  for (const relabel::Rule& r : rules) {
    const relabel::RelabelSpec& s = r.spec();
    // Length-prefixed fields: no two different rule lists print the same.
    const auto field = [&](std::string_view v) {
      out.fingerprint += fmt::format("{}:{}", v.size(), v);
    };
    for (const auto& l : s.source_labels) field(l);
    out.fingerprint += '|';
    field(s.separator);
    field(s.regex ? "r" + *s.regex : "-");
    field(std::to_string(s.modulus));
    field(s.target_label ? "t" + *s.target_label : "-");
    field(s.replacement ? "p" + *s.replacement : "-");
    field(s.action);
    out.fingerprint += ';';
  }
  return out;
}

LabelSet target_labels(const TargetConfig& config) {
  std::vector<Label> labels;
  labels.reserve(config.labels.size() + 2);
  labels.push_back({"job", config.name});
  labels.push_back({"instance", instance_of(config.metrics_url)});
  // LabelSet::from keeps the last of a repeated name: configured labels win.
  labels.insert(labels.end(), config.labels.begin(), config.labels.end());
  return LabelSet::from(std::move(labels));
}

std::int64_t scrape_offset_ms(const TargetConfig& config, std::uint64_t seed) {
  if (config.interval_ms <= 0) return 0;
  std::uint64_t h = 0xcbf29ce484222325ull;
  h = fnv1a(h, config.name);
  h = fnv1a(h, config.metrics_url);
  for (const auto& l : target_labels(config)) {
    h = fnv1a(h, l.name);
    h = fnv1a(h, l.value);
  }
  return static_cast<std::int64_t>(mix(h ^ seed) % static_cast<std::uint64_t>(config.interval_ms));
}

std::int64_t next_scrape_time_ms(std::int64_t now_ms, std::int64_t interval_ms,
                                 std::int64_t offset_ms) {
  if (interval_ms <= 0) return now_ms;
  std::int64_t rem = now_ms % interval_ms;
  if (rem < 0) rem += interval_ms;
  std::int64_t t = now_ms - rem + offset_ms % interval_ms;
  if (t < now_ms) t += interval_ms;
  return t;
}

std::string_view to_string(TargetHealth health) {
  switch (health) {
    case TargetHealth::kUp:
      return "up";
    case TargetHealth::kDown:
      return "down";
    case TargetHealth::kUnknown:
      break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// ScrapeLoop

namespace {

firebreak::HttpClientOptions client_options(std::size_t limit, const std::string& agent,
                                            std::int64_t timeout_ms,
                                            const yamlconf::HttpConfig& http) {
  firebreak::HttpClientOptions o;
  http.apply_to(o);
  o.timeout = Ms(timeout_ms);
  o.max_response_bytes = limit == 0 ? std::numeric_limits<std::size_t>::max() : limit;
  o.user_agent = agent;
  o.keep_alive = true;
  return o;
}

const TargetConfig& checked(const TargetConfig& c) {
  if (auto why = validate(c)) throw std::invalid_argument(*why);
  return c;
}

}  // namespace

ScrapeLoop::ScrapeLoop(TargetConfig config, tsdb::Head& head, ScrapeLoopOptions options)
    : config_(checked(config)),
      head_(head),
      options_(std::move(options)),
      target_labels_(target_labels(config_)),
      instance_(instance_of(config_.metrics_url)),
      metrics_client_(client_options(config_.body_size_limit, options_.user_agent,
                                     config_.timeout_ms, config_.http)),
      probe_client_(client_options(options_.probe_body_limit, options_.user_agent,
                                   config_.timeout_ms, config_.http)) {
  if (options_.clock == nullptr) options_.clock = &firebreak::Clock::system();
  metrics_headers_ = {
      {"Accept", std::string(kScrapeAccept)},
      {"Accept-Encoding", "gzip"},
      {"X-Prometheus-Scrape-Timeout-Seconds",
       fmt::format("{}", static_cast<double>(config_.timeout_ms) / 1000.0)},
  };
}

ScrapeLoop::~ScrapeLoop() = default;

std::string ScrapeLoop::fetch(std::string& body, std::string& content_type) {
  firebreak::HttpResponse res =
      metrics_client_.get(config_.metrics_url, metrics_headers_, Ms(config_.timeout_ms));
  if (!res.error.empty()) return std::move(res.error);
  if (res.status < 200 || res.status > 299) return status_reason(res.status);
  content_type = std::string(res.header("Content-Type"));
  const std::string encoding = ascii_lower(trim_blanks(res.header("Content-Encoding")));
  if (encoding.empty() || encoding == "identity") {
    body = std::move(res.body);
    return {};
  }
  if (encoding == "gzip" || encoding == "x-gzip")
    return gunzip(res.body, config_.body_size_limit, body);
  return fmt::format("unsupported Content-Encoding \"{}\"", encoding);
}

LabelSet ScrapeLoop::sample_labels(const ExpositionParser& parser) const {
  LabelSet scraped = parser.label_set();
  if (config_.honor_labels) {
    LabelSet out = scraped;
    for (const auto& l : target_labels_)
      if (!scraped.has(l.name)) out = out.with(l.name, l.value);
    return out;
  }
  // Prometheus's mutateSampleLabels: target labels win; scraped values of the
  // same names move to exported_<name> (longer prefixes while taken).
  LabelSet out = scraped;
  std::vector<Label> conflicts;
  for (const auto& l : target_labels_) {
    if (const auto v = scraped.get(l.name); !v.empty())
      conflicts.push_back({l.name, std::string(v)});
    out = out.with(l.name, l.value);
  }
  std::stable_sort(conflicts.begin(), conflicts.end(),
                   [](const Label& a, const Label& b) { return a.name.size() < b.name.size(); });
  for (const auto& c : conflicts) {
    std::string name = "exported_" + c.name;
    while (out.has(name)) name = "exported_" + name;
    out = out.with(name, c.value);
  }
  return out;
}

bool ScrapeLoop::append(tsdb::SeriesRef& ref, tsdb::SeriesHandle& series, const LabelSet* labels,
                        std::int64_t t_ms, double v, ScrapeReport& report) {
  auto count = [&](tsdb::AppendStatus st) {
    switch (st) {
      case tsdb::AppendStatus::kOk:
        if (is_stale_nan(v))
          ++report.stale_markers;
        else
          ++report.samples_appended;
        break;
      case tsdb::AppendStatus::kOutOfOrder:
        ++report.out_of_order;
        break;
      case tsdb::AppendStatus::kDuplicateTimestamp:
        ++report.duplicate_timestamp;
        break;
      case tsdb::AppendStatus::kOutOfBounds:
        ++report.out_of_bounds;
        break;
      case tsdb::AppendStatus::kSeriesLimit:
        ++report.series_limit;
        break;
      case tsdb::AppendStatus::kInvalidLabels:
      case tsdb::AppendStatus::kUnknownSeries:
        break;
    }
  };
  bool created = false;
  auto create = [&]() {
    // Created again (the head dropped it): the old series still has its labels.
    const auto r = head_.get_or_create(labels ? *labels : series.labels());
    if (r.status != tsdb::AppendStatus::kOk) {
      count(r.status);
      return false;
    }
    ref = r.ref;
    series = head_.handle(r.ref);
    created = true;
    return true;
  };
  if (!series && !create()) return created;
  auto st = appender_.append(series, t_ms, v);
  if (st == tsdb::AppendStatus::kUnknownSeries) {  // the head dropped it (retention)
    if (!create()) return created;
    st = appender_.append(series, t_ms, v);
  }
  count(st);
  return created;
}

void ScrapeLoop::append_report(Report which, std::int64_t t_ms, double v, ScrapeReport& report) {
  static constexpr std::string_view kNames[kReportSeries] = {
      "up",
      "scrape_duration_seconds",
      "scrape_samples_scraped",
      "scrape_samples_post_metric_relabeling",
      "scrape_series_added",
      "probe_success",
      "probe_duration_seconds"};
  // The report series never count as scraped samples.
  ScrapeReport scratch;
  const LabelSet labels = target_labels_.with(kMetricNameLabel, kNames[which]);
  append(report_refs_[which], report_series_[which], &labels, t_ms, v, scratch);
  report_written_[which] = true;
  report.out_of_order += scratch.out_of_order;
  report.duplicate_timestamp += scratch.duplicate_timestamp;
  report.out_of_bounds += scratch.out_of_bounds;
  report.series_limit += scratch.series_limit;
}

void ScrapeLoop::mark_all_stale(std::int64_t t_ms, ScrapeReport& report) {
  for (const Slot& slot : slots_) {
    // Refused markers (the series has a later sample, was dropped, or is
    // listed twice and already marked) need no retry.
    if (slot.tracked && slot.ref != 0 &&
        appender_.append(slot.ref, t_ms, stale_nan()) == tsdb::AppendStatus::kOk)
      ++report.stale_markers;
  }
  slots_.clear();
  keys_.clear();
  key_ends_.clear();
  index_.clear();
}

std::string_view ScrapeLoop::key_of(std::size_t slot) const {
  const std::uint32_t begin = slot ? key_ends_[slot - 1] : 0;
  return std::string_view(keys_).substr(begin, key_ends_[slot] - begin);
}

void ScrapeLoop::build_index() {
  std::size_t size = 16;
  while (size < 2 * slots_.size()) size *= 2;
  index_.assign(size, 0);
  const std::size_t mask = size - 1;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    std::size_t at = std::hash<std::string_view>{}(key_of(i)) & mask;
    while (index_[at] != 0) at = (at + 1) & mask;
    index_[at] = static_cast<std::uint32_t>(i + 1);
  }
}

std::optional<std::size_t> ScrapeLoop::find_slot(std::string_view key) const {
  if (index_.empty()) return std::nullopt;
  const std::size_t mask = index_.size() - 1;
  for (std::size_t at = std::hash<std::string_view>{}(key)&mask; index_[at] != 0;
       at = (at + 1) & mask) {
    const std::size_t slot = index_[at] - 1;
    if (key_of(slot) == key) return slot;
  }
  return std::nullopt;
}

std::string ScrapeLoop::ingest(std::string_view body, std::string_view content_type,
                               std::int64_t t_ms, ScrapeReport& report) {
  std::optional<Format> format = format_from_content_type(content_type);
  if (!format) format = options_.parse.fallback_format;
  if (!format) return fmt::format("unsupported Content-Type \"{}\"", content_type);
  ParseOptions po = options_.parse;
  po.body_size_limit = config_.body_size_limit;
  po.sample_limit = config_.sample_limit;

  // The scrape cache, as Prometheus's: each line's series key leads to its
  // head series without building labels. It holds no node per series: the
  // last scrape's lines (slots_, each with its series handle) and their keys
  // end to end (keys_). Exporters write their series in the same order every
  // time, so the line at the same position in the last scrape is tried
  // first: one comparison, no hashing, and its handle moves along. Only a
  // line out of place is looked up (index_, a hash table over the slots).
  // When the whole body matched the last one line for line, nothing went
  // missing and the staleness walk is skipped.
  next_slots_.clear();
  next_keys_.clear();
  next_key_ends_.clear();
  values_.clear();
  new_labels_.clear();
  consumed_.clear();
  std::size_t added = 0;
  std::size_t dropped = 0;  // lines metric relabeling dropped
  bool same_order = true;
  ExpositionParser parser(body, *format, po);
  while (parser.next()) {
    const std::string_view key = parser.series_key();
    const std::size_t at = next_slots_.size();
    const auto ts = parser.timestamp_ms();
    const bool explicit_ts = config_.honor_timestamps && ts.has_value();
    if (same_order && at < slots_.size() && key_of(at) == key) {
      Slot& old = slots_[at];
      next_slots_.push_back({old.ref, std::move(old.series), !explicit_ts, old.dropped});
    } else {
      if (same_order) {
        // The first line out of place: the lines so far are the last scrape's.
        same_order = false;
        next_keys_.assign(keys_, 0, at ? key_ends_[at - 1] : 0);
        next_key_ends_.assign(key_ends_.begin(), key_ends_.begin() + at);
        consumed_.assign(slots_.size(), false);
        std::fill(consumed_.begin(), consumed_.begin() + std::min(at, slots_.size()), true);
        if (index_.size() < slots_.size()) build_index();
      }
      const auto old = find_slot(key);
      if (old && !consumed_[*old]) {
        consumed_[*old] = true;
        next_slots_.push_back(
            {slots_[*old].ref, std::move(slots_[*old].series), !explicit_ts, slots_[*old].dropped});
      } else {
        next_slots_.push_back({0, {}, !explicit_ts, false});
        if (!old) ++added;
      }
    }
    if (!same_order) {
      next_keys_.append(key);
      next_key_ends_.push_back(static_cast<std::uint32_t>(next_keys_.size()));
    }
    // A series not created yet (new, or refused last time) needs its labels;
    // metric relabeling decides once whether it is kept.
    Slot& slot = next_slots_.back();
    if (!slot.series && !slot.dropped) {
      LabelSet labels = sample_labels(parser);
      if (config_.metric_relabel.rules &&
          !relabel::process(*config_.metric_relabel.rules, labels)) {
        slot.dropped = true;
        slot.tracked = false;
      } else {
        new_labels_.push_back({at, std::move(labels)});
      }
    }
    if (slot.dropped) ++dropped;
    values_.push_back({parser.value(), explicit_ts ? *ts : t_ms});
  }
  // Nothing appended; the caller marks the last scrape's series stale (by
  // ref: the handles moved out of slots_ are not needed for that).
  if (parser.error()) return parser.error()->to_string();

  // The body is good: commit it.
  report.samples_scraped = parser.samples_read();
  report.samples_post_relabel = report.samples_scraped - dropped;
  report.series_added = added;
  const std::size_t n = next_slots_.size();
  std::size_t next_new = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // A scrape's series are scattered in memory: fetch them ahead.
    if (i + 16 < n) tsdb::Appender::prefetch_series(next_slots_[i + 16].series);
    if (i + 8 < n) tsdb::Appender::prefetch_tail(next_slots_[i + 8].series);
    Slot& slot = next_slots_[i];
    if (slot.dropped) continue;
    const LabelSet* labels = nullptr;
    if (next_new < new_labels_.size() && new_labels_[next_new].first == i)
      labels = &new_labels_[next_new++].second;
    append(slot.ref, slot.series, labels, values_[i].t, values_[i].v, report);
  }
  // The new series' labels live in the head now; a first scrape of many
  // series must not keep a second copy of them all until the next scrape.
  new_labels_.clear();
  if (new_labels_.capacity() > 1024) new_labels_.shrink_to_fit();
  if (!same_order || n != slots_.size()) {
    // Series of the last scrape missing from this one get their marker.
    if (same_order) {
      consumed_.assign(slots_.size(), false);
      std::fill(consumed_.begin(), consumed_.begin() + std::min(n, slots_.size()), true);
    }
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const Slot& slot = slots_[i];
      if (consumed_[i] || !slot.tracked || slot.ref == 0) continue;
      if (appender_.append(slot.ref, t_ms, stale_nan()) == tsdb::AppendStatus::kOk)
        ++report.stale_markers;
    }
  }
  if (same_order && n < slots_.size()) {
    // A prefix of the last scrape: its keys are the first ones.
    keys_.resize(n ? key_ends_[n - 1] : 0);
    key_ends_.resize(n);
    index_.clear();
  } else if (!same_order) {
    keys_.swap(next_keys_);
    key_ends_.swap(next_key_ends_);
    index_.clear();  // rebuilt when a later scrape needs it
  }
  slots_.swap(next_slots_);
  // The scratch is as large as the scrape (tens of bytes a series): given
  // back between scrapes rather than held for the whole interval.
  next_slots_ = {};
  next_keys_ = {};
  next_key_ends_ = {};
  values_ = {};
  return {};
}

void ScrapeLoop::probe(ScrapeReport& report) {
  const auto start = options_.clock->mono_now();
  firebreak::HttpResponse res = probe_client_.get(config_.ready_url, {}, Ms(config_.timeout_ms));
  report.probe_duration_seconds = seconds_between(start, options_.clock->mono_now());
  report.probed = true;
  if (!res.error.empty())
    report.probe_error = std::move(res.error);
  else if (res.status < 200 || res.status > 299)
    report.probe_error = status_reason(res.status);
  report.ready = report.probe_error.empty();
}

ScrapeReport ScrapeLoop::scrape_once(std::int64_t t_ms) {
  ScrapeReport report;
  report.t_ms = t_ms;
  last_t_ms_ = t_ms;
  const auto start = options_.clock->mono_now();
  std::string body, content_type;
  std::string error = fetch(body, content_type);
  report.duration_seconds = seconds_between(start, options_.clock->mono_now());
  if (error.empty()) error = ingest(body, content_type, t_ms, report);
  if (!error.empty()) {
    // Nothing of this body was appended; as an empty scrape, every series of
    // the previous successful scrape goes stale.
    report = ScrapeReport{.t_ms = t_ms, .duration_seconds = report.duration_seconds};
    report.error = std::move(error);
    mark_all_stale(t_ms, report);
  } else {
    report.up = true;
  }
  append_report(kUp, t_ms, report.up ? 1 : 0, report);
  append_report(kDuration, t_ms, report.duration_seconds, report);
  append_report(kSamplesScraped, t_ms, static_cast<double>(report.samples_scraped), report);
  append_report(kSamplesPostRelabel, t_ms, static_cast<double>(report.samples_post_relabel),
                report);
  append_report(kSeriesAdded, t_ms, static_cast<double>(report.series_added), report);
  if (!config_.ready_url.empty()) {
    probe(report);
    append_report(kProbeSuccess, t_ms, report.ready ? 1 : 0, report);
    append_report(kProbeDuration, t_ms, report.probe_duration_seconds, report);
  } else {
    // A reload dropped the ready_url: the probe series end here.
    for (Report r : {kProbeSuccess, kProbeDuration}) {
      if (!report_written_[r]) continue;
      if (appender_.append(report_refs_[r], t_ms, stale_nan()) == tsdb::AppendStatus::kOk)
        ++report.stale_markers;
      report_written_[r] = false;
    }
  }
  appender_.commit();  // one WAL record for the whole scrape
  log_outcome(report);
  return report;
}

void ScrapeLoop::log_outcome(const ScrapeReport& report) {
  if (!report.up) {
    if (!logged_down_ || report.error != last_error_)
      FB_LOG_WARN("scrape_failed", "scrape failed", {"target", config_.name},
                  {"instance", instance_}, {"url", config_.metrics_url}, {"error", report.error});
    logged_down_ = true;
    last_error_ = report.error;
    return;
  }
  if (logged_down_)
    FB_LOG_INFO("scrape_recovered", "scrape succeeded again", {"target", config_.name},
                {"instance", instance_}, {"url", config_.metrics_url});
  logged_down_ = false;
  last_error_.clear();
}

std::size_t ScrapeLoop::mark_stale(std::int64_t t_ms) {
  // A marker must come after the samples it ends (a stop in the same
  // millisecond as the last scrape would otherwise be a duplicate timestamp).
  if (last_t_ms_ && t_ms <= *last_t_ms_) t_ms = *last_t_ms_ + 1;
  last_t_ms_ = t_ms;
  ScrapeReport report;
  mark_all_stale(t_ms, report);
  for (int i = 0; i < kReportSeries; ++i) {
    if (!report_written_[i]) continue;
    if (appender_.append(report_refs_[i], t_ms, stale_nan()) == tsdb::AppendStatus::kOk)
      ++report.stale_markers;
    report_written_[i] = false;
  }
  appender_.commit();
  return report.stale_markers;
}

bool ScrapeLoop::take_over(ScrapeLoop& previous) {
  if (&previous == this || previous.config_.name != config_.name ||
      previous.config_.metrics_url != config_.metrics_url ||
      previous.config_.honor_labels != config_.honor_labels ||
      previous.target_labels_ != target_labels_)
    return false;
  // Map nodes keep their addresses through a move: the order's pointers stay valid.
  slots_ = std::move(previous.slots_);
  index_ = std::move(previous.index_);
  previous.index_.clear();
  keys_ = std::move(previous.keys_);
  key_ends_ = std::move(previous.key_ends_);
  previous.slots_.clear();
  previous.keys_.clear();
  previous.key_ends_.clear();
  for (int i = 0; i < kReportSeries; ++i) {
    report_refs_[i] = previous.report_refs_[i];
    report_series_[i] = previous.report_series_[i];
    report_written_[i] = previous.report_written_[i];
    previous.report_written_[i] = false;
  }
  last_error_ = previous.last_error_;
  logged_down_ = previous.logged_down_;
  last_t_ms_ = previous.last_t_ms_;
  return true;
}

// ---------------------------------------------------------------------------
// ScrapeManager

struct ScrapeManager::Metrics {
  firebreak::CounterFamily* scrapes = nullptr;
  firebreak::CounterFamily* failures = nullptr;
  firebreak::CounterFamily* rejected = nullptr;
  firebreak::HistogramFamily* duration = nullptr;
};

struct ScrapeManager::Runner {
  TargetConfig config;  // immutable
  std::int64_t offset_ms = 0;
  // Used by the runner's thread while it runs, by the control path otherwise.
  std::unique_ptr<ScrapeLoop> loop;
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  TargetStatus status;    // guarded by mu

  firebreak::Counter scrapes, failures;
  firebreak::Counter out_of_order, duplicate_timestamp, out_of_bounds, series_limit;
  firebreak::Histogram duration;
};

struct ScrapeManager::Targets {
  mutable std::mutex mu;
  std::vector<std::shared_ptr<Runner>> list;  // guarded by mu (the list, not the runners)

  std::vector<std::shared_ptr<Runner>> snapshot() const {
    std::lock_guard lock(mu);
    return list;
  }
  std::vector<TargetStatus> statuses() const {
    std::vector<TargetStatus> out;
    for (const auto& r : snapshot()) {
      std::lock_guard lock(r->mu);
      out.push_back(r->status);
    }
    return out;
  }
};

namespace {

std::pair<std::string, std::string> key_of(const TargetConfig& c) {
  return {c.name, c.metrics_url};
}

}  // namespace

ScrapeManager::ScrapeManager(tsdb::Head& head, const firebreak::Clock& clock,
                             ScrapeManagerOptions options)
    : head_(head),
      clock_(clock),
      options_(std::move(options)),
      metrics_(std::make_unique<Metrics>()),
      targets_(std::make_shared<Targets>()) {
  options_.loop.clock = &clock_;
  if (auto* reg = options_.registry) {
    metrics_->scrapes = &reg->counter({.name = "watch_scrapes_total",
                                       .help = "Scrapes of each target by watch.",
                                       .labels = {"target"}});
    metrics_->failures = &reg->counter({.name = "watch_scrape_failures_total",
                                        .help = "Failed scrapes (up=0) of each target.",
                                        .labels = {"target"}});
    metrics_->rejected = &reg->counter(
        {.name = "watch_scrape_samples_rejected_total",
         .help = "Scraped samples the head refused (out_of_order, duplicate_timestamp, "
                 "out_of_bounds, series_limit).",
         .labels = {"target", "reason"}});
    metrics_->duration =
        &reg->histogram({.name = "watch_scrape_duration_seconds",
                         .help = "Time to fetch a target's metrics.",
                         .labels = {"target"},
                         .unit = "seconds",
                         .buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}});
    collector_id_ =
        reg->add_collector([targets = targets_](std::vector<firebreak::FamilySnapshot>& out) {
          const auto all = targets->statuses();
          std::map<std::string, double> up;  // by target name; down if any of its URLs is down
          for (const auto& s : all) {
            const double v = s.health == TargetHealth::kUp ? 1 : 0;
            auto [it, inserted] = up.emplace(s.config.name, v);
            if (!inserted) it->second = std::min(it->second, v);
          }
          firebreak::FamilySnapshot f{.name = "watch_target_up",
                                      .help = "1 when the target's last scrape succeeded.",
                                      .type = firebreak::MetricType::kGauge};
          for (const auto& [name, v] : up)
            f.points.push_back({.labels = std::make_shared<const firebreak::Labels>(
                                    firebreak::Labels{{"target", name}}),
                                .value = v});
          out.push_back(std::move(f));
          out.push_back({.name = "watch_targets",
                         .help = "Scrape targets configured.",
                         .type = firebreak::MetricType::kGauge,
                         .points = {{.labels = std::make_shared<const firebreak::Labels>(),
                                     .value = static_cast<double>(all.size())}}});
        });
  }
}

ScrapeManager::~ScrapeManager() {
  if (options_.registry && collector_id_) options_.registry->remove_collector(collector_id_);
  stop();
}

std::int64_t scrape_timestamp_ms(std::int64_t now_ms, std::int64_t slot_ms,
                                 std::int64_t interval_ms) {
  if (interval_ms > 100 * kScrapeTimestampToleranceMs && now_ms >= slot_ms &&
      now_ms - slot_ms <= kScrapeTimestampToleranceMs)
    return slot_ms;
  return now_ms;
}

std::int64_t ScrapeManager::wall_ms() const {
  return std::chrono::duration_cast<Ms>(clock_.wall_now().time_since_epoch()).count();
}

std::shared_ptr<ScrapeManager::Runner> ScrapeManager::make_runner(TargetConfig config) const {
  auto r = std::make_shared<Runner>();
  r->loop = std::make_unique<ScrapeLoop>(config, head_, options_.loop);
  r->offset_ms = scrape_offset_ms(config, options_.jitter_seed);
  r->status.config = config;
  r->status.labels = r->loop->labels();
  r->status.offset_ms = r->offset_ms;
  if (metrics_->scrapes) {
    const std::string& t = config.name;
    r->scrapes = metrics_->scrapes->labels(t);
    r->failures = metrics_->failures->labels(t);
    r->out_of_order = metrics_->rejected->labels(t, "out_of_order");
    r->duplicate_timestamp = metrics_->rejected->labels(t, "duplicate_timestamp");
    r->out_of_bounds = metrics_->rejected->labels(t, "out_of_bounds");
    r->series_limit = metrics_->rejected->labels(t, "series_limit");
    r->duration = metrics_->duration->labels(t);
  }
  r->config = std::move(config);
  return r;
}

void ScrapeManager::start_runner(Runner& r) {
  {
    std::lock_guard lock(r.mu);
    r.stopping = false;
  }
  r.thread = std::thread([this, &r] { run(r); });
}

void ScrapeManager::signal_runner(Runner& r) {
  std::lock_guard lock(r.mu);
  r.stopping = true;
  r.cv.notify_all();
}

void ScrapeManager::join_runner(Runner& r) {
  if (r.thread.joinable()) r.thread.join();
}

void ScrapeManager::run(Runner& r) {
  const std::int64_t interval = r.config.interval_ms;
  // Never a slot at or before what the loop wrote last (a restart within the
  // slot it just scraped, or after its stale markers).
  std::int64_t next = next_scrape_time_ms(
      std::max(wall_ms(),
               r.loop->last_write_ms().value_or(std::numeric_limits<std::int64_t>::min()) + 1),
      interval, r.offset_ms);
  std::unique_lock lock(r.mu);
  while (!r.stopping) {
    const std::int64_t now = wall_ms();
    if (next - now > interval)  // the wall clock stepped back: re-align
      next = next_scrape_time_ms(now, interval, r.offset_ms);
    if (now < next) {
      r.cv.wait_for(lock, Ms(next - now));
      continue;
    }
    lock.unlock();
    const ScrapeReport report = r.loop->scrape_once(scrape_timestamp_ms(now, next, interval));
    r.scrapes.inc();
    if (!report.up) r.failures.inc();
    r.duration.observe(report.duration_seconds);
    if (report.out_of_order) r.out_of_order.inc(static_cast<double>(report.out_of_order));
    if (report.duplicate_timestamp)
      r.duplicate_timestamp.inc(static_cast<double>(report.duplicate_timestamp));
    if (report.out_of_bounds) r.out_of_bounds.inc(static_cast<double>(report.out_of_bounds));
    if (report.series_limit) r.series_limit.inc(static_cast<double>(report.series_limit));

    lock.lock();
    TargetStatus& s = r.status;
    s.health = report.up ? TargetHealth::kUp : TargetHealth::kDown;
    s.last_error = report.error;
    s.last_scrape_ms = report.t_ms;
    s.last_duration_seconds = report.duration_seconds;
    s.last_samples = report.samples_scraped;
    ++s.scrapes;
    if (!report.up) ++s.failures;
    if (report.probed) {
      s.ready = report.ready;
      s.probe_error = report.probe_error;
    } else {
      s.ready.reset();
      s.probe_error.clear();
    }
    s.last_report = report;
    if (options_.on_scrape) {
      const TargetStatus copy = s;
      lock.unlock();
      options_.on_scrape(copy);
      lock.lock();
    }
    next += interval;
    if (const std::int64_t after = wall_ms(); next <= after)  // missed slots are skipped
      next = next_scrape_time_ms(after + 1, interval, r.offset_ms);
  }
}

void ScrapeManager::apply(std::vector<TargetConfig> targets) {
  std::lock_guard control(control_mu_);
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& t : targets) {
    if (auto why = validate(t)) throw std::invalid_argument(*why);
    if (!keys.insert(key_of(t)).second)
      throw std::invalid_argument(fmt::format(
          "two scrape targets named \"{}\" with metrics_url \"{}\"", t.name, t.metrics_url));
  }

  std::map<std::pair<std::string, std::string>, std::shared_ptr<Runner>> old;
  for (const auto& r : targets_->snapshot()) old.emplace(key_of(r->config), r);
  std::vector<std::shared_ptr<Runner>> next, fresh;
  std::vector<std::pair<std::shared_ptr<Runner>, std::shared_ptr<Runner>>> changed;  // old, new
  for (auto& t : targets) {
    auto it = old.find(key_of(t));
    if (it != old.end() && it->second->config == t) {
      next.push_back(it->second);
      old.erase(it);
      continue;
    }
    auto r = make_runner(std::move(t));
    if (it != old.end()) {
      changed.emplace_back(it->second, r);
      old.erase(it);
    }
    fresh.push_back(r);
    next.push_back(std::move(r));
  }

  // Stop what goes away or changes (all signalled first: in-flight scrapes end together).
  for (auto& [k, r] : old) signal_runner(*r);
  for (auto& [o, n] : changed) signal_runner(*o);
  for (auto& [k, r] : old) join_runner(*r);
  for (auto& [o, n] : changed) join_runner(*o);

  const std::int64_t now = wall_ms();
  for (auto& [k, r] : old) r->loop->mark_stale(now);
  for (auto& [o, n] : changed) {
    if (!n->loop->take_over(*o->loop)) o->loop->mark_stale(now);
    std::lock_guard lock(o->mu);
    TargetStatus& s = n->status;  // n is not running yet: no lock needed
    s.health = o->status.health;
    s.last_error = o->status.last_error;
    s.last_scrape_ms = o->status.last_scrape_ms;
    s.last_duration_seconds = o->status.last_duration_seconds;
    s.last_samples = o->status.last_samples;
    s.scrapes = o->status.scrapes;
    s.failures = o->status.failures;
    s.last_report = o->status.last_report;
    if (!n->config.ready_url.empty()) {
      s.ready = o->status.ready;
      s.probe_error = o->status.probe_error;
    }
  }
  {
    std::lock_guard lock(targets_->mu);
    targets_->list = std::move(next);
  }
  if (started_)
    for (auto& r : fresh) start_runner(*r);
}

void ScrapeManager::start() {
  std::lock_guard control(control_mu_);
  if (started_) return;
  started_ = true;
  const auto runners = targets_->snapshot();
  for (auto& r : runners) start_runner(*r);
}

void ScrapeManager::stop() {
  halt(/*mark_stale=*/true);
}

void ScrapeManager::shutdown() {
  halt(/*mark_stale=*/false);
}

void ScrapeManager::halt(bool mark_stale) {
  std::lock_guard control(control_mu_);
  started_ = false;
  const auto runners = targets_->snapshot();
  for (auto& r : runners) signal_runner(*r);
  for (auto& r : runners) join_runner(*r);
  if (!mark_stale) return;
  const std::int64_t now = wall_ms();
  for (auto& r : runners) r->loop->mark_stale(now);
}

std::vector<TargetStatus> ScrapeManager::statuses() const {
  return targets_->statuses();
}

}  // namespace watch::scrape
