#include "watch/store/store.h"

#include <sqlite3.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <functional>
#include <set>
#include <stdexcept>
#include <utility>

namespace watch::store {
namespace {

// Migration i takes the schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    // 1: alert states of the rules engine.
    R"sql(
CREATE TABLE alert_states (
  grp TEXT NOT NULL,
  rule TEXT NOT NULL,
  rule_index INTEGER NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  state INTEGER NOT NULL,
  value REAL NOT NULL,
  active_at_ms INTEGER NOT NULL,
  fired_at_ms INTEGER NOT NULL,
  resolved_at_ms INTEGER NOT NULL,
  keep_firing_since_ms INTEGER NOT NULL,
  last_sent_ms INTEGER NOT NULL
);
CREATE INDEX alert_states_grp ON alert_states (grp);
)sql",
    // 2: the notification log and the pending queue.
    R"sql(
CREATE TABLE notification_log (
  receiver TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  resolved INTEGER NOT NULL,
  starts_at_ms INTEGER NOT NULL,
  sent_at_ms INTEGER NOT NULL,
  PRIMARY KEY (receiver, fingerprint, resolved, starts_at_ms)
);
CREATE TABLE pending (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  receiver TEXT NOT NULL,
  payload TEXT NOT NULL,
  enqueued_ms INTEGER NOT NULL
);
)sql",
    // 3: check-in history and open runs, one JSON image per job.
    R"sql(
CREATE TABLE checkin_jobs (
  job TEXT PRIMARY KEY,
  snapshot TEXT NOT NULL
);
)sql",
    // 4: pushed groups (the Pushgateway API), one JSON image per group.
    R"sql(
CREATE TABLE push_groups (
  grouping TEXT PRIMARY KEY,
  snapshot TEXT NOT NULL
);
)sql",
    // 5: the dispatcher's notification log: per receiver and group, the
    // fingerprints last told firing and resolved (JSON arrays of hex).
    R"sql(
CREATE TABLE group_log (
  key TEXT PRIMARY KEY,
  firing TEXT NOT NULL,
  resolved TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
)sql",
    // 6: silences, one JSON image each; the per-alert log and the pending
    // queue go (the dispatcher's group log replaces both); group_log keys
    // now name the integration.
    R"sql(
CREATE TABLE silences (
  id TEXT PRIMARY KEY,
  snapshot TEXT NOT NULL
);
DROP TABLE notification_log;
DROP TABLE pending;
DELETE FROM group_log;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return s_ != nullptr; }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return s_ ? sqlite3_step(s_) : SQLITE_ERROR; }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  double dbl(int c) const { return sqlite3_column_double(s_, c); }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

void set_error(std::string* error, sqlite3* db, std::string_view what) {
  if (error) *error = std::string(what) + ": " + sqlite3_errmsg(db);
}

bool exec_sql(sqlite3* db, const std::string& sql, std::string* error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) == SQLITE_OK) return true;
  if (error) *error = msg ? msg : sqlite3_errmsg(db);
  sqlite3_free(msg);
  return false;
}

// Writes `rows` rows in one transaction: write_row(i) prepares, binds and
// steps row i's statement and returns the step's result; the first that is
// not SQLITE_DONE rolls everything back. `before` runs first, when given.
// Requires the store's mutex.
bool write_rows(sqlite3* db, std::size_t rows, const char* what, std::string* error,
                const std::function<int(std::size_t)>& write_row, const char* before = nullptr) {
  if (!exec_sql(db, "BEGIN IMMEDIATE", error)) return false;
  bool ok = !before || exec_sql(db, before, error);
  for (std::size_t i = 0; ok && i < rows; ++i) {
    if (write_row(i) != SQLITE_DONE) {
      set_error(error, db, what);
      ok = false;
    }
  }
  if (!ok || !exec_sql(db, "COMMIT", error)) {
    exec_sql(db, "ROLLBACK", nullptr);
    return false;
  }
  return true;
}

// Replaces every row of a table in one transaction: `insert` is run `rows`
// times, bind_next() binding each row's values. Requires the store's mutex.
bool replace_all(sqlite3* db, const char* table, const char* insert, const char* what,
                 std::size_t rows, std::string* error,
                 const std::function<void(Stmt&)>& bind_next) {
  const std::string clear = fmt::format("DELETE FROM {}", table);
  return write_rows(
      db, rows, what, error,
      [&](std::size_t) {
        Stmt s(db, insert);
        bind_next(s);
        return s.step();
      },
      clear.c_str());
}

