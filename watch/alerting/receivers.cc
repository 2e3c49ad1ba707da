// What the receivers' notifiers share (receivers_internal.h), and the
// webhook receiver built from its loaded config.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "watch/alerting/receivers_internal.h"

namespace watch::alerting {

firebreak::HttpClientOptions http_options(const HttpConfig& http, const NotifierContext& ctx) {
  return firebreak::HttpClientOptions{.timeout = ctx.timeout,
                                      .max_response_bytes = 64 * 1024,
                                      .user_agent = "firebreak-watch/0.1",
                                      .tls = http.tls,
                                      .authorization = http.authorization,
                                      .basic_auth = http.basic_auth};
}

SendResult http_failure(std::string_view what, const firebreak::HttpResponse& r) {
  SendResult result;
  result.retryable = http_retryable(r);
  if (!r.error.empty()) {
    result.error = fmt::format("{}: {}", what, r.error);
  } else {
    std::string_view excerpt(r.body);
    if (excerpt.size() > 200) excerpt = excerpt.substr(0, 200);
    result.error = fmt::format("{} answered {}: {}", what, r.status, excerpt);
  }
  return result;
}

bool read_secret(const std::string& path, std::string_view what, std::string& out,
                 std::string& error, bool trim) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read {} \"{}\": {}", what, path, std::strerror(errno));
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  if (trim) {
    const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!out.empty() && space(out.back())) out.pop_back();
    std::size_t i = 0;
    while (i < out.size() && space(out[i])) ++i;
    out.erase(0, i);
  }
  return true;
}

std::string truncate_runes(std::string_view s, std::size_t n) {
  // Code point boundaries: bytes that are not continuation bytes.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() <= n) return std::string(s);
  if (n <= 3) return std::string(s.substr(0, starts[n]));
  return std::string(s.substr(0, starts[n - 1])) + "\xE2\x80\xA6";  // "…"
}

std::unique_ptr<Notifier> make_webhook_notifier(const WebhookConfig& c,
                                                const NotifierContext& ctx) {
  return std::make_unique<WebhookNotifier>(
      WebhookOptions{.url = c.url,
                     .external_url = ctx.external_url,
                     .timeout = c.timeout.count() > 0 ? c.timeout : ctx.timeout,
                     .max_alerts = c.max_alerts,
                     .tls = c.http.tls,
                     .authorization = c.http.authorization,
                     .basic_auth = c.http.basic_auth});
}

}  // namespace watch::alerting
