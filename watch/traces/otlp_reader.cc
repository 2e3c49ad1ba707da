// The OTLP JSON reader: a SAX handler that walks ExportTraceServiceRequest
// with a stack of frames, one per JSON object or array it is inside, each
// knowing which OTLP message (or repeated field) it is. A key picks the
// field in its message's table; a value is checked against the field's type
// and stored in the span, event, link or attribute being built.
#include "watch/traces/otlp_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <utility>

namespace watch::traces::detail {
namespace {

using Json = nlohmann::json;

// The OTLP messages the reader walks into.
enum class Msg : std::uint8_t {
  kRequest,
  kResourceSpans,
  kResource,
  kScopeSpans,
  kScope,
  kSpan,
  kEvent,
  kLink,
  kStatus,
  kKeyValue,
  kAnyValue,
  kArrayValue,
  kKvlistValue,
};

// The fields it reads; any other key is skipped with its value.
enum class F : std::uint8_t {
  kResourceSpans,
  kResource,
  kScopeSpans,
  kScope,
  kSpans,
  kAttributes,
  kName,
  kTraceId,
  kSpanId,
  kParentSpanId,
  kKind,
  kStartTime,
  kEndTime,
  kDroppedAttributes,
  kEvents,
  kDroppedEvents,
  kLinks,
  kDroppedLinks,
  kStatus,
  kTime,
  kMessage,
  kCode,
  kKey,
  kValue,
  kStringValue,
  kBoolValue,
  kIntValue,
  kDoubleValue,
  kArrayValue,
  kKvlistValue,
  kBytesValue,
  kValues,
};

// A field's JSON shape (proto3 JSON mapping, OTLP's deviations).
enum class T : std::uint8_t {
  kMessage,   // an object (or null)
  kRepeated,  // an array of objects (or null)
  kString,
  kBool,
  kInt64,   // a number or a decimal string
  kUint64,  // fixed64 times: the same, not negative
  kUint32,
  kDouble,  // a number, a decimal string, "NaN", "Infinity", "-Infinity"
  kEnum,    // an integer, or the value's proto name
  kHex,     // a hex string (ids)
  kBytes,   // a base64 string
};

struct FieldDef {
  std::string_view name;
  F id;
  T type;
  Msg child = Msg::kRequest;  // kMessage, kRepeated
};

constexpr FieldDef kRequestFields[] = {
    {"resourceSpans", F::kResourceSpans, T::kRepeated, Msg::kResourceSpans}};
constexpr FieldDef kResourceSpansFields[] = {
    {"resource", F::kResource, T::kMessage, Msg::kResource},
    {"scopeSpans", F::kScopeSpans, T::kRepeated, Msg::kScopeSpans}};
constexpr FieldDef kResourceFields[] = {
    {"attributes", F::kAttributes, T::kRepeated, Msg::kKeyValue}};
constexpr FieldDef kScopeSpansFields[] = {{"scope", F::kScope, T::kMessage, Msg::kScope},
                                          {"spans", F::kSpans, T::kRepeated, Msg::kSpan}};
constexpr FieldDef kScopeFields[] = {{"name", F::kName, T::kString}};
constexpr FieldDef kSpanFields[] = {{"traceId", F::kTraceId, T::kHex},
                                    {"spanId", F::kSpanId, T::kHex},
                                    {"parentSpanId", F::kParentSpanId, T::kHex},
                                    {"name", F::kName, T::kString},
                                    {"kind", F::kKind, T::kEnum},
                                    {"startTimeUnixNano", F::kStartTime, T::kUint64},
                                    {"endTimeUnixNano", F::kEndTime, T::kUint64},
                                    {"attributes", F::kAttributes, T::kRepeated, Msg::kKeyValue},
                                    {"droppedAttributesCount", F::kDroppedAttributes, T::kUint32},
                                    {"events", F::kEvents, T::kRepeated, Msg::kEvent},
                                    {"droppedEventsCount", F::kDroppedEvents, T::kUint32},
                                    {"links", F::kLinks, T::kRepeated, Msg::kLink},
                                    {"droppedLinksCount", F::kDroppedLinks, T::kUint32},
                                    {"status", F::kStatus, T::kMessage, Msg::kStatus}};
constexpr FieldDef kEventFields[] = {{"timeUnixNano", F::kTime, T::kUint64},
                                     {"name", F::kName, T::kString},
                                     {"attributes", F::kAttributes, T::kRepeated, Msg::kKeyValue}};
constexpr FieldDef kLinkFields[] = {{"traceId", F::kTraceId, T::kHex},
                                    {"spanId", F::kSpanId, T::kHex},
                                    {"attributes", F::kAttributes, T::kRepeated, Msg::kKeyValue}};
constexpr FieldDef kStatusFields[] = {{"message", F::kMessage, T::kString},
                                      {"code", F::kCode, T::kEnum}};
constexpr FieldDef kKeyValueFields[] = {{"key", F::kKey, T::kString},
                                        {"value", F::kValue, T::kMessage, Msg::kAnyValue}};
constexpr FieldDef kAnyValueFields[] = {
    {"stringValue", F::kStringValue, T::kString},
    {"boolValue", F::kBoolValue, T::kBool},
    {"intValue", F::kIntValue, T::kInt64},
    {"doubleValue", F::kDoubleValue, T::kDouble},
    {"arrayValue", F::kArrayValue, T::kMessage, Msg::kArrayValue},
    {"kvlistValue", F::kKvlistValue, T::kMessage, Msg::kKvlistValue},
    {"bytesValue", F::kBytesValue, T::kBytes}};
constexpr FieldDef kArrayValueFields[] = {{"values", F::kValues, T::kRepeated, Msg::kAnyValue}};
constexpr FieldDef kKvlistValueFields[] = {{"values", F::kValues, T::kRepeated, Msg::kKeyValue}};

std::span<const FieldDef> fields_of(Msg m) {
  switch (m) {
    case Msg::kRequest:
      return kRequestFields;
    case Msg::kResourceSpans:
      return kResourceSpansFields;
    case Msg::kResource:
      return kResourceFields;
    case Msg::kScopeSpans:
      return kScopeSpansFields;
    case Msg::kScope:
      return kScopeFields;
    case Msg::kSpan:
      return kSpanFields;
    case Msg::kEvent:
      return kEventFields;
    case Msg::kLink:
      return kLinkFields;
    case Msg::kStatus:
      return kStatusFields;
    case Msg::kKeyValue:
      return kKeyValueFields;
    case Msg::kAnyValue:
      return kAnyValueFields;
    case Msg::kArrayValue:
      return kArrayValueFields;
    case Msg::kKvlistValue:
      return kKvlistValueFields;
  }
  return {};
}

std::string_view expected(T t) {
  switch (t) {
    case T::kMessage:
      return "an object";
    case T::kRepeated:
      return "an array";
    case T::kString:
    case T::kHex:
    case T::kBytes:
      return "a string";
    case T::kBool:
      return "true or false";
    case T::kInt64:
      return "a 64-bit integer (a number or a decimal string)";
    case T::kUint64:
      return "a non-negative 64-bit integer (a number or a decimal string)";
    case T::kUint32:
      return "a non-negative 32-bit integer";
    case T::kDouble:
      return "a number";
    case T::kEnum:
      return "an enum value (an integer)";
  }
  return "";
}

// One JSON scalar as the parser delivers it.
struct Scalar {
  enum class Kind : std::uint8_t { kNull, kBool, kInt, kUint, kFloat, kString };
  Kind kind = Kind::kNull;
  bool b = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
  std::string* s = nullptr;
};

// `s` cut to at most `max` bytes without splitting a UTF-8 sequence; true
// when something was cut.
bool cut(std::string& s, std::size_t max) {
  if (s.size() <= max) return false;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return true;
}

std::string json_string(std::string_view s) {
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// "the string \"abc...\"" (its first 40 bytes), for errors.
std::string describe_string(std::string_view s) {
  std::string shown(s.substr(0, 41));
  const bool longer = cut(shown, 40);
  return "the string " + json_string(shown) + (longer ? "..." : "");
}

// "the number 12", "the string \"abc\"", for errors.
std::string describe(const Scalar& v) {
  switch (v.kind) {
    case Scalar::Kind::kNull:
      return "null";
    case Scalar::Kind::kBool:
      return v.b ? "true" : "false";
    case Scalar::Kind::kInt:
      return fmt::format("the number {}", v.i);
    case Scalar::Kind::kUint:
      return fmt::format("the number {}", v.u);
    case Scalar::Kind::kFloat:
      return fmt::format("the number {}", v.d);
    case Scalar::Kind::kString:
      return describe_string(*v.s);
  }
  return "";
}

bool whole(std::string_view s, const char* end) {
  return !s.empty() && end == s.data() + s.size();
}

// An integer field: a JSON integer, an integral float ("1e3", as proto3 JSON
// allows) or a decimal string, in Int's range.
template <class Int>
bool to_integer(const Scalar& v, Int& out) {
  switch (v.kind) {
    case Scalar::Kind::kInt:
      if (!std::in_range<Int>(v.i)) return false;
      out = static_cast<Int>(v.i);
      return true;
    case Scalar::Kind::kUint:
      if (!std::in_range<Int>(v.u)) return false;
      out = static_cast<Int>(v.u);
      return true;
    case Scalar::Kind::kFloat:
      // max() as a double rounds up to 2^63 or 2^64: the first value out of range.
      if (!(v.d >= static_cast<double>(std::numeric_limits<Int>::min()) &&
            v.d < static_cast<double>(std::numeric_limits<Int>::max())) ||
          v.d != std::trunc(v.d))
        return false;
      out = static_cast<Int>(v.d);
      return true;
    case Scalar::Kind::kString: {
      const std::string& s = *v.s;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      return ec == std::errc() && whole(s, end);
    }
    default:
      return false;
  }
}

bool to_double(const Scalar& v, double& out) {
  switch (v.kind) {
    case Scalar::Kind::kInt:
      out = static_cast<double>(v.i);
      return true;
    case Scalar::Kind::kUint:
      out = static_cast<double>(v.u);
      return true;
    case Scalar::Kind::kFloat:
      out = v.d;
      return true;
    case Scalar::Kind::kString: {
      const std::string& s = *v.s;
      if (s == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "Infinity") {
        out = std::numeric_limits<double>::infinity();
      } else if (s == "-Infinity") {
        out = -std::numeric_limits<double>::infinity();
      } else {
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && whole(s, end) && std::isfinite(out);
      }
      return true;
    }
    default:
      return false;
  }
}

// The proto names of Span.SpanKind and Status.StatusCode, by number.
constexpr std::string_view kKindNames[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                           "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                           "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
constexpr std::string_view kCodeNames[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                           "STATUS_CODE_ERROR"};

bool to_enum(const Scalar& v, std::span<const std::string_view> names, std::int64_t& out) {
  if (v.kind == Scalar::Kind::kString) {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (*v.s == names[i]) {
        out = static_cast<std::int64_t>(i);
        return true;
      }
    return false;
  }
  return to_integer(v, out) && out >= std::numeric_limits<std::int32_t>::min() &&
         out <= std::numeric_limits<std::int32_t>::max();
}

std::int64_t clamp_time(std::uint64_t ns) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(ns, std::numeric_limits<std::int64_t>::max()));
}

// An id from hex of either case: exactly 2 * Id::kSize digits.
template <class Id>
std::optional<Id> parse_id(std::string_view hex) {
  if (hex.size() != Id::kHexSize) return std::nullopt;
  char lower[Id::kHexSize];
  for (std::size_t i = 0; i < hex.size(); ++i)
    lower[i] = hex[i] >= 'A' && hex[i] <= 'F' ? static_cast<char>(hex[i] - 'A' + 'a') : hex[i];
  return Id::from_hex(std::string_view(lower, Id::kHexSize));
}

// A value as an element of an array or kvlist's JSON text.
void append_json(std::string& out, const Value& v) {
  switch (v.type) {
    case Value::Type::kEmpty:
      out += "null";
      break;
    case Value::Type::kString:
    case Value::Type::kBytes:
      out += json_string(v.text);
      break;
    case Value::Type::kBool:
      out += v.bool_value ? "true" : "false";
      break;
    case Value::Type::kInt:
      out += std::to_string(v.int_value);
      break;
    case Value::Type::kDouble:
      if (std::isnan(v.double_value))
        out += "\"NaN\"";
      else if (std::isinf(v.double_value))
        out += v.double_value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      else
        out += fmt::format("{}", v.double_value);
      break;
    case Value::Type::kArray:
    case Value::Type::kKvlist:
      out += v.text;
      break;
  }
}

class Reader {
 public:
  Reader(const Limits& limits, ReadResult& out) : limits_(limits), out_(out) {
    frames_.resize(kMaxDepth + 1);
  }