std::string labels_json(const std::vector<Label>& labels) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& l : labels) j.push_back({l.name, l.value});
  return j.dump();
}

std::vector<Label> labels_from_json(const std::string& s) {
  std::vector<Label> out;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& e : j)
    if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string())
      out.push_back({e[0].get<std::string>(), e[1].get<std::string>()});
  return out;
}

constexpr const char* kSelectAlerts =
    "SELECT grp, rule, rule_index, labels, annotations, state, value, active_at_ms, fired_at_ms, "
    "resolved_at_ms, keep_firing_since_ms, last_sent_ms FROM alert_states";

std::vector<rules::AlertStateRecord> read_alerts(Stmt& s) {
  std::vector<rules::AlertStateRecord> out;
  while (s.step() == SQLITE_ROW) {
    rules::AlertStateRecord r;
    r.group = s.text(0);
    r.rule = s.text(1);
    r.rule_index = static_cast<int>(s.i64(2));
    r.alert.labels = LabelSet::from(labels_from_json(s.text(3)));
    r.alert.annotations = labels_from_json(s.text(4));
    auto st = s.i64(5);
    r.alert.state = st == 2   ? rules::AlertState::kFiring
                    : st == 1 ? rules::AlertState::kPending
                              : rules::AlertState::kInactive;
    r.alert.value = s.dbl(6);
    r.alert.active_at_ms = s.i64(7);
    r.alert.fired_at_ms = s.i64(8);
    r.alert.resolved_at_ms = s.i64(9);
    r.alert.keep_firing_since_ms = s.i64(10);
    r.alert.last_sent_ms = s.i64(11);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, std::string* error) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    set_error(error, db, "open " + path);
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Store> store(new Store(db));
  std::lock_guard lock(store->mu_);
  if (!store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", error) ||
      !store->migrate(error))
    return nullptr;
  return store;
}

Store::~Store() {
  sqlite3_close(db_);
}

bool Store::exec(const char* sql, std::string* error) const {
  return exec_sql(db_, sql, error);
}

bool Store::migrate(std::string* error) {
  int version = 0;
  {
    Stmt s(db_, "PRAGMA user_version");
    if (s.step() == SQLITE_ROW) version = static_cast<int>(s.i64(0));
  }
  if (version > kSchemaVersion) {
    if (error)
      *error = "database schema version " + std::to_string(version) +
               " is newer than this build's (" + std::to_string(kSchemaVersion) + ")";
    return false;
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                      "PRAGMA user_version = " + std::to_string(v + 1) + ";COMMIT;";
    if (!exec(sql.c_str(), error)) {
      exec("ROLLBACK", nullptr);
      if (error) *error = "migration to schema version " + std::to_string(v + 1) + ": " + *error;
      return false;
    }
  }
  return true;
}

int Store::schema_version() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "PRAGMA user_version");
  return s.step() == SQLITE_ROW ? static_cast<int>(s.i64(0)) : 0;
}

bool Store::save_alerts(const std::string& group,
                        const std::vector<rules::AlertStateRecord>& records, std::string* error) {
  nlohmann::json image = nlohmann::json::array();
  for (const auto& r : records)
    image.push_back({r.group, r.rule, r.rule_index, labels_json(r.alert.labels.labels()),
                     labels_json(r.alert.annotations), static_cast<int>(r.alert.state),
                     r.alert.value, r.alert.active_at_ms, r.alert.fired_at_ms,
                     r.alert.resolved_at_ms, r.alert.keep_firing_since_ms, r.alert.last_sent_ms});
  std::string text = image.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(mu_);
  if (auto it = last_saved_.find(group); it != last_saved_.end() && it->second == text) return true;
  if (!exec("BEGIN IMMEDIATE", error)) return false;
  {
    Stmt del(db_, "DELETE FROM alert_states WHERE grp = ?");
    del.bind(1, group);
    if (del.step() != SQLITE_DONE) {
      set_error(error, db_, "delete alert states");
      exec("ROLLBACK", nullptr);
      return false;
    }
  }
  for (const auto& r : records) {
    Stmt ins(db_,
             "INSERT INTO alert_states (grp, rule, rule_index, labels, annotations, state, value, "
             "active_at_ms, fired_at_ms, resolved_at_ms, keep_firing_since_ms, last_sent_ms) "
             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    ins.bind(1, r.group.empty() ? group : r.group)
        .bind(2, r.rule)
        .bind(3, std::int64_t{r.rule_index})
        .bind(4, labels_json(r.alert.labels.labels()))
        .bind(5, labels_json(r.alert.annotations))
        .bind(6, std::int64_t{static_cast<int>(r.alert.state)})
        .bind(7, r.alert.value)
        .bind(8, r.alert.active_at_ms)
        .bind(9, r.alert.fired_at_ms)
        .bind(10, r.alert.resolved_at_ms)
        .bind(11, r.alert.keep_firing_since_ms)
        .bind(12, r.alert.last_sent_ms);
    if (ins.step() != SQLITE_DONE) {
      set_error(error, db_, "insert alert state");
      exec("ROLLBACK", nullptr);
      return false;
    }
  }
  if (!exec("COMMIT", error)) {
    exec("ROLLBACK", nullptr);
    return false;
  }
  last_saved_[group] = std::move(text);
  return true;
}

std::vector<rules::AlertStateRecord> Store::load_alerts(const std::string& group) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string(kSelectAlerts) + " WHERE grp = ? ORDER BY rowid").c_str());
  s.bind(1, group);
  return read_alerts(s);
}

