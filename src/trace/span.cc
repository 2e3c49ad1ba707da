// Spans: starting (parent, ids, sampling), recording, ending; the current span
// of each thread.
#include <algorithm>

#include "firebreak/trace.h"
#include "log/trace_ids.h"
#include "trace/extras.h"
#include "trace/wall_clock.h"

namespace firebreak {

namespace detail {
namespace {

// The context current on this thread. Trivially destructible and constant-
// initialised, so reading it is a plain thread-local load (no TLS guard). The
// tracestate lives in the SpanScope that made the context current.
struct CurrentSlot {
  TraceId trace_id;
  SpanId span_id;
  std::uint8_t flags;
  bool remote;
  const TraceState* state;
};
constinit thread_local CurrentSlot t_current{};

}  // namespace

// The seam the log module calls for every line (log/trace_ids.h).
bool current_trace_ids(TraceIdsHex& out) noexcept {
  const CurrentSlot& c = t_current;
  if (!c.span_id.valid() || !c.trace_id.valid()) return false;
  c.trace_id.to_hex(out.trace_id);
  c.span_id.to_hex(out.span_id);
  constexpr char kDigits[] = "0123456789abcdef";
  out.flags[0] = kDigits[c.flags >> 4];
  out.flags[1] = kDigits[c.flags & 15];
  return true;
}

}  // namespace detail

SpanContext current_span_context() noexcept {
  const auto& c = detail::t_current;
  SpanContext ctx;
  ctx.trace_id = c.trace_id;
  ctx.span_id = c.span_id;
  ctx.trace_flags = c.flags;
  ctx.is_remote = c.remote;
  if (c.state) ctx.trace_state = *c.state;
  return ctx;
}

SpanScope::SpanScope(const SpanContext& context) noexcept : state_(context.trace_state) {
  auto& c = detail::t_current;
  saved_ = {c.trace_id, c.span_id, c.flags, c.remote, c.state};
  c = {context.trace_id, context.span_id, context.trace_flags, context.is_remote,
       state_.empty() ? nullptr : &state_};
}

SpanScope::~SpanScope() {
  detail::t_current = {saved_.trace_id, saved_.span_id, saved_.flags, saved_.remote, saved_.state};
}

// ---------------------------------------------------------------------------
// Span

Span::Span(Span&& other) noexcept
    : context_(std::move(other.context_)), core_(other.core_), data_(std::move(other.data_)) {
  other.core_ = nullptr;
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    context_ = std::move(other.context_);
    core_ = other.core_;
    data_ = std::move(other.data_);
    other.core_ = nullptr;
  }
  return *this;
}

namespace {
std::int64_t to_nanos(Clock::WallTime t) {
  return t.time_since_epoch().count();
}

std::vector<Attribute> own(std::span<const AttributeView> attributes, std::uint32_t max) {
  std::vector<Attribute> out;
  out.reserve(std::min<std::size_t>(attributes.size(), max));
  for (const auto& a : attributes) {
    if (out.size() >= max) break;
    auto same = [&](const Attribute& x) { return x.key == a.key; };
    if (auto it = std::find_if(out.begin(), out.end(), same); it != out.end())
      *it = Attribute(a.key, a.value);
    else
      out.emplace_back(a.key, a.value);
  }
  return out;
}
}  // namespace

Span& Span::add_event(std::string_view name, std::span<const AttributeView> attributes) {
  if (!core_) return *this;
  return add_event(name, Clock::WallTime(Clock::Duration(core_->now_nanos())), attributes);
}

Span& Span::add_event(std::string_view name, Clock::WallTime time,
                      std::span<const AttributeView> attributes) {
  if (!core_) return *this;
  auto& x = data_.extras();
  if (x.events.size() >= core_->limits().max_events) {
    ++x.dropped_events;
    return *this;
  }
  x.events.push_back(
      SpanEvent{time, std::string(name), own(attributes, core_->limits().max_attributes)});
  return *this;
}

