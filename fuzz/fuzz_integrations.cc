// Fuzz target: a receiver's integrations (watch/alerting/integrations.h),
// read from Alertmanager-shaped YAML that users write by hand.
//
// The input is a YAML document taken as one receiver mapping (a `global`
// key in it as an alertmanager.yml's global block). Besides "no
// crash, no hang, no exception, no sanitizer report", it checks properties
// that hold for every input:
// - every error has a message, a non-negative position and a printable form,
//   and there are at most 100 of them plus the "too many" line;
// - an accepted receiver's items are of the supported kinds, in the order of
//   supported_receiver_keys(), numbered 0, 1, ... within each kind, with the
//   config that matches their kind;
// - what the loader promises of each kind holds (a webhook's URL is one the
//   HTTP client takes, an exec command has a program and a positive timeout,
//   an email has a smarthost with a port, every text names a default
//   template that render_default() knows);
// - every text renders against a sample group.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "firebreak/http_client.h"
#include "watch/alerting/integrations.h"

namespace {

using namespace watch::alerting;

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

const TemplateData& sample() {
  static const TemplateData data = [] {
    watch::dispatch::GroupNotification n;
    n.receiver = "ops (pager)";
    n.group_key = "{}:{alertname=\"X\"}";
    n.group_labels = watch::LabelSet::from({{"alertname", "X"}});
    n.at_ms = 2'000;
    n.alerts.push_back({.labels = watch::LabelSet::from({{"alertname", "X"}, {"a", "<b>"}}),
                        .annotations = {{"summary", "s&t"}},
                        .starts_at_ms = 1'000});
    n.alerts.push_back({.labels = watch::LabelSet::from({{"alertname", "X"}, {"a", "c"}}),
                        .starts_at_ms = 500,
                        .ends_at_ms = 1'500});
    return template_data(n, "http://am:9093");
  }();
  return data;
}

void check_text(const Text& t, std::string_view input) {
  if (!t.default_template.empty()) {
    if (!is_default_template(t.default_template)) violated("unknown default template", input);
    if (!render_default(t.default_template, sample())) violated("default did not render", input);
  }
  (void)render(t, sample());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const std::exception&) {
    return 0;  // not YAML: the config loader reports that, not this one
  }
  // A top-level `global` key is taken as an alertmanager.yml's global block
  // (the integrations' defaults), the rest as the receiver.
  std::vector<watch::routing::Error> errors;
  IntegrationDefaults defaults;
  YAML::Node receiver = root;
  if (root.IsMap()) {
    YAML::Node rest(YAML::NodeType::Map);
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "global" && !defaults.impl)
        defaults = load_integration_defaults(it->second, "/etc/firebreak", errors);
      else
        rest.force_insert(it->first, it->second);
    }
    if (defaults.impl) receiver = rest;
  }
  const std::vector<IntegrationConfig> items =
      load_integrations(receiver, "receivers[0]", "/etc/firebreak", errors, &defaults);

  if (errors.size() > 101) violated("more than 101 errors", text);
  for (const auto& e : errors) {
    if (e.message.empty()) violated("error without a message", text);
    if (e.line < 0 || e.column < 0) violated("negative error position", text);
    if (e.to_string().empty()) violated("empty error text", text);
  }
  if (!errors.empty()) return 0;

  const auto& keys = supported_receiver_keys();
  std::size_t last_kind = 0, next_index = 0;
  for (const IntegrationConfig& c : items) {
    const std::string key = c.kind + "_configs";
    const auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) violated("unsupported kind accepted", text);
    const auto kind = static_cast<std::size_t>(it - keys.begin());
    if (kind < last_kind) violated("kinds out of order", text);
    if (kind != last_kind) next_index = 0;
    last_kind = kind;
    if (c.index != next_index++) violated("index not consecutive within its kind", text);
    if (c.config.index() != kind) violated("config does not match its kind", text);
    if (const auto* w = std::get_if<WebhookConfig>(&c.config)) {
      if (!firebreak::valid_http_url(w->url)) violated("webhook URL not callable", text);
    } else if (const auto* s = std::get_if<SlackConfig>(&c.config)) {
      if (s->api_url.empty() == s->api_url_file.empty())
        violated("slack URL not exactly one", text);
      for (const Text* t : {&s->channel, &s->username, &s->color, &s->title, &s->title_link,
                            &s->pretext, &s->text, &s->footer, &s->fallback, &s->callback_id,
                            &s->icon_emoji, &s->icon_url, &s->image_url, &s->thumb_url})
        check_text(*t, text);
      for (const SlackField& f : s->fields) {
        check_text(f.title, text);
        check_text(f.value, text);
      }
    } else if (const auto* p = std::get_if<PagerdutyConfig>(&c.config)) {
      if (p->routing_key.empty() == p->routing_key_file.empty())
        violated("pagerduty key not exactly one", text);
      if (!firebreak::valid_http_url(p->url)) violated("pagerduty URL not callable", text);
      for (const auto& [k, v] : p->details) check_text(v, text);
      for (const Text* t : {&p->client, &p->client_url, &p->description, &p->source, &p->severity,
                            &p->class_, &p->component, &p->group})
        check_text(*t, text);
    } else if (const auto* m = std::get_if<EmailConfig>(&c.config)) {
      if (m->to.empty() || m->from.empty()) violated("email without to or from", text);
      if (m->smarthost_host.empty() || m->smarthost_port == 0)
        violated("email without a smarthost", text);
      for (const auto& [k, v] : m->headers) check_text(v, text);
      check_text(m->html, text);
      check_text(m->text, text);
    } else if (const auto* e = std::get_if<ExecConfig>(&c.config)) {
      if (e->command.empty() || e->command[0].empty()) violated("exec without a program", text);
      if (e->timeout.count() <= 0) violated("exec timeout not positive", text);
    } else if (const auto* a = std::get_if<AlertmanagerConfig>(&c.config)) {
      if (!firebreak::valid_http_url(a->url)) violated("alertmanager URL not callable", text);
    }
  }
  return 0;
}
