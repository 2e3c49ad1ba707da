// Silences as Alertmanager 0.25 keeps them (silence/silence.go) and as its API
// v2 takes and shows them (api/v2/api.go: POST and GET /api/v2/silences,
// GET and DELETE /api/v2/silence/{id}): the JSON in and out with the same
// validation and error answers, and the set of silences with its update,
// expiry, retention and muting rules. No HTTP and no storage: the server
// calls these, and persists snapshot() / restore().
//
//   using namespace watch::silence;
//   Silences silences({.clock = &clock});
//
//   // POST /api/v2/silences
//   ParseResult posted = parse_postable_silence(body, silences.now_ms());
//   if (!posted.ok()) return reply(posted.http_status, posted.error_body);
//   SetResult set = silences.set(std::move(posted.silence));
//   if (!set.ok()) return reply(set.http_status, handler_error_body(set.error));
//   return reply(200, R"({"silenceID":")" + set.id + "\"}\n");
//
//   // GET /api/v2/silences
//   reply(200, to_json(silences.query(), silences.now_ms()) + "\n");
//
//   // The notification pipeline: is this alert silenced, and by which silences?
//   std::vector<std::string> by = silences.mutes(alert.labels);
//
// Alertmanager 0.25's rules, as they are:
// - a silence is pending before startsAt, active from startsAt until endsAt,
//   expired from endsAt on (the API's view; the silencer's differs only at
//   the exact instant endsAt);
// - POSTing with the id of a stored silence updates it in place only when
//   its matchers are unchanged and the history of what it silenced stays
//   true: for an active silence, startsAt stays in the same second and endsAt
//   is not in the past; for a pending one, startsAt is not in the past; never
//   for an expired one. Otherwise the old silence is expired (unless it already
//   is) and a new silence with a new id is created from the posted one. An
//   unknown id is an error ("silence not found", 404);
// - a new silence's startsAt is moved up to now when it lies in the past;
// - expiring sets endsAt to now (and startsAt too for a pending silence);
//   expiring an expired silence succeeds and changes nothing;
// - matchers: at least one, label names [a-zA-Z_][a-zA-Z0-9_]*, regexes in
//   Go's syntax, anchored as ^(?:re)$, and at least one matcher must not
//   match the empty string (= "" and =~ whatever matches "" do; != and !~
//   never count, even `foo!="bar"`, which matches alerts without foo);
// - an alert is muted by every active silence all of whose matchers match
//   its labels (a missing label is "").
//
// Deliberate differences from 0.25, all in corners:
// - a replacement is validated before the old silence is expired: 0.25
//   expires the old one first, so that a POST updating a silence with, say,
//   an empty-matching matcher answers 400 and yet ends the silence
//   (Alertmanager fixed this later);
// - 0.25 has no limits: we refuse a silence past max_silences (counting
//   expired ones kept for the retention, after dropping those past it),
//   max_matchers or max_silence_bytes, with the texts of Alertmanager 0.28's
//   limits where it has one;
// - times are kept in milliseconds (what the API shows) and printed in UTC;
//   0.25 keeps the offset a client sent ("+02:00") until it restarts;
// - a null in "matchers" makes 0.25 panic (the connection closes without an
//   answer); we answer 422 "matchers.N in body is required";
// - 0.25 validates a regex alone but runs it as ^(?:re)$, which Go may then
//   refuse (an unclosed \Q swallows the ")$"; 999 nested groups plus the
//   wrapper pass Go's nesting limit). Such a silence makes every silence
//   query of 0.25 fail, so that no alert is muted by any silence. We accept
//   it as 0.25 does, and only that silence mutes nothing;
// - Go's limit on regex nesting (1000) is approximated by the depth of
//   capturing groups; Unicode tables are RE2's rather than Go 1.19's.
//
// Thread-safety: the free functions keep no state. Silences is thread-safe:
// one shared mutex, readers (get, query, mutes, snapshot) in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/clock.h"
#include "watch/model/model.h"

namespace re2 {
class RE2;
}

namespace watch::silence {

// One matcher as the API writes it: {"name","value","isRegex","isEqual"}.
// = is {false, true}, != {false, false}, =~ {true, true}, !~ {true, false}.
struct SilenceMatcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;
  friend bool operator==(const SilenceMatcher&, const SilenceMatcher&) = default;
};

enum class SilenceState : std::uint8_t { kPending, kActive, kExpired };

// "pending", "active", "expired".
std::string_view to_string(SilenceState state);

