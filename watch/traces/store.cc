// The trace store: traces in a list by arrival (oldest first, the eviction
// order) with an index by trace id; each trace keeps its spans in arrival
// order and a summary recomputed whenever a request adds to it. Resources
// are shared by content across requests and traces.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "watch/traces/otlp_reader.h"
#include "watch/traces/traces.h"

namespace watch::traces {

const std::string& Span::service() const {
  static const std::string kUnknown = "unknown_service";
  return resource ? resource->service : kUnknown;
}

const Value* Span::attribute(std::string_view key) const {
  for (const Attribute& a : attributes)
    if (a.key == key) return &a.value;
  return nullptr;
}

namespace {

// An HTTP status code attribute of 500 or more, however it was typed.
bool server_error_status(const Value* v) {
  if (v == nullptr) return false;
  switch (v->type) {
    case Value::Type::kInt:
      return v->int_value >= 500;
    case Value::Type::kDouble:
      return v->double_value >= 500;
    case Value::Type::kString: {
      int code = 0;
      const auto [end, ec] = std::from_chars(v->text.data(), v->text.data() + v->text.size(), code);
      return ec == std::errc() && end == v->text.data() + v->text.size() && code >= 500;
    }
    default:
      return false;
  }
}

}  // namespace

bool Span::failed() const {
  return status == firebreak::StatusCode::kError ||
         server_error_status(attribute("http.response.status_code")) ||
         server_error_status(attribute("http.status_code"));
}

std::string log_correlation_id(const firebreak::TraceId& trace_id) {
  return trace_id.to_hex();
}

namespace {

std::uint64_t key_of(const firebreak::SpanId& id) {
  std::uint64_t k;
  std::memcpy(&k, id.bytes().data(), sizeof k);
  return k;
}

// Heap bytes of a string beyond the object (libstdc++ keeps 15 inline).
std::size_t heap(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

std::size_t heap(const std::vector<Attribute>& attributes) {
  std::size_t n = attributes.capacity() * sizeof(Attribute);
  for (const Attribute& a : attributes) n += heap(a.key) + heap(a.value.text);
  return n;
}

// What a span holds beyond its own object (counted with its trace's vector).
std::size_t heap(const Span& s) {
  std::size_t n = heap(s.name) + heap(s.scope) + heap(s.status_message) + heap(s.attributes);
  n += s.events.capacity() * sizeof(Event);
  for (const Event& e : s.events) n += heap(e.name) + heap(e.attributes);
  n += s.links.capacity() * sizeof(Link);
  for (const Link& l : s.links) n += heap(l.attributes);
  return n;
}

// Hash-table and list node overheads, roughly.
constexpr std::size_t kNodeBytes = 64;

std::size_t heap(const TraceSummary& s) {
  std::size_t n = heap(s.root_name) + heap(s.root_service) + heap(s.route);
  n += s.services.capacity() * sizeof(std::string);
  for (const auto& service : s.services) n += heap(service);
  return n;
}

std::size_t bytes_of(const Resource& r, const std::string& key) {
  return sizeof(Resource) + heap(r.service) + heap(r.attributes) + key.size() + 2 * kNodeBytes;
}

// A resource's content, as the key it is shared under.
std::string resource_key(const Resource& r) {
  std::string key;
  for (const Attribute& a : r.attributes) {
    key += a.key;
    key += '\0';
    key += static_cast<char>('0' + static_cast<int>(a.value.type));
    switch (a.value.type) {
      case Value::Type::kBool:
        key += a.value.bool_value ? '1' : '0';
        break;
      case Value::Type::kInt:
        key += std::to_string(a.value.int_value);
        break;
      case Value::Type::kDouble:
        key.append(reinterpret_cast<const char*>(&a.value.double_value), sizeof(double));
        break;
      default:
        key += a.value.text;
        break;
    }
    key += '\0';
  }
  return key;
}

bool earlier(const Span& a, const Span& b) {
  if (a.start_unix_nano != b.start_unix_nano) return a.start_unix_nano < b.start_unix_nano;
  return key_of(a.span_id) < key_of(b.span_id);
}

// The spans' ids, sorted, with their index: the parent lookup.
using IdIndex = std::vector<std::pair<std::uint64_t, std::size_t>>;

IdIndex id_index(const std::vector<Span>& spans) {
  IdIndex ids;
  ids.reserve(spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) ids.emplace_back(key_of(spans[i].span_id), i);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<std::size_t> find_id(const IdIndex& ids, const firebreak::SpanId& id) {
  const std::uint64_t k = key_of(id);
  auto it = std::lower_bound(ids.begin(), ids.end(), std::pair<std::uint64_t, std::size_t>{k, 0});
  if (it == ids.end() || it->first != k) return std::nullopt;
  return it->second;
}

const std::string* route_of(const Span& s) {
  const Value* v = s.attribute("http.route");
  return v && v->type == Value::Type::kString && !v->text.empty() ? &v->text : nullptr;
}

TraceSummary summarize(const firebreak::TraceId& id, const std::vector<Span>& spans) {
  TraceSummary s;
  s.trace_id = id;
  s.span_count = spans.size();
  if (spans.empty()) return s;
  s.start_unix_nano = spans[0].start_unix_nano;
  s.end_unix_nano = spans[0].start_unix_nano;
  std::set<std::string_view> services;
  for (const Span& span : spans) {
    s.start_unix_nano = std::min(s.start_unix_nano, span.start_unix_nano);
    s.end_unix_nano = std::max({s.end_unix_nano, span.start_unix_nano, span.end_unix_nano});
    services.insert(span.service());
    if (!s.error && span.failed()) s.error = true;
  }
  s.services.assign(services.begin(), services.end());

  // The root: a span without a parent; else the earliest span whose parent
  // is not held; else (a cycle) the earliest span.
  const Span* root = nullptr;
  for (const Span& span : spans)
    if (!span.parent_span_id.valid() && (!root || earlier(span, *root))) root = &span;
  s.has_root = root != nullptr;
  if (!root) {
    const IdIndex ids = id_index(spans);
    for (const Span& span : spans)
      if (!find_id(ids, span.parent_span_id) && (!root || earlier(span, *root))) root = &span;
  }
  if (!root)
    root = &*std::min_element(spans.begin(), spans.end(),
                              [](const Span& a, const Span& b) { return earlier(a, b); });
  s.root_name = root->name;
  s.root_service = root->service();

  const std::string* route = route_of(*root);
  const Span* from = nullptr;
  for (int pass = 0; pass < 2 && !route; ++pass) {
    for (const Span& span : spans) {
      if (pass == 0 && span.kind != firebreak::SpanKind::kServer) continue;
      if (route_of(span) && (!from || earlier(span, *from))) from = &span;
    }
    if (from) route = route_of(*from);
  }
  if (route) s.route = *route;
  return s;
}

// The spans in waterfall order (traces.h, TraceView::spans).
std::vector<SpanNode> waterfall(std::vector<Span> spans) {
  const std::size_t n = spans.size();
  const IdIndex ids = id_index(spans);
  std::vector<std::optional<std::size_t>> parent(n);
  std::vector<std::vector<std::size_t>> children(n);
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < n; ++i) {
    if (spans[i].parent_span_id.valid()) parent[i] = find_id(ids, spans[i].parent_span_id);
    if (parent[i] == i) parent[i].reset();
    if (parent[i])
      children[*parent[i]].push_back(i);
    else
      roots.push_back(i);
  }
  const auto by_start = [&](std::size_t a, std::size_t b) { return earlier(spans[a], spans[b]); };
  for (auto& c : children) std::sort(c.begin(), c.end(), by_start);
  // True roots first, then the spans whose parent is not held.
  std::sort(roots.begin(), roots.end(), [&](std::size_t a, std::size_t b) {
    const bool ra = !spans[a].parent_span_id.valid(), rb = !spans[b].parent_span_id.valid();
    if (ra != rb) return ra;
    return by_start(a, b);
  });
  // Spans on a cycle of parent links are reached from no root: each such
  // cycle is entered at its earliest span, whose parent link is then ignored.
  std::vector<std::size_t> rest(n);
  for (std::size_t i = 0; i < n; ++i) rest[i] = i;
  std::sort(rest.begin(), rest.end(), by_start);

  std::vector<SpanNode> out;
  out.reserve(n);
  std::vector<std::size_t> position(n, SIZE_MAX);
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // (span, depth)
  const auto visit_from = [&](std::size_t start) {
    stack.emplace_back(start, 0);
    while (!stack.empty()) {
      const auto [i, depth] = stack.back();
      stack.pop_back();
      if (position[i] != SIZE_MAX) continue;
      position[i] = out.size();
      SpanNode node;
      node.depth = depth;
      node.parent_missing = spans[i].parent_span_id.valid() && !parent[i];
      if (parent[i] && i != start) node.parent_index = position[*parent[i]];
      node.span = std::move(spans[i]);
      out.push_back(std::move(node));
      for (auto c = children[i].rbegin(); c != children[i].rend(); ++c)
        if (position[*c] == SIZE_MAX) stack.emplace_back(*c, depth + 1);
    }
  };
  for (std::size_t r : roots) visit_from(r);
  for (std::size_t i : rest)
    if (position[i] == SIZE_MAX) visit_from(i);
  return out;
}

Limits with_defaults(Limits l) {
  const Limits d;
  for (auto field : {&Limits::max_spans, &Limits::max_bytes, &Limits::max_spans_per_trace,
                     &Limits::max_value_bytes, &Limits::max_attributes_per_span,
                     &Limits::max_events_per_span, &Limits::max_links_per_span})
    if (l.*field == 0) l.*field = d.*field;
  return l;
}

bool before(const firebreak::TraceId& a, const firebreak::TraceId& b) {
  return a.bytes() < b.bytes();
}

}  // namespace

struct Store::State {
  struct Trace {
    firebreak::TraceId id;
    std::vector<Span> spans;  // in arrival order
    std::size_t span_heap = 0;
    std::size_t bytes = 0;  // what the trace is counted for
    TraceSummary summary;
    bool touched = false;  // by the request being inserted
  };
  struct IdHash {
    std::size_t seed;
    std::size_t operator()(const firebreak::TraceId& id) const noexcept {
      std::uint64_t a, b;
      std::memcpy(&a, id.bytes().data(), 8);
      std::memcpy(&b, id.bytes().data() + 8, 8);
      std::uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ull) ^ seed;
      x ^= x >> 31;
      x *= 0xbf58476d1ce4e5b9ull;
      x ^= x >> 29;
      return static_cast<std::size_t>(x);
    }
  };
  struct Metrics {
    firebreak::Counter received, truncated;
    firebreak::Counter invalid, duplicate, trace_limit, evicted;
    firebreak::Counter attributes_dropped, events_dropped, links_dropped;
    firebreak::Counter requests_ok, requests_partial, requests_invalid;
    firebreak::Gauge spans, traces, bytes;
  };