std::vector<rules::AlertStateRecord> Store::load_all_alerts() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string(kSelectAlerts) + " ORDER BY grp, rowid").c_str());
  return read_alerts(s);
}

namespace {

nlohmann::json opt_json(const auto& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

template <class T>
std::optional<T> opt_from(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

nlohmann::json snapshot_json(const checkin::JobSnapshot& job) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : job.open_runs)
    runs.push_back({{"rid", r.rid}, {"started_ms", r.started_ms}});
  nlohmann::json history = nlohmann::json::array();
  for (const auto& h : job.history)
    history.push_back({{"time_ms", h.time_ms},
                       {"kind", static_cast<int>(h.kind)},
                       {"rid", h.rid},
                       {"exit_status", opt_json(h.exit_status)},
                       {"duration_seconds", opt_json(h.duration_seconds)}});
  return {{"configured_ms", job.configured_ms},
          {"last_checkin_ms", opt_json(job.last_checkin_ms)},
          {"last_start_ms", opt_json(job.last_start_ms)},
          {"last_success_ms", opt_json(job.last_success_ms)},
          {"last_fail_ms", opt_json(job.last_fail_ms)},
          {"open_runs", std::move(runs)},
          {"last_duration_seconds", opt_json(job.last_duration_seconds)},
          {"last_exit_status", opt_json(job.last_exit_status)},
          {"last_run_failed", opt_json(job.last_run_failed)},
          {"history", std::move(history)}};
}

checkin::JobSnapshot snapshot_from(const std::string& name, const nlohmann::json& j) {
  checkin::JobSnapshot job;
  job.name = name;
  job.configured_ms = j.at("configured_ms").get<std::int64_t>();
  job.last_checkin_ms = opt_from<std::int64_t>(j, "last_checkin_ms");
  job.last_start_ms = opt_from<std::int64_t>(j, "last_start_ms");
  job.last_success_ms = opt_from<std::int64_t>(j, "last_success_ms");
  job.last_fail_ms = opt_from<std::int64_t>(j, "last_fail_ms");
  for (const auto& r : j.at("open_runs"))
    job.open_runs.push_back(
        {r.at("rid").get<std::string>(), r.at("started_ms").get<std::int64_t>()});
  job.last_duration_seconds = opt_from<double>(j, "last_duration_seconds");
  job.last_exit_status = opt_from<int>(j, "last_exit_status");
  job.last_run_failed = opt_from<bool>(j, "last_run_failed");
  for (const auto& h : j.at("history")) {
    const int kind = h.at("kind").get<int>();
    if (kind < 0 || kind > static_cast<int>(checkin::PingKind::kFail))
      throw std::runtime_error("unknown ping kind " + std::to_string(kind));
    job.history.push_back({h.at("time_ms").get<std::int64_t>(),
                           static_cast<checkin::PingKind>(kind), h.at("rid").get<std::string>(),
                           opt_from<int>(h, "exit_status"),
                           opt_from<double>(h, "duration_seconds")});
  }
  return job;
}

}  // namespace

