// W3C Trace Context: traceparent and tracestate parsing and formatting, and
// extraction from / injection into carriers.
#include <algorithm>
#include <cstring>

#include "firebreak/trace.h"
#include "trace/hex.h"

namespace firebreak {

namespace {

constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;  // b is lowercase
  }
  return true;
}

constexpr bool is_lcalpha(char c) {
  return c >= 'a' && c <= 'z';
}
constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_keychar(char c) {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

bool all_keychars(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_keychar);
}

// The length of "key=value".
std::size_t member_length(const TraceState::Member& m) {
  return m.key.size() + 1 + m.value.size();
}

// Drops whole entries until the combined header fits kMaxLength: entries over
// 128 characters first (from the right), then from the end. Never drops the
// last remaining entry (nor, with keep_first, the first one).
void truncate(std::vector<TraceState::Member>& members, bool keep_first) {
  auto total = [&] {
    std::size_t n = members.empty() ? 0 : members.size() - 1;
    for (const auto& m : members) n += member_length(m);
    return n;
  };
  std::size_t length = total();
  const std::size_t first = keep_first ? 1 : 0;
  while (length > TraceState::kMaxLength && members.size() > 1) {
    std::size_t victim = members.size() - 1;
    for (std::size_t i = members.size(); i-- > first;) {
      if (member_length(members[i]) > 128) {
        victim = i;
        break;
      }
    }
    members.erase(members.begin() + static_cast<std::ptrdiff_t>(victim));
    length = total();
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// traceparent

std::optional<SpanContext> parse_traceparent(std::string_view v) noexcept {
  v = trim_ows(v);
  if (v.size() < kTraceparentSize) return std::nullopt;
  std::uint8_t version = 0;
  if (!detail::hex_decode_lower(v.data(), 1, &version) || v[2] != '-') return std::nullopt;
  if (version == 0xff) return std::nullopt;
  if (version == 0x00 ? v.size() != kTraceparentSize
                      : v.size() > kTraceparentSize && v[kTraceparentSize] != '-')
    return std::nullopt;
  if (v[35] != '-' || v[52] != '-') return std::nullopt;

  std::array<std::uint8_t, TraceId::kSize> trace{};
  std::array<std::uint8_t, SpanId::kSize> span{};
  std::uint8_t flags = 0;
  if (!detail::hex_decode_lower(v.data() + 3, TraceId::kSize, trace.data()) ||
      !detail::hex_decode_lower(v.data() + 36, SpanId::kSize, span.data()) ||
      !detail::hex_decode_lower(v.data() + 53, 1, &flags))
    return std::nullopt;

  SpanContext ctx;
  ctx.trace_id = TraceId(trace);
  ctx.span_id = SpanId(span);
  if (!ctx.valid()) return std::nullopt;
  // A higher version's other flags may mean something we do not know.
  ctx.trace_flags = version == 0 ? flags : static_cast<std::uint8_t>(flags & kTraceFlagSampled);
  ctx.is_remote = true;
  return ctx;
}

void format_traceparent(const SpanContext& context, char* out) noexcept {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  context.trace_id.to_hex(out + 3);
  out[35] = '-';
  context.span_id.to_hex(out + 36);
  out[52] = '-';
  detail::hex_encode(&context.trace_flags, 1, out + 53);
}

std::string format_traceparent(const SpanContext& context) {
  std::string s(kTraceparentSize, '0');
  format_traceparent(context, s.data());
  return s;
}

// ---------------------------------------------------------------------------
// tracestate

TraceState::TraceState(std::vector<Member> members) {
  if (!members.empty()) data_ = std::make_shared<const Data>(Data{std::move(members)});
}

bool TraceState::valid_key(std::string_view key) noexcept {
  const std::size_t at = key.find('@');
  if (at == std::string_view::npos)
    return !key.empty() && key.size() <= 256 && is_lcalpha(key[0]) && all_keychars(key);
  const std::string_view tenant = key.substr(0, at);
  const std::string_view system = key.substr(at + 1);
  return !tenant.empty() && tenant.size() <= 241 &&
         (is_lcalpha(tenant[0]) || is_digit(tenant[0])) && all_keychars(tenant) &&
         !system.empty() && system.size() <= 14 && is_lcalpha(system[0]) && all_keychars(system);
}

bool TraceState::valid_value(std::string_view value) noexcept {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  for (const char c : value) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

std::optional<TraceState> TraceState::parse(std::string_view header) {
  std::vector<Member> members;
  std::size_t pos = 0;
  while (true) {
    std::size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    const std::string_view member = trim_ows(header.substr(pos, comma - pos));
    if (!member.empty()) {
      const std::size_t eq = member.find('=');
      if (eq == std::string_view::npos) return std::nullopt;
      const std::string_view key = member.substr(0, eq);
      const std::string_view value = member.substr(eq + 1);
      if (!valid_key(key) || !valid_value(value)) return std::nullopt;
      if (members.size() == kMaxMembers) return std::nullopt;
      for (const auto& m : members) {
        if (m.key == key) return std::nullopt;
      }
      members.push_back({std::string(key), std::string(value)});
    }
    if (comma == header.size()) break;
    pos = comma + 1;
  }
  truncate(members, false);
  return TraceState(std::move(members));
}

std::span<const TraceState::Member> TraceState::members() const noexcept {
  if (!data_) return {};
  return data_->members;
}

std::optional<std::string_view> TraceState::get(std::string_view key) const noexcept {
  for (const auto& m : members()) {
    if (m.key == key) return std::string_view(m.value);
  }
  return std::nullopt;
}

TraceState TraceState::set(std::string_view key, std::string_view value) const {
  if (!valid_key(key))
    throw std::invalid_argument("tracestate: invalid key \"" + std::string(key) + "\"");
  if (!valid_value(value))
    throw std::invalid_argument("tracestate: invalid value \"" + std::string(value) + "\"");
  std::vector<Member> members;
  members.reserve(size() + 1);
  members.push_back({std::string(key), std::string(value)});
  for (const auto& m : this->members()) {
    if (m.key != key) members.push_back(m);
  }
  if (members.size() > kMaxMembers) members.resize(kMaxMembers);
  truncate(members, true);
  return TraceState(std::move(members));
}

TraceState TraceState::erase(std::string_view key) const {
  if (!get(key)) return *this;
  std::vector<Member> members;
  for (const auto& m : this->members()) {
    if (m.key != key) members.push_back(m);
  }
  return TraceState(std::move(members));
}

std::string TraceState::header() const {
  std::string out;
  for (const auto& m : members()) {
    if (!out.empty()) out += ',';
    out += m.key;
    out += '=';
    out += m.value;
  }
  return out;
}

bool operator==(const TraceState& a, const TraceState& b) noexcept {
  const auto x = a.members();
  const auto y = b.members();
  return std::equal(x.begin(), x.end(), y.begin(), y.end());
}

// ---------------------------------------------------------------------------
// Carriers

namespace {
// Longest combined tracestate kept from one carrier: far above what 32 valid
// members can take, so only garbage is cut (and then rejected as a whole).
constexpr std::size_t kMaxCombinedTracestate = 64 * 1024;
}  // namespace

void TraceContextExtractor::add(std::string_view name, std::string_view value) {
  if (iequals(name, kTraceparentHeader)) {
    if (traceparent_count_++ == 0) traceparent_.assign(value.substr(0, 4096));
  } else if (iequals(name, kTracestateHeader)) {
    if (has_tracestate_) tracestate_ += ',';
    has_tracestate_ = true;
    if (tracestate_.size() + value.size() > kMaxCombinedTracestate) {
      tracestate_.assign(kMaxCombinedTracestate + 1, '!');  // invalid: dropped in context()
    } else {
      tracestate_.append(value);
    }
  }
}

SpanContext TraceContextExtractor::context() const {
  if (traceparent_count_ != 1) return {};
  auto ctx = parse_traceparent(traceparent_);
  if (!ctx) return {};
  if (has_tracestate_) {
    if (auto ts = TraceState::parse(tracestate_)) ctx->trace_state = std::move(*ts);
  }
  return *ctx;
}

void inject(const SpanContext& context, std::vector<std::pair<std::string, std::string>>& headers) {
  if (!context.valid()) return;
  std::erase_if(headers, [](const auto& h) {
    return iequals(h.first, kTraceparentHeader) || iequals(h.first, kTracestateHeader);
  });
  inject(context, [&](std::string_view name, std::string_view value) {
    headers.emplace_back(std::string(name), std::string(value));
  });
}

void inject(const SpanContext& context, std::map<std::string, std::string>& headers) {
  if (!context.valid()) return;
  std::erase_if(headers, [](const auto& h) {
    return iequals(h.first, kTraceparentHeader) || iequals(h.first, kTracestateHeader);
  });
  inject(context, [&](std::string_view name, std::string_view value) {
    headers.insert_or_assign(std::string(name), std::string(value));
  });
}

}  // namespace firebreak
