// PagerDuty's Events API v2 (Alertmanager 0.25's notify/pagerduty, notifyV2):
// a trigger while any alert of the group fires, a resolve once none does,
// both with the same dedup_key (SHA-256 of the group key, notify.Key.Hash()).
#include <openssl/sha.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "watch/alerting/receivers_internal.h"

namespace watch::alerting {

namespace {

constexpr std::size_t kMaxSummaryRunes = 1024;
constexpr std::size_t kMaxEventBytes = 512000;

std::string sha256_hex(std::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  std::string out;
  for (const unsigned char b : digest) out += fmt::format("{:02x}", b);
  return out;
}

class PagerdutyNotifier final : public Notifier {
 public:
  PagerdutyNotifier(PagerdutyConfig config, const NotifierContext& ctx)
      : config_(std::move(config)),
        external_url_(ctx.external_url),
        client_(http_options(config_.http, ctx)) {}

  SendResult notify(const dispatch::GroupNotification& n) override {
    std::string key = config_.routing_key;
    if (key.empty()) {
      std::string error;
      if (!read_secret(config_.routing_key_file, "pagerduty routing_key_file", key, error))
        return {"failed to read routing key from file: " + error, false};
    }
    if (key.empty()) return {"routing key cannot be empty", false};
    const std::string body =
        pagerduty_json(config_, template_data(n, external_url_), n.group_key, key);
    const firebreak::HttpResponse r =
        client_.post(config_.url, body, {{"Content-Type", "application/json"}});
    if (r.ok()) return {};
    SendResult result = http_failure("pagerduty " + config_.url, r);
    if (r.error.empty() && r.status == 400) {
      // PagerDuty says what it refused (errDetails).
      const auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_object() && j.contains("message") && j["message"].is_string()) {
        std::string errors;
        if (j.contains("errors") && j["errors"].is_array())
          for (const auto& e : j["errors"])
            if (e.is_string()) errors += (errors.empty() ? "" : ",") + e.get<std::string>();
        result.error = fmt::format("pagerduty {} answered 400: {}: {}", config_.url,
                                   j["message"].get<std::string>(), errors);
      }
    }
    return result;
  }
  std::string_view integration() const override { return "pagerduty"; }

 private:
  PagerdutyConfig config_;
  std::string external_url_;
  firebreak::HttpClientPool client_;
};

}  // namespace

std::string pagerduty_json(const PagerdutyConfig& c, const TemplateData& data,
                           std::string_view group_key, const std::string& routing_key) {
  using nlohmann::json;
  auto put = [](json& obj, const char* k, const std::string& v) {
    if (!v.empty()) obj[k] = v;
  };
  json payload = json::object();
  payload["summary"] = truncate_runes(render(c.description, data), kMaxSummaryRunes);
  payload["source"] = render(c.source, data);
  payload["severity"] = render(c.severity, data);
  put(payload, "class", render(c.class_, data));
  put(payload, "component", render(c.component, data));
  put(payload, "group", render(c.group, data));
  json details = json::object();
  for (const auto& [k, v] : c.details) details[k] = render(v, data);
  if (!details.empty()) payload["custom_details"] = details;

  json msg = json::object();
  msg["routing_key"] = routing_key;
  msg["dedup_key"] = sha256_hex(group_key);
  msg["event_action"] = data.status == "firing" ? "trigger" : "resolve";
  put(msg, "client", render(c.client, data));
  put(msg, "client_url", render(c.client_url, data));
  json images = json::array();
  for (const PagerdutyImage& i : c.images) {
    const std::string src = render(i.src, data);
    if (!src.empty())
      images.push_back(
          {{"src", src}, {"alt", render(i.alt, data)}, {"href", render(i.href, data)}});
  }
  if (!images.empty()) msg["images"] = std::move(images);
  json links = json::array();
  for (const PagerdutyLink& l : c.links) {
    const std::string href = render(l.href, data);
    if (!href.empty()) links.push_back({{"href", href}, {"text", render(l.text, data)}});
  }
  if (!links.empty()) msg["links"] = std::move(links);
  msg["payload"] = payload;
  std::string body = msg.dump(-1, ' ', false, json::error_handler_t::replace);
  if (body.size() > kMaxEventBytes) {
    msg["payload"]["custom_details"] = {
        {"error",
         "Custom details have been removed because the original event exceeds the maximum size "
         "of 512kB"}};
    body = msg.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return body;
}

std::unique_ptr<Notifier> make_pagerduty_notifier(const PagerdutyConfig& c,
                                                  const NotifierContext& ctx) {
  return std::make_unique<PagerdutyNotifier>(c, ctx);
}

}  // namespace watch::alerting
