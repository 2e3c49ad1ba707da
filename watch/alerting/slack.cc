// Slack incoming webhooks (Alertmanager 0.25's notify/slack): one message
// with one attachment, texts from the config or the default templates.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "watch/alerting/receivers_internal.h"

namespace watch::alerting {

namespace {

constexpr std::size_t kMaxTitleRunes = 1024;

class SlackNotifier final : public Notifier {
 public:
  SlackNotifier(SlackConfig config, const NotifierContext& ctx)
      : config_(std::move(config)),
        external_url_(ctx.external_url),
        client_(http_options(config_.http, ctx)) {}

  SendResult notify(const dispatch::GroupNotification& n) override {
    const TemplateData data = template_data(n, external_url_);
    const std::string body = slack_json(config_, data);
    std::string url = config_.api_url;
    if (url.empty()) {
      std::string error;
      if (!read_secret(config_.api_url_file, "slack api_url_file", url, error))
        return {error, true};
    }
    const std::string channel = render(config_.channel, data);
    const std::string what =
        channel.empty() ? std::string("slack") : fmt::format("slack (channel \"{}\")", channel);
    // The URL is a secret: errors name the channel, never the URL.
    firebreak::HttpResponse r = client_.post(url, body, {{"Content-Type", "application/json"}});
    if (r.ok()) return {};
    if (!r.error.empty() && r.error.find(url) != std::string::npos)
      r.error = "request failed (URL not shown: it is a secret)";
    return http_failure(what, r);
  }
  std::string_view integration() const override { return "slack"; }

 private:
  SlackConfig config_;
  std::string external_url_;
  firebreak::HttpClientPool client_;
};

}  // namespace

// The request Alertmanager's notify/slack encodes (omitempty as its struct
// tags say: text, fallback, callback_id and footer are always present).
std::string slack_json(const SlackConfig& c, const TemplateData& data) {
  using nlohmann::json;
  json att = json::object();
  auto put = [&](json& obj, const char* key, const std::string& v, bool always = false) {
    if (always || !v.empty()) obj[key] = v;
  };
  put(att, "title", truncate_runes(render(c.title, data), kMaxTitleRunes));
  put(att, "title_link", render(c.title_link, data));
  put(att, "pretext", render(c.pretext, data));
  put(att, "text", render(c.text, data), true);
  put(att, "fallback", render(c.fallback, data), true);
  put(att, "callback_id", render(c.callback_id, data), true);
  if (!c.fields.empty()) {
    json fields = json::array();
    for (const SlackField& f : c.fields) {
      json field = json::object();
      put(field, "title", render(f.title, data));
      put(field, "value", render(f.value, data));
      field["short"] = f.short_field.value_or(c.short_fields);
      fields.push_back(std::move(field));
    }
    att["fields"] = std::move(fields);
  }
  put(att, "image_url", render(c.image_url, data));
  put(att, "thumb_url", render(c.thumb_url, data));
  put(att, "footer", render(c.footer, data), true);
  put(att, "color", render(c.color, data));
  att["mrkdwn_in"] =
      c.mrkdwn_in.empty() ? json::array({"fallback", "pretext", "text"}) : json(c.mrkdwn_in);
  json req = json::object();
  put(req, "channel", render(c.channel, data));
  put(req, "username", render(c.username, data));
  put(req, "icon_emoji", render(c.icon_emoji, data));
  put(req, "icon_url", render(c.icon_url, data));
  if (c.link_names) req["link_names"] = true;
  req["attachments"] = json::array({std::move(att)});
  return req.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::unique_ptr<Notifier> make_slack_notifier(const SlackConfig& c, const NotifierContext& ctx) {
  return std::make_unique<SlackNotifier>(c, ctx);
}

}  // namespace watch::alerting
