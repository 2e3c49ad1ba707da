// dns_sd: DNS answers to target groups, and lookups through glibc's resolver
// with Prometheus 2.42's handling of search domains and failures.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "watch/discovery/discovery.h"
#include "watch/discovery/internal.h"

namespace watch::discovery {
namespace {

// A domain name at msg[off], in miekg/dns's presentation form ("a.b." with
// special characters escaped, "." for the root). Compression pointers may
// go anywhere inside msg (the caller cuts msg at the end of the record, as
// miekg does); at most 126 pointers and 255 octets, as there. Sets `next`
// to the offset after the name's bytes in place.
bool read_name(std::span<const std::uint8_t> msg, std::size_t off, std::string& out,
               std::size_t& next) {
  constexpr int kMaxPointers = 126;
  int budget = 255;
  int pointers = 0;
  bool jumped = false;
  out.clear();
  for (;;) {
    if (off >= msg.size()) return false;
    const std::uint8_t c = msg[off++];
    if ((c & 0xc0) == 0xc0) {
      if (off >= msg.size()) return false;
      const std::size_t target = (static_cast<std::size_t>(c & 0x3f) << 8) | msg[off++];
      if (!jumped) next = off;
      jumped = true;
      if (++pointers > kMaxPointers) return false;
      off = target;
      continue;
    }
    if (c & 0xc0) return false;  // 0x40 and 0x80 are reserved
    if (c == 0) break;
    if (off + c > msg.size()) return false;
    budget -= c + 1;
    if (budget <= 0) return false;
    for (std::size_t i = 0; i < c; ++i) {
      const std::uint8_t b = msg[off + i];
      switch (b) {
        case '.':
        case ' ':
        case '\'':
        case '@':
        case ';':
        case '(':
        case ')':
        case '"':
        case '\\':
          out += '\\';
          out += static_cast<char>(b);
          break;
        default:
          if (b < ' ' || b > '~')
            out += fmt::format("\\{:03d}", b);
          else
            out += static_cast<char>(b);
      }
    }
    out += '.';
    off += c;
  }
  if (!jumped) next = off;
  if (out.empty()) out = ".";
  return true;
}

std::string trim_trailing_dots(std::string s) {
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Go's net.JoinHostPort.
std::string join_host_port(std::string_view host, unsigned port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// Go's net.IP.String() for 16 bytes: an IPv4-mapped address as a.b.c.d,
// otherwise RFC 5952 (the first longest run of two or more zero groups as
// "::", lower-case hex).
std::string ipv6_string(const std::uint8_t* a) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, kMapped, 12) == 0)
    return fmt::format("{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = (unsigned{a[2 * i]} << 8) | a[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    out += fmt::format("{:x}", groups[i]);
  }
  return out;
}

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

int query_type(DnsSdConfig::Type type) {
  switch (type) {
    case DnsSdConfig::Type::kSrv:
      return ns_t_srv;
    case DnsSdConfig::Type::kA:
      return ns_t_a;
    case DnsSdConfig::Type::kAaaa:
      return ns_t_aaaa;
    case DnsSdConfig::Type::kMx:
      return ns_t_mx;
    case DnsSdConfig::Type::kNs:
      return ns_t_ns;
  }
  return ns_t_srv;
}

}  // namespace

std::optional<DnsSdConfig::Type> parse_dns_type(std::string_view text) {
  std::string upper(text);
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (upper == "SRV") return DnsSdConfig::Type::kSrv;
  if (upper == "A") return DnsSdConfig::Type::kA;
  if (upper == "AAAA") return DnsSdConfig::Type::kAaaa;
  if (upper == "MX") return DnsSdConfig::Type::kMx;
  return std::nullopt;
}