  // --- nlohmann SAX interface
  bool null() { return scalar({.kind = Scalar::Kind::kNull}); }
  bool boolean(bool v) { return scalar({.kind = Scalar::Kind::kBool, .b = v}); }
  bool number_integer(std::int64_t v) { return scalar({.kind = Scalar::Kind::kInt, .i = v}); }
  bool number_unsigned(std::uint64_t v) { return scalar({.kind = Scalar::Kind::kUint, .u = v}); }
  bool number_float(double v, const std::string&) {
    return scalar({.kind = Scalar::Kind::kFloat, .d = v});
  }
  bool string(std::string& v) { return scalar({.kind = Scalar::Kind::kString, .s = &v}); }
  bool binary(Json::binary_t&) { return fail("binary values are not JSON"); }

  bool start_object(std::size_t) {
    if (skip_ > 0) return enter_skip();
    if (depth_ == 0) {
      push(Msg::kRequest, false, "", false);
      return true;
    }
    Frame& top = frames_[depth_ - 1];
    if (top.array) {
      const std::size_t index = top.index++;
      push(top.msg, false, "", true, index);
      begin(top.msg);
      return true;
    }
    if (top.field == nullptr) return enter_skip();
    if (top.field->type != T::kMessage) return type_error(*top.field, "an object");
    const FieldDef& f = *top.field;
    if (!push(f.child, false, f.name, false)) return false;
    begin(f.child);
    return true;
  }

