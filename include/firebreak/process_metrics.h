// Process metrics: the standard `process_*` families that every Prometheus
// client library exports, read from the kernel at scrape time (Linux /proc).
//
//   firebreak::Registry registry;
//   firebreak::register_process_metrics(registry);
//   // every registry.collect() now includes, for the calling process:
//   //   process_start_time_seconds     gauge    Unix time the process started
//   //   process_cpu_seconds_total      counter  user + system CPU time
//   //   process_resident_memory_bytes  gauge    resident set size
//   //   process_virtual_memory_bytes   gauge    virtual memory size
//   //   process_open_fds               gauge    open file descriptors
//   //   process_max_fds                gauge    soft RLIMIT_NOFILE
//
// Names, types and HELP texts are those of the Go and Python clients'
// process collectors, so dashboards and rules written for them work
// unchanged (docs/metrics.md, "Every service").
#pragma once

#include <sys/types.h>

#include <optional>

#include "firebreak/metrics.h"

namespace firebreak {

// Adds a collector to `registry` that, at each scrape, reads /proc/self/stat
// once, counts /proc/self/fd and calls getrlimit(RLIMIT_NOFILE), and appends
// the six families above (unlabelled, one series each).
//
// Contract:
// - Call once per registry: a second call adds a second collector and the
//   scrape then holds each family twice. Do not register families with these
//   names on the same registry yourself.
// - process_open_fds counts the descriptors open in the process, not counting
//   the one the collector uses to list them (the Go and Python clients count
//   that one too, so they read one higher).
// - process_max_fds is the soft limit; when unlimited it is RLIM_INFINITY
//   (about 1.8e19), as in the Go client.
// - A family whose source cannot be read (no /proc, e.g. in a sandbox) is left
//   out of that scrape; the collector never throws.
// - Cost per scrape: three syscalls to read /proc/self/stat, one getdents64
//   per ~500 open descriptors and one getrlimit; no heap allocation besides
//   the six snapshots appended to the scrape.
//
// Thread-safety: the collector keeps no mutable state; concurrent scrapes are
// safe. Throws nothing itself; the registry's add_collector may throw on
// allocation failure.
void register_process_metrics(Registry& registry);

// One process's figures as the process_* families report them.
struct ProcessSample {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  std::optional<double> start_time_seconds;  // Unix seconds
};
// Reads /proc/<pid>/stat (0: this process); nullopt when it cannot be read
// (the process is gone, or no /proc).
std::optional<ProcessSample> sample_process(pid_t pid);

// This process's start time in Unix seconds, as process_start_time_seconds
// reports it; nullopt when /proc cannot be read.
std::optional<double> process_start_time_seconds();

}  // namespace firebreak
