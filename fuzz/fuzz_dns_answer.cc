// Fuzz target: DNS response messages to target groups
// (watch::discovery::parse_dns_answer), which reads what DNS servers send.
//
// The first byte picks the configured type, the next two the port; the rest
// is the message. Besides "no crash, no hang, no sanitizer report", it checks
// properties that hold for every input:
// - a rejected message gives a one-line error;
// - an accepted one gives a group whose source is the name, without group
//   labels, whose targets all have __address__ and __meta_dns_name=<name>,
//   and, from SRV records, a port label that matches the address's port.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "watch/discovery/discovery.h"

namespace {

[[noreturn]] void violated(const char* property, std::size_t size) {
  std::fprintf(stderr, "property violated: %s (input of %zu bytes)\n", property, size);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace watch::discovery;
  if (size < 3) return 0;
  constexpr std::string_view kName = "_node._tcp.example.com";
  DnsSdConfig config;
  config.names = {std::string(kName)};
  config.type = static_cast<DnsSdConfig::Type>(data[0] % 5);
  config.port = static_cast<std::uint16_t>((data[1] << 8) | data[2]);
  const std::span<const std::uint8_t> message(data + 3, size - 3);
  const DnsParse r = parse_dns_answer(message, kName, config);

  if (!r.ok()) {
    if (r.error.find('\n') != std::string::npos) violated("error on more than one line", size);
    return 0;
  }
  if (r.group.source != kName) violated("source is not the name", size);
  if (!r.group.labels.empty()) violated("group labels", size);
  for (const watch::LabelSet& t : r.group.targets) {
    const std::string_view address = t.get(kAddressLabel);
    if (address.empty()) violated("target without __address__", size);
    if (t.get(kDnsNameLabel) != kName) violated("target without __meta_dns_name", size);
    const std::string_view srv_port = t.get(kDnsSrvPortLabel);
    if (!srv_port.empty()) {
      const std::size_t colon = address.rfind(':');
      if (colon == std::string_view::npos || address.substr(colon + 1) != srv_port)
        violated("SRV port label does not match the address", size);
    }
  }
  return 0;
}
