#include "watch/web/api.h"

#include <malloc.h>

#include <chrono>
#include <set>
#include <string>
#include <utility>

#include "watch/promql/api_json.h"
#include "watch/promql/parser.h"
#include "watch/rules/rule_file.h"
#include "watch/tsdb/matcher.h"
#include "watch/web/params.h"

namespace watch::web {
namespace {

using firebreak::AdminRequest;
using firebreak::AdminResponse;

// Prometheus answers these when a request leaves start or end out.
constexpr std::int64_t kMinTimeMs = INT64_MIN / 2;
constexpr std::int64_t kMaxTimeMs = INT64_MAX / 2;
constexpr std::int64_t kMaxPoints = 11'000;

AdminResponse json(int status, std::string body) {
  return {.status = status, .content_type = "application/json", .body = std::move(body)};
}

AdminResponse bad_data(std::string_view message) {
  return json(400, promql::render_error(promql::ErrorKind::kBadData, message));
}

AdminResponse success(std::string_view data) {
  std::string body = R"({"status":"success","data":)";
  body += data;
  body += '}';
  return json(200, std::move(body));
}

// Query parameters plus, for a form POST, the body's.
Params request_params(const AdminRequest& r) {
  Params p = r.query;
  if (r.method == "POST" &&
      r.header("Content-Type").starts_with("application/x-www-form-urlencoded")) {
    for (auto& kv : parse_form(r.body)) p.push_back(std::move(kv));
  }
  return p;
}

std::string invalid(std::string_view name, std::string_view why) {
  return "invalid parameter \"" + std::string(name) + "\": " + std::string(why);
}

// A time parameter, `fallback` when absent; nullopt (and *error) when malformed.
std::optional<std::int64_t> time_param(const Params& p, std::string_view name,
                                       std::int64_t fallback, std::string& error) {
  const auto text = param(p, name);
  if (!text) return fallback;
  if (auto t = parse_time_ms(*text)) return t;
  error = invalid(name, "cannot parse \"" + std::string(*text) + "\" to a valid timestamp");
  return std::nullopt;
}

std::int64_t now_ms(const firebreak::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
      .count();
}

// QueryOptions from "timeout"; nullopt (and *error) when malformed.
std::optional<promql::QueryOptions> query_options(const Params& p, std::string& error) {
  promql::QueryOptions options;
  if (const auto text = param(p, "timeout")) {
    const auto ms = parse_duration_ms(*text);
    if (!ms || *ms == 0) {
      error = invalid("timeout", "cannot parse \"" + std::string(*text) + "\" to a valid duration");
      return std::nullopt;
    }
    options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*ms);
  }
  return options;
}

// Queries that loaded more than this many samples hand their memory back to
// the system when they are done (see answer()).
constexpr std::size_t kTrimAfterSamples = 1'000'000;

// The answer to a query; takes the result so that its memory is freed here.
// A heavy query's working memory is freed before the answer is sent, and
// glibc keeps freed memory for reuse, so RSS would stay at the heaviest
// query's peak: malloc_trim returns it (measured in bench/RESULTS.md).
AdminResponse answer(promql::QueryResult&& result) {
  AdminResponse response;
  std::size_t samples = 0;
  {
    const promql::QueryResult r = std::move(result);
    response = json(promql::http_status(r), promql::render_query_result(r));
    samples = r.samples;
  }  // the result's memory goes back to malloc here
  if (samples > kTrimAfterSamples) ::malloc_trim(0);
  return response;
}

// The matcher sets of every match[]; nullopt (and *error) when one is malformed.
std::optional<std::vector<tsdb::MatcherSet>> match_params(const Params& p, std::string& error) {
  std::vector<tsdb::MatcherSet> sets;
  for (const std::string& text : params(p, "match[]")) {
    const auto parsed = promql::parse_selector(text);
    if (!parsed.ok()) {
      error = invalid("match[]", parsed.error->to_string());
      return std::nullopt;
    }
    auto set = tsdb::MatcherSet::compile(parsed.matchers, &error);
    if (!set) {
      error = invalid("match[]", error);
      return std::nullopt;
    }
    sets.push_back(std::move(*set));
  }
  return sets;
}

// match[] (any number, none: every series), start and end, as /api/v1/series,
// /labels and /label/<name>/values read them.
struct Selection {
  std::vector<tsdb::MatcherSet> sets;
  std::int64_t start = kMinTimeMs;
  std::int64_t end = kMaxTimeMs;
};

std::optional<Selection> selection(const Params& p, std::string& error) {
  auto sets = match_params(p, error);
  if (!sets) return std::nullopt;
  const auto start = time_param(p, "start", kMinTimeMs, error);
  if (!start) return std::nullopt;
  const auto end = time_param(p, "end", kMaxTimeMs, error);
  if (!end) return std::nullopt;
  return Selection{std::move(*sets), *start, *end};
}

// The union, over the selection's matcher sets (or every series when it has
// none), of what `list(set, start, end)` gives, sorted.
template <class List>
std::set<std::string> union_over(const Selection& s, const List& list) {
  std::set<std::string> out;
  if (s.sets.empty())
    for (auto& v : list(tsdb::MatcherSet(), s.start, s.end)) out.insert(std::move(v));
  for (const auto& set : s.sets)
    for (auto& v : list(set, s.start, s.end)) out.insert(std::move(v));
  return out;
}

std::string string_array(const auto& strings) {
  std::string out = "[";
  for (const auto& s : strings) {
    if (out.size() > 1) out += ',';
    promql::append_json_string(out, s);
  }
  out += ']';
  return out;
}

void add_get_and_post(firebreak::AdminServer& server, const std::string& path,
                      const firebreak::AdminHandler& fn) {
  server.add_handler("GET", path, fn);
  server.add_handler("POST", path, fn);
}

}  // namespace

