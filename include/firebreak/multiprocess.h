// Metrics shared by the processes of one service. A pre-fork server
// (gunicorn, uwsgi, multiprocessing) runs many processes that are one service
// to its monitor: one /metrics, counts that survive a worker's exit, one
// readiness. Each process records into its own slot of one memory-mapped
// file, through the same lock-free handles as ever; the process that serves
// /metrics merges the slots at each scrape.
//
//   // The serving process, before the others start:
//   auto region = firebreak::MultiprocessRegion::create({.path = "/run/shop/metrics.fbm"});
//   registry.add_collector([&](auto& out) { region->collect(out); });
//
//   // Each recording process (or its parent, before it forks them):
//   auto region = firebreak::MultiprocessRegion::open("/run/shop/metrics.fbm");
//   firebreak::Registry registry({.slot = &region->join()});
//   registry.counter({.name = "jobs_total", .help = "Jobs."}).labels().inc();
//
// The file holds a header, slot 0 (what exited processes left) and one slot
// per live process. A slot holds a directory (an append-only list of the
// process's families and series and where their cells are) and the cells, as
// a Registry lays them out. A process holds an open-file-description lock on
// its slot's byte for as long as it lives; the kernel drops the lock when the
// process dies, however it dies, which is how the others learn that it did.
// A dead process's counters and histograms are added into slot 0 (its gauges
// as their ProcessCombine says) and its slot is zeroed and reused, so the
// file never grows with worker churn and a scrape reads at most one slot per
// live process.
//
// fork(): the child of a joined process joins too, before fork() returns in
// it: it takes a free slot, copies its parent's directory into it, and maps
// it where the parent's slot was, so every handle the parent made records,
// in the child, into the child's own slot, from zero.
//
// Thread-safety: everything here is thread-safe. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "firebreak/metrics.h"

namespace firebreak {

// Thrown when the file cannot be created, opened or joined; the message
// names the path and the reason.
class MultiprocessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MultiprocessOptions {
  std::string path;
  // Processes that can record at once (slots). A process that finds none free
  // records privately and MultiprocessRegion::join() throws.
  std::uint32_t max_processes = 64;
  // Cells per process, in MiB: each holds 8,192 counter-or-gauge halves per
  // thread shard, so 4 MiB take about 16,000 counter series or 2,000 default
  // histograms. The file is sparse: untouched cells take no memory.
  std::uint32_t slot_mebibytes = 4;
  // Bytes of each slot's directory (families and series with their labels).
  std::uint32_t directory_bytes = 1 << 20;
};

// One process of the service as the serving process sees it.
struct MultiprocessMember {
  pid_t pid = 0;
  bool ready = false;                  // as it last reported, and not stale
  double last_report_age_seconds = 0;  // since it last reported readiness
  // Has never reported ready: still starting (a worker just forked to replace
  // a recycled one), or never got ready.
  bool starting = true;
};

class MultiprocessRegion {
 public:
  // Creates the file afresh, replacing one an earlier run left: the counts of
  // a previous run of the service must not carry over into this one.
  static std::unique_ptr<MultiprocessRegion> create(const MultiprocessOptions& options);
  // Opens a file that the serving process created.
  static std::unique_ptr<MultiprocessRegion> open(const std::string& path);
  // Leaves the slot (its counts stay, folded into slot 0 by the next reader).
  ~MultiprocessRegion();
  MultiprocessRegion(const MultiprocessRegion&) = delete;
  MultiprocessRegion& operator=(const MultiprocessRegion&) = delete;

  const std::string& path() const;

  // Takes a slot for this process (once; later calls return the same) and
  // returns what a Registry's series are kept in (RegistryOptions::slot).
  // Throws MultiprocessError when every slot is held by a live process.
  detail::SlotBacking& join();
  // Whether this process holds a slot. False in a forked child that found none free.
  bool joined() const;
  // This process's readiness, as the serving process's /readyz sees it.
  // Report at least every `stale_after` (see members()).
  void report_ready(bool ready);

  // Appends the merged families of every live process and of the exited
  // ones, folding the slots of processes that died since the last call.
  // Counters and histograms add up (series created = the earliest); gauges
  // combine as their family's ProcessCombine says.
  void collect(std::vector<FamilySnapshot>& out);
  // Appends the process_* families for the whole service (the processes
  // with a slot plus `also`, e.g. the serving process and the pre-fork
  // master): CPU time (exited processes' included, as last seen), resident
  // and virtual memory, the start time of `start_pid`; and per process,
  // labelled pid: process_worker_cpu_seconds_total,
  // process_worker_resident_memory_bytes, process_worker_start_time_seconds.
  // Plus multiprocess_processes, multiprocess_processes_exited_total and
  // multiprocess_slots_full.
  void collect_processes(std::vector<FamilySnapshot>& out, const std::vector<pid_t>& also,
                         pid_t start_pid);
  // The live processes with a slot, other than this one, folding dead ones first. A member that
  // has not reported for `stale_after` counts as not ready.
  std::vector<MultiprocessMember> members(double stale_after_seconds = 5);

  // Whether a series of this process could not be placed in its slot (the
  // slot's cells or directory are full): it is counted, but only here.
  bool slot_full() const;

  struct State;  // internal

 private:
  explicit MultiprocessRegion(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace firebreak
