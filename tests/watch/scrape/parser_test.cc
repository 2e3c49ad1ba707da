// Behaviours of the exposition parser, one a test; malformed bodies with the
// line and column of their error. The corpus of real bodies is in
// parser_corpus_test.cc.
#include "watch/scrape/parser.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <string>
#include <vector>

namespace watch::scrape {
namespace {

ParseResult text(std::string_view body, const ParseOptions& options = {}) {
  return parse_exposition(body, Format::kPrometheusText, options);
}
ParseResult om(std::string_view body, const ParseOptions& options = {}) {
  return parse_exposition(body, Format::kOpenMetrics, options);
}

std::vector<std::string> series_of(const ParseResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.samples) out.push_back(s.labels.to_string());
  return out;
}

// ---------------------------------------------------------------------------
// Format selection

TEST(FormatFromContentType, PicksOpenMetricsOrTextAndIgnoresParameters) {
  EXPECT_EQ(format_from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::kOpenMetrics);
  EXPECT_EQ(format_from_content_type("text/plain; version=0.0.4; charset=utf-8"),
            Format::kPrometheusText);
  EXPECT_EQ(format_from_content_type("Text/Plain"), Format::kPrometheusText);
  EXPECT_EQ(format_from_content_type(" application/OpenMetrics-Text ;version=0.0.1"),
            Format::kOpenMetrics);
  EXPECT_EQ(format_from_content_type(""), std::nullopt);
  EXPECT_EQ(format_from_content_type("application/vnd.google.protobuf; "
                                     "proto=io.prometheus.client.MetricFamily; encoding=delimited"),
            std::nullopt);
  EXPECT_EQ(format_from_content_type("application/json"), std::nullopt);
}

TEST(ParseExposition, ContentTypeChoosesTheFormat) {
  // The same body is valid text but not OpenMetrics (no # EOF).
  const std::string body = "up 1\n";
  EXPECT_TRUE(parse_exposition(body, "text/plain; version=0.0.4").ok());
  const auto r = parse_exposition(body, "application/openmetrics-text; version=1.0.0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.format, Format::kOpenMetrics);
  EXPECT_NE(r.error->message.find("# EOF"), std::string::npos);
}

TEST(ParseExposition, UnknownContentTypeUsesTheFallbackOrFails) {
  EXPECT_TRUE(parse_exposition("up 1\n", "").ok());
  EXPECT_TRUE(parse_exposition("up 1\n", "application/json").ok());
  const auto strict =
      parse_exposition("up 1\n", "application/json", ParseOptions{.fallback_format = std::nullopt});
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error->to_string(),
            "unsupported Content-Type \"application/json\" (expected text/plain or "
            "application/openmetrics-text)");
  const auto om_fallback =
      parse_exposition("up 1\n# EOF\n", "", ParseOptions{.fallback_format = Format::kOpenMetrics});
  ASSERT_TRUE(om_fallback.ok());
  EXPECT_EQ(om_fallback.format, Format::kOpenMetrics);
}

// ---------------------------------------------------------------------------
// Samples

TEST(TextFormat, ReadsNameLabelsValueAndTimestamp) {
  const auto r = text("http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  ASSERT_EQ(r.samples.size(), 1u);
  const auto& s = r.samples[0];
  EXPECT_EQ(
      s.labels,
      LabelSet::from({{"__name__", "http_requests_total"}, {"method", "post"}, {"code", "200"}}));
  EXPECT_EQ(s.value, 1027);
  EXPECT_EQ(s.timestamp_ms, 1395066363000);
  EXPECT_EQ(s.family, kNoFamily);
}

TEST(TextFormat, SampleWithoutLabelsOrTimestamp) {
  const auto r = text("metric_without_timestamp_and_labels 12.47\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].labels.to_string(), "metric_without_timestamp_and_labels{}");
  EXPECT_EQ(r.samples[0].value, 12.47);
  EXPECT_FALSE(r.samples[0].timestamp_ms.has_value());
}

TEST(TextFormat, BlanksCommentsAndAMissingFinalNewlineAreFine) {
  const auto r = text(
      "\n"
      "   \t\n"
      "# a comment\n"
      "#no space is a comment too\n"
      "  # HELPER is not HELP\n"
      "  a{x=\"1\"}   3\t 17 \n"
      "\tb { y = \"2\" , } 4\n"
      "c{}5\n"
      "d 6");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  EXPECT_EQ(series_of(r), (std::vector<std::string>{"a{x=\"1\"}", "b{y=\"2\"}", "c{}", "d{}"}));
  EXPECT_EQ(r.samples[0].timestamp_ms, 17);
  EXPECT_EQ(r.samples[3].value, 6);
}

TEST(TextFormat, EmptyBodyHasNoSamples) {
  const auto r = text("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.samples.empty());
  EXPECT_TRUE(r.families.empty());
}

TEST(Values, SpecialValuesInAnyCaseAndSigns) {
  const auto r = text(
      "a +Inf\nb -Inf\nc NaN\nd inf\ne -infinity\nf nan\ng +1.5e3\nh -0\ni .5\nj 5.\n"
      "k 1E-3\nl 1e-400\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  ASSERT_EQ(r.samples.size(), 12u);
  EXPECT_EQ(r.samples[0].value, INFINITY);
  EXPECT_EQ(r.samples[1].value, -INFINITY);
  EXPECT_TRUE(std::isnan(r.samples[2].value));
  EXPECT_EQ(r.samples[3].value, INFINITY);
  EXPECT_EQ(r.samples[4].value, -INFINITY);
  EXPECT_TRUE(std::isnan(r.samples[5].value));
  EXPECT_EQ(r.samples[6].value, 1500);
  EXPECT_TRUE(std::signbit(r.samples[7].value));
  EXPECT_EQ(r.samples[8].value, 0.5);
  EXPECT_EQ(r.samples[9].value, 5);
  EXPECT_EQ(r.samples[10].value, 0.001);
  EXPECT_EQ(r.samples[11].value, 0);  // underflow reads as 0, as Go's ParseFloat
}

TEST(Values, ScrapedNaNIsNeverTheStalenessMarker) {
  const auto r = text("a NaN\nb nan\n");
  ASSERT_TRUE(r.ok());
  for (const auto& s : r.samples) {
    EXPECT_TRUE(std::isnan(s.value));
    EXPECT_FALSE(is_stale_nan(s.value));
  }
  // Even the marker's own bit pattern written out as text reads as NaN.
  EXPECT_FALSE(is_stale_nan(text("a NaN\n").samples[0].value));
}

TEST(Labels, UnescapesBackslashQuoteAndNewline) {
  const auto r = text(R"(m{a="x\\y",b="say \"hi\"",c="two\nlines",d="tab\t stays"} 1)"
                      "\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  const auto& ls = r.samples[0].labels;
  EXPECT_EQ(ls.get("a"), "x\\y");
  EXPECT_EQ(ls.get("b"), "say \"hi\"");
  EXPECT_EQ(ls.get("c"), "two\nlines");
  EXPECT_EQ(ls.get("d"), "tab\\t stays");  // unknown escapes are kept, as Prometheus does
}

TEST(Labels, EmptyValueIsTheSameAsNoLabel) {
  const auto r = text("push_time_seconds{instance=\"\",job=\"daily\"} 1\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.samples[0].labels,
            LabelSet::from({{"__name__", "push_time_seconds"}, {"job", "daily"}}));
}

TEST(Labels, Utf8ValuesAndQuotedNames) {
  const auto r = text("{\"http.server.duration\", \"service.name\"=\"caf\xc3\xa9\"} 2\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  EXPECT_EQ(r.samples[0].labels.metric_name(), "http.server.duration");
  EXPECT_EQ(r.samples[0].labels.get("service.name"), "caf\xc3\xa9");
}

TEST(Labels, LeAndQuantileAreNormalisedInHistogramsAndSummaries) {
  const auto r = text(
      "# TYPE lat histogram\n"
      "lat_bucket{le=\"1\"} 1\n"
      "lat_bucket{le=\"0.25\"} 1\n"
      "lat_bucket{le=\"1e3\"} 1\n"
      "lat_bucket{le=\"1000000\"} 1\n"
      "lat_bucket{le=\"+inf\"} 2\n"
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0\"} 1\n"
      "rpc{quantile=\"0.99\"} 1\n"
      "# TYPE plain gauge\n"
      "plain{le=\"1\"} 1\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  std::vector<std::string> got;
  for (const auto& s : r.samples) {
    got.push_back(std::string(s.labels.has("le") ? s.labels.get("le") : s.labels.get("quantile")));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"1.0", "0.25", "1000.0", "1e+06", "+Inf", "0.0", "0.99",
                                           "1"}));
}

// ---------------------------------------------------------------------------
// Metadata

TEST(Metadata, TextFamiliesWithHelpAndType) {
  const auto r = text(
      "# HELP http_requests_total The total number of HTTP requests.\\nSecond \\\\ line.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{code=\"200\"} 1027\n"
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "rpc_duration_seconds_count 2693\n"
      "# TYPE something untyped\n"
      "orphan 1\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  ASSERT_EQ(r.families.size(), 3u);
  EXPECT_EQ(r.families[0].name, "http_requests_total");
  EXPECT_EQ(r.families[0].type, MetricType::kCounter);
  EXPECT_EQ(r.families[0].help, "The total number of HTTP requests.\nSecond \\ line.");
  EXPECT_EQ(r.families[1].type, MetricType::kSummary);
  EXPECT_EQ(r.families[2].type, MetricType::kUnknown);
  ASSERT_EQ(r.samples.size(), 5u);
  EXPECT_EQ(r.samples[0].family, 0u);
  EXPECT_EQ(r.samples[1].family, 1u);
  EXPECT_EQ(r.samples[2].family, 1u);
  EXPECT_EQ(r.samples[3].family, 1u);
  EXPECT_EQ(r.samples[4].family, kNoFamily);  // "orphan" is not "something"
}

TEST(Metadata, OpenMetricsFamiliesWithUnitAndSuffixedSamples) {
  const auto r =
      om("# TYPE acme_requests counter\n"
         "# HELP acme_requests Requests with \\\"quotes\\\".\n"
         "acme_requests_total 3\n"
         "acme_requests_created 1.5e9\n"
         "# TYPE acme_wait_seconds histogram\n"
         "# UNIT acme_wait_seconds seconds\n"
         "acme_wait_seconds_bucket{le=\"+Inf\"} 1\n"
         "acme_wait_seconds_count 1\n"
         "acme_wait_seconds_sum 0.5\n"
         "# TYPE acme_build info\n"
         "acme_build_info{v=\"1\"} 1\n"
         "# TYPE acme_mode stateset\n"
         "acme_mode{acme_mode=\"a\"} 1\n"
         "# EOF\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  ASSERT_EQ(r.families.size(), 4u);
  EXPECT_EQ(r.families[0].help, "Requests with \"quotes\".");
  EXPECT_EQ(r.families[1].unit, "seconds");
  EXPECT_EQ(r.families[2].type, MetricType::kInfo);
  EXPECT_EQ(r.families[3].type, MetricType::kStateSet);
  std::vector<std::uint32_t> fams;
  for (const auto& s : r.samples) fams.push_back(s.family);
  EXPECT_EQ(fams, (std::vector<std::uint32_t>{0, 0, 1, 1, 1, 2, 3}));
}

TEST(Metadata, TextCounterFamilyNamedWithTotalOwnsItsCreatedSeries) {
  const auto r = text(
      "# TYPE orders_total counter\n"
      "# TYPE other gauge\n"
      "orders_created 1.7e9\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.samples[0].family, 0u);
}

TEST(Metadata, ToStringNamesEveryType) {
  EXPECT_EQ(to_string(MetricType::kCounter), "counter");
  EXPECT_EQ(to_string(MetricType::kGaugeHistogram), "gaugehistogram");
  EXPECT_EQ(to_string(MetricType::kStateSet), "stateset");
  EXPECT_EQ(to_string(MetricType::kUnknown), "unknown");
}

// ---------------------------------------------------------------------------
// OpenMetrics specifics

TEST(OpenMetrics, TimestampsAreSecondsTruncatedToMilliseconds) {
  const auto r =
      om("a 1 1395066363\n"
         "b 1 1395066363.5\n"
         "c 1 1.005\n"
         "d 1 -1.5\n"
         "# EOF\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  EXPECT_EQ(r.samples[0].timestamp_ms, 1395066363000);
  EXPECT_EQ(r.samples[1].timestamp_ms, 1395066363500);
  // 1.005 * 1000 is 1004.9999999999999 in doubles: Prometheus's
  // int64(ts * 1000) stores 1004, and so do we.
  EXPECT_EQ(r.samples[2].timestamp_ms, 1004);
  EXPECT_EQ(r.samples[3].timestamp_ms, -1500);
}

TEST(OpenMetrics, ExemplarsAreSkipped) {
  const auto r =
      om("# TYPE foo histogram\n"
         "foo_bucket{le=\"0.01\"} 0\n"
         "foo_bucket{le=\"0.1\"} 8 # {} 0.054\n"
         "foo_bucket{le=\"1\"} 11 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
         "foo_bucket{le=\"10\"} 17 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879607.789\n"
         "foo_bucket{le=\"+Inf\"} 17 1520879607 # {a=\"b\"} 1\n"
         "foo_count 17\n"
         "foo_sum 324789.3\n"
         "# EOF\n");
  ASSERT_TRUE(r.ok()) << r.error->to_string();
  ASSERT_EQ(r.samples.size(), 7u);
  EXPECT_EQ(r.samples[2].labels.size(), 2u);  // __name__ and le, nothing from the exemplar
  EXPECT_EQ(r.samples[3].value, 17);
  EXPECT_FALSE(r.samples[3].timestamp_ms.has_value());
  EXPECT_EQ(r.samples[4].timestamp_ms, 1520879607000);
}

TEST(OpenMetrics, CreatedLinesAreSamplesUnlessSkipped) {
  const std::string body =
      "# TYPE c counter\n"
      "c_total 3\n"
      "c_created 1.5e9\n"
      "# TYPE h histogram\n"
      "h_bucket{le=\"+Inf\"} 1\n"
      "h_count 1\n"
      "h_sum 2\n"
      "h_created 1.5e9\n"
      "# TYPE g_created gauge\n"
      "g_created 7\n"
      "# EOF\n";
  const auto by_default = om(body);
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(series_of(by_default),
            (std::vector<std::string>{"c_total{}", "c_created{}", "h_bucket{le=\"+Inf\"}",
                                      "h_count{}", "h_sum{}", "h_created{}", "g_created{}"}));
  const auto skipped = om(body, ParseOptions{.skip_openmetrics_created_series = true});
  ASSERT_TRUE(skipped.ok());
  // A gauge that happens to end in _created is still a sample.
  EXPECT_EQ(series_of(skipped), (std::vector<std::string>{"c_total{}", "h_bucket{le=\"+Inf\"}",
                                                          "h_count{}", "h_sum{}", "g_created{}"}));
}

TEST(OpenMetrics, EofWithoutFinalNewlineIsFine) {
  const auto r = om("a 1\n# EOF");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.samples.size(), 1u);
}

TEST(OpenMetrics, CreatedIsOrdinaryInTheTextFormat) {
  const auto r = text("# TYPE c_total counter\nc_total 3\nc_created 1.5e9\n",
                      ParseOptions{.skip_openmetrics_created_series = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.samples.size(), 2u);
}

// ---------------------------------------------------------------------------
// Streaming

TEST(ExpositionParser, SeriesKeyIsTheSeriesAsWritten) {
  const std::string body =
      "# TYPE a counter\n"
      "a_total{x=\"1\",y=\"\\\"q\\\"\"} 1 5\n"
      "b 2\n";
  ExpositionParser p(body, Format::kPrometheusText);
  ASSERT_TRUE(p.next());
  EXPECT_EQ(p.series_key(), "a_total{x=\"1\",y=\"\\\"q\\\"\"}");
  EXPECT_EQ(p.metric_name(), "a_total");
  ASSERT_EQ(p.labels().size(), 2u);
  EXPECT_EQ(p.labels()[1].value, "\"q\"");
  EXPECT_EQ(p.value(), 1);
  EXPECT_EQ(p.timestamp_ms(), 5);
  EXPECT_EQ(p.family_index(), 0u);
  ASSERT_TRUE(p.next());
  EXPECT_EQ(p.series_key(), "b");
  EXPECT_FALSE(p.timestamp_ms().has_value());
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.error().has_value());
  EXPECT_FALSE(p.next());  // stays at the end
  EXPECT_EQ(p.samples_read(), 2u);
}

TEST(ExpositionParser, StopsAtTheFirstErrorAndStaysStopped) {
  const std::string body = "a 1\nb{ 2\nc 3\n";
  ExpositionParser p(body, Format::kPrometheusText);
  ASSERT_TRUE(p.next());
  EXPECT_FALSE(p.next());
  ASSERT_TRUE(p.error().has_value());
  EXPECT_EQ(p.error()->line, 2u);
  EXPECT_FALSE(p.next());
}

TEST(ParseExposition, AnErrorDiscardsEverySample) {
  const auto r = text("a 1\nb 2\nc x\n");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.samples.empty());
  EXPECT_TRUE(r.families.empty());
}

// ---------------------------------------------------------------------------
// Limits

TEST(Limits, BodySizeLimit) {
  const auto r = text("a 1\n", ParseOptions{.body_size_limit = 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->to_string(), "body of 4 bytes exceeds the limit of 3 bytes");
  EXPECT_TRUE(text("a 1\n", ParseOptions{.body_size_limit = 4}).ok());
}

TEST(Limits, SampleLimit) {
  const ParseOptions two{.sample_limit = 2};
  EXPECT_TRUE(text("a 1\nb 2\n", two).ok());
  const auto r = text("a 1\nb 2\nc 3\n", two);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->to_string(), "line 3, column 1: sample limit of 2 exceeded");
}

TEST(Limits, LabelCountAndLengthLimits) {
  const ParseOptions o{
      .label_limit = 2, .label_name_length_limit = 4, .label_value_length_limit = 5};
  EXPECT_TRUE(text("m{aaaa=\"12345\",b=\"\"} 1\n", o).ok());
  EXPECT_EQ(text("m{a=\"1\",b=\"2\",c=\"3\"} 1\n", o).error->to_string(),
            "line 1, column 15: more than the limit of 2 labels");
  EXPECT_EQ(text("m{aaaaa=\"1\"} 1\n", o).error->to_string(),
            "line 1, column 3: label name longer than the limit of 4 bytes");
  EXPECT_EQ(text("m{a=\"123456\"} 1\n", o).error->to_string(),
            "line 1, column 5: label value longer than the limit of 5 bytes");
  // Measured after unescaping: \" is one byte.
  EXPECT_TRUE(text("m{a=\"\\\"\\\"\\\"\\\"\\\"\"} 1\n", o).ok());
}

// ---------------------------------------------------------------------------
// Malformed input: message and position.

struct Bad {
  Format format;
  std::string body;
  std::string error;  // ParseError::to_string()
};

class Malformed : public ::testing::TestWithParam<Bad> {};

TEST_P(Malformed, FailsWithPosition) {
  const Bad& bad = GetParam();
  const auto r = parse_exposition(bad.body, bad.format);
  ASSERT_FALSE(r.ok()) << "accepted: " << bad.body;
  EXPECT_EQ(r.error->to_string(), bad.error) << bad.body;
  EXPECT_TRUE(r.samples.empty());
}

constexpr Format T = Format::kPrometheusText;
constexpr Format O = Format::kOpenMetrics;

INSTANTIATE_TEST_SUITE_P(
    Text, Malformed,
    ::testing::Values(
        Bad{T, "a 1\nb{c 1\n", "line 2, column 5: expected '=' after label name, got '1'"},
        Bad{T, "a{b=c} 1\n", "line 1, column 5: expected '\"' to open the label value, got 'c'"},
        Bad{T, "a{b=\"c} 1\n", "line 1, column 5: unterminated label value"},
        Bad{T, "a{b=\"c\" d=\"e\"} 1\n",
            "line 1, column 9: expected ',' or '}' after label value, got 'd'"},
        Bad{T, "a{1=\"c\"} 1\n", "line 1, column 3: expected a label name or '}', got '1'"},
        Bad{T, "a{b=\"1\",b=\"2\"} 1\n", "line 1, column 9: duplicate label name \"b\""},
        Bad{T, "a{__name__=\"b\"} 1\n",
            "line 1, column 3: label name \"__name__\" is reserved for the metric name"},
        Bad{T, "a\n", "line 1, column 2: expected a value after the metric, got end of line"},
        Bad{T, "a{b=\"1\"}\n",
            "line 1, column 9: expected a value after the metric, got end of line"},
        Bad{T, "a abc\n", "line 1, column 3: invalid value \"abc\""},
        Bad{T, "a 0x10\n", "line 1, column 3: invalid value \"0x10\""},
        Bad{T, "a 1_000\n", "line 1, column 3: invalid value \"1_000\""},
        Bad{T, "a 1e400\n", "line 1, column 3: invalid value \"1e400\""},
        Bad{T, "a --1\n", "line 1, column 3: invalid value \"--1\""},
        Bad{T, "a nan(1)\n", "line 1, column 3: invalid value \"nan(1)\""},
        Bad{T, "a 1 12.5\n",
            "line 1, column 5: invalid timestamp \"12.5\" (expected integer milliseconds)"},
        Bad{T, "a 1 -5\n",
            "line 1, column 5: invalid timestamp \"-5\" (expected integer milliseconds)"},
        Bad{T, "a 1 99999999999999999999\n",
            "line 1, column 5: invalid timestamp \"99999999999999999999\" (expected integer "
            "milliseconds)"},
        Bad{T, "a 1 2 3\n", "line 1, column 7: expected end of line after the timestamp, got '3'"},
        Bad{T, "a 1\r\n", "line 1, column 4: carriage return (CRLF line endings are not allowed)"},
        Bad{T, "a 1 5\r\n",
            "line 1, column 6: carriage return (CRLF line endings are not allowed)"},
        Bad{T, "1a 1\n", "line 1, column 1: expected a metric name, got '1'"},
        Bad{T, "{} 1\n", "line 1, column 1: metric name missing"},
        Bad{T, "{b=\"1\"} 1\n", "line 1, column 1: metric name missing"},
        Bad{T, "{\"x\",\"y\"} 1\n", "line 1, column 6: metric name given twice"},
        Bad{T, "a{b=\"\xff\"} 1\n", "line 1, column 5: invalid UTF-8 in label value"},
        Bad{T, "a{b=\"\xc0\xaf\"} 1\n", "line 1, column 5: invalid UTF-8 in label value"},
        Bad{T, "a{b=\"\xed\xa0\x80\"} 1\n", "line 1, column 5: invalid UTF-8 in label value"},
        Bad{T, "# HELP a \xff\n", "line 1, column 10: invalid UTF-8 in HELP"},
        Bad{T, "# TYPE a countr\n", "line 1, column 10: invalid metric type \"countr\""},
        Bad{T, "# TYPE a\n", "line 1, column 9: invalid metric type \"\""},
        Bad{T, "# TYPE a info\n", "line 1, column 10: invalid metric type \"info\""},
        Bad{T, "# HELP 1a x\n", "line 1, column 8: expected a metric name after HELP, got '1'"},
        Bad{T, "# HELP a-b x\n", "line 1, column 9: expected ' ' after the metric name, got '-'"},
        Bad{T, "ok 1\n\n\n  a{b=\"1\",} 1 x\n",
            "line 4, column 15: invalid timestamp \"x\" (expected integer milliseconds)"},
        Bad{T, std::string("a{b=\"1\"} 1\0\n", 13),
            "line 1, column 10: invalid value \"1\\x00\""}));

INSTANTIATE_TEST_SUITE_P(
    OpenMetrics, Malformed,
    ::testing::Values(
        Bad{O, "", "line 1, column 1: missing \"# EOF\" at the end of the body"},
        Bad{O, "a 1\n", "line 2, column 1: missing \"# EOF\" at the end of the body"},
        Bad{O, "a 1", "line 1, column 4: missing \"# EOF\" at the end of the body"},
        Bad{O, "# EOF\na 1\n", "line 2, column 1: unexpected data after \"# EOF\""},
        Bad{O, "# EOF\n\n", "line 2, column 1: unexpected data after \"# EOF\""},
        Bad{O, "a 1\n\n# EOF\n", "line 2, column 1: blank line (not allowed in OpenMetrics)"},
        Bad{O, "# a comment\n# EOF\n",
            "line 1, column 3: expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\""},
        Bad{O, "#EOF\n",
            "line 1, column 2: expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\""},
        Bad{O, " a 1\n# EOF\n", "line 1, column 1: expected a metric name, got ' '"},
        Bad{O, "a  1\n# EOF\n", "line 1, column 3: expected a value, got ' '"},
        Bad{O, "a\t1\n# EOF\n",
            "line 1, column 2: expected ' ' and a value after the metric, got tab"},
        Bad{O, "a{b=\"1\", c=\"2\"} 1\n# EOF\n",
            "line 1, column 9: expected a label name or '}', got ' '"},
        Bad{O, "a 1 1.5.5\n# EOF\n",
            "line 1, column 5: invalid timestamp \"1.5.5\" (expected seconds)"},
        Bad{O, "a 1 NaN\n# EOF\n",
            "line 1, column 5: invalid timestamp \"NaN\" (expected seconds)"},
        Bad{O, "a 1 1e30\n# EOF\n", "line 1, column 5: timestamp \"1e30\" out of range"},
        Bad{O, "a 1 \n# EOF\n",
            "line 1, column 5: expected a timestamp after ' ', got end of line"},
        Bad{O, "a 1 # {x=\"1\"}\n# EOF\n",
            "line 1, column 14: expected ' ' and a value after the exemplar's labels, got end of "
            "line"},
        Bad{O, "a 1 # {x=\"1\"} y\n# EOF\n", "line 1, column 15: invalid exemplar value \"y\""},
        Bad{O, "a 1 # x\n# EOF\n", "line 1, column 5: expected \"# {\" to open an exemplar"},
        Bad{O, "a 1 5 6\n# EOF\n",
            "line 1, column 6: expected end of line or an exemplar after the timestamp"},
        Bad{O, "# TYPE a untyped\n# EOF\n", "line 1, column 10: invalid metric type \"untyped\""},
        Bad{O, "# UNIT a_bytes seconds\n# EOF\n",
            "line 1, column 16: unit \"seconds\" is not a suffix of the metric name \"a_bytes\""},
        Bad{O, "# HELP  a x\n# EOF\n",
            "line 1, column 8: expected a metric name after HELP, got ' '"},
        Bad{O, "a{b=\"1\"} 1\r\n# EOF\n",
            "line 1, column 11: carriage return (CRLF line endings are not allowed)"}));

TEST(Malformed, LongLinesAndManyLabelsFailFastWithoutLimits) {
  // 200k labels on one line with no label limit: duplicate detection must not
  // be quadratic, and the error is found.
  std::string body = "m{";
  for (int i = 0; i < 200000; ++i) body += "l" + std::to_string(i) + "=\"v\",";
  body += "l7=\"v\"} 1\n";
  const auto r = text(body, ParseOptions{.label_limit = 0});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error->message.find("duplicate label name \"l7\""), std::string::npos);
}

}  // namespace
}  // namespace watch::scrape
