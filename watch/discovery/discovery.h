// Service discovery for scrape jobs: Prometheus 2.42's file-based
// (file_sd_configs) and DNS-based (dns_sd_configs) discovery. A job's
// targets come as target groups (Prometheus's targetgroup.Group); the
// manager keeps them current and says when a job's groups change.
//
//   watch::discovery::Manager discovery({.on_change = [&](const std::string& job,
//                                                         const auto& groups) {
//     scrape.apply(build_targets(job, groups));  // relabelling etc. is the caller's
//   }});
//   discovery.apply({{.job = "node",
//                     .files = {{.files = {"/etc/firebreak/targets/*.json"}}},
//                     .dns = {{.names = {"_node._tcp.example.com"}}}}});
//   scrape.apply(build_targets("node", discovery.groups("node")));  // first targets
//   for (const auto& [what, error] : discovery.errors("node")) show(what, error);
//   // {"file /etc/firebreak/targets/db.json", "line 3: targets: expected a string, got a number"}
//
// The parsers are pure functions (and the fuzz targets' entry points); the
// Manager does the I/O: it reads files (polling them for changes) and asks
// DNS through glibc's resolver.
//
// Where Prometheus 2.42 and these differ (details at each declaration):
// - file_sd JSON must be valid UTF-8 (Go replaces bad bytes with U+FFFD);
//   YAML merge keys (<<) are not supported.
// - Targets with an empty address ("" or null in the list) are left out (a
//   LabelSet has no empty values; Prometheus drops them when it builds
//   targets, unless relabelling sets an address).
// - DNS: the search list and timeouts come from glibc (ndots, search,
//   whole seconds), not from Go's resolv.conf reader.
//
// Thread-safety: the free functions are thread-safe (no shared state);
// Manager's methods are thread-safe (see there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firebreak/clock.h"
#include "watch/model/model.h"

