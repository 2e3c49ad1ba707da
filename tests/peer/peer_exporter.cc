// peer-exporter: registers a fixed set of families with awkward names, label
// values, HELP texts and sample values, records known values into them, and
// writes the exposition on stdout, so that other implementations (promtool,
// Python's prometheus_client parsers) can be checked against what we meant.
//
//   peer-exporter --format text|openmetrics [--manifest FILE] [--process]
//
// --manifest writes a JSON description of what was registered and recorded
// (names, types, HELP, units, label values and the operations applied, not the
// resulting samples): the checker derives the samples it expects from it on
// its own. --process also registers the process collector and, after writing,
// keeps the process alive (stdout closed, "ready" on stderr) until stdin
// reaches EOF, so the checker can read /proc/<pid> while it is still there.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "firebreak/clock.h"
#include "firebreak/exposition.h"
#include "firebreak/metrics.h"
#include "firebreak/process_metrics.h"

namespace {

using firebreak::Registry;
using Json = nlohmann::ordered_json;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A double as text that reads back to the same double (JSON has no NaN/Inf).
std::string exact(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Json exact_list(const std::vector<double>& values) {
  Json list = Json::array();
  for (double v : values) list.push_back(exact(v));
  return list;
}

struct CounterSeries {
  std::vector<std::string> labels;
  std::vector<double> increments;  // each applied with inc(v); 1 with inc()
  bool plain_inc = false;          // use inc() instead of inc(v) (all increments must be 1)
};

struct GaugeOp {
  enum Kind { kSet, kInc, kDec } kind;
  double value;
};
struct GaugeSeries {
  std::vector<std::string> labels;
  std::vector<GaugeOp> ops;
};

struct HistogramSeries {
  std::vector<std::string> labels;
  std::vector<double> observations;
};

const char* op_name(GaugeOp::Kind k) {
  switch (k) {
    case GaugeOp::kSet:
      return "set";
    case GaugeOp::kInc:
      return "inc";
    case GaugeOp::kDec:
      return "dec";
  }
  return "?";
}

Json labels_json(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  Json obj = Json::object();
  for (std::size_t i = 0; i < names.size(); ++i) obj[names[i]] = values[i];
  return obj;
}

std::vector<std::string_view> views(const std::vector<std::string>& values) {
  return {values.begin(), values.end()};
}

// Label values that every format must escape or carry unchanged.
const std::string kBackslash = "C:\\path\\to";
const std::string kQuote = "say \"hi\"";
const std::string kNewline = "line1\nline2";
const std::string kUtf8 = "na\u00efve \u2603 \u65e5\u672c\u8a9e \U0001F600";
const std::string kTrailingBackslash = "ends with \\";
const std::string kSyntax = "{a=\"b\",c} # not a comment";
const std::string kTab = "tab\there";
const std::string kEscapesLiteral = "\\n is not a newline, \\\" is not a quote";

class Exporter {
 public:
  explicit Exporter(Registry& registry) : registry_(registry) {}

  void counter(const firebreak::CounterSpec& spec, std::string exposed_name,
               const std::vector<CounterSeries>& series) {
    auto& family = registry_.counter(spec);
    Json j = family_json(spec, "counter", std::move(exposed_name));
    for (const CounterSeries& s : series) {
      firebreak::Counter c = family.labels(std::span<const std::string_view>(views(s.labels)));
      for (double v : s.increments) s.plain_inc ? c.inc() : c.inc(v);
      j["series"].push_back({{"labels", labels_json(spec.labels, s.labels)},
                             {"increments", exact_list(s.increments)},
                             {"created", true}});
    }
    families_.push_back(std::move(j));
  }

  void gauge(const firebreak::GaugeSpec& spec, const std::vector<GaugeSeries>& series) {
    auto& family = registry_.gauge(spec);
    Json j = family_json(spec, "gauge", spec.name);
    for (const GaugeSeries& s : series) {
      firebreak::Gauge g = family.labels(std::span<const std::string_view>(views(s.labels)));
      Json ops = Json::array();
      for (const GaugeOp& op : s.ops) {
        if (op.kind == GaugeOp::kSet) g.set(op.value);
        if (op.kind == GaugeOp::kInc) g.inc(op.value);
        if (op.kind == GaugeOp::kDec) g.dec(op.value);
        ops.push_back({op_name(op.kind), exact(op.value)});
      }
      j["series"].push_back({{"labels", labels_json(spec.labels, s.labels)}, {"ops", ops}});
    }
    families_.push_back(std::move(j));
  }

  void histogram(const firebreak::HistogramSpec& spec, const std::vector<HistogramSeries>& series) {
    auto& family = registry_.histogram(spec);
    Json j = family_json(spec.base(), "histogram", spec.name);
    j["bounds"] = exact_list(spec.buckets);
    for (const HistogramSeries& s : series) {
      firebreak::Histogram h = family.labels(std::span<const std::string_view>(views(s.labels)));
      for (double v : s.observations) h.observe(v);
      j["series"].push_back({{"labels", labels_json(spec.labels, s.labels)},
                             {"observations", exact_list(s.observations)},
                             {"created", true}});
    }
    families_.push_back(std::move(j));
  }

  void gauge_callback(const firebreak::GaugeSpec& spec, double value) {
    registry_.gauge_callback(spec, [value] { return value; });
    Json j = family_json(spec, "gauge", spec.name);
    j["series"].push_back(
        {{"labels", Json::object()}, {"ops", Json::array({{"set", exact(value)}})}});
    families_.push_back(std::move(j));
  }

  void counter_callback(const firebreak::CounterSpec& spec, std::string exposed_name,
                        double value) {
    registry_.counter_callback(spec, [value] { return value; });
    Json j = family_json(spec, "counter", std::move(exposed_name));
    // A callback's creation time is not known: _created is optional.
    j["series"].push_back({{"labels", Json::object()},
                           {"increments", Json::array({exact(value)})},
                           {"created", "optional"}});
    families_.push_back(std::move(j));
  }

  Json manifest(double created) const {
    return {{"created", exact(created)}, {"families", families_}};
  }

 private:
  // `name` is the family name as the OpenMetrics parsers report it (counters
  // without "_total").
  static Json family_json(const firebreak::MetricSpec& spec, const char* type, std::string name) {
    return {{"name", std::move(name)},    {"type", type},
            {"help", spec.help},          {"unit", spec.unit},
            {"label_names", spec.labels}, {"series", Json::array()}};
  }

  Registry& registry_;
  Json families_ = Json::array();
};

void register_everything(Exporter& e) {
  using GO = GaugeOp;
  e.counter({.name = "peer_requests_total",
             .help = "Requests by method and path.",
             .labels = {"method", "path"}},
            "peer_requests",
            {
                {{"GET", "/"}, {1, 1, 1}, true},
                {{"GET", kBackslash}, {2.5}},
                {{"POST", kQuote}, {0.25, 0.5, 4}},
                {{"PUT", kNewline}, {9007199254740992.0}},
                {{"DELETE", kUtf8}, {1e15, 0.5}},
                {{"PATCH", kTrailingBackslash}, {7}},
                {{"HEAD", kSyntax}, {0.125}},
                {{"OPTIONS", kTab}, {3}},
                {{"TRACE", kEscapesLiteral}, {1}},
                {{"CONNECT", ""}, {2}},
                {{"GET", "/never"}, {}},
            });
  e.counter({.name = "peer_received_bytes",
             .help = "Bytes received, given without the _total suffix.",
             .unit = "bytes"},
            "peer_received_bytes", {{{}, {1048576, 0.75}}});
  e.gauge({.name = "peer_temperature_celsius",
           .help = "Values that test number formatting.",
           .labels = {"probe"},
           .unit = "celsius"},
          {
              {{"absolute_zero"}, {{GO::kSet, -273.15}}},
              {{"tenth"}, {{GO::kSet, 0.1}}},
              {{"third"}, {{GO::kSet, 1.0 / 3.0}}},
              {{"negative_zero"}, {{GO::kSet, -0.0}}},
              {{"tiny"}, {{GO::kSet, 1e-300}}},
              {{"denormal"}, {{GO::kSet, 5e-324}}},
              {{"huge"}, {{GO::kSet, 1.7976931348623157e308}}},
              {{"big_integer"}, {{GO::kSet, 123456789012345680000.0}}},
              {{"two_pow_53_plus_2"}, {{GO::kSet, 9007199254740994.0}}},
              {{"minus_big"}, {{GO::kSet, -4503599627370497.0}}},
              {{"not_a_number"}, {{GO::kSet, kNaN}}},
              {{"plus_infinity"}, {{GO::kSet, kInf}}},
              {{"minus_infinity"}, {{GO::kSet, -kInf}}},
              {{"moved"}, {{GO::kSet, 42}, {GO::kInc, 3}, {GO::kDec, 0.5}}},
              {{kUtf8}, {{GO::kSet, 21.5}}},
          });
  e.gauge({.name = "peer_queue_depth", .help = "An unlabelled gauge never set."}, {{{}, {}}});
  e.gauge({.name = "peer_help_escapes",
           .help = "Backslash \\ quote \" newline \n UTF-8 \u2603 tab \t end \\n."},
          {{{}, {{GO::kSet, 1}}}});
  e.gauge(
      {.name = "peer:recorded:ratio", .help = "A name with colons, as recording rules write them."},
      {{{}, {{GO::kSet, 0.5}}}});
  e.histogram({.name = "peer_latency_seconds",
               .help = "Latency with labels, observations on bounds and past the last.",
               .labels = {"route", "code"},
               .unit = "seconds",
               .buckets = {0.001, 0.01, 0.1, 1, 2.5, 10}},
              {
                  {{"/orders/{id}", "200"}, {0.0005, 0.001, 0.05, 0.05, 0.75, 3, 100}},
                  {{"/search?q=\"x\"\\\n", "500"}, {10, 10.000001, 0.1}},
                  {{kUtf8, "204"}, {}},
              });
  e.histogram({.name = "peer_payload_bytes",
               .help = "Sizes, unlabelled.",
               .unit = "bytes",
               .buckets = {100, 1000, 1e6}},
              {{{}, {50, 500, 5000, 5e6, 100}}});
  e.gauge_callback({.name = "peer_callback_ratio", .help = "Read at scrape time."}, 0.625);
  e.counter_callback({.name = "peer_callback_events_total", .help = "Read at scrape time."},
                     "peer_callback_events", 12345);
}

int usage() {
  std::fprintf(stderr,
               "usage: peer-exporter --format text|openmetrics [--manifest FILE] [--process]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string format_name, manifest_path;
  bool process = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--format" && i + 1 < argc)
      format_name = argv[++i];
    else if (arg == "--manifest" && i + 1 < argc)
      manifest_path = argv[++i];
    else if (arg == "--process")
      process = true;
    else
      return usage();
  }
  firebreak::ExpositionFormat format;
  if (format_name == "text")
    format = firebreak::ExpositionFormat::kPrometheusText;
  else if (format_name == "openmetrics")
    format = firebreak::ExpositionFormat::kOpenMetrics;
  else
    return usage();

  // A fixed clock, so every _created is known: 2026-01-01T00:00:00Z.
  firebreak::ManualClock clock;
  Registry registry({.clock = &clock});
  Exporter exporter(registry);
  if (process) {
    firebreak::register_process_metrics(registry);
  } else {
    register_everything(exporter);
  }

  if (!manifest_path.empty()) {
    std::ofstream out(manifest_path);
    out << exporter.manifest(clock.wall_seconds()).dump(2) << '\n';
    if (!out) {
      std::perror(manifest_path.c_str());
      return 1;
    }
  }

  std::string body;
  firebreak::write_exposition(registry.collect(), format, body);
  std::fwrite(body.data(), 1, body.size(), stdout);
  if (std::fflush(stdout) != 0) return 1;

  if (process) {
    // Close the pipe (the reader sees EOF) without changing the number of open
    // descriptors, then wait for the checker to finish with /proc/<pid>.
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0 || ::dup2(null, STDOUT_FILENO) < 0) return 1;
    ::close(null);
    std::fputs("ready\n", stderr);  // fd count back to what the scrape saw
    std::fflush(stderr);
    char buf[256];
    while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
  }
  return 0;
}
