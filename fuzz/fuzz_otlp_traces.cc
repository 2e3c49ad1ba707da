// Fuzz target: watch's OTLP/HTTP JSON trace ingest (watch/traces: the SAX
// reader and the store), which takes request bodies from the network, and the
// trace API's answers built from what it stored (watch/web/traces_api.h).
//
// Besides "no crash, no hang, no sanitizer report", it checks properties that
// hold for every input:
// - reading is deterministic: two fresh stores given the input agree;
// - a request that fails has an error, changes nothing, and is answered 400
//   with a Status naming it; one that is read accounts for every span
//   (received = accepted + rejected) and explains rejections;
// - memory stays bounded: the spans and the bytes held never pass the limits,
//   and no stored string passes the value limit;
// - every stored span belongs to a trace the query returns: the listed
//   traces' span counts add up to the spans held, and each trace read back
//   has that many spans, all of its id, each after its parent;
// - the GET answers are valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "firebreak/admin.h"
#include "watch/traces/traces.h"
#include "watch/web/traces_api.h"

namespace {

using watch::traces::Limits;
using watch::traces::Store;

const Limits kLimits{.max_spans = 64,
                     .max_bytes = 96 * 1024,
                     .max_spans_per_trace = 16,
                     .max_value_bytes = 64,
                     .max_attributes_per_span = 8,
                     .max_events_per_span = 4,
                     .max_links_per_span = 4};

[[noreturn]] void violated(const char* property, std::string_view input) {
  std::fprintf(stderr, "property violated: %s\ninput (%zu bytes): %.*s\n", property, input.size(),
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

void check_value_bounds(const std::vector<watch::traces::Attribute>& attributes,
                        std::string_view input) {
  for (const auto& a : attributes)
    if (a.key.size() > kLimits.max_value_bytes || a.value.text.size() > kLimits.max_value_bytes)
      violated("an attribute over the value limit", input);
}

void check_store(const Store& store, std::string_view input) {
  const auto stats = store.stats();
  if (stats.spans > kLimits.max_spans) violated("more spans held than max_spans", input);
  if (stats.bytes > kLimits.max_bytes) violated("more bytes held than max_bytes", input);
  const auto all = store.find({.limit = 0});
  if (all.size() != stats.traces) violated("find() misses held traces", input);
  std::size_t spans = 0;
  for (const auto& summary : all) {
    spans += summary.span_count;
    if (summary.span_count == 0) violated("a trace without spans", input);
    const auto view = store.get(summary.trace_id);
    if (!view) violated("a listed trace cannot be read", input);
    if (view->spans.size() != summary.span_count) violated("a trace's span count is off", input);
    if (view->spans.size() > kLimits.max_spans_per_trace)
      violated("a trace over max_spans_per_trace", input);
    for (std::size_t i = 0; i < view->spans.size(); ++i) {
      const auto& node = view->spans[i];
      if (node.span.trace_id != summary.trace_id) violated("a span in another trace", input);
      if (node.parent_index) {
        if (*node.parent_index >= i) violated("a span before its parent", input);
        const auto& parent = view->spans[*node.parent_index];
        if (parent.span.span_id != node.span.parent_span_id)
          violated("parent index is not the parent", input);
        if (node.depth != parent.depth + 1) violated("depth is not the parent's + 1", input);
      }
      if (node.span.name.size() > kLimits.max_value_bytes ||
          node.span.status_message.size() > kLimits.max_value_bytes)
        violated("a name over the value limit", input);
      check_value_bounds(node.span.attributes, input);
      if (node.span.attributes.size() > kLimits.max_attributes_per_span ||
          node.span.events.size() > kLimits.max_events_per_span ||
          node.span.links.size() > kLimits.max_links_per_span)
        violated("a span over its item limits", input);
    }
  }
  if (spans != stats.spans) violated("stored spans that no listed trace holds", input);
}

bool valid_json(const std::string& body) {
  return !nlohmann::json::parse(body, nullptr, false).is_discarded();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Store store({.limits = kLimits});
  const auto r = store.ingest(input);
  Store again({.limits = kLimits});
  const auto r2 = again.ingest(input);
  if (r.error != r2.error || r.received != r2.received || r.rejected != r2.rejected ||
      r.rejection != r2.rejection || store.stats().spans != again.stats().spans)
    violated("not deterministic", input);

  if (!r.ok()) {
    if (store.stats().spans != 0) violated("a failed request stored spans", input);
    if (r.received != 0 || r.accepted != 0) violated("a failed request counted spans", input);
  } else {
    if (r.received != r.accepted + r.rejected) violated("spans unaccounted for", input);
    if ((r.rejected > 0) != !r.rejection.empty()) violated("rejections unexplained", input);
  }
  check_store(store, input);
  // The same body again: nothing new (duplicates), still within bounds.
  const auto twice = store.ingest(input);
  if (twice.ok() != r.ok()) violated("a second reading differs", input);
  check_store(store, input);

  // Through the HTTP handlers, without a socket.
  firebreak::AdminServer server;
  Store served({.limits = kLimits});
  watch::web::add_traces_api(server, served);
  firebreak::AdminRequest post{.method = "POST",
                               .path = "/v1/traces",
                               .headers = {{"Content-Type", "application/json"}},
                               .body = std::string(input)};
  const auto answer = server.handle(post);
  if (answer.status != (r.ok() ? 200 : 400)) violated("POST status differs from ingest()", input);
  if (!valid_json(answer.body)) violated("POST answer is not JSON", input);
  if (!r.ok() && answer.body.find("\"code\":3") == std::string::npos)
    violated("a 400 without its Status", input);
  const auto list = server.handle({.method = "GET",
                                   .path = "/api/v1/traces",
                                   .query = {{"order", "duration"}, {"limit", "1000"}}});
  if (list.status != 200 || !valid_json(list.body)) violated("the list is not JSON", input);
  for (const auto& summary : served.find({.limit = 0})) {
    const auto one =
        server.handle({.method = "GET", .path = "/api/v1/traces/" + summary.trace_id.to_hex()});
    if (one.status != 200 || !valid_json(one.body)) violated("a trace is not JSON", input);
  }
  return 0;
}
