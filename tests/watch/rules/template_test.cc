#include "watch/rules/template.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace watch::rules {
namespace {

TemplateData data() {
  TemplateData d;
  d.labels = {{"instance", "a:9100"}, {"job", "api"}};
  d.external_labels = {{"cluster", "eu1"}};
  d.external_url = "http://watch:9090";
  d.value = 0.123456;
  return d;
}

std::string expand(std::string_view text, TemplateData d = data()) {
  auto r = expand_template("__alert_Test", text, d);
  return r.ok() ? r.text : "ERROR: " + *r.error;
}

TEST(Template, Variables) {
  EXPECT_EQ(expand("{{ $labels.job }} on {{ .Labels.instance }}"), "api on a:9100");
  EXPECT_EQ(expand("{{ $value }}"), "0.123456");
  EXPECT_EQ(expand("{{ .Value }}"), "0.123456");
  EXPECT_EQ(expand("{{ $externalLabels.cluster }} {{ $externalURL }}"), "eu1 http://watch:9090");
  EXPECT_EQ(expand("{{ $labels.missing }}"), "<no value>");
  EXPECT_EQ(expand("plain text"), "plain text");
}

TEST(Template, ValueFormattingAsGo) {
  TemplateData d = data();
  d.value = 1000000;
  EXPECT_EQ(expand("{{ $value }}", d), "1e+06");
  d.value = 123456;
  EXPECT_EQ(expand("{{ $value }}", d), "123456");
  d.value = 0.00001;
  EXPECT_EQ(expand("{{ $value }}", d), "1e-05");
  d.value = 2;
  EXPECT_EQ(expand("{{ $value }}", d), "2");
  d.value = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(expand("{{ $value }}", d), "NaN");
}

TEST(Template, Humanize) {
  EXPECT_EQ(humanize(1234567), "1.235M");
  EXPECT_EQ(humanize(0.001), "1m");
  EXPECT_EQ(humanize(0), "0");
  EXPECT_EQ(humanize(999), "999");
  EXPECT_EQ(humanize1024(1048576), "1Mi");
  EXPECT_EQ(humanize_duration(3661), "1h 1m 1s");
  EXPECT_EQ(humanize_duration(90061), "1d 1h 1m 1s");
  EXPECT_EQ(humanize_duration(0.25), "250ms");
  EXPECT_EQ(humanize_duration(12.5), "12.5s");
  EXPECT_EQ(humanize_duration(0), "0s");
  EXPECT_EQ(humanize_percentage(0.1234), "12.34%");
  EXPECT_EQ(humanize_timestamp(1767225600), "2026-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(expand("{{ humanize 1234567 }} {{ $value | humanizePercentage }}"), "1.235M 12.35%");
  EXPECT_EQ(expand("{{ humanizeDuration \"90\" }}"), "1m 30s");
}

TEST(Template, Printf) {
  EXPECT_EQ(expand("{{ printf \"%.2f\" $value }}"), "0.12");
  EXPECT_EQ(expand("{{ printf \"%s=%.1f%%\" $labels.job 99.44 }}"), "api=99.4%");
  EXPECT_EQ(expand("{{ printf \"%d\" 1.5 }}"), "%!d(float64=1.5)");
}

TEST(Template, ConditionalsAndTrim) {
  EXPECT_EQ(expand("{{ if gt $value 0.1 }}high{{ else }}low{{ end }}"), "high");
  EXPECT_EQ(
      expand("{{ if eq $labels.job \"db\" }}db{{ else if eq $labels.job \"api\" }}api{{ end }}"),
      "api");
  EXPECT_EQ(expand("a  {{- \" b \" -}}  c"), "a b c");
  EXPECT_EQ(expand("{{/* note */}}x"), "x");
  EXPECT_EQ(expand("{{ $x := toUpper $labels.job }}{{ $x }}"), "API");
  EXPECT_EQ(expand("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}"), "a");
  EXPECT_EQ(expand("{{ $labels.instance | stripPort | title }}"), "A");
}

TEST(Template, BadTemplatesAreErrorsNotCrashes) {
  for (const char* bad :
       {"{{", "{{ $labels.job", "{{ nosuchfunc 1 }}", "{{ if 1 }}x", "{{ end }}",
        "{{ humanize \"abc\" }}", "{{ $undefined }}", "{{ range $labels }}{{ end }}", "{{ (((( }}",
        "{{ \"unterminated }}", "{{ humanize }}", "{{ printf }}", "{{ 1 2 }}"}) {
    auto r = expand_template("t", bad, data());
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_EQ(expand_or_error("__alert_X", "{{ nosuchfunc }}", data())
                .rfind("<error expanding template: ", 0),
            0u);
  EXPECT_FALSE(check_template("t", "{{ nosuchfunc }}") == std::nullopt);  // as Go's parser
  EXPECT_TRUE(check_template("t", "{{ query \"up\" | first | value }}") == std::nullopt);
  EXPECT_FALSE(expand_template("t", "{{ query \"up\" }}", data()).ok());  // not supported
  EXPECT_FALSE(check_template("t", "{{ if }}") == std::nullopt);
  std::string deep(500, '(');
  EXPECT_FALSE(expand_template("t", "{{ " + deep + " }}", data()).ok());
}

}  // namespace
}  // namespace watch::rules