  explicit State(const StoreOptions& options)
      : limits(with_defaults(options.limits)),
        index(16, IdHash{static_cast<std::size_t>(std::random_device{}())}),
        resource_bytes(std::make_shared<std::atomic<std::size_t>>(0)) {
    if (firebreak::Registry* reg = options.registry) {
      m.received = reg->counter({.name = "watch_traces_spans_received_total",
                                 .help = "Spans read from OTLP requests (POST /v1/traces)."})
                       .labels();
      auto& dropped = reg->counter(
          {.name = "watch_traces_spans_dropped_total",
           .help = "Spans not kept, by reason: invalid (rejected: ids missing or malformed), "
                   "trace_limit (rejected: the trace holds traces.max_spans_per_trace), "
                   "duplicate (a span id the trace holds), evicted (an older trace dropped to "
                   "stay within traces.max_spans and traces.max_bytes).",
           .labels = {"reason"}});
      m.invalid = dropped.labels("invalid");
      m.trace_limit = dropped.labels("trace_limit");
      m.duplicate = dropped.labels("duplicate");
      m.evicted = dropped.labels("evicted");
      m.truncated = reg->counter({.name = "watch_traces_values_truncated_total",
                                  .help = "Attribute keys and values, names and messages cut to "
                                          "the value length limit."})
                        .labels();
      auto& items = reg->counter(
          {.name = "watch_traces_span_items_dropped_total",
           .help = "Attributes, events and links dropped from spans over the per-span limits.",
           .labels = {"item"}});
      m.attributes_dropped = items.labels("attribute");
      m.events_dropped = items.labels("event");
      m.links_dropped = items.labels("link");
      auto& requests = reg->counter(
          {.name = "watch_traces_requests_total",
           .help = "OTLP trace requests read, by result: ok, partial (some spans rejected), "
                   "invalid (not readable: answered 400).",
           .labels = {"result"}});
      m.requests_ok = requests.labels("ok");
      m.requests_partial = requests.labels("partial");
      m.requests_invalid = requests.labels("invalid");
      m.spans = reg->gauge({.name = "watch_traces_held_spans", .help = "Spans held."}).labels();
      m.traces = reg->gauge({.name = "watch_traces_held", .help = "Traces held."}).labels();
      m.bytes = reg->gauge({.name = "watch_traces_held_bytes",
                            .help = "Estimated memory held by traces (bounded by "
                                    "traces.max_bytes).",
                            .unit = "bytes"})
                    .labels();
    }
  }

