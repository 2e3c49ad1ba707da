// Alertmanager 0.25's template data (template/template.go's Data) and its
// default templates (template/default.tmpl, template/email.tmpl), rendered
// in C++. Each function says which template it is; the output is the
// template's byte for byte, except email.default.html (same content, simple
// markup) and email.default.text (watch's own).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "watch/alerting/integrations.h"
#include "watch/alerting/webhook.h"

namespace watch::alerting {

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// KV.SortedPairs: alertname first, then the other names sorted.
Pairs sorted_pairs(const std::map<std::string, std::string>& kv) {
  Pairs out;
  if (auto it = kv.find("alertname"); it != kv.end()) out.emplace_back(it->first, it->second);
  for (const auto& [k, v] : kv)
    if (k != "alertname") out.emplace_back(k, v);
  return out;
}

Pairs sorted_pairs(const std::vector<Label>& labels) {
  std::map<std::string, std::string> kv;
  for (const Label& l : labels) kv[l.name] = l.value;
  return sorted_pairs(kv);
}

std::string join_values(const Pairs& pairs, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += sep;
    out += pairs[i].second;
  }
  return out;
}

// regexp.QuoteMeta.
std::string quote_meta(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::string_view(R"(\.+*?()|[]{}^$)").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// url.QueryEscape (text/template's urlquery).
std::string query_escape(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// html/template's escaping of text and attribute values.
std::string html_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<const TemplateAlert*> with_status(const TemplateData& d, std::string_view status) {
  std::vector<const TemplateAlert*> out;
  for (const TemplateAlert& a : d.alerts)
    if (a.status == status) out.push_back(&a);
  return out;
}

// __subject.
std::string subject(const TemplateData& d) {
  std::string status = d.status;
  std::transform(status.begin(), status.end(), status.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string out = "[" + status;
  if (d.status == "firing") out += ":" + std::to_string(with_status(d, "firing").size());
  out += "] " + join_values(d.group_labels, " ") + " ";
  if (d.common_labels.size() > d.group_labels.size()) {
    // .CommonLabels.Remove .GroupLabels.Names, then `with` (empty is false).
    Pairs rest;
    for (const auto& p : d.common_labels) {
      const bool grouped = std::any_of(d.group_labels.begin(), d.group_labels.end(),
                                       [&](const auto& g) { return g.first == p.first; });
      if (!grouped) rest.push_back(p);
    }
    out += "(" + join_values(rest, " ") + ")";
  }
  return out;
}

// __alertmanagerURL.
std::string alertmanager_url(const TemplateData& d) {
  return d.external_url + "/#/alerts?receiver=" + query_escape(d.receiver);
}

// __text_alert_list.
std::string text_alert_list(const std::vector<const TemplateAlert*>& alerts) {
  std::string out;
  for (const TemplateAlert* a : alerts) {
    out += "Labels:\n";
    for (const auto& [k, v] : a->labels) out += " - " + k + " = " + v + "\n";
    out += "Annotations:\n";
    for (const auto& [k, v] : a->annotations) out += " - " + k + " = " + v + "\n";
    out += "Source: " + a->generator_url + "\n";
  }
  return out;
}

// "2 alerts for alertname=DiskFull service=db": the headline of
// email.default.html.
std::string email_headline(const TemplateData& d) {
  std::string out =
      std::to_string(d.alerts.size()) + " alert" + (d.alerts.size() > 1 ? "s" : "") + " for";
  for (const auto& [k, v] : d.group_labels) out += " " + k + "=" + v;
  return out;
}

std::string email_html(const TemplateData& d) {
  const auto firing = with_status(d, "firing");
  const auto resolved = with_status(d, "resolved");
  const char* td =
      R"(<td style="font-family: 'Helvetica Neue', Helvetica, Arial, sans-serif; font-size: 14px; vertical-align: top; padding: 0 0 20px;" valign="top">)";
  std::string out =
      "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
      "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
      "<html xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n"
      "<meta name=\"viewport\" content=\"width=device-width\">\n"
      "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\n<title>" +
      html_escape(subject(d)) +
      "</title>\n</head>\n<body style=\"margin: 0; font-family: 'Helvetica Neue', Helvetica, "
      "Arial, sans-serif; font-size: 14px; background-color: #f6f6f6;\">\n"
      "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width: 600px; "
      "margin: 0 auto; background-color: #fff; border: 1px solid #e9e9e9;\">\n";
  out += fmt::format(
      "<tr><td style=\"font-size: 16px; color: #fff; font-weight: 500; padding: 20px; "
      "text-align: center; background-color: {};\" align=\"center\" valign=\"top\">{}</td></tr>\n",
      firing.empty() ? "#68B90F" : "#E6522C", html_escape(email_headline(d)));
  out +=
      "<tr>" + std::string(td) + "<a href=\"" + html_escape(alertmanager_url(d)) +
      "\" style=\"text-decoration: none; color: #FFF; background-color: #348eda; border: solid "
      "#348eda; border-width: 10px 20px; font-weight: bold;\">View in Alertmanager</a></td></tr>\n";
  auto alert_rows = [&](const std::vector<const TemplateAlert*>& alerts) {
    for (const TemplateAlert* a : alerts) {
      out += "<tr>" + std::string(td) + "<strong>Labels</strong><br>\n";
      for (const auto& [k, v] : a->labels) out += html_escape(k) + " = " + html_escape(v) + "<br>";
      out += "\n";
      if (!a->annotations.empty()) {
        out += "<strong>Annotations</strong><br>\n";
        for (const auto& [k, v] : a->annotations)
          out += html_escape(k) + " = " + html_escape(v) + "<br>";
        out += "\n";
      }
      out +=
          "<a href=\"" + html_escape(a->generator_url) +
          "\" style=\"color: #348eda; text-decoration: underline;\">Source</a><br>\n</td></tr>\n";
    }
  };
  if (!firing.empty())
    out += "<tr>" + std::string(td) + "<strong>[" + std::to_string(firing.size()) +
           "] Firing</strong></td></tr>\n";
  alert_rows(firing);
  if (!resolved.empty()) {
    if (!firing.empty()) out += "<tr>" + std::string(td) + "<br><hr><br></td></tr>\n";
    out += "<tr>" + std::string(td) + "<strong>[" + std::to_string(resolved.size()) +
           "] Resolved</strong></td></tr>\n";
  }
  alert_rows(resolved);
  out +=
      "</table>\n<div style=\"width: 100%; color: #999; padding: 20px; text-align: center; "
      "font-size: 12px;\"><a href=\"" +
      html_escape(d.external_url) +
      "\" style=\"color: #999; text-decoration: underline;\">Sent by Alertmanager</a></div>\n"
      "</body>\n</html>\n";
  return out;
}

std::string email_text(const TemplateData& d) {
  const auto firing = with_status(d, "firing");
  const auto resolved = with_status(d, "resolved");
  std::string out = email_headline(d) + "\n\nView in Alertmanager: " + alertmanager_url(d) + "\n";
  auto alerts = [&](const std::vector<const TemplateAlert*>& list) {
    for (const TemplateAlert* a : list) {
      out += "\nLabels\n";
      for (const auto& [k, v] : a->labels) out += k + " = " + v + "\n";
      if (!a->annotations.empty()) {
        out += "Annotations\n";
        for (const auto& [k, v] : a->annotations) out += k + " = " + v + "\n";
      }
      out += "Source: " + a->generator_url + "\n";
    }
  };
  if (!firing.empty()) out += "\n[" + std::to_string(firing.size()) + "] Firing\n";
  alerts(firing);
  if (!resolved.empty()) out += "\n[" + std::to_string(resolved.size()) + "] Resolved\n";
  alerts(resolved);
  out += "\nSent by Alertmanager: " + d.external_url + "\n";
  return out;
}

constexpr std::array<std::string_view, 22> kNames{
    "__subject",
    "__alertmanager",
    "__alertmanagerURL",
    "slack.default.title",
    "slack.default.username",
    "slack.default.fallback",
    "slack.default.callbackid",
    "slack.default.pretext",
    "slack.default.titlelink",
    "slack.default.iconemoji",
    "slack.default.iconurl",
    "slack.default.text",
    "slack.default.footer",
    "slack.default.color",
    "pagerduty.default.description",
    "pagerduty.default.client",
    "pagerduty.default.clientURL",
    "pagerduty.default.details.firing",
    "pagerduty.default.details.resolved",
    "pagerduty.default.details.num_firing",
    "pagerduty.default.details.num_resolved",
    "email.default.subject",
};

}  // namespace

TemplateData template_data(const dispatch::GroupNotification& n, std::string_view external_url) {
  TemplateData d;
  d.receiver = quote_meta(n.receiver);
  d.status = n.firing() ? "firing" : "resolved";
  d.external_url = std::string(external_url);
  for (const dispatch::Alert& a : n.alerts) {
    TemplateAlert t;
    t.status = a.resolved_at(n.at_ms) ? "resolved" : "firing";
    t.labels = sorted_pairs(a.labels.labels());
    t.annotations = sorted_pairs(a.annotations);
    t.starts_at_ms = a.starts_at_ms;
    t.ends_at_ms = a.ends_at_ms;
    t.generator_url = a.generator_url;
    t.fingerprint = fingerprint_string(fingerprint(a.labels));
    d.alerts.push_back(std::move(t));
  }
  d.group_labels = sorted_pairs(n.group_labels.labels());
  if (!n.alerts.empty()) {
    std::map<std::string, std::string> labels, annotations;
    for (const Label& l : n.alerts.front().labels) labels[l.name] = l.value;
    for (const Label& l : n.alerts.front().annotations) annotations[l.name] = l.value;
    for (std::size_t i = 1; i < n.alerts.size(); ++i) {
      const dispatch::Alert& a = n.alerts[i];
      std::erase_if(labels, [&](const auto& kv) { return a.labels.get(kv.first) != kv.second; });
      std::erase_if(annotations, [&](const auto& kv) {
        const auto it = std::find_if(a.annotations.begin(), a.annotations.end(),
                                     [&](const Label& l) { return l.name == kv.first; });
        return it == a.annotations.end() || it->value != kv.second;
      });
    }
    d.common_labels = sorted_pairs(labels);
    d.common_annotations = sorted_pairs(annotations);
  }
  return d;
}

bool is_default_template(std::string_view name) {
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end() ||
         name == "email.default.html" || name == "email.default.text";
}

std::optional<std::string> render_default(std::string_view name, const TemplateData& d) {
  if (name == "__subject" || name == "slack.default.title" ||
      name == "pagerduty.default.description" || name == "email.default.subject")
    return subject(d);
  if (name == "__alertmanager" || name == "slack.default.username" ||
      name == "pagerduty.default.client")
    return std::string("Alertmanager");
  if (name == "__alertmanagerURL" || name == "slack.default.titlelink" ||
      name == "pagerduty.default.clientURL")
    return alertmanager_url(d);
  if (name == "slack.default.fallback") return subject(d) + " | " + alertmanager_url(d);
  if (name == "slack.default.callbackid" || name == "slack.default.pretext" ||
      name == "slack.default.iconemoji" || name == "slack.default.iconurl" ||
      name == "slack.default.text" || name == "slack.default.footer")
    return std::string();
  if (name == "slack.default.color") return std::string(d.status == "firing" ? "danger" : "good");
  if (name == "pagerduty.default.details.firing") return text_alert_list(with_status(d, "firing"));
  if (name == "pagerduty.default.details.resolved")
    return text_alert_list(with_status(d, "resolved"));
  if (name == "pagerduty.default.details.num_firing")
    return std::to_string(with_status(d, "firing").size());
  if (name == "pagerduty.default.details.num_resolved")
    return std::to_string(with_status(d, "resolved").size());
  if (name == "email.default.html") return email_html(d);
  if (name == "email.default.text") return email_text(d);
  return std::nullopt;
}

std::string render(const Text& text, const TemplateData& data) {
  if (text.default_template.empty()) return text.literal;
  return render_default(text.default_template, data).value_or(std::string());
}

}  // namespace watch::alerting
