// What the subcommands that talk to a running watch share: its default
// address, the --url option, JSON calls to its HTTP API, and tables for the
// terminal.
//
//   std::string url = firebreak::cli::kDefaultWatchUrl;
//   firebreak::cli::add_url_option(command, url);
//   auto body = firebreak::cli::call("GET", firebreak::cli::trim_url(url) + "/api/v1/alerts");
//   if (!body) return 1;  // the reason is already on stderr
//
// Not thread-safe (one command runs at a time).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::cli {

// watch's default listen address (docs/config.md, `listen`).
inline constexpr const char* kDefaultWatchUrl = "http://127.0.0.1:9095";

// Adds `--url` (watch's, or an Alertmanager's, address), defaulting to what
// `url` holds.
void add_url_option(CLI::App* command, std::string& url);

// `url` without trailing slashes, so that paths can be appended.
std::string trim_url(std::string url);

// A request with a JSON answer (null for an empty body). On a network error,
// a status other than 2xx, or a body that is not JSON: prints why on stderr
// ("firebreak: URL: ...") and returns nullopt. 10 s deadline.
std::optional<nlohmann::json> call(const std::string& method, const std::string& url,
                                   const std::string& body = "");

// `value` percent-encoded for a URL's query (RFC 3986 unreserved kept).
std::string query_escape(std::string_view value);

// "k=v k2=v2" of a JSON object of strings, leaving out the names in `skip`.
std::string labels_text(const nlohmann::json& labels, const std::set<std::string>& skip = {});

// Writes rows as columns padded to their widest cell (the last column is not
// padded), each line after `indent`. `style(row, column)` may return an ANSI
// SGR sequence ("\033[31m") for a cell: it is written around the cell's text
// and does not count towards the widths.
using CellStyle = std::function<std::string_view(std::size_t row, std::size_t column)>;
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 const CellStyle& style = {}, std::string_view indent = "");

}  // namespace firebreak::cli
