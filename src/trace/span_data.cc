// SpanData: a span's recorded fields, inline up to a bound (see trace.h).
#include <algorithm>
#include <cstring>

#include "firebreak/trace.h"
#include "trace/extras.h"

namespace firebreak {

using detail::kSpilled;
using detail::StrRef;

bool operator==(const AttributeValue& a, const AttributeValue& b) noexcept {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case AttributeValue::Type::kString:
      return a.s_ == b.s_;
    case AttributeValue::Type::kInt:
      return a.i_ == b.i_;
    case AttributeValue::Type::kDouble:
      return a.d_ == b.d_;
    case AttributeValue::Type::kBool:
      return a.b_ == b.b_;
  }
  return false;
}

Attribute::Attribute(std::string_view k, AttributeValue v) : key(k) {
  switch (v.type()) {
    case AttributeValue::Type::kString:
      value = std::string(v.as_string());
      break;
    case AttributeValue::Type::kInt:
      value = v.as_int();
      break;
    case AttributeValue::Type::kDouble:
      value = v.as_double();
      break;
    case AttributeValue::Type::kBool:
      value = v.as_bool();
      break;
  }
}

AttributeValue Attribute::view() const noexcept {
  return std::visit([](const auto& v) { return AttributeValue(v); }, value);
}

std::string_view to_string(SpanKind kind) {
  switch (kind) {
    case SpanKind::kInternal:
      return "internal";
    case SpanKind::kServer:
      return "server";
    case SpanKind::kClient:
      return "client";
    case SpanKind::kProducer:
      return "producer";
    case SpanKind::kConsumer:
      return "consumer";
  }
  return "unknown";
}

std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kUnset:
      return "unset";
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kError:
      return "error";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------

void detail::ExtrasDeleter::operator()(SpanExtras* extras) const noexcept {
  delete extras;
}

namespace {
std::unique_ptr<detail::SpanExtras, detail::ExtrasDeleter> copy_extras(
    const std::unique_ptr<detail::SpanExtras, detail::ExtrasDeleter>& extras) {
  return std::unique_ptr<detail::SpanExtras, detail::ExtrasDeleter>(
      extras ? new detail::SpanExtras(*extras) : nullptr);
}
}  // namespace

void SpanData::copy_scalars(const SpanData& o) noexcept {
  trace_id_ = o.trace_id_;
  span_id_ = o.span_id_;
  parent_span_id_ = o.parent_span_id_;
  start_ns_ = o.start_ns_;
  end_ns_ = o.end_ns_;
  name_ = o.name_;
  status_message_ = o.status_message_;
  dropped_attributes_ = o.dropped_attributes_;
  used_ = o.used_;
  trace_flags_ = o.trace_flags_;
  inline_count_ = o.inline_count_;
  kind_ = o.kind_;
  status_ = o.status_;
  parent_is_remote_ = o.parent_is_remote_;
  // Only the used part of the inline storage.
  std::memcpy(attrs_, o.attrs_, sizeof(detail::InlineAttribute) * o.inline_count_);
  std::memcpy(bytes_, o.bytes_, o.used_);
}

SpanData::SpanData(SpanData&& other) noexcept
    : trace_state_(std::move(other.trace_state_)), extras_(std::move(other.extras_)) {
  copy_scalars(other);
  other.reset();
}

SpanData& SpanData::operator=(SpanData&& other) noexcept {
  if (this != &other) {
    copy_scalars(other);
    trace_state_ = std::move(other.trace_state_);
    extras_ = std::move(other.extras_);
    other.reset();
  }
  return *this;
}

SpanData::SpanData(const SpanData& other)
    : trace_state_(other.trace_state_), extras_(copy_extras(other.extras_)) {
  copy_scalars(other);
}

SpanData& SpanData::operator=(const SpanData& other) {
  if (this != &other) {
    auto extras = copy_extras(other.extras_);
    copy_scalars(other);
    trace_state_ = other.trace_state_;
    extras_ = std::move(extras);
  }
  return *this;
}