struct Silence {
  std::string id;  // UUID v4 text, lowercase, as Alertmanager generates; "" for a new one
  std::vector<SilenceMatcher> matchers;
  // Milliseconds since the Unix epoch.
  std::int64_t starts_at_ms = 0;
  std::int64_t ends_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;
  friend bool operator==(const Silence&, const Silence&) = default;
};

// Pending before starts_at, active until ends_at, expired from ends_at on.
SilenceState state_of(const Silence& s, std::int64_t now_ms);

// Whether every matcher of the silence matches `labels` (a missing label is
// ""). A regex that does not compile, alone or anchored as Alertmanager runs
// it, matches nothing. Compiles the regexes on every call: for one-off
// checks; Silences::mutes() keeps them compiled.
bool matches(const Silence& s, const LabelSet& labels);

// ---------------------------------------------------------------------------
// The API's JSON.

// The outcome of reading a POST /api/v2/silences body.
struct ParseResult {
  // The silence as posted (id "" for a new one; updated_at_ms 0), when ok().
  Silence silence;
  // Alertmanager's message, "" when the body is acceptable, e.g.
  //   comment in body is required                                  (422)
  //   matchers in body should have at least 1 items                (422)
  //   parsing silence body from "" failed, because unexpected EOF  (400)
  //   Failed to create silence: start time must be before end time (400)
  //   Failed to create silence: end time can't be in the past      (400)
  //   silence invalid: at least one matcher must not match the empty string (400)
  //   silence invalid: invalid label matcher 0: invalid regular expression "(":
  //     error parsing regexp: missing closing ): `(`               (400)
  std::string error;
  // What Alertmanager answers: 422 (schema: a required field missing, no
  // matchers), 400 (not JSON of the right types, or refused), 0 when ok().
  int http_status = 0;
  // The exact body Alertmanager sends with that status:
  // {"code":602,"message":"..."} for 422, {"code":400,"message":"..."} for a
  // body that does not decode, the message as a JSON string and "\n" for the
  // rest (as handler_error_body).
  std::string error_body;
  bool ok() const { return error.empty(); }
};

// Reads a postableSilence as Alertmanager 0.25 does (Go's encoding/json
// under go-swagger): one JSON value is read and anything after it ignored;
// keys match case-insensitively, a repeated key overwrites (a repeated
// "matchers" even updates the matchers decoded before, as Go reuses them),
// unknown keys are ignored; times are RFC 3339 or the other forms go-openapi
// accepts ("2006-01-02 15:04:05", no zone meaning UTC, "" meaning the epoch);
// createdBy and comment must be present and may be empty; isEqual defaults
// to true. `now_ms` is the time "end time can't be in the past" compares
// with. A body with an id is accepted without the matcher checks ("silence
// invalid: ..."): 0.25 answers "silence not found" first when the id is
// unknown, so Silences::set() makes them after its lookup, in the same words.
// Never throws; cost linear in the body plus compiling its regexes.
ParseResult parse_postable_silence(std::string_view json, std::int64_t now_ms);

// One gettableSilence as Alertmanager prints it: id, status{state},
// updatedAt, comment, createdBy, endsAt, matchers[{isEqual, isRegex, name,
// value}], startsAt; times as 2006-01-02T15:04:05.000Z (UTC, milliseconds);
// Go's escaping (<, >, & and U+2028/9 as \u003c..., other control
// characters as \u00XX). No trailing newline.
std::string to_json(const Silence& s, std::int64_t now_ms);
// The GET /api/v2/silences list: sorted as sort_silences, then rendered.
// Alertmanager's body is this plus "\n".
std::string to_json(const std::vector<Silence>& silences, std::int64_t now_ms);

// Alertmanager's order (api/v2 SortSilences): active first, the one ending
// soonest first; then pending, starting soonest first; then expired, most
// recently ended first. Ties (which Alertmanager leaves in random order) by
// updated_at, then id.
void sort_silences(std::vector<Silence>& silences, std::int64_t now_ms);

// The API's `filter`: every filter matcher equals (name, value, isRegex,
// isEqual) one of the silence's own matchers; no matching against values.
bool matches_filter(const Silence& s, std::span<const SilenceMatcher> filter);

// Times as the API v2 writes them (strfmt.DateTime: 2006-01-02T15:04:05.000Z,
// UTC) and reads them (go-openapi's layouts, RFC 3339 among them; "" is the
// Unix epoch). parse_api_time: nullopt with Go's error text in `*error`.
std::string format_api_time(std::int64_t ms);
std::optional<std::int64_t> parse_api_time(std::string_view text, std::string* error = nullptr);

