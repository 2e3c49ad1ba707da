// Fuzz target: W3C trace context from an incoming request (trace.h):
// parse_traceparent, TraceState::parse and the extractor over header fields.
// All of it comes straight off the network (HTTP headers, message headers).
//
// Input: the first line is a traceparent value, the rest one tracestate value
// per line; the extractor also sees every line as a header field.
//
// Besides "no crash, no hang, no sanitizer report", it checks properties that
// hold for every input:
// - a parsed traceparent has valid ids, and formats to 55 characters that
//   parse back to the same ids and sampled flag;
// - a parsed tracestate has at most 32 members, valid keys and values, no
//   duplicate key, at most 512 characters unless it is a single member, and
//   its header parses back to the same list;
// - an extracted context is invalid or equals what its traceparent parses to.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/trace.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_trace_context: property violated: %s\n", what);
    std::abort();
  }
}

void check_traceparent(std::string_view value) {
  const auto ctx = firebreak::parse_traceparent(value);
  if (!ctx) return;
  check(ctx->valid(), "parsed traceparent has valid ids");
  check(ctx->is_remote, "parsed traceparent is remote");
  const std::string out = firebreak::format_traceparent(*ctx);
  check(out.size() == firebreak::kTraceparentSize, "formatted traceparent is 55 characters");
  const auto again = firebreak::parse_traceparent(out);
  check(again && again->trace_id == ctx->trace_id && again->span_id == ctx->span_id &&
            again->sampled() == ctx->sampled(),
        "formatted traceparent parses back");
}

void check_tracestate(std::string_view value) {
  const auto ts = firebreak::TraceState::parse(value);
  if (!ts) return;
  check(ts->size() <= firebreak::TraceState::kMaxMembers, "at most 32 members");
  std::set<std::string> keys;
  for (const auto& m : ts->members()) {
    check(firebreak::TraceState::valid_key(m.key), "valid key");
    check(firebreak::TraceState::valid_value(m.value), "valid value");
    check(keys.insert(m.key).second, "no duplicate key");
  }
  const std::string header = ts->header();
  check(header.size() <= firebreak::TraceState::kMaxLength || ts->size() == 1,
        "at most 512 characters");
  const auto again = firebreak::TraceState::parse(header);
  check(again && *again == *ts, "header parses back to the same list");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos <= input.size();) {
    std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    lines.push_back(input.substr(pos, nl - pos));
    pos = nl + 1;
  }

  check_traceparent(input);
  check_tracestate(input);
  firebreak::TraceContextExtractor extractor;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    check_traceparent(lines[i]);
    check_tracestate(lines[i]);
    extractor.add(i == 0 ? "traceparent" : "TraceState", lines[i]);
  }
  const firebreak::SpanContext ctx = extractor.context();
  if (ctx.valid()) {
    const auto tp = firebreak::parse_traceparent(lines[0]);
    check(tp && tp->trace_id == ctx.trace_id && tp->span_id == ctx.span_id,
          "extracted context is the traceparent's");
    check(ctx.trace_state.size() <= firebreak::TraceState::kMaxMembers,
          "extracted tracestate bound");
  } else {
    check(ctx.trace_state.empty(), "no tracestate without a traceparent");
  }
  return 0;
}