  bool end_object() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    end(frames_[depth_ - 1].msg);
    --depth_;
    return error_.empty();
  }

  bool start_array(std::size_t) {
    if (skip_ > 0) return enter_skip();
    if (depth_ == 0)
      return fail("the body must be a JSON object (an ExportTraceServiceRequest), not an array");
    Frame& top = frames_[depth_ - 1];
    if (top.array)
      return fail(fmt::format("{}[{}]: want an object, got an array", path(), top.index));
    if (top.field == nullptr) return enter_skip();
    if (top.field->type != T::kRepeated) return type_error(*top.field, "an array");
    const FieldDef& f = *top.field;
    return push(f.child, true, f.name, false);
  }

  bool end_array() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    --depth_;
    return true;
  }

  bool key(std::string& k) {
    if (skip_ > 0) return true;
    Frame& top = frames_[depth_ - 1];
    top.field = nullptr;
    for (const FieldDef& f : fields_of(top.msg))
      if (f.name == k) {
        top.field = &f;
        return true;
      }
    skipped_key_.assign(k, 0, 64);  // for errors inside its value
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    std::string_view what = e.what();
    if (const auto p = what.find("] "); p != std::string_view::npos) what.remove_prefix(p + 2);
    const std::string where = depth_ > 0 ? path_of_current() : "";
    error_ = fmt::format("malformed JSON at byte {}{}: {}", position,
                         where.empty() ? "" : " (in " + where + ")", what);
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Msg msg = Msg::kRequest;
    bool array = false;               // a repeated field's array (its elements are `msg`)
    bool element = false;             // an object that is an array element
    std::size_t index = 0;            // element: its index; array: elements so far
    std::string_view label;           // the field name the frame is the value of
    const FieldDef* field = nullptr;  // object: the last key's field (nullptr: skipped)
    // What a KeyValue, AnyValue, ArrayValue or KvlistValue frame builds.
    std::string key;
    Value value;
    std::string json;
    bool json_full = false;
  };

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  bool enter_skip() {
    if (depth_ + skip_ >= kMaxDepth) return too_deep();
    ++skip_;
    return true;
  }