bool Store::save_checkins(const std::vector<checkin::JobSnapshot>& jobs, std::string* error) {
  std::lock_guard lock(mu_);
  if (!exec("BEGIN IMMEDIATE", error)) return false;
  // Jobs no longer configured keep their rows: a config reload that drops and
  // re-adds a job must not lose its history.
  for (const auto& job : jobs) {
    Stmt s(db_, "INSERT OR REPLACE INTO checkin_jobs (job, snapshot) VALUES (?, ?)");
    s.bind(1, job.name)
        .bind(2, snapshot_json(job).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (s.step() != SQLITE_DONE) {
      set_error(error, db_, "save check-in state");
      exec("ROLLBACK", nullptr);
      return false;
    }
  }
  return exec("COMMIT", error);
}

std::vector<checkin::JobSnapshot> Store::load_checkins(std::vector<std::string>* errors) const {
  std::lock_guard lock(mu_);
  std::vector<checkin::JobSnapshot> jobs;
  Stmt s(db_, "SELECT job, snapshot FROM checkin_jobs ORDER BY job");
  while (s.step() == SQLITE_ROW) {
    const std::string name = s.text(0);
    try {
      jobs.push_back(snapshot_from(name, nlohmann::json::parse(s.text(1))));
    } catch (const std::exception& e) {  // a damaged row loses that job's history, not the rest
      if (errors) errors->push_back("check-in state of job \"" + name + "\": " + e.what());
    }
  }
  return jobs;
}

namespace {

// Values by their bits: NaN and the infinities survive JSON.
nlohmann::json push_group_json(const checkin::PushGroupSnapshot& g) {
  nlohmann::json families = nlohmann::json::object();
  for (const auto& [name, samples] : g.families) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : samples)
      list.push_back({labels_json(s.labels.labels()), std::bit_cast<std::uint64_t>(s.value)});
    families[name] = std::move(list);
  }
  return {{"key", labels_json(g.key.labels())},
          {"families", std::move(families)},
          {"push_time", std::bit_cast<std::uint64_t>(g.push_time)},
          {"push_failure_time", std::bit_cast<std::uint64_t>(g.push_failure_time)}};
}

checkin::PushGroupSnapshot push_group_from(const nlohmann::json& j) {
  checkin::PushGroupSnapshot g;
  g.key = LabelSet::from(labels_from_json(j.at("key").get<std::string>()));
  for (const auto& [name, list] : j.at("families").items())
    for (const auto& e : list)
      g.families[name].push_back({LabelSet::from(labels_from_json(e.at(0).get<std::string>())),
                                  std::bit_cast<double>(e.at(1).get<std::uint64_t>())});
  g.push_time = std::bit_cast<double>(j.at("push_time").get<std::uint64_t>());
  g.push_failure_time = std::bit_cast<double>(j.at("push_failure_time").get<std::uint64_t>());
  return g;
}

}  // namespace

