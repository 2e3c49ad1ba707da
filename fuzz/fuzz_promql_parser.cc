// Fuzz target: the PromQL parser (watch/promql/parser.h), which reads queries
// straight off /api/v1/query and rule files; and the engine and JSON writer
// behind it, on whatever parses.
//
// Besides "no crash, no hang, no sanitizer report", it checks properties that
// hold for every input:
// - an error's offset lies within the input, and its line:column agree with
//   the offset;
// - a parsed expression prints as PromQL that parses back to the same tree;
// - evaluating it against a small storage ends (bounded by a deadline and a
//   sample limit) with a value or an error, never an exception, and renders
//   as JSON.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "watch/promql/api_json.h"
#include "watch/promql/engine.h"
#include "watch/promql/parser.h"

namespace {

using namespace watch::promql;

[[noreturn]] void violated(const char* property, std::string_view input,
                           std::string_view detail = {}) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n%.*s\n", property,
               input.size(), static_cast<int>(input.size()), input.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

const MemoryStorage& storage() {
  static const MemoryStorage* s = [] {
    auto* m = new MemoryStorage;
    using watch::LabelSet;
    for (int i = 0; i < 3; ++i) {
      const std::string inst = std::to_string(i);
      const LabelSet up = LabelSet::from({{"__name__", "up"}, {"job", "api"}, {"instance", inst}});
      const LabelSet c = LabelSet::from({{"__name__", "http_requests_total"},
                                         {"job", "api"},
                                         {"instance", inst},
                                         {"code", i ? "200" : "500"}});
      for (std::int64_t t = 0; t <= 600000; t += 15000) {
        m->add(up, {t, static_cast<double>((t / 15000 + i) % 5 != 0)});
        m->add(c, {t, static_cast<double>(t / 1000 * (i + 1) % 700)});
      }
      for (const char* le : {"0.1", "0.5", "1", "+Inf"}) {
        const LabelSet b =
            LabelSet::from({{"__name__", "h_bucket"}, {"le", le}, {"instance", inst}});
        for (std::int64_t t = 0; t <= 600000; t += 15000)
          m->add(b, {t, static_cast<double>(t / 1000 * (le[0] == '+' ? 4 : le[0] - '0' + 1))});
      }
    }
    m->add(LabelSet::from({{"__name__", "gone"}}), {0, 1});
    m->add(LabelSet::from({{"__name__", "gone"}}), {15000, watch::stale_nan()});
    return m;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  ParseResult r = parse(query);
  if (!r.ok()) {
    if (!r.error) violated("no expression and no error", query);
    const ParseError& e = *r.error;
    if (e.offset > query.size()) violated("error offset past the end", query, e.to_string());
    int line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < e.offset; ++i)
      if (query[i] == '\n') ++line, line_start = i + 1;
    if (e.line != line || e.column != static_cast<int>(e.offset - line_start) + 1)
      violated("line:column disagree with the offset", query, e.to_string());
    if (e.message.empty()) violated("empty error message", query);
    return 0;
  }

  const std::string printed = to_string(*r.expr);
  ParseResult again = parse(printed, ParseOptions{.max_length = 1 << 22, .max_depth = 1 << 10});
  if (!again.ok())
    violated("printed form does not parse", query, printed + "\n" + again.error->to_string());
  if (to_string(*again.expr, true) != to_string(*r.expr, true))
    violated("printed form parses to another tree", query,
             to_string(*r.expr, true) + "\n" + to_string(*again.expr, true));

  EngineOptions options;
  options.max_samples = 200000;
  options.timeout = std::chrono::milliseconds(200);
  Engine engine(storage(), options);
  QueryResult result = engine.instant_query(*r.expr, 300000);
  if (result.ok() == result.error.has_value()) violated("result is neither value nor error", query);
  const std::string json = render_query_result(result);
  if (json.empty() || json.front() != '{' || json.back() != '}')
    violated("JSON is not an object", query, json);
  if (r.expr->type() == ValueType::kScalar || r.expr->type() == ValueType::kVector) {
    QueryResult range = engine.range_query(*r.expr, 0, 600000, 60000);
    (void)render_query_result(range);
  }
  return 0;
}