  bool too_deep() {
    return fail(fmt::format("{}: JSON nested deeper than {} levels", path_of_current(), kMaxDepth));
  }

  bool push(Msg msg, bool array, std::string_view label, bool element, std::size_t index = 0) {
    if (depth_ >= kMaxDepth) return too_deep();
    Frame& f = frames_[depth_++];
    f.msg = msg;
    f.array = array;
    f.element = element;
    f.index = index;
    f.label = label;
    f.field = nullptr;
    return true;
  }

  // "resourceSpans[0].scopeSpans[0].spans[2]": where the innermost frame is.
  std::string path() const {
    std::string out;
    for (std::size_t i = 1; i < depth_; ++i) {
      const Frame& f = frames_[i];
      if (f.element) {
        out += fmt::format("[{}]", f.index);
      } else {
        if (!out.empty()) out += '.';
        out += f.label;
      }
    }
    return out;
  }

  std::string path_of(std::string_view field) const {
    std::string p = path();
    if (!p.empty()) p += '.';
    p += field;
    return p;
  }

  // The path of the value being read: the frame, and its current field.
  std::string path_of_current() const {
    const Frame& top = frames_[depth_ - 1];
    if (top.array) return path();
    return path_of(top.field != nullptr ? top.field->name : std::string_view(skipped_key_));
  }

