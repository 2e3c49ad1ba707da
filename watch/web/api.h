// watch's HTTP API, added to the kit's AdminServer on watch's listen address:
//
//   Prometheus's query API (GET, or POST with a form body), so Grafana's
//   Prometheus data source and API clients read watch unchanged:
//     /api/v1/query         query, time, timeout
//     /api/v1/query_range   query, start, end, step, timeout
//     /api/v1/series        match[] (one or more), start, end
//     /api/v1/labels        match[] (optional), start, end
//     /api/v1/label/<name>/values
//     /api/v1/status/buildinfo
//   Job check-ins in the healthchecks style (GET or POST; ?rid=<run id>):
//     /ping/<job>  /ping/<job>/start  /ping/<job>/fail  /ping/<job>/<exit status>
//   The Pushgateway push API:
//     PUT, POST, DELETE /metrics/job/<job>{/<label>/<value>}
//
// Answers and errors are Prometheus's, Pushgateway's and healthchecks'
// (e.g. {"status":"error","errorType":"bad_data","error":"1:5: parse error: ..."}).
//
//   watch::web::add_query_api(server, engine, db, clock);
//   watch::web::add_checkin_api(server, tracker, pushes, [&] { wake_rules(); });
//
// Thread-safety: the handlers run on the server's threads; engine, head,
// tracker and pushes are thread-safe and must outlive the server.
#pragma once

#include <functional>

#include "firebreak/admin.h"
#include "firebreak/clock.h"
#include "watch/checkin/push_store.h"
#include "watch/checkin/tracker.h"
#include "watch/promql/engine.h"
#include "watch/tsdb/db.h"

namespace watch::web {

struct QueryApiOptions {
  std::string version = "0.1.0";  // /api/v1/status/buildinfo
};

void add_query_api(firebreak::AdminServer& server, const promql::Engine& engine, const tsdb::Db& db,
                   const firebreak::Clock& clock, QueryApiOptions options = {});

// `changed` (optional) runs after each accepted ping and after each push
// (a refused one sets push_failure_time), so the caller can publish the new
// series at once instead of at its next tick, and save what changed.
void add_checkin_api(firebreak::AdminServer& server, checkin::Tracker& tracker,
                     checkin::PushStore& pushes, std::function<void()> changed = {});

}  // namespace watch::web
