#include "watch/tsdb/records.h"

#include <bit>
#include <cstring>

#include "watch/tsdb/file_util.h"

namespace watch::tsdb {

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  put_varint(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

bool ByteReader::varint(std::uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return false;
    const std::uint8_t b = data_[pos_++];
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  pos_ = data_.size();  // more than 10 bytes: malformed
  return false;
}

bool ByteReader::svarint(std::int64_t& v) {
  std::uint64_t u = 0;
  if (!varint(u)) return false;
  v = unzigzag(u);
  return true;
}

bool ByteReader::u64(std::uint64_t& v) {
  if (left() < 8) return false;
  v = file::get_u64(data_.data() + pos_);
  pos_ += 8;
  return true;
}

bool ByteReader::u32(std::uint32_t& v) {
  if (left() < 4) return false;
  v = file::get_u32(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool ByteReader::bytes(std::size_t n, std::span<const std::uint8_t>& out) {
  if (left() < n) return false;
  out = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}

bool ByteReader::string(std::string& s) {
  std::uint64_t n = 0;
  std::span<const std::uint8_t> b;
  if (!varint(n) || n > left() || !bytes(static_cast<std::size_t>(n), b)) return false;
  s.assign(reinterpret_cast<const char*>(b.data()), b.size());
  return true;
}

void encode_series(std::uint64_t ref, const LabelSet& labels, std::vector<std::uint8_t>& out) {
  put_varint(out, ref);
  put_varint(out, labels.size());
  for (const Label& l : labels) {
    put_string(out, l.name);
    put_string(out, l.value);
  }
}

bool decode_series(std::span<const std::uint8_t> payload, std::vector<RefSeries>& out) {
  ByteReader r(payload);
  while (!r.done()) {
    RefSeries s;
    std::uint64_t n = 0;
    if (!r.varint(s.ref) || !r.varint(n) || n > r.left() / 2) return false;
    std::vector<Label> labels(static_cast<std::size_t>(n));
    for (Label& l : labels)
      if (!r.string(l.name) || !r.string(l.value)) return false;
    s.labels = LabelSet::from(std::move(labels));
    out.push_back(std::move(s));
  }
  return true;
}

void encode_samples(std::span<const RefSample> samples, std::vector<std::uint8_t>& out) {
  if (samples.empty()) return;
  const RefSample& base = samples.front();
  put_varint(out, base.ref);
  put_varint(out, zigzag(base.t));
  std::uint64_t prev_ref = base.ref;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const RefSample& s = samples[i];
    if (i > 0) {
      put_varint(out, zigzag(static_cast<std::int64_t>(s.ref - prev_ref)));
      put_varint(out, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(s.t) -
                                                       static_cast<std::uint64_t>(base.t))));
    }
    prev_ref = s.ref;
    const auto bits = std::bit_cast<std::uint64_t>(s.v);
    const std::size_t at = out.size();
    out.resize(at + 8);
    for (int b = 0; b < 8; ++b) out[at + b] = static_cast<std::uint8_t>(bits >> (8 * b));
  }
}

bool decode_samples(std::span<const std::uint8_t> payload, std::vector<RefSample>& out) {
  ByteReader r(payload);
  if (r.done()) return true;
  std::uint64_t base_ref = 0, base_t = 0;
  if (!r.varint(base_ref) || !r.varint(base_t)) return false;
  const std::int64_t t0 = unzigzag(base_t);
  std::uint64_t ref = base_ref;
  bool first = true;
  while (!r.done()) {
    RefSample s;
    if (first) {
      s.t = t0;
      first = false;
    } else {
      std::int64_t dref = 0, dt = 0;
      if (!r.svarint(dref) || !r.svarint(dt)) return false;
      ref += static_cast<std::uint64_t>(dref);
      s.t = static_cast<std::int64_t>(static_cast<std::uint64_t>(t0) +
                                      static_cast<std::uint64_t>(dt));
    }
    s.ref = ref;
    std::uint64_t bits = 0;
    if (!r.u64(bits)) return false;
    s.v = std::bit_cast<double>(bits);
    out.push_back(s);
  }
  return true;
}

}  // namespace watch::tsdb