  bool type_error(const FieldDef& f, std::string_view got) {
    return fail(fmt::format("{}: want {}, got {}", path_of(f.name), expected(f.type), got));
  }

  void count_cut(std::string& s) {
    if (cut(s, limits_.max_value_bytes)) ++out_.values_truncated;
  }

  bool scalar(const Scalar& v) {
    if (skip_ > 0) return true;
    if (depth_ == 0)
      return fail("the body must be a JSON object (an ExportTraceServiceRequest), not a scalar");
    Frame& top = frames_[depth_ - 1];
    if (top.array)
      return fail(fmt::format("{}[{}]: want an object, got {}", path(), top.index, describe(v)));
    if (top.field == nullptr || v.kind == Scalar::Kind::kNull) return true;  // skipped, or default
    const FieldDef& f = *top.field;
    const auto wrong = [&] { return type_error(f, describe(v)); };
    switch (f.type) {
      case T::kMessage:
      case T::kRepeated:
        return wrong();
      case T::kString:
      case T::kHex:
      case T::kBytes:
        if (v.kind != Scalar::Kind::kString) return wrong();
        set_string(top, f.id, *v.s);
        return true;
      case T::kBool:
        if (v.kind != Scalar::Kind::kBool) return wrong();
        top.value = Value{.type = Value::Type::kBool, .bool_value = v.b};
        return true;
      case T::kInt64: {
        std::int64_t n = 0;
        if (!to_integer(v, n)) return wrong();
        top.value = Value{.type = Value::Type::kInt, .int_value = n};
        return true;
      }
      case T::kDouble: {
        double d = 0;
        if (!to_double(v, d)) return wrong();
        top.value = Value{.type = Value::Type::kDouble, .double_value = d};
        return true;
      }
      case T::kUint64: {
        std::uint64_t n = 0;
        if (!to_integer(v, n)) return wrong();
        set_time(f.id, clamp_time(n));
        return true;
      }
      case T::kUint32: {
        std::uint64_t n = 0;
        if (!to_integer(v, n) || n > std::numeric_limits<std::uint32_t>::max()) return wrong();
        const auto c = static_cast<std::uint32_t>(n);
        if (f.id == F::kDroppedAttributes && top.msg == Msg::kSpan) span_.dropped_attributes += c;
        if (f.id == F::kDroppedEvents) span_.dropped_events += c;
        if (f.id == F::kDroppedLinks) span_.dropped_links += c;
        return true;
      }
      case T::kEnum: {
        std::int64_t n = 0;
        const bool kind = f.id == F::kKind;
        if (!to_enum(v,
                     kind ? std::span<const std::string_view>(kKindNames)
                          : std::span<const std::string_view>(kCodeNames),
                     n))
          return wrong();
        // Numbers outside the enums read as unspecified and unset.
        if (kind)
          span_.kind = static_cast<firebreak::SpanKind>(n >= 0 && n <= 5 ? n : 0);
        else
          span_.status = static_cast<firebreak::StatusCode>(n >= 0 && n <= 2 ? n : 0);
        return true;
      }
    }
    return true;
  }

