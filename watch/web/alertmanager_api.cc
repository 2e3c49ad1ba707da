#include "watch/web/alertmanager_api.h"

#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "watch/alerting/webhook.h"
#include "watch/model/text.h"
#include "watch/routing/matchers.h"
#include "watch/silence/silence.h"

namespace watch::web {
namespace {

using firebreak::AdminRequest;
using firebreak::AdminResponse;
using json = nlohmann::ordered_json;

constexpr std::string_view kJson = "application/json";

std::int64_t now_ms(const firebreak::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
      .count();
}

AdminResponse reply(int status, std::string body) {
  return {.status = status, .content_type = std::string(kJson), .body = std::move(body)};
}

// Alertmanager answers most handler errors with the message as a JSON string.
AdminResponse error_reply(int status, std::string_view message) {
  return reply(status, silence::handler_error_body(message));
}

std::vector<std::string_view> query_values(const AdminRequest& r, std::string_view key) {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : r.query)
    if (k == key) out.push_back(v);
  return out;
}

// A boolean query parameter (go-openapi: true/false/1/0, default `dflt`).
std::optional<bool> query_bool(const AdminRequest& r, std::string_view key, bool dflt,
                               std::string* error) {
  const auto v = r.query_value(key);
  if (!v) return dflt;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  *error = fmt::format("{} in query must be of type bool: \"{}\"", key, *v);
  return std::nullopt;
}

// The `filter` parameters: Alertmanager's matcher syntax, one each.
std::optional<std::vector<routing::Matcher>> parse_filter(const AdminRequest& r,
                                                          std::string* error) {
  std::vector<routing::Matcher> out;
  for (std::string_view text : query_values(r, "filter")) {
    auto m = routing::parse_matcher(text, error);
    if (!m) return std::nullopt;
    out.push_back(std::move(*m));
  }
  return out;
}

// Alertmanager's matchFilterLabels: = and =~ need the label present; != and
// !~ with an empty value pass when it is present.
bool matches_filter(const std::vector<routing::Matcher>& matchers, const LabelSet& labels) {
  for (const routing::Matcher& m : matchers) {
    const bool present = labels.has(m.name());
    const std::string_view v = labels.get(m.name());
    if (m.type() == routing::MatchType::kNotEqual || m.type() == routing::MatchType::kNotRegex) {
      if (m.value().empty() && present) continue;
      if (!m.matches(v)) return false;
    } else if (!present || !m.matches(v)) {
      return false;
    }
  }
  return true;
}

json label_object(const std::vector<Label>& labels) {
  json out = json::object();
  for (const Label& l : labels) out[l.name] = l.value;
  return out;
}

json alert_json(const alerting::AlertView& v) {
  json receivers = json::array();
  for (const auto& r : v.receivers) receivers.push_back({{"name", r}});
  return json{{"annotations", label_object(v.alert.annotations)},
              {"endsAt", silence::format_api_time(v.alert.ends_at_ms)},
              {"fingerprint", alerting::fingerprint_string(v.fingerprint)},
              {"receivers", std::move(receivers)},
              {"startsAt", silence::format_api_time(v.alert.starts_at_ms)},
              {"status",
               {{"inhibitedBy", v.inhibited_by},
                {"silencedBy", v.silenced_by},
                {"state", v.suppressed() ? "suppressed" : "active"}}},
              {"updatedAt", silence::format_api_time(v.updated_at_ms)},
              {"generatorURL", v.alert.generator_url},
              {"labels", label_object(v.alert.labels.labels())}};
}

// The filters GET /api/v2/alerts and /alerts/groups share.
struct AlertFilter {
  std::vector<routing::Matcher> matchers;
  std::shared_ptr<RE2> receiver;  // anchored
  bool active = true, silenced = true, inhibited = true;

