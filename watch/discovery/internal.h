// Internals of watch/discovery shared by its .cc files: bounded file reads,
// glob expansion and the DNS lookup the manager runs. Not for other modules.
//
// Thread-safety: every function here is thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "watch/discovery/discovery.h"

namespace watch::discovery::detail {

// Text for an error message: at most `max` bytes of `s`, control
// characters, quotes and backslashes escaped, in double quotes (Go's %q).
std::string quote(std::string_view s, std::size_t max = 80);

// "<path>: <detail>", the one-line form parse_file_sd gives.
struct FileSdResult {
  std::vector<TargetGroup> groups;
  std::string detail;  // "" when fine, else "line 3: ..." (no path)
};
FileSdResult parse_file_sd_detail(std::string_view text, std::string_view path);

// What identifies a file's version for polling.
struct FileStamp {
  std::string path;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// The files the patterns match, in pattern order, each pattern's matches
// sorted by name (bytes), each path once. A pattern without glob characters
// matches itself when it exists. `missing` gets the plain paths (no glob
// characters) that do not exist.
std::vector<std::string> expand_patterns(const std::vector<std::string>& patterns,
                                         std::vector<std::string>* missing);
bool has_glob_chars(std::string_view pattern);

// stat() of each path (following symlinks); a path that cannot be stat'ed
// has a stamp of zeros.
std::vector<FileStamp> stamp_files(const std::vector<std::string>& paths);

// The whole file, or nullopt with the reason ("no such file", "is a
// directory", "larger than 16 MiB (20000000 bytes)", ...).
std::optional<std::string> read_file_bounded(const std::string& path, std::size_t limit,
                                             std::string& error);

// One DNS name looked up as Prometheus's lookupWithSearchPath does.
struct DnsLookup {
  enum class Status { kAnswer, kNoRecords, kFailed } status = Status::kFailed;
  std::vector<std::uint8_t> answer;  // kAnswer: the response message
  std::string error;                 // kFailed: why
};
// `servers`: ManagerOptions::dns_servers. Blocks for at most about
// `timeout_ms` (whole seconds per server, see ManagerOptions).
DnsLookup lookup_dns(const std::string& name, DnsSdConfig::Type type,
                     const std::vector<std::string>& servers, std::int64_t timeout_ms);

}  // namespace watch::discovery::detail