  void set_string(Frame& top, F id, std::string& s) {
    switch (top.msg) {
      case Msg::kScope:
        scope_ = std::move(s);
        count_cut(scope_);
        break;
      case Msg::kSpan:
        if (id == F::kTraceId) {
          trace_hex_ = std::move(s);
          has_trace_id_ = true;
        } else if (id == F::kSpanId) {
          span_hex_ = std::move(s);
          has_span_id_ = true;
        } else if (id == F::kParentSpanId) {
          parent_hex_ = std::move(s);
        } else if (id == F::kName) {
          span_.name = std::move(s);
          count_cut(span_.name);
        }
        break;
      case Msg::kEvent:
        event_.name = std::move(s);
        count_cut(event_.name);
        break;
      case Msg::kLink:
        (id == F::kTraceId ? link_trace_hex_ : link_span_hex_) = std::move(s);
        break;
      case Msg::kStatus:
        span_.status_message = std::move(s);
        count_cut(span_.status_message);
        break;
      case Msg::kKeyValue:
        top.key = std::move(s);
        count_cut(top.key);
        break;
      case Msg::kAnyValue:
        top.value = Value{.type = id == F::kBytesValue ? Value::Type::kBytes : Value::Type::kString,
                          .text = std::move(s)};
        if (cut(top.value.text, limits_.max_value_bytes)) {
          top.value.truncated = true;
          ++out_.values_truncated;
        }
        break;
      default:
        break;
    }
  }

  void set_time(F id, std::int64_t ns) {
    if (id == F::kStartTime)
      span_.start_unix_nano = ns;
    else if (id == F::kEndTime)
      span_.end_unix_nano = ns;
    else if (id == F::kTime)
      event_.time_unix_nano = ns;
  }

  // A message's object starts (its frame is on top).
  void begin(Msg m) {
    Frame& f = frames_[depth_ - 1];
    switch (m) {
      case Msg::kResourceSpans:
        resource_ = Resource{};
        resource_begin_ = out_.spans.size();
        break;
      case Msg::kScopeSpans:
        scope_.clear();
        scope_begin_ = out_.spans.size();
        break;
      case Msg::kSpan:
        span_ = Span{};
        trace_hex_.clear();
        span_hex_.clear();
        parent_hex_.clear();
        has_trace_id_ = has_span_id_ = false;
        break;
      case Msg::kEvent:
        event_ = Event{};
        break;
      case Msg::kLink:
        link_ = Link{};
        link_trace_hex_.clear();
        link_span_hex_.clear();
        break;
      case Msg::kKeyValue:
      case Msg::kAnyValue:
        f.key.clear();
        f.value = Value{};
        break;
      case Msg::kArrayValue:
      case Msg::kKvlistValue:
        f.json.assign(1, m == Msg::kArrayValue ? '[' : '{');
        f.json_full = false;
        break;
      default:
        break;
    }
  }