  std::size_t bytes_locked() const { return trace_bytes + resource_bytes->load(); }

  std::shared_ptr<const Resource> intern_locked(const std::shared_ptr<const Resource>& r) {
    std::string key = resource_key(*r);
    auto it = resources.find(key);
    if (it != resources.end())
      if (auto live = it->second.lock()) return live;
    const std::size_t size = bytes_of(*r, key);
    resource_bytes->fetch_add(size);
    std::shared_ptr<const Resource> shared(new Resource(*r),
                                           [counter = resource_bytes, size](const Resource* p) {
                                             counter->fetch_sub(size);
                                             delete p;
                                           });
    resources[std::move(key)] = shared;
    if (resources.size() > 2 * swept_at + 64) {
      std::erase_if(resources, [](const auto& kv) { return kv.second.expired(); });
      swept_at = resources.size();
    }
    return shared;
  }

  void recount_locked(Trace& t) {
    trace_bytes -= t.bytes;
    t.summary = summarize(t.id, t.spans);
    t.bytes = sizeof(Trace) + 2 * kNodeBytes + t.spans.capacity() * sizeof(Span) + t.span_heap +
              heap(t.summary);
    trace_bytes += t.bytes;
  }

  void insert_locked(std::vector<Span>& incoming, IngestResult& result,
                     std::vector<std::string>& reasons) {
    std::vector<Trace*> touched;
    std::vector<std::pair<const Resource*, std::shared_ptr<const Resource>>> interned;
    for (Span& span : incoming) {
      Trace* t;
      if (auto it = index.find(span.trace_id); it != index.end()) {
        t = &*it->second;
      } else {
        traces.push_back(Trace{.id = span.trace_id});
        index.emplace(span.trace_id, std::prev(traces.end()));
        t = &traces.back();
      }
      if (t->spans.size() >= limits.max_spans_per_trace) {
        ++result.rejected;
        m.trace_limit.inc();
        if (reasons.size() < detail::kMaxReasons)
          reasons.push_back(
              fmt::format("span {} of trace {}: the trace holds {} spans already "
                          "(traces.max_spans_per_trace)",
                          span.span_id.to_hex(), span.trace_id.to_hex(), t->spans.size()));
        continue;
      }
      const std::uint64_t k = key_of(span.span_id);
      if (std::any_of(t->spans.begin(), t->spans.end(),
                      [k](const Span& s) { return key_of(s.span_id) == k; })) {
        m.duplicate.inc();
        continue;
      }
      auto r = std::find_if(interned.begin(), interned.end(),
                            [&](const auto& p) { return p.first == span.resource.get(); });
      if (r == interned.end()) {
        interned.emplace_back(span.resource.get(), intern_locked(span.resource));
        r = std::prev(interned.end());
      }
      span.resource = r->second;
      t->span_heap += heap(span);
      t->spans.push_back(std::move(span));
      ++spans;
      if (!t->touched) {
        t->touched = true;
        touched.push_back(t);
      }
    }
    for (Trace* t : touched) {
      t->touched = false;
      recount_locked(*t);
    }
    evict_locked();
  }