Span& Span::add_link(const SpanContext& context, std::span<const AttributeView> attributes) {
  if (!core_ || !context.valid()) return *this;
  auto& x = data_.extras();
  if (x.links.size() >= core_->limits().max_links) {
    ++x.dropped_links;
    return *this;
  }
  x.links.push_back(SpanLink{context, own(attributes, core_->limits().max_attributes)});
  return *this;
}

Span& Span::set_status(StatusCode code, std::string_view message) {
  // As OpenTelemetry: Unset is ignored, Ok is final, a message goes with Error only.
  if (!core_ || code == StatusCode::kUnset || data_.status_ == StatusCode::kOk) return *this;
  data_.status_ = code;
  data_.status_message_ = code == StatusCode::kError ? data_.store(message) : detail::StrRef{0, 0};
  return *this;
}

Span& Span::set_name(std::string_view name) {
  if (core_) data_.name_ = data_.store(name);
  return *this;
}

void Span::end_impl(std::optional<Clock::WallTime> end_time) noexcept {
  const Tracer* tracer = core_;
  core_ = nullptr;
  const std::int64_t end = end_time ? to_nanos(*end_time) : tracer->now_nanos();
  data_.end_ns_ = std::max(end, data_.start_ns_);
  data_.trace_id_ = context_.trace_id;
  data_.span_id_ = context_.span_id;
  data_.trace_flags_ = context_.trace_flags;
  data_.trace_state_ = context_.trace_state;
  tracer->options_.processor->on_end(std::move(data_));
}

// ---------------------------------------------------------------------------
// Tracer

Tracer::Tracer(TracerOptions options)
    : options_(std::move(options)), system_clock_(options_.clock == &Clock::system()) {}

Tracer::~Tracer() = default;

std::int64_t Tracer::now_nanos() const noexcept {
  if (system_clock_) return detail::fast_wall_nanos();
  return to_nanos(options_.clock->wall_now());
}

Span Tracer::start_span(std::string_view name, const SpanOptions& options) const {
  Span span;
  const TraceId* parent_trace;
  const SpanId* parent_span;
  std::uint8_t parent_flags;
  bool parent_remote;
  const TraceState* parent_state;
  if (options.parent) {
    const SpanContext& p = *options.parent;
    parent_trace = &p.trace_id;
    parent_span = &p.span_id;
    parent_flags = p.trace_flags;
    parent_remote = p.is_remote;
    parent_state = &p.trace_state;
  } else {
    const auto& c = detail::t_current;
    parent_trace = &c.trace_id;
    parent_span = &c.span_id;
    parent_flags = c.flags;
    parent_remote = c.remote;
    parent_state = c.state;
  }
  const bool has_parent = parent_trace->valid() && parent_span->valid();

  SpanContext& ctx = span.context_;
  ctx.trace_id = has_parent ? *parent_trace : TraceId::random();
  ctx.span_id = SpanId::random();
  const bool sampled =
      options_.sampler.decide(has_parent, (parent_flags & kTraceFlagSampled) != 0, ctx.trace_id);
  ctx.trace_flags = sampled ? kTraceFlagSampled : 0;
  if (has_parent && parent_state && !parent_state->empty()) ctx.trace_state = *parent_state;

  if (sampled && options_.processor) {
    span.core_ = this;
    SpanData& d = span.data_;
    d.kind_ = options.kind;
    d.name_ = d.store(name);
    if (has_parent) {
      d.parent_span_id_ = *parent_span;
      d.parent_is_remote_ = parent_remote;
    }
    d.start_ns_ = options.start_time ? to_nanos(*options.start_time) : now_nanos();
  }
  return span;
}

bool Tracer::force_flush(std::chrono::milliseconds timeout) const {
  return options_.processor ? options_.processor->force_flush(timeout) : true;
}

void Tracer::shutdown() const {
  if (options_.processor) options_.processor->shutdown();
}

// ---------------------------------------------------------------------------

ScopedSpan::ScopedSpan(std::string_view name, const SpanOptions& options)
    : span_(global_tracer().start_span(name, options)), scope_(span_) {}

ScopedSpan::ScopedSpan(Tracer& tracer, std::string_view name, const SpanOptions& options)
    : span_(tracer.start_span(name, options)), scope_(span_) {}

}  // namespace firebreak