  // A message's object ends (its frame is still on top).
  void end(Msg m) {
    Frame& f = frames_[depth_ - 1];
    switch (m) {
      case Msg::kResourceSpans: {
        if (resource_begin_ == out_.spans.size()) break;
        resource_.service = "unknown_service";
        for (const Attribute& a : resource_.attributes)
          if (a.key == "service.name" && a.value.type == Value::Type::kString)
            resource_.service = a.value.text;
        auto shared = std::make_shared<const Resource>(std::move(resource_));
        for (std::size_t i = resource_begin_; i < out_.spans.size(); ++i)
          out_.spans[i].resource = shared;
        break;
      }
      case Msg::kScopeSpans:
        for (std::size_t i = scope_begin_; i < out_.spans.size(); ++i) out_.spans[i].scope = scope_;
        break;
      case Msg::kSpan:
        end_span();
        break;
      case Msg::kEvent:
        if (span_.events.size() < limits_.max_events_per_span) {
          span_.events.push_back(std::move(event_));
        } else {
          ++span_.dropped_events;
          ++out_.events_dropped;
        }
        break;
      case Msg::kLink: {
        const auto t = parse_id<firebreak::TraceId>(link_trace_hex_);
        const auto s = parse_id<firebreak::SpanId>(link_span_hex_);
        if (t && s && t->valid() && s->valid() && span_.links.size() < limits_.max_links_per_span) {
          link_.trace_id = *t;
          link_.span_id = *s;
          span_.links.push_back(std::move(link_));
        } else {
          ++span_.dropped_links;
          ++out_.links_dropped;
        }
        break;
      }
      case Msg::kKeyValue:
        end_key_value(f);
        break;
      case Msg::kAnyValue:
        end_any_value(f);
        break;
      case Msg::kArrayValue:
      case Msg::kKvlistValue: {
        // The AnyValue this is the arrayValue or kvlistValue of.
        Frame& any = frames_[depth_ - 2];
        if (f.json_full || f.json.size() + 1 > limits_.max_value_bytes) {
          any.value = Value{.type = Value::Type::kString, .truncated = true, .text = f.json};
          cut(any.value.text, limits_.max_value_bytes);
          ++out_.values_truncated;
        } else {
          f.json += m == Msg::kArrayValue ? ']' : '}';
          any.value =
              Value{.type = m == Msg::kArrayValue ? Value::Type::kArray : Value::Type::kKvlist,
                    .text = f.json};
        }
        break;
      }
      default:
        break;
    }
  }

  // Appends to an array's or kvlist's JSON text up to the value limit.
  void append_piece(Frame& composite, std::string_view piece) {
    if (composite.json_full) return;
    const std::size_t max = limits_.max_value_bytes;
    const std::size_t room = max > composite.json.size() ? max - composite.json.size() : 0;
    if (piece.size() > room) {
      composite.json.append(piece.substr(0, room));
      composite.json_full = true;
      return;
    }
    composite.json.append(piece);
  }

  void end_any_value(Frame& f) {
    Frame& parent = frames_[depth_ - 2];
    if (!parent.array) {  // KeyValue.value
      parent.value = std::move(f.value);
      return;
    }
    // ArrayValue.values[i]: frames_[depth_ - 3] is the ArrayValue.
    Frame& array = frames_[depth_ - 3];
    std::string piece = array.json.size() > 1 ? "," : "";
    append_json(piece, f.value);
    append_piece(array, piece);
  }

  void end_key_value(Frame& f) {
    // frames_[depth_ - 2] is the attributes (or values) array; below it, its owner.
    Frame& owner = frames_[depth_ - 3];
    switch (owner.msg) {
      case Msg::kResource:
        add_attribute(resource_.attributes, f, nullptr);
        break;
      case Msg::kSpan:
        add_attribute(span_.attributes, f, &span_.dropped_attributes);
        break;
      case Msg::kEvent:
        add_attribute(event_.attributes, f, nullptr);
        break;
      case Msg::kLink:
        add_attribute(link_.attributes, f, nullptr);
        break;
      case Msg::kKvlistValue: {
        std::string piece = owner.json.size() > 1 ? "," : "";
        piece += json_string(f.key);
        piece += ':';
        append_json(piece, f.value);
        append_piece(owner, piece);
        break;
      }
      default:
        break;
    }
  }