  void evict_locked() {
    while (!traces.empty() && (spans > limits.max_spans || bytes_locked() > limits.max_bytes)) {
      Trace& t = traces.front();
      spans -= t.spans.size();
      trace_bytes -= t.bytes;
      m.evicted.inc(static_cast<double>(t.spans.size()));
      index.erase(t.id);
      traces.pop_front();  // frees the resources no span holds any more
    }
    m.spans.set(static_cast<double>(spans));
    m.traces.set(static_cast<double>(traces.size()));
    m.bytes.set(static_cast<double>(bytes_locked()));
  }

  mutable std::mutex mu;
  Limits limits;            // guarded by mu
  std::list<Trace> traces;  // guarded by mu: oldest first
  std::unordered_map<firebreak::TraceId, std::list<Trace>::iterator, IdHash> index;  // ditto
  std::size_t spans = 0;        // guarded by mu
  std::size_t trace_bytes = 0;  // guarded by mu
  // Resources by content (resource_key), each counted in resource_bytes
  // while a span holds it.
  std::unordered_map<std::string, std::weak_ptr<const Resource>> resources;  // guarded by mu
  std::size_t swept_at = 0;                                                  // guarded by mu
  std::shared_ptr<std::atomic<std::size_t>> resource_bytes;
  Metrics m;
};

Store::Store(StoreOptions options) : state_(std::make_unique<State>(options)) {}

Store::~Store() = default;

IngestResult Store::ingest(std::string_view otlp_json) {
  State& s = *state_;
  const Limits limits = this->limits();
  detail::ReadResult read = detail::read_otlp_json(otlp_json, limits);
  IngestResult result;
  if (!read.error.empty()) {
    s.m.requests_invalid.inc();
    result.error = std::move(read.error);
    return result;
  }
  result.received = read.received;
  result.rejected = read.rejected;
  s.m.received.inc(static_cast<double>(read.received));
  s.m.invalid.inc(static_cast<double>(read.rejected));
  s.m.truncated.inc(static_cast<double>(read.values_truncated));
  s.m.attributes_dropped.inc(static_cast<double>(read.attributes_dropped));
  s.m.events_dropped.inc(static_cast<double>(read.events_dropped));
  s.m.links_dropped.inc(static_cast<double>(read.links_dropped));
  {
    std::lock_guard lock(s.mu);
    s.insert_locked(read.spans, result, read.reasons);
  }
  result.accepted = result.received - result.rejected;
  if (result.rejected > 0) {
    result.rejection = detail::join_reasons(read.reasons, result.rejected);
    s.m.requests_partial.inc();
  } else {
    s.m.requests_ok.inc();
  }
  return result;
}

std::vector<TraceSummary> Store::find(const Query& query) const {
  const State& s = *state_;
  std::lock_guard lock(s.mu);
  std::vector<const TraceSummary*> hits;
  for (const State::Trace& t : s.traces) {
    const TraceSummary& sum = t.summary;
    if (query.errors_only && !sum.error) continue;
    if (sum.duration_nanos() < query.min_duration_nanos) continue;
    if (!query.route.empty() && sum.route != query.route) continue;
    if (!query.service.empty() &&
        !std::binary_search(sum.services.begin(), sum.services.end(), query.service))
      continue;
    hits.push_back(&sum);
  }
  const auto order = [&](const TraceSummary* a, const TraceSummary* b) {
    if (query.order == Order::kDuration) {
      if (a->duration_nanos() != b->duration_nanos())
        return a->duration_nanos() > b->duration_nanos();
    } else if (a->start_unix_nano != b->start_unix_nano) {
      return a->start_unix_nano > b->start_unix_nano;
    }
    return before(a->trace_id, b->trace_id);
  };
  const std::size_t n =
      query.limit == 0 ? hits.size() : std::min<std::size_t>(query.limit, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n), hits.end(), order);
  std::vector<TraceSummary> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(*hits[i]);
  return out;
}