  bool keeps(const alerting::AlertView& v) const {
    if (!matches_filter(matchers, v.alert.labels)) return false;
    if (!active && !v.suppressed()) return false;
    if (!silenced && !v.silenced_by.empty()) return false;
    if (!inhibited && !v.inhibited_by.empty()) return false;
    return true;
  }
  bool keeps_receiver(std::string_view name) const {
    return !receiver || RE2::FullMatch(name, *receiver);
  }
};

std::optional<AlertFilter> parse_alert_filter(const AdminRequest& r, std::string* error) {
  AlertFilter f;
  auto matchers = parse_filter(r, error);
  if (!matchers) return std::nullopt;
  f.matchers = std::move(*matchers);
  for (auto [key, field] : {std::pair{"active", &f.active}, std::pair{"silenced", &f.silenced},
                            std::pair{"inhibited", &f.inhibited}}) {
    auto b = query_bool(r, key, true, error);
    if (!b) return std::nullopt;
    *field = *b;
  }
  if (!query_bool(r, "unprocessed", true, error)) return std::nullopt;  // none are unprocessed
  if (auto re = r.query_value("receiver")) {
    RE2::Options o;
    o.set_log_errors(false);
    auto compiled = std::make_shared<RE2>("^(?:" + std::string(*re) + ")$", o);
    if (!compiled->ok()) {
      *error = "error parsing regexp: " + compiled->error();
      return std::nullopt;
    }
    f.receiver = std::move(compiled);
  }
  return f;
}

// One postableAlert, as Alertmanager 0.25 checks it (types.Alert.Validate
// after the API fills in the times). `error` empty: valid.
struct Posted {
  dispatch::Alert alert;
  std::string error;
};

Posted read_alert(const nlohmann::json& j, std::size_t index, std::int64_t now,
                  std::int64_t resolve_timeout_ms, std::string* schema_error) {
  Posted p;
  if (!j.is_object()) {
    *schema_error = fmt::format("{} in body must be of type object", index);
    return p;
  }
  const auto labels = j.find("labels");
  if (labels == j.end() || labels->is_null()) {
    *schema_error = fmt::format("{}.labels in body is required", index);
    return p;
  }
  const auto string_map = [&](const nlohmann::json& m, const char* field, std::vector<Label>& out) {
    if (!m.is_object()) {
      *schema_error = fmt::format("{}.{} in body must be of type object", index, field);
      return false;
    }
    for (const auto& [k, v] : m.items()) {
      if (!v.is_string()) {
        *schema_error = fmt::format("{}.{}.{} in body must be of type string", index, field, k);
        return false;
      }
      // Alertmanager drops labels with empty values (removeEmptyLabels).
      if (std::string_view(field) == "labels" && v.get<std::string>().empty()) continue;
      out.push_back({k, v.get<std::string>()});
    }
    return true;
  };
  std::vector<Label> label_list;
  if (!string_map(*labels, "labels", label_list)) return p;
  if (auto a = j.find("annotations"); a != j.end() && !a->is_null())
    if (!string_map(*a, "annotations", p.alert.annotations)) return p;
  std::sort(p.alert.annotations.begin(), p.alert.annotations.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
  const auto time_field = [&](const char* field, std::int64_t& out) {
    auto t = j.find(field);
    if (t == j.end() || t->is_null()) return true;
    if (!t->is_string()) {
      *schema_error = fmt::format("{}.{} in body must be of type string", index, field);
      return false;
    }
    std::string why;
    auto ms = silence::parse_api_time(t->get<std::string>(), &why);
    if (!ms) {
      *schema_error = fmt::format("{}.{} in body must be of type date-time: \"{}\"", index, field,
                                  t->get<std::string>());
      return false;
    }
    out = *ms;
    return true;
  };
  std::int64_t starts = 0, ends = 0;
  if (!time_field("startsAt", starts) || !time_field("endsAt", ends)) return p;
  if (auto g = j.find("generatorURL"); g != j.end() && !g->is_null()) {
    if (!g->is_string()) {
      *schema_error = fmt::format("{}.generatorURL in body must be of type string", index);
      return p;
    }
    p.alert.generator_url = g->get<std::string>();
  }
  // As the API does before validating.
  if (starts == 0) starts = ends == 0 ? now : ends;
  if (ends == 0) ends = now + resolve_timeout_ms;
  p.alert.starts_at_ms = starts;
  p.alert.ends_at_ms = ends;
  if (ends < starts) {
    p.error = "start time must be before end time";
    return p;
  }
  for (const Label& l : label_list) {
    if (!routing::is_valid_label_name(l.name)) {
      p.error = fmt::format("invalid label set: invalid name {}", nlohmann::json(l.name).dump());
      return p;
    }
    if (first_invalid_utf8(l.value) != std::string_view::npos) {
      p.error = fmt::format(
          "invalid label set: invalid value {}",
          nlohmann::json(l.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return p;
    }
  }
  if (label_list.empty()) {
    p.error = "at least one label pair required";
    return p;
  }
  for (const Label& a : p.alert.annotations) {
    if (!routing::is_valid_label_name(a.name)) {
      p.error = fmt::format("invalid annotations: invalid name {}", nlohmann::json(a.name).dump());
      return p;
    }
  }
  p.alert.labels = LabelSet::from(std::move(label_list));
  return p;
}

std::string openapi_error(int code, std::string_view message) {
  return json{{"code", code}, {"message", message}}.dump() + "\n";
}

AdminResponse post_alerts(const AdminRequest& r, alerting::Delivery& delivery, std::int64_t now,
                          const AlertmanagerApiOptions& options) {
  if (r.body.size() > options.max_body_bytes)
    return error_reply(413, fmt::format("body larger than {} bytes", options.max_body_bytes));
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded())
    return reply(400, openapi_error(400,
                                    "parsing alerts body from \"\" failed, because the body "
                                    "is not valid JSON"));
  if (!body.is_array())
    return reply(400, openapi_error(400,
                                    "parsing alerts body from \"\" failed, because json: "
                                    "cannot unmarshal into Go value of type "
                                    "models.PostableAlerts"));
  if (body.size() > options.max_alerts_per_post)
    return error_reply(
        400, fmt::format("more than {} alerts in one request", options.max_alerts_per_post));
  std::vector<dispatch::Alert> valid;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < body.size(); ++i) {
    std::string schema_error;
    Posted p = read_alert(body[i], i, now, options.resolve_timeout_ms, &schema_error);
    if (!schema_error.empty()) return reply(422, openapi_error(602, schema_error));
    if (!p.error.empty()) {
      errors.push_back(std::move(p.error));
      continue;
    }
    valid.push_back(std::move(p.alert));
  }
  if (!valid.empty()) delivery.put(std::move(valid));
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    return error_reply(400, all);
  }
  return reply(200, "");
}

AdminResponse get_alerts(const AdminRequest& r, alerting::Delivery& delivery) {
  std::string error;
  auto filter = parse_alert_filter(r, &error);
  if (!filter) return error_reply(400, error);
  json out = json::array();
  auto views = delivery.alerts();
  std::sort(views.begin(), views.end(), [](const auto& a, const auto& b) {
    return alerting::fingerprint_string(a.fingerprint) <
           alerting::fingerprint_string(b.fingerprint);
  });
  for (const auto& v : views) {
    if (filter->receiver && std::none_of(v.receivers.begin(), v.receivers.end(),
                                         [&](const auto& n) { return filter->keeps_receiver(n); }))
      continue;
    if (!filter->keeps(v)) continue;
    out.push_back(alert_json(v));
  }
  return reply(200, out.dump() + "\n");
}

AdminResponse get_groups(const AdminRequest& r, alerting::Delivery& delivery, std::int64_t now) {
  std::string error;
  auto filter = parse_alert_filter(r, &error);
  if (!filter) return error_reply(400, error);
  std::map<std::uint64_t, alerting::AlertView> views;
  for (auto& v : delivery.alerts()) views.emplace(v.fingerprint, std::move(v));
  // One entry per receiver and group (the dispatcher keeps one per integration).
  std::map<std::pair<LabelSet, std::string>, std::set<std::uint64_t>> groups;
  for (const auto& g : delivery.groups()) {
    if (!filter->keeps_receiver(g.receiver)) continue;
    auto& fps = groups[{g.group_labels, g.receiver}];
    for (const auto& a : g.alerts)
      if (!a.resolved_at(now)) fps.insert(dispatch::fingerprint(a.labels));
  }
  json out = json::array();
  for (const auto& [key, fps] : groups) {
    json alerts = json::array();
    std::vector<const alerting::AlertView*> kept;
    for (std::uint64_t fp : fps)
      if (auto v = views.find(fp); v != views.end() && filter->keeps(v->second))
        kept.push_back(&v->second);
    if (kept.empty()) continue;
    for (const auto* v : kept) alerts.push_back(alert_json(*v));
    out.push_back({{"alerts", std::move(alerts)},
                   {"labels", label_object(key.first.labels())},
                   {"receiver", {{"name", key.second}}}});
  }
  return reply(200, out.dump() + "\n");
}

std::vector<silence::SilenceMatcher> to_silence_matchers(
    const std::vector<routing::Matcher>& matchers) {
  std::vector<silence::SilenceMatcher> out;
  for (const routing::Matcher& m : matchers) {
    const auto t = m.type();
    out.push_back(
        {.name = m.name(),
         .value = m.value(),
         .is_regex = t == routing::MatchType::kRegex || t == routing::MatchType::kNotRegex,
         .is_equal = t == routing::MatchType::kEqual || t == routing::MatchType::kRegex});
  }
  return out;
}

// A UUID as the silences store it: lowercase, with its dashes (the path may
// carry any case and leave them out). Call after path_id_error_body().
std::string canonical_uuid(std::string_view id) {
  std::string hex;
  for (char c : id)
    if (c != '-') hex += ascii_lower(c);
  if (hex.size() != 32) return std::string(id);
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20);
}

}  // namespace