  void add_attribute(std::vector<Attribute>& to, Frame& f, std::uint32_t* dropped) {
    if (to.size() >= limits_.max_attributes_per_span) {
      if (dropped) ++*dropped;
      ++out_.attributes_dropped;
      return;
    }
    to.push_back({std::move(f.key), std::move(f.value)});
  }

  void reject(std::string reason) {
    ++out_.rejected;
    if (out_.reasons.size() < kMaxReasons) out_.reasons.push_back(path() + ": " + reason);
  }

  void end_span() {
    ++out_.received;
    const auto bad_id = [](std::string_view field, std::size_t digits, std::string_view hex) {
      return fmt::format("{}: want {} hex digits, not all zero; got {}", field, digits,
                         describe_string(hex));
    };
    if (!has_trace_id_ || trace_hex_.empty()) return reject("no traceId");
    if (!has_span_id_ || span_hex_.empty()) return reject("no spanId");
    const auto trace = parse_id<firebreak::TraceId>(trace_hex_);
    if (!trace || !trace->valid())
      return reject(bad_id("traceId", firebreak::TraceId::kHexSize, trace_hex_));
    const auto span = parse_id<firebreak::SpanId>(span_hex_);
    if (!span || !span->valid())
      return reject(bad_id("spanId", firebreak::SpanId::kHexSize, span_hex_));
    if (!parent_hex_.empty()) {
      const auto parent = parse_id<firebreak::SpanId>(parent_hex_);
      if (!parent) return reject(bad_id("parentSpanId", firebreak::SpanId::kHexSize, parent_hex_));
      span_.parent_span_id = *parent;  // all zero: no parent
    }
    span_.trace_id = *trace;
    span_.span_id = *span;
    span_.attributes.shrink_to_fit();
    span_.events.shrink_to_fit();
    out_.spans.push_back(std::move(span_));
  }

  const Limits& limits_;
  ReadResult& out_;
  std::vector<Frame> frames_;  // [0, depth_) in use; reused so their strings keep capacity
  std::size_t depth_ = 0;
  std::size_t skip_ = 0;     // levels inside a skipped value
  std::string skipped_key_;  // the key of the last field skipped (cut)
  std::string error_;

  Resource resource_;
  std::size_t resource_begin_ = 0;  // the spans of the current resourceSpans
  std::string scope_;
  std::size_t scope_begin_ = 0;
  Span span_;
  std::string trace_hex_, span_hex_, parent_hex_;
  bool has_trace_id_ = false, has_span_id_ = false;
  Event event_;
  Link link_;
  std::string link_trace_hex_, link_span_hex_;
};

}  // namespace

ReadResult read_otlp_json(std::string_view body, const Limits& limits) {
  ReadResult out;
  Reader reader(limits, out);
  bool ok = false;
  try {
    ok = Json::sax_parse(body.data(), body.data() + body.size(), &reader);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    // The SAX parser reports errors through parse_error(); this is for
    // anything else it may throw.
    out.error = std::string("malformed JSON: ") + e.what();
  }
  if (out.error.empty() && (!ok || !reader.error().empty()))
    out.error = reader.error().empty() ? "malformed JSON" : reader.error();
  if (!out.error.empty()) {
    out.spans.clear();
    out.received = out.rejected = 0;
    out.reasons.clear();
  }
  return out;
}

std::string join_reasons(const std::vector<std::string>& reasons, std::size_t count) {
  std::string out;
  for (const auto& r : reasons) {
    if (!out.empty()) out += "; ";
    out += r;
  }
  if (count > reasons.size()) out += fmt::format("; and {} more", count - reasons.size());
  return out;
}

}  // namespace watch::traces::detail