std::optional<TraceView> Store::get(const firebreak::TraceId& trace_id) const {
  TraceView view;
  std::vector<Span> spans;
  {
    const State& s = *state_;
    std::lock_guard lock(s.mu);
    auto it = s.index.find(trace_id);
    if (it == s.index.end()) return std::nullopt;
    view.summary = it->second->summary;
    spans = it->second->spans;
  }
  view.spans = waterfall(std::move(spans));
  return view;
}

std::vector<std::string> Store::services() const {
  const State& s = *state_;
  std::lock_guard lock(s.mu);
  std::set<std::string> out;
  for (const State::Trace& t : s.traces)
    out.insert(t.summary.services.begin(), t.summary.services.end());
  return {out.begin(), out.end()};
}

std::vector<std::string> Store::routes() const {
  const State& s = *state_;
  std::lock_guard lock(s.mu);
  std::set<std::string> out;
  for (const State::Trace& t : s.traces)
    if (!t.summary.route.empty()) out.insert(t.summary.route);
  return {out.begin(), out.end()};
}

StoreStats Store::stats() const {
  const State& s = *state_;
  std::lock_guard lock(s.mu);
  return {.traces = s.traces.size(), .spans = s.spans, .bytes = s.bytes_locked()};
}

Limits Store::limits() const {
  std::lock_guard lock(state_->mu);
  return state_->limits;
}

void Store::set_limits(const Limits& limits) {
  std::lock_guard lock(state_->mu);
  state_->limits = with_defaults(limits);
  state_->evict_locked();
}

}  // namespace watch::traces