namespace watch::discovery {

// Label names discovery writes (Prometheus's).
inline constexpr std::string_view kAddressLabel = "__address__";
inline constexpr std::string_view kFilepathLabel = "__meta_filepath";
inline constexpr std::string_view kDnsNameLabel = "__meta_dns_name";
inline constexpr std::string_view kDnsSrvTargetLabel = "__meta_dns_srv_record_target";
inline constexpr std::string_view kDnsSrvPortLabel = "__meta_dns_srv_record_port";
inline constexpr std::string_view kDnsMxTargetLabel = "__meta_dns_mx_record_target";
inline constexpr std::string_view kDnsNsTargetLabel = "__meta_dns_ns_record_target";

// A group of targets with shared labels, as Prometheus's targetgroup.Group.
// Each target's LabelSet has at least __address__; labels are the group's
// (including __meta_* of the discoverer). A target's own labels win over the
// group's when they are merged.
struct TargetGroup {
  std::string source;
  std::vector<LabelSet> targets;
  LabelSet labels;
  friend bool operator==(const TargetGroup&, const TargetGroup&) = default;
};

// ---------------------------------------------------------------------------
// file_sd

// Files larger than this are refused (by parse_file_sd and by the manager).
inline constexpr std::size_t kFileSdMaxBytes = 16u << 20;

struct FileSdParse {
  std::vector<TargetGroup> groups;
  std::string error;
  bool ok() const { return error.empty(); }
};

// Prometheus's file_sd format: a list of {targets: [host:port...], labels:
// {name: value}}, JSON (path ending .json) or YAML (.yml/.yaml, any case).
// Groups get source "<path>:<index>" and the group label
// __meta_filepath=<path> (replacing one the file sets); each target is
// {__address__=<target>}.
//
// What is accepted, as Prometheus 2.42 (targetgroup.Group's unmarshalling):
// - the document: a list, or null / an empty YAML document (no groups);
// - a group: an object with only `targets` and `labels`, either may be
//   missing or null. In JSON the keys match case-insensitively and a repeated
//   key's last value wins (Go's encoding/json); in YAML they are exact and a
//   repeated key is an error (yaml.v2 UnmarshalStrict);
// - targets: strings (YAML: any scalar, as written); labels: names matching
//   [a-zA-Z_][a-zA-Z0-9_]* (reserved "__" names are allowed), values strings
//   (YAML: any scalar). A null value is "" (no label).
// Anything else (not a list, a null group, a target that is not a string, an
// invalid label name, unknown fields, syntax errors, bad UTF-8, more than
// kFileSdMaxBytes) gives ok() == false and a one-line error
// "<path>: line N[, column M]: <what>" (without "line" when it has none).
// Never throws; any bytes are safe (nesting, aliases and size are bounded).
// Costs O(size of the text).
FileSdParse parse_file_sd(std::string_view text, std::string_view path);

struct FileSdConfig {
  // Absolute paths or globs (*, ?, [..]; Prometheus's config allows a * only
  // in the last path component). Matches are read in the order of the list,
  // each pattern's matches sorted by name; a file matched twice is read once.
  std::vector<std::string> files;
  std::int64_t refresh_interval_ms = 300'000;  // re-read everything at least this often
  friend bool operator==(const FileSdConfig&, const FileSdConfig&) = default;
};

// ---------------------------------------------------------------------------
// dns_sd

struct DnsSdConfig {
  std::vector<std::string> names;
  // kNs is not in Prometheus 2.42 (it came in 2.49): parse_dns_type() never
  // gives it; set directly, it queries NS records as later Prometheus does.
  enum class Type { kSrv, kA, kAaaa, kMx, kNs } type = Type::kSrv;
  // Required (non-zero) for A, AAAA, MX, NS; ignored for SRV (the record has
  // the port). The configuration layer checks it, as Prometheus's does.
  std::uint16_t port = 0;
  std::int64_t refresh_interval_ms = 30'000;
  friend bool operator==(const DnsSdConfig&, const DnsSdConfig&) = default;
};

// "SRV", "A", "AAAA", "MX", in any case (Prometheus 2.42 upper-cases the
// type). nullopt for anything else, including "NS" (not in 2.42).
std::optional<DnsSdConfig::Type> parse_dns_type(std::string_view text);

struct DnsParse {
  TargetGroup group;
  std::string error;
  // Answer records that are not targets (types other than SRV, A, AAAA, MX,
  // NS and CNAME, or with empty data); Prometheus 2.42 logs "Invalid record"
  // for each. CNAMEs are skipped silently, as there.
  std::size_t skipped_records = 0;
  bool ok() const { return error.empty(); }
};

// A DNS response message to a target group, as Prometheus 2.42's dns
// discovery: one group with source `name` and no group labels; one target
// per answer record, whatever its type (the query's type does not filter):
//   SRV  __address__=<target without trailing dots>:<port>,
//        __meta_dns_srv_record_target=<target with its trailing dot>,
//        __meta_dns_srv_record_port=<port>
//   MX   __address__=<exchange without trailing dots>:<config.port>,
//        __meta_dns_mx_record_target=<exchange with its trailing dot>
//   NS   (later Prometheus) likewise with __meta_dns_ns_record_target
//   A    __address__=<a.b.c.d>:<config.port>
//   AAAA __address__=[<v6>]:<config.port> (Go's form: RFC 5952, and an
//        IPv4-mapped address as a.b.c.d without brackets)
// and on every target __meta_dns_name=<name> (a target label in 2.42, not a
// group label). Names are in Go's (miekg/dns) presentation form, special
// characters escaped. The header's rcode is not looked at: the caller
// decides what NXDOMAIN or SERVFAIL mean; an answer section without records
// gives an empty group.
// A malformed message (sections that do not parse, a record whose data does
// not fit its type) gives ok() == false and a one-line error; never throws,
// any bytes are safe.
DnsParse parse_dns_answer(std::span<const std::uint8_t> answer, std::string_view name,
                          const DnsSdConfig& config);

// ---------------------------------------------------------------------------
// The manager

// One scrape job's discovery.
struct JobDiscovery {
  std::string job;
  std::vector<TargetGroup> static_groups;
  std::vector<FileSdConfig> files;
  std::vector<DnsSdConfig> dns;
};

struct ManagerOptions {
  // Schedules polls and refreshes (monotonic time). Waits are real time, at
  // most file_poll_interval_ms each, so a ManualClock moved forward is seen
  // within one poll interval. Must outlive the manager.
  const firebreak::Clock* clock = &firebreak::Clock::system();
  // Called (on the manager's thread) with every group of a job (static
  // first, then each discoverer's in config order) whenever they change
  // after apply(). Must not call apply() or stop(); may call groups() and
  // errors().
  std::function<void(const std::string& job, const std::vector<TargetGroup>& groups)> on_change;
  // DNS servers to ask, "host:port" (IPv4 or [v6] literals; the port
  // defaults to 53; at most 3, glibc's limit). Empty: the system's
  // (/etc/resolv.conf through res_ninit). Tests point this at a fake server.
  std::vector<std::string> dns_servers;
  // How often files are checked for changes (glob matches; mtime, size,
  // inode), besides refresh_interval. A rewrite in place within the file
  // system's timestamp granularity that keeps the size is seen at the next
  // refresh_interval (tools that write a new file and rename it are always
  // seen at the next poll).
  std::int64_t file_poll_interval_ms = 1000;
  // Per DNS name, across servers and search domains. glibc's resolver counts
  // whole seconds: less than a second waits one second per server.
  std::int64_t dns_timeout_ms = 5000;
};

// Runs file and DNS discovery for scrape jobs on one background thread.
//
// Semantics (Prometheus 2.42's):
// - files: every poll interval the globs are expanded and the files stat'ed;
//   any change (a file added, removed, or with another mtime, size or inode)
//   re-reads all of that file_sd config's files, as does refresh_interval. A
//   file that cannot be read or parsed keeps its previous groups (and logs a
//   warning with the reason, once per change of reason; errors() shows it).
//   A file that no longer matches loses its groups. A plain path (no glob
//   characters) that does not exist is shown in errors() (Prometheus is
//   silent about it).
// - DNS: every refresh_interval each name is resolved as Prometheus does:
//   the names of the search list in order (glibc's ndots and search); the
//   first NOERROR answer counts (its records, or none); NXDOMAIN for every
//   candidate means no records (an empty group); anything else (timeouts,
//   SERVFAIL from every server, a malformed answer) is a failure that keeps
//   the name's previous group, or no group for a name never resolved. The
//   names of a config, and of all configs due together, resolve in parallel
//   (up to 16 at a time), so one refresh takes about one dns_timeout_ms.
// - A job's groups are its static groups, then each file_sd config's (files
//   in match order, groups in file order), then each dns_sd config's (one
//   per name, in config order; repeated names once).
// - apply() keeps the state of discoverers whose config is unchanged (same
//   job, equal config), so a file broken or a DNS server down during a
//   reload keeps the groups it had.
//
// Thread-safety: all methods are thread-safe. apply() and stop() are
// serialised with each other and with the background thread's refreshes;
// groups() and errors() never wait for I/O. stop() waits for a refresh in
// flight (at most about dns_timeout_ms).
class Manager {
 public:
  explicit Manager(ManagerOptions options);
  // stop().
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Replaces the jobs (a repeated job name keeps its first entry). Reads
  // every file and resolves every DNS name once before returning (in
  // parallel, bounded by about dns_timeout_ms), so the caller can build its
  // first targets from groups(); does not call on_change. Then the
  // background thread (started here, again after stop()) polls files,
  // re-reads them on change and at refresh_interval, re-resolves DNS at
  // refresh_interval, and calls on_change when a job's groups differ from
  // what groups() showed. Intervals under 10 ms count as 10 ms.
  void apply(std::vector<JobDiscovery> jobs);

  // The job's current groups (see above); empty for an unknown job.
  std::vector<TargetGroup> groups(const std::string& job) const;

  // Last error per discoverer, for the status page: {"file <path>", "line
  // 3: ..."} or {"dns <name>", "..."}, in the order of the groups; empty when
  // all is fine.
  std::vector<std::pair<std::string, std::string>> errors(const std::string& job) const;

  // Stops the background thread (groups() keeps answering). Idempotent.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace watch::discovery
