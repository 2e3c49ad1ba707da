// The email receiver (Alertmanager 0.25's notify/email): one SMTP session
// per notification: EHLO, STARTTLS when require_tls (or TLS from the start on
// port 465), AUTH (CRAM-MD5, PLAIN or LOGIN, the first of the server's list
// that the config has a secret for), MAIL, RCPT, DATA with a
// multipart/alternative message (text/plain, then text/html), QUIT.
// Retries: no connection, a 4xx reply, or a TLS failure are retryable; a 5xx
// reply (refused sender, recipient, credentials or message) is not.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <optional>
#include <random>

#include "firebreak/tls.h"
#include "watch/alerting/receivers_internal.h"

namespace watch::alerting {

namespace {

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes.
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

std::string hmac_md5_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &len);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// mime.QEncoding.Encode("utf-8", s): s itself when it needs no encoding.
std::string q_encode(std::string_view s) {
  const bool needs = std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < ' ' && c != '\t') || c > '~';
  });
  if (!needs) return std::string(s);
  constexpr std::size_t kMaxWord = 75;
  const std::string open = "=?utf-8?q?", close = "?=";
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    if (!out.empty()) out += ' ';
    out += open + word + close;
    word.clear();
  };
  for (std::size_t i = 0; i < s.size();) {
    // One code point at a time, never split across words.
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t width = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    width = std::min(width, s.size() - i);
    std::string enc;
    for (std::size_t k = 0; k < width; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c == ' ')
        enc += '_';
      else if (c >= '!' && c <= '~' && c != '=' && c != '?' && c != '_')
        enc += static_cast<char>(c);
      else
        enc += fmt::format("={:02X}", c);
    }
    if (open.size() + word.size() + enc.size() + close.size() > kMaxWord) flush();
    word += enc;
    i += width;
  }
  flush();
  return out;
}

// Quoted-printable (RFC 2045) as Go's mime/quotedprintable writes it: "\n"
// becomes CRLF, lines at most 76 characters with soft breaks, '=' and
// non-printable bytes encoded, white space before a line break encoded.
std::string quoted_printable(std::string_view in) {
  std::string out, line;
  auto soft_break = [&] {
    out += line + "=\r\n";
    line.clear();
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == '\n' || (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n')) {
      if (c == '\r') ++i;
      if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
        const char last = line.back();
        line.pop_back();
        const std::string enc = fmt::format("={:02X}", static_cast<unsigned char>(last));
        if (line.size() + enc.size() > 76) soft_break();
        line += enc;
      }
      out += line + "\r\n";
      line.clear();
      continue;
    }
    std::string enc;
    if ((c >= '!' && c <= '~' && c != '=') || c == ' ' || c == '\t')
      enc = std::string(1, static_cast<char>(c));
    else
      enc = fmt::format("={:02X}", c);
    if (line.size() + enc.size() > 75) soft_break();
    line += enc;
  }
  if (!line.empty()) {
    if (line.back() == ' ' || line.back() == '\t') {
      const char last = line.back();
      line.pop_back();
      line += fmt::format("={:02X}", static_cast<unsigned char>(last));
    }
    out += line;
  }
  return out;
}