void add_query_api(firebreak::AdminServer& server, const promql::Engine& engine,
                   const tsdb::Db& head, const firebreak::Clock& clock, QueryApiOptions options) {
  add_get_and_post(server, "/api/v1/query", [&engine, &clock](const AdminRequest& r) {
    const Params p = request_params(r);
    std::string error;
    const auto query = param(p, "query");
    if (!query) return bad_data(invalid("query", "missing"));
    const auto t = time_param(p, "time", now_ms(clock), error);
    if (!t) return bad_data(error);
    const auto qo = query_options(p, error);
    if (!qo) return bad_data(error);
    return answer(engine.instant_query(*query, *t, *qo));
  });

  add_get_and_post(server, "/api/v1/query_range", [&engine](const AdminRequest& r) {
    const Params p = request_params(r);
    std::string error;
    const auto query = param(p, "query");
    if (!query) return bad_data(invalid("query", "missing"));
    for (const char* name : {"start", "end", "step"})
      if (!param(p, name)) return bad_data(invalid(name, "missing"));
    const auto start = time_param(p, "start", 0, error);
    if (!start) return bad_data(error);
    const auto end = time_param(p, "end", 0, error);
    if (!end) return bad_data(error);
    if (*end < *start)
      return bad_data(invalid("end", "end timestamp must not be before start time"));
    const auto step = parse_duration_ms(*param(p, "step"));
    if (!step)
      return bad_data(invalid(
          "step", "cannot parse \"" + std::string(*param(p, "step")) + "\" to a valid duration"));
    if (*step <= 0)
      return bad_data(
          "zero or negative query resolution step widths are not accepted. Try a positive "
          "integer");
    if ((*end - *start) / *step >= kMaxPoints)
      return bad_data(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
          "resolution (?step=XX)");
    const auto qo = query_options(p, error);
    if (!qo) return bad_data(error);
    return answer(engine.range_query(*query, *start, *end, *step, *qo));
  });

  add_get_and_post(server, "/api/v1/series", [&head](const AdminRequest& r) {
    std::string error;
    const auto sel = selection(request_params(r), error);
    if (!sel) return bad_data(error);
    if (sel->sets.empty()) return bad_data("no match[] parameter provided");
    std::set<LabelSet> found;
    for (const auto& set : sel->sets)
      for (auto& labels : head.series(set, sel->start, sel->end)) found.insert(std::move(labels));
    std::string data = "[";
    for (const LabelSet& labels : found) {
      if (data.size() > 1) data += ',';
      data += '{';
      bool first = true;
      for (const Label& l : labels) {
        if (!first) data += ',';
        first = false;
        promql::append_json_string(data, l.name);
        data += ':';
        promql::append_json_string(data, l.value);
      }
      data += '}';
    }
    data += ']';
    return success(data);
  });

  add_get_and_post(server, "/api/v1/labels", [&head](const AdminRequest& r) {
    std::string error;
    const auto sel = selection(request_params(r), error);
    if (!sel) return bad_data(error);
    return success(string_array(
        union_over(*sel, [&](const tsdb::MatcherSet& set, std::int64_t start, std::int64_t end) {
          return head.label_names(set, start, end);
        })));
  });

  server.add_prefix_handler("GET", "/api/v1/label/", [&head](const AdminRequest& r) {
    std::string_view rest =
        std::string_view(r.path).substr(std::string_view("/api/v1/label/").size());
    if (!rest.ends_with("/values") || rest.size() == 7)
      return json(404, promql::render_error(promql::ErrorKind::kBadData, "not found"));
    const std::string name(rest.substr(0, rest.size() - 7));
    if (!rules::valid_label_name(name) && name != "__name__")
      return bad_data("invalid label name: \"" + name + "\"");
    std::string error;
    const auto sel = selection(r.query, error);
    if (!sel) return bad_data(error);
    return success(string_array(
        union_over(*sel, [&](const tsdb::MatcherSet& set, std::int64_t start, std::int64_t end) {
          return head.label_values(name, set, start, end);
        })));
  });

  server.add_handler("GET", "/api/v1/status/buildinfo", [options](const AdminRequest&) {
    std::string data = R"({"version":)";
    promql::append_json_string(data, options.version);
    data += R"(,"revision":"","branch":"","buildUser":"","buildDate":"","goVersion":""})";
    return success(data);
  });
}

