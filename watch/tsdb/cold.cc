#include "watch/tsdb/cold.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>
#include <utility>

#include "watch/tsdb/records.h"
#include "watch/tsdb/wal.h"

namespace watch::tsdb {
namespace {

constexpr char kMagic[8] = {'F', 'B', 'C', 'O', 'L', 'D', '0', '1'};
constexpr std::size_t kFooterBytes = 64;

void encode_labels(const LabelSet& labels, std::vector<std::uint8_t>& out) {
  std::vector<std::uint8_t> body;
  for (const Label& l : labels) {
    put_string(body, l.name);
    put_string(body, l.value);
  }
  put_varint(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

std::vector<std::uint64_t> intersect(const std::vector<std::uint64_t>& a,
                                     const std::vector<std::uint64_t>& b) {
  std::vector<std::uint64_t> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

bool write_cold_file(const std::string& path, std::vector<ColdSeries> series, std::string* error) {
  std::sort(series.begin(), series.end(),
            [](const ColdSeries& a, const ColdSeries& b) { return a.labels < b.labels; });
  std::vector<std::uint8_t> out(kMagic, kMagic + sizeof kMagic);
  const std::uint64_t series_start = out.size();
  std::map<std::pair<std::string_view, std::string_view>, std::vector<std::uint64_t>> postings;
  std::int64_t min_t = INT64_MAX, max_t = INT64_MIN;
  for (const ColdSeries& s : series) {
    const std::uint64_t offset = out.size() - series_start;
    encode_labels(s.labels, out);
    put_varint(out, s.chunks.size());
    for (const ColdChunk& c : s.chunks) {
      put_varint(out, c.at.file);
      put_varint(out, c.at.offset);
      put_varint(out, zigzag(c.min_t));
      put_varint(out, static_cast<std::uint64_t>(c.max_t) - static_cast<std::uint64_t>(c.min_t));
      put_varint(out, c.bits);
      put_varint(out, c.count);
      min_t = std::min(min_t, c.min_t);
      max_t = std::max(max_t, c.max_t);
    }
    for (const Label& l : s.labels) postings[{l.name, l.value}].push_back(offset);
  }
  const std::uint64_t postings_start = out.size();
  std::vector<std::uint64_t> pairs;
  pairs.reserve(postings.size());
  for (const auto& [pair, list] : postings) {
    pairs.push_back(out.size());
    put_string(out, pair.first);
    put_string(out, pair.second);
    put_varint(out, list.size());
    std::uint64_t prev = 0;
    for (std::uint64_t o : list) {
      put_varint(out, o - prev);
      prev = o;
    }
  }
  const std::uint64_t table_start = out.size();
  for (std::uint64_t p : pairs) file::put_u64(out, p);
  file::put_u64(out, series_start);
  file::put_u64(out, postings_start);
  file::put_u64(out, table_start);
  file::put_u64(out, pairs.size());
  file::put_u64(out, series.size());
  file::put_u64(out, static_cast<std::uint64_t>(series.empty() ? 0 : min_t));
  file::put_u64(out, static_cast<std::uint64_t>(series.empty() ? 0 : max_t));
  file::put_u32(out, wal_crc(out));
  file::put_u32(out, 0);

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (error) *error = file::errno_message("cannot create", tmp);
    return false;
  }
  bool ok = file::write_all(fd, out, error, tmp);
  if (ok && ::fsync(fd) != 0) {
    if (error) *error = file::errno_message("cannot fsync", tmp);
    ok = false;
  }
  ::close(fd);
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (error) *error = file::errno_message("cannot rename", tmp);
    ok = false;
  }
  const std::string dir = path.substr(0, path.rfind('/'));
  if (ok) ok = file::sync_dir(dir.empty() ? "." : dir, error);
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

std::unique_ptr<ColdFile> ColdFile::open(const std::string& path, std::string* error) {
  std::unique_ptr<ColdFile> f(new ColdFile);
  f->path_ = path;
  if (!f->file_.map(path, error)) return nullptr;
  const std::uint8_t* d = f->file_.data();
  const std::size_t size = f->file_.size();
  auto bad = [&](const char* why) -> std::unique_ptr<ColdFile> {
    if (error) *error = path + ": " + why;
    return nullptr;
  };
  if (size < sizeof kMagic + kFooterBytes || std::memcmp(d, kMagic, sizeof kMagic) != 0)
    return bad("not a cold series file");
  const std::uint8_t* footer = d + size - kFooterBytes;
  if (wal_crc({d, size - 8}) != file::get_u32(footer + 56)) return bad("CRC mismatch");
  f->series_start_ = file::get_u64(footer);
  f->postings_start_ = file::get_u64(footer + 8);
  f->table_start_ = file::get_u64(footer + 16);
  f->pair_count_ = file::get_u64(footer + 24);
  f->series_count_ = static_cast<std::size_t>(file::get_u64(footer + 32));
  f->min_t_ = static_cast<std::int64_t>(file::get_u64(footer + 40));
  f->max_t_ = static_cast<std::int64_t>(file::get_u64(footer + 48));
  const std::uint64_t end = size - kFooterBytes;
  if (f->series_start_ != sizeof kMagic || f->postings_start_ < f->series_start_ ||
      f->table_start_ < f->postings_start_ || f->table_start_ > end ||
      (end - f->table_start_) / 8 != f->pair_count_ || (end - f->table_start_) % 8 != 0 ||
      f->series_count_ > (f->postings_start_ - f->series_start_) / 2)
    return bad("malformed footer");
  return f;
}

std::vector<std::uint64_t> ColdFile::all_series() const {
  std::vector<std::uint64_t> out;
  out.reserve(series_count_);
  ByteReader r({file_.data() + series_start_, postings_start_ - series_start_});
  const std::size_t total = postings_start_ - series_start_;
  while (!r.done()) {
    const std::uint64_t at = total - r.left();
    std::uint64_t len = 0, chunks = 0, v = 0;
    std::span<const std::uint8_t> skip;
    if (!r.varint(len) ||
        !r.bytes(static_cast<std::size_t>(std::min<std::uint64_t>(len, r.left())), skip) ||
        !r.varint(chunks))
      break;
    bool ok = true;
    for (std::uint64_t i = 0; ok && i < chunks * 6; ++i) ok = r.varint(v);
    if (!ok) break;
    out.push_back(at);
  }
  return out;
}

std::vector<std::uint64_t> ColdFile::postings_of(const CompiledMatcher& m, bool want) const {
  const std::uint8_t* d = file_.data();
  // Entry i of the table: its name and value, and a reader at its list.
  auto entry = [&](std::uint64_t i, std::string& name, std::string& value) -> ByteReader {
    const std::uint64_t at = file::get_u64(d + table_start_ + 8 * i);
    if (at < postings_start_ || at >= table_start_) return ByteReader({});
    ByteReader r({d + at, table_start_ - at});
    if (!r.string(name) || !r.string(value)) return ByteReader({});
    return r;
  };
  std::string name, value;
  // The first entry not below (m.name(), from): a binary search on the table.
  const std::string* exact = want ? m.equal_value() : nullptr;
  const std::string from = exact ? *exact : std::string();
  std::uint64_t lo = 0, hi = pair_count_;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    entry(mid, name, value);
    if (std::tie(name, value) < std::tie(m.name(), from))
      lo = mid + 1;
    else
      hi = mid;
  }
  std::vector<std::uint64_t> out;
  std::size_t lists = 0;
  for (std::uint64_t i = lo; i < pair_count_; ++i) {
    ByteReader r = entry(i, name, value);
    if (name != m.name() || (exact && value != *exact)) break;
    if (m.matches(value) != want) continue;
    std::uint64_t n = 0, delta = 0, offset = 0;
    if (!r.varint(n)) continue;
    for (std::uint64_t k = 0; k < n && r.varint(delta); ++k) out.push_back(offset += delta);
    ++lists;
  }
  if (lists > 1) std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint64_t> ColdFile::matching(const MatcherSet& matchers) const {
  std::optional<std::vector<std::uint64_t>> result;
  for (const CompiledMatcher& m : matchers.matchers()) {
    if (m.matches_empty()) continue;
    std::vector<std::uint64_t> with = postings_of(m, /*want=*/true);
    result = result ? intersect(*result, with) : std::move(with);
    if (result->empty()) return {};
  }
  for (const CompiledMatcher& m : matchers.matchers()) {
    if (!m.matches_empty()) continue;
    const std::vector<std::uint64_t> refused = postings_of(m, /*want=*/false);
    const std::vector<std::uint64_t> base = result ? std::move(*result) : all_series();
    std::vector<std::uint64_t> kept;
    std::set_difference(base.begin(), base.end(), refused.begin(), refused.end(),
                        std::back_inserter(kept));
    result = std::move(kept);
  }
  return result ? std::move(*result) : all_series();
}

bool ColdFile::read_series(std::uint64_t offset, LabelSet& labels,
                           std::vector<ColdChunk>& chunks) const {
  if (offset >= postings_start_ - series_start_) return false;
  ByteReader r({file_.data() + series_start_ + offset, postings_start_ - series_start_ - offset});
  std::uint64_t len = 0, n = 0;
  std::span<const std::uint8_t> body;
  if (!r.varint(len) || len > r.left() || !r.bytes(static_cast<std::size_t>(len), body) ||
      !r.varint(n) || n > r.left())
    return false;
  std::vector<Label> ls;
  ByteReader lr(body);
  while (!lr.done()) {
    Label l;
    if (!lr.string(l.name) || !lr.string(l.value)) return false;
    ls.push_back(std::move(l));
  }
  labels = LabelSet::adopt_sorted(std::move(ls));
  chunks.clear();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t file = 0, at = 0, min_t = 0, span = 0, bits = 0, count = 0;
    if (!r.varint(file) || !r.varint(at) || !r.varint(min_t) || !r.varint(span) ||
        !r.varint(bits) || !r.varint(count) || count == 0 || count > 0xffff || bits > count * 256 ||
        file > UINT32_MAX)
      return false;
    ColdChunk c;
    c.at = {static_cast<std::uint32_t>(file), at};
    c.min_t = unzigzag(min_t);
    c.max_t = static_cast<std::int64_t>(static_cast<std::uint64_t>(c.min_t) + span);
    c.bits = static_cast<std::uint32_t>(bits);
    c.count = static_cast<std::uint16_t>(count);
    chunks.push_back(c);
  }
  return true;
}

void ColdFile::select(const MatcherSet& matchers, const Visitor& visit) const {
  LabelSet labels;
  std::vector<ColdChunk> chunks;
  for (std::uint64_t offset : matching(matchers)) {
    if (!read_series(offset, labels, chunks)) continue;
    if (!visit(labels, chunks)) return;
  }
}

}  // namespace watch::tsdb