void add_alertmanager_api(firebreak::AdminServer& server, alerting::Delivery& delivery,
                          const firebreak::Clock& clock, AlertmanagerApiOptions options) {
  const std::int64_t started_ms = now_ms(clock);
  server.add_handler("POST", "/api/v2/alerts", [&delivery, &clock, options](const AdminRequest& r) {
    return post_alerts(r, delivery, now_ms(clock), options);
  });
  server.add_handler("GET", "/api/v2/alerts",
                     [&delivery](const AdminRequest& r) { return get_alerts(r, delivery); });
  server.add_handler("GET", "/api/v2/alerts/groups", [&delivery, &clock](const AdminRequest& r) {
    return get_groups(r, delivery, now_ms(clock));
  });
  server.add_handler("GET", "/api/v2/receivers", [&delivery](const AdminRequest&) {
    json out = json::array();
    for (const auto& name : delivery.receiver_names()) out.push_back({{"name", name}});
    return reply(200, out.dump() + "\n");
  });
  server.add_handler("GET", "/api/v2/status", [options, started_ms](const AdminRequest&) {
    // "uptime" is the time the server started, as Alertmanager writes it.
    json out = {{"cluster", {{"peers", json::array()}, {"status", "disabled"}}},
                {"config", {{"original", options.config_yaml()}}},
                {"uptime", silence::format_api_time(started_ms)},
                {"versionInfo",
                 {{"branch", ""},
                  {"buildDate", ""},
                  {"buildUser", ""},
                  {"goVersion", ""},
                  {"revision", ""},
                  {"version", options.version}}}};
    return reply(200, out.dump() + "\n");
  });

  auto& silences = delivery.silences();
  server.add_handler("GET", "/api/v2/silences", [&silences](const AdminRequest& r) {
    std::string error;
    auto matchers = parse_filter(r, &error);
    if (!matchers) return error_reply(400, error);
    const auto filter = to_silence_matchers(*matchers);
    return reply(200,
                 silence::to_json(silences.query(std::nullopt, filter), silences.now_ms()) + "\n");
  });
  server.add_handler("POST", "/api/v2/silences", [&delivery, &silences](const AdminRequest& r) {
    silence::ParseResult posted = silence::parse_postable_silence(r.body, silences.now_ms());
    if (!posted.ok()) return reply(posted.http_status, posted.error_body);
    silence::SetResult set = silences.set(std::move(posted.silence));
    if (!set.ok()) return reply(set.http_status, silence::handler_error_body(set.error));
    delivery.save_silences();
    return reply(200, json{{"silenceID", set.id}}.dump() + "\n");
  });
  server.add_prefix_handler("GET", "/api/v2/silence/", [&silences](const AdminRequest& r) {
    const std::string_view id = std::string_view(r.path).substr(std::strlen("/api/v2/silence/"));
    if (auto bad = silence::path_id_error_body(id)) return reply(422, *bad);
    auto s = silences.get(canonical_uuid(id));
    if (!s) return AdminResponse{.status = 404, .content_type = std::string(kJson)};
    return reply(200, silence::to_json(*s, silences.now_ms()) + "\n");
  });
  server.add_prefix_handler("DELETE", "/api/v2/silence/",
                            [&delivery, &silences](const AdminRequest& r) {
                              const std::string_view id =
                                  std::string_view(r.path).substr(std::strlen("/api/v2/silence/"));
                              if (auto bad = silence::path_id_error_body(id))
                                return reply(422, *bad);
                              if (auto err = silences.expire(canonical_uuid(id)))
                                return error_reply(500, *err);
                              delivery.save_silences();
                              return reply(200, "");
                            });
}

}  // namespace watch::web
