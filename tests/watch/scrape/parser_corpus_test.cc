// Real bodies from several clients, each checked sample by sample against
// what Python's prometheus_client parsers read from it (data/*.expected,
// written by data/generate_expected.py): an independent oracle.
//
// Bodies: our kit's golden files (tests/metrics/golden), a Python service
// (data/generate_python.py), the Go client as served by a Prometheus server's
// own /metrics, Pushgateway-style groups, and the OpenMetrics features.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "watch/scrape/parser.h"

namespace watch::scrape {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Expected {
  std::string series;
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
};

std::vector<Expected> read_expected(const std::string& path) {
  std::vector<Expected> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto t2 = line.rfind('\t');
    const auto t1 = line.rfind('\t', t2 - 1);
    Expected e;
    e.series = line.substr(0, t1);
    const std::string v = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string ts = line.substr(t2 + 1);
    const auto r = std::from_chars(v.data(), v.data() + v.size(), e.value);
    EXPECT_EQ(r.ptr, v.data() + v.size()) << "bad value in " << path << ": " << line;
    if (ts != "-") e.timestamp_ms = std::stoll(ts);
    out.push_back(e);
  }
  return out;
}

struct Corpus {
  const char* body;
  const char* expected;
  const char* content_type;
};

class CorpusTest : public ::testing::TestWithParam<Corpus> {};

TEST_P(CorpusTest, AgreesWithPythonsParser) {
  const Corpus& c = GetParam();
  const std::string body = read_file(c.body);
  const auto expected = read_expected(c.expected);
  ASSERT_FALSE(expected.empty());
  const ParseResult r = parse_exposition(body, c.content_type);
  ASSERT_TRUE(r.ok()) << c.body << ": " << r.error->to_string();
  ASSERT_EQ(r.samples.size(), expected.size()) << c.body;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& got = r.samples[i];
    const auto& want = expected[i];
    EXPECT_EQ(got.labels.to_string(), want.series) << c.body << " sample " << i;
    if (std::isnan(want.value)) {
      EXPECT_TRUE(std::isnan(got.value)) << want.series;
    } else {
      EXPECT_EQ(got.value, want.value) << want.series;
    }
    EXPECT_EQ(got.timestamp_ms, want.timestamp_ms) << want.series;
  }
}

TEST_P(CorpusTest, StreamingReadsTheSameAsTheWholeBody) {
  const Corpus& c = GetParam();
  const std::string body = read_file(c.body);
  const ParseResult whole = parse_exposition(body, c.content_type);
  ASSERT_TRUE(whole.ok());
  ExpositionParser p(body, *format_from_content_type(c.content_type));
  std::size_t i = 0;
  while (p.next()) {
    ASSERT_LT(i, whole.samples.size());
    EXPECT_EQ(p.label_set(), whole.samples[i].labels);
    EXPECT_EQ(p.family_index(), whole.samples[i].family);
    // The series key is a prefix of its line, as written.
    EXPECT_NE(body.find(p.series_key()), std::string::npos);
    ++i;
  }
  EXPECT_FALSE(p.error().has_value());
  EXPECT_EQ(i, whole.samples.size());
}

TEST_P(CorpusTest, EveryTruncationFailsCleanlyOrParses) {
  // Cutting a real body anywhere gives an error with a position inside the
  // body, or (text format, at a line end) fewer samples; never a crash.
  const Corpus& c = GetParam();
  const std::string body = read_file(c.body);
  const std::size_t step = body.size() > 4000 ? body.size() / 997 : 1;
  for (std::size_t n = 0; n < body.size(); n += step) {
    const ParseResult r = parse_exposition(std::string_view(body).substr(0, n), c.content_type);
    if (!r.ok()) {
      EXPECT_GE(r.error->line, 1u);
      EXPECT_GE(r.error->column, 1u);
    }
  }
}

constexpr const char* kText = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8";
#define DATA "tests/watch/scrape/data/"

INSTANTIATE_TEST_SUITE_P(
    Bodies, CorpusTest,
    ::testing::Values(
        Corpus{"tests/metrics/golden/exposition.prom", DATA "exposition.prom.expected", kText},
        Corpus{"tests/metrics/golden/exposition.openmetrics",
               DATA "exposition.openmetrics.expected", kOpenMetrics},
        Corpus{DATA "python_client.prom", DATA "python_client.prom.expected", kText},
        Corpus{DATA "python_client.openmetrics", DATA "python_client.openmetrics.expected",
               kOpenMetrics},
        Corpus{DATA "go_prometheus_server.prom", DATA "go_prometheus_server.prom.expected", kText},
        Corpus{DATA "pushgateway.prom", DATA "pushgateway.prom.expected", kText},
        Corpus{DATA "openmetrics_features.openmetrics",
               DATA "openmetrics_features.openmetrics.expected", kOpenMetrics}));

TEST(Corpus, KitGoldenFamiliesCarryHelpTypeAndUnit) {
  const auto r = parse_exposition(read_file("tests/metrics/golden/exposition.openmetrics"),
                                  Format::kOpenMetrics);
  ASSERT_TRUE(r.ok());
  const Family* orders = nullptr;
  const Family* latency = nullptr;
  for (const auto& f : r.families) {
    if (f.name == "orders") orders = &f;
    if (f.name == "request_duration_seconds") latency = &f;
  }
  ASSERT_NE(orders, nullptr);
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(orders->type, MetricType::kCounter);
  EXPECT_EQ(orders->help, "Orders accepted.\nSecond line with \\ backslash and \"quotes\".");
  EXPECT_EQ(latency->type, MetricType::kHistogram);
  EXPECT_EQ(latency->unit, "seconds");
}

TEST(Corpus, PythonTextAndOpenMetricsGiveTheSameSeries) {
  // Same registry, two formats: identical samples (le normalised, created
  // series included in both), except timestamps' precision.
  const auto a = parse_exposition(read_file(DATA "python_client.prom"), Format::kPrometheusText);
  const auto b =
      parse_exposition(read_file(DATA "python_client.openmetrics"), Format::kOpenMetrics);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  std::vector<std::string> sa, sb;
  for (const auto& s : a.samples) sa.push_back(s.labels.to_string());
  for (const auto& s : b.samples) sb.push_back(s.labels.to_string());
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  EXPECT_EQ(sa, sb);
}

}  // namespace
}  // namespace watch::scrape
