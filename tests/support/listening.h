// Reading the `listening` log event a process writes once it serves: one JSON
// line on stdout such as
//   {"timestamp":"...","level":"info","event":"listening",...,"server":"admin","address":"127.0.0.1:41234"}
// With port 0 only the process knows its port; tests wait for this line.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace firebreak::test {

// The `address` of a `listening` event of `server` ("admin", "http",
// "watch", ...) in one line of output; nullopt for any other line (another
// event, another server, or text that is not a JSON object).
inline std::optional<std::string> listening_address(std::string_view line,
                                                    std::string_view server) {
  if (line.empty() || line.front() != '{') return std::nullopt;
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || j.value("event", "") != "listening" || j.value("server", "") != server)
    return std::nullopt;
  const auto address = j.find("address");
  if (address == j.end() || !address->is_string()) return std::nullopt;
  return address->get<std::string>();
}

}  // namespace firebreak::test