// mail.ParseAddressList, simplified: comma-separated, each "a@b" or
// "Name <a@b>"; the addr-specs. Commas inside quotes or <> do not split.
bool parse_addresses(std::string_view list, std::vector<std::string>& out, std::string& error) {
  std::vector<std::string> parts;
  std::string cur;
  bool quoted = false, angle = false;
  for (const char c : list) {
    if (c == '"' && !angle) quoted = !quoted;
    if (c == '<' && !quoted) angle = true;
    if (c == '>' && !quoted) angle = false;
    if (c == ',' && !quoted && !angle) {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  parts.push_back(cur);
  for (std::string p : parts) {
    const std::size_t open = p.rfind('<');
    std::string addr;
    if (open != std::string::npos) {
      const std::size_t close = p.find('>', open);
      if (close == std::string::npos) {
        error = "mail: unclosed angle-addr";
        return false;
      }
      addr = p.substr(open + 1, close - open - 1);
    } else {
      addr = p;
    }
    while (!addr.empty() && std::isspace(static_cast<unsigned char>(addr.front())))
      addr.erase(0, 1);
    while (!addr.empty() && std::isspace(static_cast<unsigned char>(addr.back()))) addr.pop_back();
    if (addr.empty()) {
      error = "mail: no address";
      return false;
    }
    const std::size_t at = addr.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == addr.size()) {
      error = "mail: missing '@' or angle-addr";
      return false;
    }
    if (addr.find_first_of(" \t\r\n<>") != std::string::npos) {
      error = "mail: invalid address";
      return false;
    }
    out.push_back(std::move(addr));
  }
  return true;
}

bool is_localhost(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

struct Reply {
  int code = 0;
  std::string text;   // the lines' texts joined with "\n"
  std::string error;  // no reply: a connection problem
  bool ok(int want) const { return error.empty() && code == want; }
};

// A failure of the session: retryable unless the server refused with 5xx.
SendResult smtp_failure(std::string_view what, const Reply& r) {
  if (!r.error.empty()) return {fmt::format("email: {}: {}", what, r.error), true};
  return {fmt::format("email: {}: {} {}", what, r.code, r.text), r.code < 500};
}

class Session {
 public:
  Session(firebreak::LineClient& c) : c_(c) {}

  Reply read() {
    Reply r;
    std::string line;
    while (true) {
      if (std::string e = c_.read_line(line); !e.empty()) {
        r.error = e;
        return r;
      }
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          !std::isdigit(static_cast<unsigned char>(line[1])) ||
          !std::isdigit(static_cast<unsigned char>(line[2])) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        r.error = fmt::format("not an SMTP reply: \"{}\"", line.substr(0, 100));
        return r;
      }
      r.code = std::stoi(line.substr(0, 3));
      if (!r.text.empty()) r.text += "\n";
      r.text += line.size() > 4 ? line.substr(4) : "";
      if (line.size() == 3 || line[3] == ' ') return r;
    }
  }

  // Sends a command line; `shown` is what an error may quote of it.
  Reply command(const std::string& line) {
    if (std::string e = c_.write(line + "\r\n"); !e.empty()) return {0, {}, e};
    return read();
  }

 private:
  firebreak::LineClient& c_;
};

class EmailNotifier final : public Notifier {
 public:
  EmailNotifier(EmailConfig config, const NotifierContext& ctx)
      : config_(std::move(config)), external_url_(ctx.external_url), timeout_(ctx.timeout) {
    char host[256] = {};
    hostname_ = ::gethostname(host, sizeof host - 1) == 0 ? host : "localhost.localdomain";
  }

  SendResult notify(const dispatch::GroupNotification& n) override {
    const TemplateData data = template_data(n, external_url_);
    std::vector<std::string> from, to;
    std::string why;
    if (!parse_addresses(config_.from, from, why))
      return {"email: parse 'from' addresses: " + why, false};
    if (from.size() != 1)
      return {fmt::format("email: must be exactly one 'from' address (got: {})", from.size()),
              false};
    if (!parse_addresses(config_.to, to, why))
      return {"email: parse 'to' addresses: " + why, false};
    const std::string message = build_message(data);

    firebreak::LineClient c;
    c.set_deadline(std::chrono::steady_clock::now() + timeout_);
    Session s(c);
    const std::string& host = config_.smarthost_host;
    const bool implicit_tls = config_.smarthost_port == 465;
    firebreak::TlsOptions tls = config_.tls;
    if (std::string e = c.connect(host, config_.smarthost_port, implicit_tls, tls); !e.empty())
      return {"email: establish connection to server: " + e, true};
    if (Reply r = s.read(); !r.ok(220)) return smtp_failure("greeting", r);

    std::vector<std::string> extensions;
    if (SendResult r = hello(s, extensions); !r.ok()) return r;
    if (config_.require_tls && !implicit_tls) {
      if (!has(extensions, "STARTTLS"))
        return {fmt::format("email: 'require_tls' is true (default) but \"{}:{}\" does not "
                            "advertise the STARTTLS extension",
                            host, config_.smarthost_port),
                true};
      if (Reply r = s.command("STARTTLS"); !r.ok(220))
        return smtp_failure("send STARTTLS command", r);
      if (std::string e = c.start_tls(tls, host); !e.empty())
        return {"email: send STARTTLS command: " + e, true};
      if (SendResult r = hello(s, extensions); !r.ok()) return r;
    }
    if (const std::string mechs = extension(extensions, "AUTH");
        has(extensions, "AUTH") && !config_.auth_username.empty()) {
      if (SendResult r = authenticate(s, mechs, c.tls_active()); !r.ok()) return r;
    }
    if (Reply r = s.command("MAIL FROM:<" + from[0] + ">"); !r.ok(250))
      return smtp_failure("send MAIL command", r);
    for (const std::string& rcpt : to)
      if (Reply r = s.command("RCPT TO:<" + rcpt + ">"); !(r.ok(250) || r.ok(251)))
        return smtp_failure("send RCPT command", r);
    if (Reply r = s.command("DATA"); !r.ok(354)) return smtp_failure("send DATA command", r);
    if (std::string e = c.write(dot_stuff(message)); !e.empty())
      return {"email: write message: " + e, true};
    if (Reply r = s.command("."); !r.ok(250)) return smtp_failure("send message", r);
    s.command("QUIT");
    return {};
  }
  std::string_view integration() const override { return "email"; }

 private:
  // EHLO (HELO when the server refuses EHLO, as Go's net/smtp), keeping the
  // extensions ("STARTTLS", "AUTH PLAIN LOGIN", ...).
  SendResult hello(Session& s, std::vector<std::string>& extensions) {
    extensions.clear();
    Reply r = s.command("EHLO " + config_.hello);
    if (r.ok(250)) {
      std::size_t start = 0;
      const std::string& t = r.text;
      bool first = true;
      while (start <= t.size()) {
        std::size_t end = t.find('\n', start);
        if (end == std::string::npos) end = t.size();
        if (!first) extensions.push_back(t.substr(start, end - start));
        first = false;
        start = end + 1;
      }
      return {};
    }
    if (!r.error.empty()) return smtp_failure("send EHLO command", r);
    r = s.command("HELO " + config_.hello);
    if (!r.ok(250)) return smtp_failure("send HELO command", r);
    return {};
  }

  static std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }
  static bool has(const std::vector<std::string>& extensions, std::string_view name) {
    for (const std::string& e : extensions) {
      const std::string u = upper(e.substr(0, e.find(' ')));
      if (u == name) return true;
    }
    return false;
  }
  static std::string extension(const std::vector<std::string>& extensions, std::string_view name) {
    for (const std::string& e : extensions) {
      const std::size_t sp = e.find(' ');
      if (upper(e.substr(0, sp)) == name) return sp == std::string::npos ? "" : e.substr(sp + 1);
    }
    return {};
  }

  SendResult authenticate(Session& s, const std::string& mechs, bool tls) {
    std::string errors;
    auto add = [&](const std::string& e) { errors += (errors.empty() ? "" : "; ") + e; };
    std::size_t start = 0;
    while (start <= mechs.size()) {
      std::size_t end = mechs.find(' ', start);
      if (end == std::string::npos) end = mechs.size();
      const std::string mech = upper(mechs.substr(start, end - start));
      start = end + 1;
      if (mech == "CRAM-MD5") {
        if (config_.auth_secret.empty()) {
          add("missing secret for CRAM-MD5 auth mechanism");
          continue;
        }
        Reply r = s.command("AUTH CRAM-MD5");
        if (!r.ok(334)) return smtp_failure("CRAM-MD5 auth", r);
        const auto challenge = unbase64(r.text);
        if (!challenge) return {"email: CRAM-MD5 auth: the server's challenge is not base64", true};
        r = s.command(
            base64(config_.auth_username + " " + hmac_md5_hex(config_.auth_secret, *challenge)));
        if (!r.ok(235)) return smtp_failure("CRAM-MD5 auth", r);
        return {};
      }
      if (mech == "PLAIN" || mech == "LOGIN") {
        std::string password = config_.auth_password;
        if (!config_.auth_password_file.empty()) {
          std::string error;
          // Read as written (Alertmanager does not trim it).
          if (!read_secret(config_.auth_password_file, "auth_password_file", password, error,
                           /*trim=*/false)) {
            add(error);
            continue;
          }
        }
        if (password.empty()) {
          add("missing password for " + mech + " auth mechanism");
          continue;
        }
        // Go's smtp.PlainAuth: credentials only over TLS or to localhost.
        if (!tls && !is_localhost(config_.smarthost_host))
          return {"email: " + mech + " auth: unencrypted connection", false};
        if (mech == "PLAIN") {
          Reply r = s.command("AUTH PLAIN " +
                              base64(config_.auth_identity + std::string(1, '\0') +
                                     config_.auth_username + std::string(1, '\0') + password));
          if (!r.ok(235)) return smtp_failure("PLAIN auth", r);
          return {};
        }
        // LOGIN: the username at the first challenge, the password at the
        // second, whatever the prompts say.
        Reply r = s.command("AUTH LOGIN");
        if (!r.ok(334)) return smtp_failure("LOGIN auth", r);
        r = s.command(base64(config_.auth_username));
        if (!r.ok(334)) return smtp_failure("LOGIN auth", r);
        r = s.command(base64(password));
        if (!r.ok(235)) return smtp_failure("LOGIN auth", r);
        return {};
      }
    }
    if (errors.empty()) errors = "unknown auth mechanism: " + mechs;
    return {"email: find auth mechanism: " + errors, true};
  }

  std::string build_message(const TemplateData& data) const {
    std::map<std::string, std::string> headers;
    headers["Subject"] = render(Text::of_default("email.default.subject"), data);
    headers["To"] = config_.to;
    headers["From"] = config_.from;
    for (const auto& [name, value] : config_.headers) headers[name] = render(value, data);
    std::string out;
    for (const auto& [name, value] : headers) out += name + ": " + q_encode(value) + "\r\n";
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto now = std::chrono::system_clock::now();
    if (!headers.contains("Message-Id"))
      out += fmt::format(
          "Message-Id: <{}.{}@{}>\r\n",
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
          rng(), hostname_);
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
    const std::string boundary = fmt::format("{:016x}{:016x}", rng(), rng());
    out += std::string("Date: ") + date + "\r\n";
    out += "Content-Type: multipart/alternative;  boundary=" + boundary + "\r\n";
    out += "MIME-Version: 1.0\r\n\r\n";
    bool first = true;
    auto part = [&](const char* type, const std::string& body) {
      out += (first ? "--" : "\r\n--") + boundary + "\r\n";
      first = false;
      out += "Content-Transfer-Encoding: quoted-printable\r\n";
      out += std::string("Content-Type: ") + type + "; charset=UTF-8\r\n\r\n";
      out += quoted_printable(body);
    };
    const std::string text = render(config_.text, data);
    const std::string html = render(config_.html, data);
    if (!text.empty()) part("text/plain", text);
    if (!html.empty()) part("text/html", html);
    out += "\r\n--" + boundary + "--\r\n";
    return out;
  }

  // The message as DATA sends it: CRLF line ends, a leading '.' doubled.
  static std::string dot_stuff(const std::string& message) {
    std::string out;
    bool line_start = true;
    for (std::size_t i = 0; i < message.size(); ++i) {
      const char c = message[i];
      if (line_start && c == '.') out += '.';
      if (c == '\n' && (i == 0 || message[i - 1] != '\r')) out += '\r';
      out += c;
      line_start = c == '\n';
    }
    if (!line_start) out += "\r\n";
    return out;
  }

  EmailConfig config_;
  std::string external_url_;
  std::chrono::milliseconds timeout_;
  std::string hostname_;
};

}  // namespace

std::unique_ptr<Notifier> make_email_notifier(const EmailConfig& c, const NotifierContext& ctx) {
  return std::make_unique<EmailNotifier>(c, ctx);
}

}  // namespace watch::alerting