DnsParse parse_dns_answer(std::span<const std::uint8_t> answer, std::string_view name,
                          const DnsSdConfig& config) {
  DnsParse out;
  out.group.source = std::string(name);
  if (answer.size() > 65535) {
    out.error = fmt::format("{} bytes: longer than a DNS message can be", answer.size());
    return out;
  }
  ns_msg msg;
  if (ns_initparse(answer.data(), static_cast<int>(answer.size()), &msg) < 0) {
    out.error =
        fmt::format("malformed DNS message ({} bytes): its sections do not parse", answer.size());
    return out;
  }
  const int count = ns_msg_count(msg, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
      out.error = fmt::format("malformed DNS message: answer record {} does not parse", i);
      return out;
    }
    const int type = ns_rr_type(rr);
    const std::size_t length = ns_rr_rdlen(rr);
    if (type == ns_t_cname) continue;  // the chain to the records asked for
    if (length == 0) {                 // Go would write "<nil>" or ":0" targets
      ++out.skipped_records;
      continue;
    }
    const std::size_t start = static_cast<std::size_t>(ns_rr_rdata(rr) - answer.data());
    const std::size_t end = start + length;  // ns_parserr checked it is inside
    const auto record = answer.first(end);   // names in the data end with it
    const auto bad = [&](std::string_view what) {
      out.error = fmt::format("malformed DNS message: answer record {} ({}): {}", i, what,
                              "its data does not match its length");
      return out;
    };

    std::string target;           // a name in the record's data
    std::size_t name_at = start;  // where it starts
    std::uint16_t srv_port = 0;
    switch (type) {
      case ns_t_srv:  // priority, weight, port, target
        if (length < 7) return bad("SRV");
        srv_port = get16(answer.data() + start + 4);
        name_at = start + 6;
        break;
      case ns_t_mx:  // preference, exchange
        if (length < 3) return bad("MX");
        name_at = start + 2;
        break;
      case ns_t_ns:
        break;
      case ns_t_a:
        if (length != 4) return bad("A");
        break;
      case ns_t_aaaa:
        if (length != 16) return bad("AAAA");
        break;
      default:
        ++out.skipped_records;
        continue;
    }

    std::vector<Label> labels = {{std::string(kDnsNameLabel), std::string(name)}};
    if (type == ns_t_srv || type == ns_t_mx || type == ns_t_ns) {
      std::size_t after = 0;
      if (!read_name(record, name_at, target, after) || after != end)
        return bad(type == ns_t_srv ? "SRV" : type == ns_t_mx ? "MX" : "NS");
      const std::string host = trim_trailing_dots(target);
      const unsigned port = type == ns_t_srv ? srv_port : config.port;
      labels.push_back({std::string(kAddressLabel), join_host_port(host, port)});
      if (type == ns_t_srv) {
        labels.push_back({std::string(kDnsSrvTargetLabel), target});
        labels.push_back({std::string(kDnsSrvPortLabel), std::to_string(srv_port)});
      } else {
        labels.push_back(
            {std::string(type == ns_t_mx ? kDnsMxTargetLabel : kDnsNsTargetLabel), target});
      }
    } else {
      const std::uint8_t* a = answer.data() + start;
      const std::string host =
          type == ns_t_a ? fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]) : ipv6_string(a);
      labels.push_back({std::string(kAddressLabel), join_host_port(host, config.port)});
    }
    out.group.targets.push_back(LabelSet::from(std::move(labels)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Lookups.

namespace detail {
namespace {

// "1.2.3.4:53", "[::1]:5353", "1.2.3.4" (port 53).
bool parse_server(std::string_view s, sockaddr_in& v4, sockaddr_in6& v6, bool& is_v6) {
  std::string host;
  std::string_view port_text = "53";
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(s.substr(1, close - 1));
    const std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
    }
  } else {
    const std::size_t colon = s.rfind(':');
    host = std::string(s.substr(0, colon));
    if (colon != std::string_view::npos) port_text = s.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return false;
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return false;
  v4 = {};
  v6 = {};
  if (::inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    is_v6 = false;
    return true;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<std::uint16_t>(port));
    is_v6 = true;
    return true;
  }
  return false;
}

// Replaces the state's name servers. An IPv6 server goes where glibc's
// res_ninit puts one (sin_family 0 in nsaddr_list, the address in a
// malloc'd _u._ext.nsaddrs entry that res_nclose frees); _u._ext.nscount 0
// makes res_send take the new list.
bool set_servers(res_state st, const std::vector<std::string>& servers, std::string& error) {
  for (int i = 0; i < MAXNS; ++i) {
    std::free(st->_u._ext.nsaddrs[i]);
    st->_u._ext.nsaddrs[i] = nullptr;
    st->nsaddr_list[i] = {};
  }
  int n = 0;
  for (const std::string& s : servers) {
    if (n == MAXNS) break;
    sockaddr_in v4;
    sockaddr_in6 v6;
    bool is_v6 = false;
    if (!parse_server(s, v4, v6, is_v6)) {
      error = fmt::format("bad DNS server {} (want ip:port or [ipv6]:port)", quote(s));
      return false;
    }
    if (is_v6) {
      auto* copy = static_cast<sockaddr_in6*>(std::malloc(sizeof(sockaddr_in6)));
      if (!copy) {
        error = "out of memory";
        return false;
      }
      *copy = v6;
      st->_u._ext.nsaddrs[n] = copy;
    } else {
      st->nsaddr_list[n] = v4;
    }
    ++n;
  }
  st->nscount = n;
  st->_u._ext.nscount = 0;
  return true;
}

// The names to ask, as miekg/dns's ClientConfig.NameList: a name ending in
// "." alone; else with more labels than ndots the name first, then the
// search domains, then (with fewer) the name last.
std::vector<std::string> candidate_names(const std::string& name, const struct __res_state& st) {
  if (!name.empty() && name.back() == '.') return {name};
  const std::size_t labels =
      1 + static_cast<std::size_t>(std::count(name.begin(), name.end(), '.'));
  const bool absolute_first = labels > st.ndots;
  const std::string fqdn = name + ".";
  std::vector<std::string> out;
  if (absolute_first) out.push_back(fqdn);
  for (int i = 0; i < MAXDNSRCH && st.dnsrch[i] != nullptr; ++i) {
    std::string domain = st.dnsrch[i];
    if (domain.empty()) continue;
    if (domain.back() != '.') domain += '.';
    out.push_back(fqdn + domain);
  }
  if (!absolute_first) out.push_back(fqdn);
  return out;
}

}  // namespace

DnsLookup lookup_dns(const std::string& name, DnsSdConfig::Type type,
                     const std::vector<std::string>& servers, std::int64_t timeout_ms) {
  DnsLookup out;
  if (name.empty()) {
    out.error = "empty name";
    return out;
  }
  struct __res_state st;
  std::memset(&st, 0, sizeof st);
  if (res_ninit(&st) != 0) {
    res_nclose(&st);
    out.error = "cannot set up the resolver (res_ninit failed)";
    return out;
  }
  struct Closer {
    res_state st;
    ~Closer() { res_nclose(st); }
  } closer{&st};
  if (!servers.empty() && !set_servers(&st, servers, out.error)) return out;
  if (st.nscount <= 0) {
    out.error = "no DNS servers configured";
    return out;
  }
  // One try per server, as Prometheus's client; the waits add up to about
  // the timeout (glibc counts whole seconds).
  const std::int64_t seconds = std::max<std::int64_t>(1, timeout_ms / 1000 / st.nscount);
  st.retrans = static_cast<int>(std::min<std::int64_t>(seconds, 30));
  st.retry = 1;
  st.options |= RES_USE_EDNS0;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<std::uint8_t> buffer(65536);
  bool all_nxdomain = true;
  std::string last_error;
  for (const std::string& candidate : candidate_names(name, st)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      all_nxdomain = false;
      if (last_error.empty()) last_error = "timed out";
      break;
    }
    const int n = res_nquery(&st, candidate.c_str(), ns_c_in, query_type(type), buffer.data(),
                             static_cast<int>(buffer.size()));
    if (n >= 0) {  // NOERROR with records
      buffer.resize(std::min<std::size_t>(static_cast<std::size_t>(n), buffer.size()));
      out.status = DnsLookup::Status::kAnswer;
      out.answer = std::move(buffer);
      return out;
    }
    switch (st.res_h_errno) {
      case HOST_NOT_FOUND:  // NXDOMAIN: try the next candidate
        continue;
      case NO_DATA:  // NOERROR without records: that is the answer
        out.status = DnsLookup::Status::kNoRecords;
        return out;
      case TRY_AGAIN:
        last_error =
            fmt::format("{}: no answer from the DNS servers (timeout or SERVFAIL)", candidate);
        break;
      case NO_RECOVERY:
        last_error = fmt::format("{}: the DNS servers refused the query or failed", candidate);
        break;
      default:
        last_error = fmt::format("{}: lookup failed (h_errno {})", candidate, st.res_h_errno);
    }
    all_nxdomain = false;
  }
  if (all_nxdomain) {  // every candidate is known not to exist
    out.status = DnsLookup::Status::kNoRecords;
    return out;
  }
  out.error = "could not resolve " + quote(name) + ": " + last_error;
  return out;
}

}  // namespace detail
}  // namespace watch::discovery
