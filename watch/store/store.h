// The store: SQLite (WAL mode) for what watch must keep across a restart:
// alert states of the rules engine, the dispatcher's notification log (what
// each receiver was last told of each group, so a restart neither re-pages
// nor loses a resolve), silences, check-in history and pushed groups.
//
//   std::string error;
//   auto store = watch::store::Store::open("/var/lib/firebreak/watch.db", &error);
//   group.import_state(store->load_alerts(group.name()));    // at start
//   group.eval(t_ms);
//   store->save_alerts(group.name(), group.export_state());  // after each evaluation
//
// The schema is versioned (PRAGMA user_version) and migrated forward at open;
// a database written by a newer version is refused.
//
// Errors are results (false / nullptr and a message), never exceptions.
// Thread-safety: thread-safe; calls are serialised on one connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "watch/checkin/push_store.h"
#include "watch/checkin/tracker.h"
#include "watch/dispatch/dispatch.h"
#include "watch/rules/group.h"
#include "watch/silence/silence.h"

struct sqlite3;

namespace watch::store {

// The schema version this build writes.
inline constexpr int kSchemaVersion = 6;

class Store {
 public:
  // Opens (creating if needed) the database at `path` in WAL mode and
  // migrates it to kSchemaVersion. nullptr and `error` set on failure.
  static std::unique_ptr<Store> open(const std::string& path, std::string* error = nullptr);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const;

  // Alert states. save_alerts replaces every record of `group` with
  // `records` (one transaction); pass one group's export (records with
  // another group name are stored under that name). Call it after each
  // evaluation: a save identical to the group's previous one writes nothing.
  bool save_alerts(const std::string& group, const std::vector<rules::AlertStateRecord>& records,
                   std::string* error = nullptr);
  std::vector<rules::AlertStateRecord> load_alerts(const std::string& group) const;
  std::vector<rules::AlertStateRecord> load_all_alerts() const;

  // Check-in state (history, open runs, last results) per job, as
  // checkin::Tracker::save() gives it; rows of jobs absent from `jobs` stay.
  bool save_checkins(const std::vector<checkin::JobSnapshot>& jobs, std::string* error = nullptr);
  // Every saved job; a row that cannot be read is skipped and named in `errors`.
  std::vector<checkin::JobSnapshot> load_checkins(std::vector<std::string>* errors = nullptr) const;

  // Pushed groups (checkin::PushStore::take_changes()): saves the changed
  // ones and removes the deleted ones, in one transaction.
  bool save_push_groups(const std::vector<checkin::PushGroupSnapshot>& changed,
                        std::string* error = nullptr);
  // Every saved group; a row that cannot be read is skipped and named in `errors`.
  std::vector<checkin::PushGroupSnapshot> load_push_groups(
      std::vector<std::string>* errors = nullptr) const;

  // The dispatcher's notification log (what each receiver was last told of
  // each group): the changed entries (Dispatcher::take_log_changes()) saved
  // and the removed ones deleted, in one transaction.
  bool save_group_log(const std::vector<dispatch::LogChange>& changes,
                      std::string* error = nullptr);
  // A row that cannot be read is skipped and named in `errors`.
  std::map<std::string, dispatch::LogEntry> load_group_log(
      std::vector<std::string>* errors = nullptr) const;

  // Silences, replaced as a whole in one transaction (a few thousand at most).
  bool save_silences(const std::vector<silence::Silence>& silences, std::string* error = nullptr);
  // A row that cannot be read is skipped and named in `errors`.
  std::vector<silence::Silence> load_silences(std::vector<std::string>* errors = nullptr) const;

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  bool exec(const char* sql, std::string* error) const;  // requires mu_
  bool migrate(std::string* error);

  mutable std::mutex mu_;
  sqlite3* db_;                                    // guarded by mu_
  std::map<std::string, std::string> last_saved_;  // guarded by mu_: per group, what it holds
};

}  // namespace watch::store