bool Store::save_push_groups(const std::vector<checkin::PushGroupSnapshot>& changed,
                             std::string* error) {
  if (changed.empty()) return true;
  std::lock_guard lock(mu_);
  return write_rows(db_, changed.size(), "save pushed group", error, [&](std::size_t i) {
    const auto& g = changed[i];
    Stmt s(db_, g.deleted
                    ? "DELETE FROM push_groups WHERE grouping = ?"
                    : "INSERT OR REPLACE INTO push_groups (grouping, snapshot) VALUES (?, ?)");
    s.bind(1, labels_json(g.key.labels()));
    if (!g.deleted)
      s.bind(2, push_group_json(g).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return s.step();
  });
}

std::vector<checkin::PushGroupSnapshot> Store::load_push_groups(
    std::vector<std::string>* errors) const {
  std::lock_guard lock(mu_);
  std::vector<checkin::PushGroupSnapshot> out;
  Stmt s(db_, "SELECT grouping, snapshot FROM push_groups ORDER BY grouping");
  while (s.step() == SQLITE_ROW) {
    try {
      out.push_back(push_group_from(nlohmann::json::parse(s.text(1))));
    } catch (const std::exception& e) {  // a damaged row loses that group, not the rest
      if (errors) errors->push_back("pushed group " + s.text(0) + ": " + e.what());
    }
  }
  return out;
}

namespace {

std::string fingerprints_json(const std::set<std::uint64_t>& fps) {
  nlohmann::json a = nlohmann::json::array();
  for (std::uint64_t fp : fps) a.push_back(fmt::format("{:016x}", fp));
  return a.dump();
}

std::set<std::uint64_t> fingerprints_from(const std::string& text) {
  std::set<std::uint64_t> out;
  for (const auto& v : nlohmann::json::parse(text)) {
    const std::string hex = v.get<std::string>();
    std::size_t used = 0;
    const std::uint64_t fp = std::stoull(hex, &used, 16);
    if (used != hex.size() || hex.size() != 16) throw std::runtime_error("bad fingerprint " + hex);
    out.insert(fp);
  }
  return out;
}

}  // namespace

bool Store::save_group_log(const std::vector<dispatch::LogChange>& changes, std::string* error) {
  if (changes.empty()) return true;
  std::lock_guard lock(mu_);
  return write_rows(db_, changes.size(), "save the notification log", error, [&](std::size_t i) {
    const auto& c = changes[i];
    Stmt s(db_, c.entry ? "INSERT OR REPLACE INTO group_log (key, firing, resolved, at_ms) "
                          "VALUES (?, ?, ?, ?)"
                        : "DELETE FROM group_log WHERE key = ?");
    s.bind(1, c.key);
    if (c.entry) {
      s.bind(2, fingerprints_json(c.entry->firing));
      s.bind(3, fingerprints_json(c.entry->resolved));
      s.bind(4, c.entry->at_ms);
    }
    return s.step();
  });
}

std::map<std::string, dispatch::LogEntry> Store::load_group_log(
    std::vector<std::string>* errors) const {
  std::lock_guard lock(mu_);
  std::map<std::string, dispatch::LogEntry> out;
  Stmt s(db_, "SELECT key, firing, resolved, at_ms FROM group_log");
  while (s.step() == SQLITE_ROW) {
    try {
      out[s.text(0)] = {.firing = fingerprints_from(s.text(1)),
                        .resolved = fingerprints_from(s.text(2)),
                        .at_ms = s.i64(3)};
    } catch (const std::exception& e) {  // a damaged row loses that entry, not the rest
      if (errors) errors->push_back("notification log entry: " + std::string(e.what()));
    }
  }
  return out;
}

namespace {

nlohmann::json silence_json(const silence::Silence& s) {
  nlohmann::json matchers = nlohmann::json::array();
  for (const auto& m : s.matchers)
    matchers.push_back(
        {{"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
  return {{"id", s.id},
          {"matchers", std::move(matchers)},
          {"startsAt", s.starts_at_ms},
          {"endsAt", s.ends_at_ms},
          {"updatedAt", s.updated_at_ms},
          {"createdBy", s.created_by},
          {"comment", s.comment}};
}

silence::Silence silence_from(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  silence::Silence s{.id = j.at("id").get<std::string>(),
                     .starts_at_ms = j.at("startsAt").get<std::int64_t>(),
                     .ends_at_ms = j.at("endsAt").get<std::int64_t>(),
                     .updated_at_ms = j.at("updatedAt").get<std::int64_t>(),
                     .created_by = j.at("createdBy").get<std::string>(),
                     .comment = j.at("comment").get<std::string>()};
  for (const auto& m : j.at("matchers"))
    s.matchers.push_back({.name = m.at("name").get<std::string>(),
                          .value = m.at("value").get<std::string>(),
                          .is_regex = m.at("isRegex").get<bool>(),
                          .is_equal = m.at("isEqual").get<bool>()});
  return s;
}

}  // namespace

bool Store::save_silences(const std::vector<silence::Silence>& silences, std::string* error) {
  std::lock_guard lock(mu_);
  return replace_all(db_, "silences", "INSERT INTO silences (id, snapshot) VALUES (?, ?)",
                     "save the silences", silences.size(), error,
                     [&, it = silences.begin()](Stmt& s) mutable {
                       s.bind(1, it->id);
                       s.bind(2, silence_json(*it).dump());
                       ++it;
                     });
}

std::vector<silence::Silence> Store::load_silences(std::vector<std::string>* errors) const {
  std::lock_guard lock(mu_);
  std::vector<silence::Silence> out;
  Stmt s(db_, "SELECT id, snapshot FROM silences ORDER BY id");
  while (s.step() == SQLITE_ROW) {
    try {
      out.push_back(silence_from(s.text(1)));
    } catch (const std::exception& e) {  // a damaged row loses that silence, not the rest
      if (errors) errors->push_back("silence " + s.text(0) + ": " + std::string(e.what()));
    }
  }
  return out;
}

}  // namespace watch::store
