// The Pushgateway push API's storage semantics, for the HTTP layer: jobs
// using any Prometheus client push their metrics to watch as they would to a
// Pushgateway, and watch exposes/ingests them.
//
//   watch::checkin::PushStore store(clock);
//   // HTTP: PUT /metrics/job/backup/instance/db1 with a text body
//   auto r = store.push(PushMethod::kPut, "/metrics/job/backup/instance/db1", body, content_type);
//   if (!r.ok()) return reply(r.http_status, r.error);          // 400 with a clear reason
//   for (auto& s : store.snapshot()) head.append(s.labels, s.sample.t, s.sample.v);
//
// Semantics (Pushgateway 1.x):
// - Path: /metrics/job/<job>{/<label>/<value>}; the job and each pair form
//   the grouping key. A name ending in `@base64` takes a URL-safe base64 value
//   (RFC 4648 section 5, padding optional; "=" alone is the empty value), so
//   values may contain '/'. Segments are percent-decoded. Label names must
//   match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; a name may appear
//   once; the job must not be empty.
// - PUT replaces every metric of the group with the body's (an empty body
//   leaves the group with no metrics, but a fresh push_time_seconds).
//   POST replaces only the metric families named in the body (a family is
//   the metric name of its TYPE line: a histogram's _bucket/_sum/_count go
//   together). DELETE removes the group.
// - Every pushed sample gets the grouping labels. A pushed sample that
//   already has a grouping label with a different value is refused, as are
//   samples with timestamps (Pushgateway 1.0 refuses those too). As in
//   Pushgateway an absent `instance` reads as instance="" (in watch's model a
//   label with an empty value is no label, so nothing is added).
// - Each group also has push_time_seconds{<grouping labels>} (last
//   successful PUT/POST, 0 if none) and push_failure_time_seconds (last
//   refused PUT/POST body, 0 if none). A refused body changes no metric; it
//   creates the group if needed, so a job whose pushes all fail is visible.
// - Limits: body size, samples per push, groups in the store. A push over a
//   limit is refused with 400 (413 for the body size).
//
// Persistence (as Pushgateway's --persistence.file, but per change): the
// groups a push or delete changed are listed by take_changes() for the
// caller to save, and restore() puts saved groups back at start.
//
// Not done: protobuf bodies (refused with 415; clients fall back to text when
// told), type consistency checks across groups.
//
// Thread-safety: all methods may be called from any thread; one mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/clock.h"
#include "watch/checkin/schedule.h"
#include "watch/checkin/series.h"
#include "watch/model/model.h"

namespace watch::checkin {

enum class PushMethod : std::uint8_t { kPut, kPost, kDelete };

// The grouping key of a push path ("/metrics/job/a/instance/b"), as labels
// including `job`. Errors are 400-style messages.
Result<LabelSet> parse_push_path(std::string_view path);

struct PushResult {
  int http_status = 200;  // 200 (PUT/POST; Pushgateway answers 200), 202 (DELETE), 400, 413, 415
  std::string error;
  bool ok() const { return http_status < 300; }
};

// One pushed sample, with its grouping labels.
struct PushedSample {
  LabelSet labels;
  double value = 0;
};

// A group as saved and restored: its grouping key, its metrics by family
// name, and its push times. `deleted`: the group is gone (remove it).
struct PushGroupSnapshot {
  LabelSet key;
  bool deleted = false;
  std::map<std::string, std::vector<PushedSample>, std::less<>> families;
  double push_time = 0;
  double push_failure_time = 0;
};

class PushStore {
 public:
  struct Options {
    std::size_t body_size_limit = 16u << 20;
    std::size_t sample_limit = 100'000;  // per push
    std::size_t max_groups = 10'000;
  };

  explicit PushStore(const firebreak::Clock& clock) : PushStore(clock, Options{}) {}
  PushStore(const firebreak::Clock& clock, Options options);

  // One request. `content_type` selects the text format or OpenMetrics
  // (anything else is read as the text format; protobuf is refused).
  PushResult push(PushMethod method, std::string_view path, std::string_view body,
                  std::string_view content_type = "text/plain; version=0.0.4");

  // Every current series (pushed samples with their grouping labels, plus
  // push_time_seconds and push_failure_time_seconds per group), at the
  // clock's time, sorted by labels.
  std::vector<SeriesSample> snapshot() const;

  std::size_t group_count() const;

  // The groups changed since the last call (deleted ones with `deleted`
  // set), and forgets them.
  std::vector<PushGroupSnapshot> take_changes();
  // Lists the groups of changes that could not be saved again, so that the
  // next take_changes() returns them (as they are then) with the new ones.
  void keep_changed(const std::vector<PushGroupSnapshot>& unsaved);
  // Puts saved groups back (at start, before pushes arrive); replaces groups
  // of the same key. Groups beyond max_groups are left out.
  void restore(std::vector<PushGroupSnapshot> groups);

 private:
  struct Group {
    std::map<std::string, std::vector<PushedSample>, std::less<>> families;  // by family name
    double push_time = 0;
    double push_failure_time = 0;
  };

  const firebreak::Clock& clock_;
  Options options_;
  mutable std::mutex mu_;
  std::map<LabelSet, Group> groups_;  // guarded by mu_
  std::set<LabelSet> changed_;        // guarded by mu_: keys since take_changes()
};

}  // namespace watch::checkin
