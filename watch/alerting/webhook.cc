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

std::string webhook_json(std::string_view receiver, std::string_view external_url,
                         const rules::Notification& n) {
  const char* status = n.resolved ? "resolved" : "firing";
  nlohmann::json labels = label_object(n.labels.labels());
  nlohmann::json annotations = label_object(n.annotations);
  nlohmann::json alert = {
      {"status", status},
      {"labels", labels},
      {"annotations", annotations},
      {"startsAt", rfc3339(n.starts_at_ms)},
      {"endsAt", rfc3339(n.resolved ? n.ends_at_ms : 0)},
      {"generatorURL", n.generator_url},
      {"fingerprint", fingerprint_string(fingerprint(n.labels))},
  };
  std::string group_key = "{}:{";
  bool first = true;
  for (const auto& l : n.labels) {
    if (!first) group_key += ", ";
    first = false;
    group_key += l.name;
    group_key += "=";
    group_key += nlohmann::json(l.value).dump();  // a quoted, escaped Go-style string
  }
  group_key += "}";
  nlohmann::json body = {
      {"receiver", receiver},
      {"status", status},
      {"alerts", nlohmann::json::array({alert})},
      {"groupLabels", labels},
      {"commonLabels", labels},
      {"commonAnnotations", annotations},
      {"externalURL", external_url},
      {"version", "4"},
      {"groupKey", group_key},
      {"truncatedAlerts", 0},
  };
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

std::string serialize(const rules::Notification& n) {
  nlohmann::json labels = nlohmann::json::array();
  for (const auto& l : n.labels) labels.push_back({l.name, l.value});
  nlohmann::json annotations = nlohmann::json::array();
  for (const auto& l : n.annotations) annotations.push_back({l.name, l.value});
  nlohmann::json j = {{"labels", labels},
                      {"annotations", annotations},
                      {"starts_at_ms", n.starts_at_ms},
                      {"ends_at_ms", n.ends_at_ms},
                      {"resolved", n.resolved},
                      {"generator_url", n.generator_url}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<rules::Notification> deserialize(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto pairs = [](const nlohmann::json& a, std::vector<Label>& out) {
    if (!a.is_array()) return false;
    for (const auto& e : a) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_string()) return false;
      out.push_back({e[0].get<std::string>(), e[1].get<std::string>()});
    }
    return true;
  };
  rules::Notification n;
  std::vector<Label> labels;
  if (!pairs(j.value("labels", nlohmann::json()), labels) ||
      !pairs(j.value("annotations", nlohmann::json()), n.annotations))
    return std::nullopt;
  n.labels = LabelSet::from(std::move(labels));
  auto num = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : std::int64_t{0};
  };
  n.starts_at_ms = num("starts_at_ms");
  n.ends_at_ms = num("ends_at_ms");
  auto r = j.find("resolved");
  n.resolved = r != j.end() && r->is_boolean() && r->get<bool>();
  auto g = j.find("generator_url");
  if (g != j.end() && g->is_string()) n.generator_url = g->get<std::string>();
  return n;
}

}  // namespace watch::alerting
