#include "cli/watch_api.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "firebreak/http_client.h"

namespace firebreak::cli {

using nlohmann::json;

void add_url_option(CLI::App* command, std::string& url) {
  const CLI::Validator http_url(
      [](std::string& value) {
        std::string why;
        return valid_http_url(value, &why) ? std::string() : "not an http(s) URL: " + why;
      },
      "URL");
  command->add_option("--url", url, "watch's (or an Alertmanager's) address")
      ->capture_default_str()
      ->check(http_url);
}

std::string trim_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::optional<json> call(const std::string& method, const std::string& url,
                         const std::string& body) {
  HttpClient client({.timeout = std::chrono::seconds(10)});
  const HttpResponse r = client.request(method, url, body, {{"Content-Type", "application/json"}});
  if (!r.error.empty()) {
    std::cerr << "firebreak: " << url << ": " << r.error << "\n";
    return std::nullopt;
  }
  if (r.status / 100 != 2) {
    std::cerr << "firebreak: " << url << " answered " << r.status << ": " << r.body << "\n";
    return std::nullopt;
  }
  if (r.body.empty()) return json();
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "firebreak: " << url << ": not JSON: " << r.body.substr(0, 200) << "\n";
    return std::nullopt;
  }
  return j;
}

std::string query_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string labels_text(const json& labels, const std::set<std::string>& skip) {
  std::string out;
  for (const auto& [k, v] : labels.items()) {
    if (skip.contains(k) || !v.is_string()) continue;
    if (!out.empty()) out += " ";
    out += k + "=" + v.get<std::string>();
  }
  return out;
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 const CellStyle& style, std::string_view indent) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string_view sgr = style ? style(r, i) : std::string_view();
      if (!sgr.empty())
        line.append(sgr).append(row[i]).append("\033[0m");
      else
        line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // empty last cells
    out << line << "\n";
  }
}

}  // namespace firebreak::cli