void add_checkin_api(firebreak::AdminServer& server, checkin::Tracker& tracker,
                     checkin::PushStore& pushes, std::function<void()> changed) {
  auto ping = [&tracker, changed](const AdminRequest& r) {
    std::string query;
    if (const auto rid = r.query_value("rid")) query = "rid=" + std::string(*rid);
    auto request = checkin::parse_ping_path(r.path, query);
    if (!request.ok()) return AdminResponse{.status = 400, .body = request.error().message + "\n"};
    const checkin::PingResult result = tracker.ping(request.value());
    switch (result.code) {
      case checkin::PingResult::Code::kOk:
        if (changed) changed();
        return AdminResponse{.body = "OK\n"};
      case checkin::PingResult::Code::kUnknownJob:
        return AdminResponse{.status = 404, .body = result.error + "\n"};
      case checkin::PingResult::Code::kInvalid:
        break;
    }
    return AdminResponse{.status = 400, .body = result.error + "\n"};
  };
  server.add_prefix_handler("GET", "/ping/", ping);
  server.add_prefix_handler("POST", "/ping/", ping);

  const std::pair<const char*, checkin::PushMethod> methods[] = {
      {"PUT", checkin::PushMethod::kPut},
      {"POST", checkin::PushMethod::kPost},
      {"DELETE", checkin::PushMethod::kDelete}};
  for (const auto& entry : methods) {
    const checkin::PushMethod method = entry.second;  // clang 14 cannot capture a binding
    server.add_prefix_handler(
        entry.first, "/metrics/job/", [&pushes, changed, method](const AdminRequest& r) {
          std::string_view content_type = r.header("Content-Type");
          if (content_type.empty()) content_type = "text/plain; version=0.0.4";
          const checkin::PushResult result = pushes.push(method, r.path, r.body, content_type);
          // A refused body changes the group too (push_failure_time).
          if (changed) changed();
          return AdminResponse{.status = result.http_status,
                               .body = result.error.empty() ? std::string() : result.error + "\n"};
        });
  }
}

}  // namespace watch::web