// The body Alertmanager sends with an error its handlers report (POST: 400
// "silence invalid: ...", 404 "silence not found"; DELETE: 500 "silence not
// found"): the message as a JSON string, then "\n".
std::string handler_error_body(std::string_view message);

// GET and DELETE /api/v2/silence/{id} take only a UUID (32 hex digits, any
// case, dashes optional where they belong): otherwise Alertmanager answers
// 422 with this body, {"code":601,"message":"silenceID in path must be of
// type uuid: \"nope\""}. nullopt for a UUID (which may still be unknown:
// GET answers 404 with no body, DELETE 500 "silence not found").
std::optional<std::string> path_id_error_body(std::string_view id);

// ---------------------------------------------------------------------------
// The set of silences.

// What set() reports.
struct SetResult {
  std::string id;  // the silence's id (kept, or new) when ok()
  std::string error;
  // Alertmanager's answer: 200, 400 (invalid, over a limit) or 404 (unknown id).
  int http_status = 200;
  bool ok() const { return error.empty(); }
};

class Silences {
 public:
  struct Options {
    const firebreak::Clock* clock = &firebreak::Clock::system();
    // How long an expired silence is kept (listed, and restorable by
    // re-posting it) before gc() drops it: Alertmanager's --data.retention.
    std::int64_t retention_ms = 120 * 3'600'000LL;
    // Every stored silence counts, expired ones included.
    std::size_t max_silences = 10'000;
    // Per silence; 0.25 has neither limit.
    std::size_t max_matchers = 100;
    // Names, values, createdBy, comment and id added up.
    std::size_t max_silence_bytes = 64 * 1024;
  };

  explicit Silences(Options options);
  Silences() : Silences(Options{}) {}
  ~Silences();
  Silences(const Silences&) = delete;
  Silences& operator=(const Silences&) = delete;

  // The clock's wall time in milliseconds: the `now` to render with.
  std::int64_t now_ms() const;

  // Adds or updates a silence with Alertmanager's rules (see the top of this
  // file). updated_at is set to now. Errors: "silence not found" (404),
  // "silence invalid: <reason>" (400; the reasons of parse_postable_silence,
  // plus "invalid zero end timestamp" and "end time must not be before start
  // time" for silences not from the API), and the limits (400):
  //   exceeded maximum number of silences: 10000 (limit: 10000)
  //   silence has too many matchers: 101 (limit: 100)
  //   silence exceeded maximum size: 70000 bytes (limit: 65536 bytes)
  // Cost: compiling the silence's regexes.
  SetResult set(Silence s);

  // Expires the silence now. nullopt on success, also when it had already
  // expired (0.25 is idempotent here); "silence not found" otherwise.
  std::optional<std::string> expire(std::string_view id);

  std::optional<Silence> get(std::string_view id) const;

  // The silences in `state` (all when nullopt) that pass `filter` (see
  // matches_filter), in Alertmanager's order (sort_silences).
  std::vector<Silence> query(std::optional<SilenceState> state = std::nullopt,
                             std::span<const SilenceMatcher> filter = {}) const;

  // The ids of the active silences that match the alert's labels, sorted.
  // Cost: one pass over the silences; per active silence, its matchers until
  // one fails (a string comparison, or one match of a regex compiled when the
  // silence was set). No allocation unless a silence matches (or a label
  // value is not valid UTF-8).
  std::vector<std::string> mutes(const LabelSet& alert_labels) const;

  // Drops the silences that ended at least the retention ago; returns how
  // many. Alertmanager runs this every 15 minutes.
  std::size_t gc();

  // Every silence (by id), for persistence.
  std::vector<Silence> snapshot() const;
  // Replaces every silence with these (a repeated id: the last wins), as
  // Alertmanager loads its snapshot at start: no validation and no limits. A
  // silence whose regex does not compile is kept (listed, expirable) but
  // mutes nothing.
  void restore(std::vector<Silence> silences);

  std::size_t size() const;
  // Bumped by every change of the set: a cheap "has anything changed" for
  // caches of mutes() results (the silencer's marker version in
  // Alertmanager). Time passing changes states without bumping it.
  std::uint64_t version() const;

 private:
  struct Entry;  // a silence and its compiled regexes (silence.cc)

  std::string new_id();  // requires mu_ held exclusively
  void expire_locked(Entry& entry, std::int64_t now);
  std::size_t gc_locked(std::int64_t now);

  Options options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> silences_;  // guarded by mu_
  std::mt19937_64 random_;                                               // guarded by mu_
  std::uint64_t version_ = 0;                                            // guarded by mu_
};

}  // namespace watch::silence
