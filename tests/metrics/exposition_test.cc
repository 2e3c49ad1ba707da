#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "firebreak/exposition.h"
#include "firebreak/metrics.h"

namespace firebreak {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A registry with every case the formats must get right: escaping, UTF-8,
// ordering, units, empty families, special values, cumulative buckets.
class GoldenRegistry : public ::testing::Test {
 protected:
  GoldenRegistry() : registry_({.clock = &clock_}) {
    auto& orders = registry_.counter(
        {.name = "orders_total",
         .help = "Orders accepted.\nSecond line with \\ backslash and \"quotes\".",
         .labels = {"channel"}});
    orders.labels("web").inc(3);
    clock_.advance(std::chrono::milliseconds(1500));
    orders.labels("a \"quoted\" \\ value\nnewline").inc(1.5);
    orders.labels("caf\xc3\xa9 \xe2\x98\x95").inc(2);

    registry_
        .gauge({.name = "temperature_celsius", .help = "Outside temperature.", .unit = "celsius"})
        .labels()
        .set(-2.5);
    registry_.gauge({.name = "empty_family", .help = "Declared, no series yet.", .labels = {"k"}});
    registry_.gauge({.name = "big_value", .help = "A large value."}).labels().set(1e20);
    auto& special =
        registry_.gauge({.name = "special", .help = "Special values.", .labels = {"kind"}});
    special.labels("plus_inf").set(INFINITY);
    special.labels("minus_inf").set(-INFINITY);
    special.labels("nan").set(NAN);

    auto& latency = registry_.histogram({.name = "request_duration_seconds",
                                         .help = "Time to answer.",
                                         .labels = {"route"},
                                         .unit = "seconds",
                                         .buckets = {0.1, 1, 10}});
    Histogram a = latency.labels("/a");
    for (double v : {0.0625, 0.5, 5.0, 50.0}) a.observe(v);
  }

  std::string render(ExpositionFormat format) {
    std::string out;
    write_exposition(registry_.collect(), format, out);
    return out;
  }

  ManualClock clock_;
  Registry registry_;
};

TEST_F(GoldenRegistry, PrometheusTextMatchesGoldenFile) {
  EXPECT_EQ(render(ExpositionFormat::kPrometheusText),
            read_file("tests/metrics/golden/exposition.prom"));
}

TEST_F(GoldenRegistry, OpenMetricsMatchesGoldenFile) {
  EXPECT_EQ(render(ExpositionFormat::kOpenMetrics),
            read_file("tests/metrics/golden/exposition.openmetrics"));
}

TEST_F(GoldenRegistry, OutputIsStableAcrossScrapes) {
  EXPECT_EQ(render(ExpositionFormat::kOpenMetrics), render(ExpositionFormat::kOpenMetrics));
}

TEST(Negotiation, PrometheusScrapeAcceptPicksOpenMetrics) {
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=1.0.0,application/"
                             "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                             "*/*;q=0.1"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text; version=1.0.0"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(negotiate_format("Application/OpenMetrics-Text"), ExpositionFormat::kOpenMetrics);
}

TEST(Negotiation, TextWhenPreferredOrUnspecified) {
  EXPECT_EQ(negotiate_format(""), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format("*/*"), ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0"),
            ExpositionFormat::kPrometheusText);
  // An OpenMetrics version we do not write is not chosen.
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=2.0.0"),
            ExpositionFormat::kPrometheusText);
  EXPECT_EQ(negotiate_format(",,;;==q=,\"\""), ExpositionFormat::kPrometheusText);
}

TEST(Negotiation, ContentTypes) {
  EXPECT_EQ(content_type(ExpositionFormat::kPrometheusText),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(content_type(ExpositionFormat::kOpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST(Gzip, AcceptEncodingIsParsedWithQValues) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip(""));
  // An explicit gzip entry wins over "*", whatever the order.
  EXPECT_TRUE(accepts_gzip("gzip, *;q=0"));
  EXPECT_TRUE(accepts_gzip("*;q=0, gzip"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0, *"));
  EXPECT_FALSE(accepts_gzip("*, gzip;q=0"));
}

TEST(Gzip, RoundTripsThroughZlib) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += "metric_" + std::to_string(i) + " 1\n";
  const std::string compressed = gzip_compress(body);
  ASSERT_GE(compressed.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
  EXPECT_LT(compressed.size(), body.size() / 3);

  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(body.size() + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  ASSERT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  EXPECT_EQ(out, body);
}

}  // namespace
}  // namespace firebreak