void SpanData::reset() noexcept {
  name_ = {0, 0};
  status_message_ = {0, 0};
  dropped_attributes_ = 0;
  used_ = 0;
  inline_count_ = 0;
  status_ = StatusCode::kUnset;
  trace_state_ = TraceState();
  extras_.reset();
}

detail::SpanExtras& SpanData::extras() {
  if (!extras_) extras_.reset(new detail::SpanExtras());
  return *extras_;
}

std::string_view SpanData::str(StrRef r) const noexcept {
  if (r.off & kSpilled) return extras_->strings[r.off & ~kSpilled];
  return {bytes_ + r.off, r.len};
}

StrRef SpanData::store_spilled(std::string_view s) {
  auto& strings = extras().strings;
  strings.emplace_back(s);
  return {kSpilled | static_cast<std::uint32_t>(strings.size() - 1),
          static_cast<std::uint32_t>(s.size())};
}

void SpanData::set_attribute(std::string_view key, AttributeValue value, const SpanLimits& limits) {
  detail::InlineAttribute* slot = nullptr;
  for (std::size_t i = 0; i < inline_count_; ++i) {
    const StrRef k = attrs_[i].key;
    if (k.len == key.size() && str(k) == key) {
      slot = &attrs_[i];
      break;
    }
  }
  if (!slot) {
    std::size_t count = inline_count_;
    if (extras_) {
      for (auto& a : extras_->attributes) {
        if (a.key == key) {
          a = Attribute(key, value);
          return;
        }
      }
      count += extras_->attributes.size();
    }
    if (count >= limits.max_attributes) {
      ++dropped_attributes_;
      return;
    }
    if (inline_count_ == detail::kInlineAttributes) {
      extras().attributes.emplace_back(key, value);
      return;
    }
    slot = &attrs_[inline_count_++];
    slot->key = store(key);
  }
  slot->type = value.type();
  switch (value.type()) {
    case AttributeValue::Type::kString:
      slot->s = store(value.as_string());
      break;
    case AttributeValue::Type::kInt:
      slot->i = value.as_int();
      break;
    case AttributeValue::Type::kDouble:
      slot->d = value.as_double();
      break;
    case AttributeValue::Type::kBool:
      slot->b = value.as_bool();
      break;
  }
}

std::size_t SpanData::attribute_count() const noexcept {
  return inline_count_ + (extras_ ? extras_->attributes.size() : 0);
}

AttributeView SpanData::attribute(std::size_t i) const noexcept {
  if (i >= inline_count_) {
    const Attribute& a = extras_->attributes[i - inline_count_];
    return {a.key, a.view()};
  }
  const detail::InlineAttribute& a = attrs_[i];
  switch (a.type) {
    case AttributeValue::Type::kString:
      return {str(a.key), AttributeValue(str(a.s))};
    case AttributeValue::Type::kInt:
      return {str(a.key), AttributeValue(a.i)};
    case AttributeValue::Type::kDouble:
      return {str(a.key), AttributeValue(a.d)};
    case AttributeValue::Type::kBool:
      return {str(a.key), AttributeValue(a.b)};
  }
  return {str(a.key), AttributeValue(false)};
}

std::optional<AttributeValue> SpanData::find_attribute(std::string_view key) const noexcept {
  for (std::size_t i = 0, n = attribute_count(); i < n; ++i) {
    const AttributeView a = attribute(i);
    if (a.key == key) return a.value;
  }
  return std::nullopt;
}

std::span<const SpanEvent> SpanData::events() const noexcept {
  if (!extras_) return {};
  return extras_->events;
}

std::uint32_t SpanData::dropped_events() const noexcept {
  return extras_ ? extras_->dropped_events : 0;
}

std::span<const SpanLink> SpanData::links() const noexcept {
  if (!extras_) return {};
  return extras_->links;
}

std::uint32_t SpanData::dropped_links() const noexcept {
  return extras_ ? extras_->dropped_links : 0;
}

}  // namespace firebreak
