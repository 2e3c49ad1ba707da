#include "watch/alerting/webhook.h"

#include <algorithm>

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace watch::alerting {
namespace {

nlohmann::json label_object(const std::vector<Label>& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& l : labels) j[l.name] = l.value;
  return j;
}

}  // namespace

std::string fingerprint_string(std::uint64_t fp) {
  return fmt::format("{:016x}", fp);
}

std::string rfc3339(std::int64_t unix_ms) {
  if (unix_ms == 0) return "0001-01-01T00:00:00Z";
  std::int64_t secs = unix_ms / 1000;
  std::int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (ms != 0) {
    std::string frac = fmt::format(".{:03}", ms);
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  out += 'Z';
  return out;
}

dispatch::Alert to_alert(const rules::Notification& n) {
  return {.labels = n.labels,
          .annotations = n.annotations,
          .starts_at_ms = n.starts_at_ms,
          .ends_at_ms = n.resolved ? n.ends_at_ms : 0,
          .generator_url = n.generator_url};
}

namespace {

// The pairs every label list in `lists` has, as a JSON object.
nlohmann::json common_pairs(const std::vector<const std::vector<Label>*>& lists) {
  nlohmann::json out = nlohmann::json::object();
  if (lists.empty()) return out;
  for (const Label& l : *lists.front()) {
    const bool everywhere = std::all_of(lists.begin() + 1, lists.end(), [&](const auto* other) {
      return std::find(other->begin(), other->end(), l) != other->end();
    });
    if (everywhere) out[l.name] = l.value;
  }
  return out;
}

}  // namespace

std::string webhook_group_json(const dispatch::GroupNotification& n, std::string_view external_url,
                               std::size_t max_alerts) {
  const std::size_t count =
      max_alerts > 0 ? std::min(max_alerts, n.alerts.size()) : n.alerts.size();
  nlohmann::json alerts = nlohmann::json::array();
  std::vector<const std::vector<Label>*> labels, annotations;
  for (std::size_t i = 0; i < count; ++i) {
    const dispatch::Alert& a = n.alerts[i];
    const bool resolved = a.resolved_at(n.at_ms);
    alerts.push_back({{"status", resolved ? "resolved" : "firing"},
                      {"labels", label_object(a.labels.labels())},
                      {"annotations", label_object(a.annotations)},
                      {"startsAt", rfc3339(a.starts_at_ms)},
                      {"endsAt", rfc3339(resolved ? a.ends_at_ms : 0)},
                      {"generatorURL", a.generator_url},
                      {"fingerprint", fingerprint_string(fingerprint(a.labels))}});
    labels.push_back(&a.labels.labels());
    annotations.push_back(&a.annotations);
  }
  nlohmann::json body = {
      {"receiver", n.receiver},
      {"status", n.firing() ? "firing" : "resolved"},
      {"alerts", std::move(alerts)},
      {"groupLabels", label_object(n.group_labels.labels())},
      {"commonLabels", common_pairs(labels)},
      {"commonAnnotations", common_pairs(annotations)},
      {"externalURL", external_url},
      {"version", "4"},
      {"groupKey", n.group_key},
      {"truncatedAlerts", n.alerts.size() - count},
  };
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace watch::alerting
