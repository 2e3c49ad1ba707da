#include "watch/tsdb/head.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <unordered_map>

#include "watch/tsdb/chunk.h"

namespace watch::tsdb {

std::string_view to_string(AppendStatus status) {
  switch (status) {
    case AppendStatus::kOk:
      return "ok";
    case AppendStatus::kOutOfOrder:
      return "out of order sample";
    case AppendStatus::kDuplicateTimestamp:
      return "duplicate sample for timestamp";
    case AppendStatus::kOutOfBounds:
      return "out of bounds";
    case AppendStatus::kSeriesLimit:
      return "series limit reached: the head holds its maximum number of series";
    case AppendStatus::kInvalidLabels:
      return "invalid label set: empty";
    case AppendStatus::kUnknownSeries:
      return "unknown series ref";
  }
  return "unknown status";
}

// ---------------------------------------------------------------------------
// Series and stripes

}  // namespace watch::tsdb

namespace watch::tsdb::detail {

// A label set packed in one allocation: each name and value as a varint
// length and its bytes, in order. A fifth of a LabelSet's memory (which
// spends 64 bytes a label before any string outgrows its inline buffer);
// unpacked only for readers.
class PackedLabels {
 public:
  explicit PackedLabels(const LabelSet& labels) {
    std::size_t n = 0;
    for (const Label& l : labels) n += l.name.size() + l.value.size() + 4;
    std::string buf;
    buf.reserve(n);
    for (const Label& l : labels) {
      put(buf, l.name);
      put(buf, l.value);
    }
    size_ = static_cast<std::uint32_t>(buf.size());
    data_ = std::make_unique_for_overwrite<char[]>(size_);
    std::memcpy(data_.get(), buf.data(), size_);
  }

  // fn(name, value) for each label, in order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    const char* p = data_.get();
    const char* end = p + size_;
    while (p < end) {
      const std::string_view name = get(p);
      const std::string_view value = get(p);
      fn(name, value);
    }
  }

  bool equals(const LabelSet& labels) const {
    auto it = labels.begin();
    const char* p = data_.get();
    const char* end = p + size_;
    while (p < end) {
      if (it == labels.end() || get(p) != it->name || get(p) != it->value) return false;
      ++it;
    }
    return it == labels.end();
  }

  // Into `out`, reusing its strings' storage.
  void unpack_into(std::vector<Label>& out) const {
    std::size_t i = 0;
    for_each([&](std::string_view name, std::string_view value) {
      if (i == out.size()) out.emplace_back();
      out[i].name.assign(name);
      out[i].value.assign(value);
      ++i;
    });
    out.resize(i);
  }
  LabelSet unpack() const {
    std::vector<Label> v;
    unpack_into(v);
    return LabelSet::adopt_sorted(std::move(v));
  }
  std::size_t bytes() const { return size_; }

 private:
  static void put(std::string& out, std::string_view s) {
    std::size_t n = s.size();
    while (n >= 0x80) {
      out.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    out.append(s);
  }
  static std::string_view get(const char*& p) {
    std::size_t n = 0;
    for (unsigned shift = 0;; shift += 7) {
      const auto b = static_cast<unsigned char>(*p++);
      n |= static_cast<std::size_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    const std::string_view s(p, n);
    p += n;
    return s;
  }

  std::unique_ptr<char[]> data_;
  std::uint32_t size_ = 0;
};

// A series' lock: held for one append or while one reader decodes the
// series, so rarely contended; four bytes where std::mutex takes forty (a
// head holds a million of them). Spins briefly, then sleeps on the word
// (a futex).
class SeriesMutex {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (state_.exchange(1, std::memory_order_acquire) == 0) return;
      if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      state_.wait(1, std::memory_order_relaxed);
    }
  }
  void unlock() {
    state_.store(0, std::memory_order_release);
    state_.notify_one();
  }

 private:
  std::atomic<std::uint32_t> state_{0};
};

// What an append touches comes first, in the first two cache lines, so a
// scrape that appends to thousands of series in turn pays as few misses as
// it can (and a writer can prefetch them: Appender::prefetch_series). 160
// bytes: with its shared_ptr control block, one 192-byte allocation.
struct MemSeries {
  MemSeries(const LabelSet& l, std::uint64_t h) : labels(l), hash(h) {}

  static constexpr std::int64_t kNeverSeenEmpty = INT64_MIN;

  mutable SeriesMutex mu;
  bool has_last = false;          // guarded by mu: ever written to
  bool removed = false;           // guarded by mu: collected; appends through handles refuse
  std::int64_t last_t = 0;        // guarded by mu
  std::uint64_t last_v_bits = 0;  // guarded by mu
  // Where the next append writes, for prefetching only (read without mu).
  std::atomic<const std::uint64_t*> write_hint{nullptr};
  ChunkAppender open;  // guarded by mu

  const PackedLabels labels;
  const std::uint64_t hash;
  SeriesRef ref = 0;                // set before the series is published
  std::vector<SealedChunk> sealed;  // guarded by mu; oldest first
  // Never written: the cutoff of the truncate() that first saw it empty.
  std::int64_t seen_empty_at = kNeverSeenEmpty;  // guarded by mu

  bool empty() const { return sealed.empty() && open.empty(); }

  // Appends the samples in [mint, maxt] to out. Requires mu.
  void read(std::int64_t mint, std::int64_t maxt, std::vector<Sample>& out) const {
    auto first = std::lower_bound(sealed.begin(), sealed.end(), mint,
                                  [](const SealedChunk& c, std::int64_t t) { return c.max_t < t; });
    for (auto c = first; c != sealed.end() && c->min_t <= maxt; ++c)
      read_chunk(ChunkIterator(*c), c->min_t, c->max_t, mint, maxt, out);
    if (!open.empty() && open.max_t() >= mint && open.min_t() <= maxt)
      read_chunk(ChunkIterator(open), open.min_t(), open.max_t(), mint, maxt, out);
  }

  static void read_chunk(ChunkIterator it, std::int64_t cmin, std::int64_t cmax, std::int64_t mint,
                         std::int64_t maxt, std::vector<Sample>& out) {
    if (cmin >= mint && cmax <= maxt) {
      while (it.next()) out.push_back(it.sample());
      return;
    }
    while (it.next()) {
      const std::int64_t t = it.t();
      if (t < mint) continue;
      if (t > maxt) break;
      out.push_back(it.sample());
    }
  }

  // Whether a sample lies in [mint, maxt]. Requires mu.
  bool has_sample_in(std::int64_t mint, std::int64_t maxt) const {
    auto overlaps = [&](std::int64_t cmin, std::int64_t cmax, ChunkIterator it) {
      if (cmax < mint || cmin > maxt) return false;
      if (cmin >= mint || cmax <= maxt) return true;  // an end sample is inside
      while (it.next())
        if (it.t() >= mint && it.t() <= maxt) return true;
      return false;
    };
    for (const auto& c : sealed)
      if (overlaps(c.min_t, c.max_t, ChunkIterator(c))) return true;
    return !open.empty() && overlaps(open.min_t(), open.max_t(), ChunkIterator(open));
  }
};

static_assert(sizeof(MemSeries) <= 168, "a series should stay within one 192-byte allocation");

}  // namespace watch::tsdb::detail

namespace watch::tsdb {

namespace {

// splitmix64's finalizer: the stripes pick series by their low bits, so
// within a stripe those are all alike; the tables below need them mixed.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// An open-addressing table of pointers (linear probing, deletion by
// backward shift, at most half full): one pointer a slot and no node per
// element, where a node-based map spends 40 to 60 bytes a series.
// HashOf(element) gives an element's hash.
template <class Ptr, class HashOf>
class FlatTable {
 public:
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return slots_.size(); }

  // The first element from `hash`'s home for which match(element) holds.
  template <class Match>
  Ptr* find(std::uint64_t hash, Match&& match) {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = hash & mask(); slots_[i]; i = (i + 1) & mask())
      if (match(slots_[i])) return &slots_[i];
    return nullptr;
  }
  template <class Match>
  const Ptr* find(std::uint64_t hash, Match&& match) const {
    return const_cast<FlatTable*>(this)->find(hash, std::forward<Match>(match));
  }

  void insert(Ptr p) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(std::move(p));
    ++size_;
  }

  // Removes the element `at` points to (from find()) and returns it.
  Ptr erase(Ptr* at) {
    std::size_t hole = static_cast<std::size_t>(at - slots_.data());
    Ptr out = std::move(slots_[hole]);
    slots_[hole] = Ptr();
    for (std::size_t j = (hole + 1) & mask(); slots_[j]; j = (j + 1) & mask()) {
      const std::size_t home = HashOf{}(slots_[j]) & mask();
      // It may fill the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask()) >= ((j - hole) & mask())) {
        slots_[hole] = std::move(slots_[j]);
        slots_[j] = Ptr();
        hole = j;
      }
    }
    --size_;
    return out;
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const Ptr& p : slots_)
      if (p) fn(p);
  }

 private:
  std::size_t mask() const { return slots_.size() - 1; }
  void place(Ptr p) {
    std::size_t i = HashOf{}(p)&mask();
    while (slots_[i]) i = (i + 1) & mask();
    slots_[i] = std::move(p);
  }
  void grow() {
    std::vector<Ptr> old = std::move(slots_);
    slots_ = std::vector<Ptr>(std::max<std::size_t>(16, old.size() * 2));
    for (Ptr& p : old)
      if (p) place(std::move(p));
  }

  std::vector<Ptr> slots_;
  std::size_t size_ = 0;
};

struct RefHash {
  std::uint64_t operator()(const std::shared_ptr<detail::MemSeries>& s) const {
    return mix(s->ref);
  }
};
struct LabelsHash {
  std::uint64_t operator()(const detail::MemSeries* s) const { return mix(s->hash); }
};

}  // namespace

struct alignas(64) Head::RefStripe {
  mutable std::shared_mutex mu;
  FlatTable<std::shared_ptr<Series>, RefHash> series;  // guarded by mu
  std::atomic<std::uint64_t> appended{0};  // per stripe: no counter shared by all writers

  // Requires mu. Null when the ref is not here.
  std::shared_ptr<Series>* find(SeriesRef ref) {
    return series.find(mix(ref), [ref](const std::shared_ptr<Series>& s) { return s->ref == ref; });
  }
  const std::shared_ptr<Series>* find(SeriesRef ref) const {
    return const_cast<RefStripe*>(this)->find(ref);
  }
};

struct alignas(64) Head::HashStripe {
  mutable std::shared_mutex mu;
  FlatTable<Series*, LabelsHash> by_hash;  // guarded by mu

  Series* find(const LabelSet& labels, std::uint64_t hash) const {  // requires mu
    Series* const* found = by_hash.find(
        mix(hash), [&](Series* s) { return s->hash == hash && s->labels.equals(labels); });
    return found ? *found : nullptr;
  }
};

// ---------------------------------------------------------------------------
// Postings index: label name -> value -> sorted refs.

class Head::Index {
 public:
  mutable std::shared_mutex mu;

  SeriesRef add(const LabelSet& labels) {  // requires mu exclusively
    const SeriesRef ref = ++last_ref_;
    all_.push_back(ref);
    for (const auto& l : labels) postings_[l.name][l.value].push_back(ref);
    return ref;
  }

  // A restored series with its own ref, which may be below refs already
  // added (a restore sees them in log order): appended, and the lists are
  // sorted once by finish_restore(). Requires mu exclusively.
  void add_with_ref(SeriesRef ref, const LabelSet& labels) {
    if (ref < last_ref_) unsorted_ = true;
    all_.push_back(ref);
    for (const auto& l : labels) postings_[l.name][l.value].push_back(ref);
    last_ref_ = std::max(last_ref_, ref);
  }

  void finish_restore() {  // requires mu exclusively
    if (!unsorted_) return;
    std::sort(all_.begin(), all_.end());
    for (auto& [name, values] : postings_)
      for (auto& [value, refs] : values) std::sort(refs.begin(), refs.end());
    unsorted_ = false;
  }

  void reserve(SeriesRef ref) { last_ref_ = std::max(last_ref_, ref); }  // requires mu
  SeriesRef last_ref() const { return last_ref_; }                       // requires mu

  // Removes series; `refs` sorted. Requires mu exclusively.
  void remove(const std::vector<std::pair<SeriesRef, const detail::PackedLabels*>>& removed) {
    std::vector<SeriesRef> refs;
    refs.reserve(removed.size());
    for (const auto& [ref, labels] : removed) refs.push_back(ref);
    std::sort(refs.begin(), refs.end());
    auto erase_refs = [&](std::vector<SeriesRef>& list) {
      std::vector<SeriesRef> kept;
      kept.reserve(list.size());
      std::set_difference(list.begin(), list.end(), refs.begin(), refs.end(),
                          std::back_inserter(kept));
      list.swap(kept);
      if (list.capacity() > 2 * list.size() + 16) list.shrink_to_fit();
    };
    erase_refs(all_);
    // Only the lists of the removed series' labels change.
    std::map<std::pair<std::string_view, std::string_view>, bool> touched;
    for (const auto& [ref, labels] : removed)
      labels->for_each([&](std::string_view name, std::string_view value) {
        touched.emplace(std::pair{name, value}, true);
      });
    for (const auto& [key, unused] : touched) {
      auto name_it = postings_.find(key.first);
      if (name_it == postings_.end()) continue;
      auto value_it = name_it->second.find(std::string(key.second));
      if (value_it == name_it->second.end()) continue;
      erase_refs(value_it->second);
      if (value_it->second.empty()) name_it->second.erase(value_it);
      if (name_it->second.empty()) postings_.erase(name_it);
    }
  }

  // Refs of series that every matcher selects, sorted. Requires mu (shared).
  std::vector<SeriesRef> select(const MatcherSet& set) const {
    std::optional<std::vector<SeriesRef>> result;  // nullopt: every series
    // Matchers that need the label first: they narrow the set most.
    for (const CompiledMatcher& m : set.matchers()) {
      if (m.matches_empty()) continue;
      std::vector<SeriesRef> with = union_of(m, /*want_match=*/true);
      result = result ? intersect(*result, with) : std::move(with);
      if (result->empty()) return {};
    }
    // Matchers that also select series without the label: remove the series
    // whose value they refuse.
    for (const CompiledMatcher& m : set.matchers()) {
      if (!m.matches_empty()) continue;
      const std::vector<SeriesRef> refused = union_of(m, /*want_match=*/false);
      const std::vector<SeriesRef>& base = result ? *result : all_;
      std::vector<SeriesRef> kept;
      kept.reserve(base.size());
      std::set_difference(base.begin(), base.end(), refused.begin(), refused.end(),
                          std::back_inserter(kept));
      result = std::move(kept);
    }
    return result ? std::move(*result) : all_;
  }

  std::vector<std::string> names() const {  // requires mu (shared)
    std::vector<std::string> out;
    out.reserve(postings_.size());
    for (const auto& [name, values] : postings_) out.push_back(name);
    return out;
  }

  std::vector<std::string> values(std::string_view name) const {  // requires mu (shared)
    std::vector<std::string> out;
    auto it = postings_.find(name);
    if (it == postings_.end()) return out;
    out.reserve(it->second.size());
    for (const auto& [value, refs] : it->second) out.push_back(value);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::size_t memory_bytes() const {  // requires mu (shared)
    std::size_t n = all_.capacity() * sizeof(SeriesRef);
    for (const auto& [name, values] : postings_) {
      n += 64 + name.capacity() + values.bucket_count() * sizeof(void*);
      for (const auto& [value, refs] : values)
        n += 64 + (value.size() > 15 ? value.capacity() + 1 : 0) +
             refs.capacity() * sizeof(SeriesRef);
    }
    return n;
  }

 private:
  // Union of the lists of the values `m` accepts (want_match) or refuses.
  std::vector<SeriesRef> union_of(const CompiledMatcher& m, bool want_match) const {
    auto name_it = postings_.find(m.name());
    if (name_it == postings_.end()) return {};
    const auto& values = name_it->second;
    if (want_match && m.equal_value()) {
      auto it = values.find(*m.equal_value());
      return it == values.end() ? std::vector<SeriesRef>{} : it->second;
    }
    std::vector<SeriesRef> out;
    std::size_t lists = 0;
    for (const auto& [value, refs] : values) {
      if (m.matches(value) != want_match) continue;
      out.insert(out.end(), refs.begin(), refs.end());
      ++lists;
    }
    // A series has one value per name: the lists are disjoint.
    if (lists > 1) std::sort(out.begin(), out.end());
    return out;
  }

  static std::vector<SeriesRef> intersect(const std::vector<SeriesRef>& a,
                                          const std::vector<SeriesRef>& b) {
    std::vector<SeriesRef> out;
    out.reserve(std::min(a.size(), b.size()));
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
    return out;
  }

  std::map<std::string, std::unordered_map<std::string, std::vector<SeriesRef>>, std::less<>>
      postings_;
  std::vector<SeriesRef> all_;  // sorted: refs are issued in increasing order under mu
  SeriesRef last_ref_ = 0;
  bool unsorted_ = false;  // restored out of order, not sorted yet
};

// ---------------------------------------------------------------------------

Head::Head(HeadOptions options) : options_(options) {
  if (options_.samples_per_chunk == 0) options_.samples_per_chunk = 120;
  const std::size_t stripes = std::bit_ceil(std::max<std::size_t>(options_.stripes, 1));
  options_.stripes = stripes;
  stripe_mask_ = stripes - 1;
  ref_stripes_ = std::make_unique<RefStripe[]>(stripes);
  hash_stripes_ = std::make_unique<HashStripe[]>(stripes);
  index_ = std::make_unique<Index>();
}

Head::~Head() = default;

SeriesResult Head::get_or_create(const LabelSet& labels) {
  if (labels.empty()) return {AppendStatus::kInvalidLabels, 0, false};
  const std::uint64_t hash = labels.hash();
  HashStripe& hs = hash_stripes_[hash & stripe_mask_];
  {
    std::shared_lock lock(hs.mu);
    if (const Series* s = hs.find(labels, hash)) return {AppendStatus::kOk, s->ref, false};
  }
  std::unique_lock lock(hs.mu);
  if (const Series* s = hs.find(labels, hash)) return {AppendStatus::kOk, s->ref, false};
  if (num_series_.fetch_add(1, std::memory_order_relaxed) >= options_.max_series) {
    num_series_.fetch_sub(1, std::memory_order_relaxed);
    counters_.series_limit_rejections.fetch_add(1, std::memory_order_relaxed);
    return {AppendStatus::kSeriesLimit, 0, false};
  }
  auto series = std::make_shared<Series>(labels, hash);
  {
    std::unique_lock index_lock(index_->mu);
    series->ref = index_->add(labels);
  }
  const SeriesRef ref = series->ref;
  // Logged while the series cannot be found yet: no sample of it can be
  // logged before this.
  if (log_) log_->log_series(ref, labels);
  hs.by_hash.insert(series.get());
  {
    RefStripe& rs = ref_stripes_[ref & stripe_mask_];
    std::unique_lock ref_lock(rs.mu);
    rs.series.insert(std::move(series));
  }
  counters_.series_created.fetch_add(1, std::memory_order_relaxed);
  return {AppendStatus::kOk, ref, true};
}

std::optional<SeriesRef> Head::find(const LabelSet& labels) const {
  const std::uint64_t hash = labels.hash();
  const HashStripe& hs = hash_stripes_[hash & stripe_mask_];
  std::shared_lock lock(hs.mu);
  if (const Series* s = hs.find(labels, hash)) return s->ref;
  return std::nullopt;
}

AppendStatus Head::append(SeriesRef ref, std::int64_t t, double v) {
  const AppendStatus st = append_unlogged(ref, t, v);
  if (st == AppendStatus::kOk && log_) {
    const RefSample sample{ref, t, v};
    log_->log_samples(std::span<const RefSample>(&sample, 1));
  }
  return st;
}

AppendStatus Head::append_unlogged(SeriesRef ref, std::int64_t t, double v) {
  RefStripe& rs = ref_stripes_[ref & stripe_mask_];
  std::shared_lock stripe_lock(rs.mu);
  const auto* found = rs.find(ref);
  if (!found) return AppendStatus::kUnknownSeries;
  return append_to(**found, t, v);
}

LabelSet SeriesHandle::labels() const {
  return s_->labels.unpack();
}

SeriesHandle Head::handle(SeriesRef ref) const {
  const RefStripe& rs = ref_stripes_[ref & stripe_mask_];
  std::shared_lock stripe_lock(rs.mu);
  const auto* found = rs.find(ref);
  return found ? SeriesHandle(*found) : SeriesHandle();
}

AppendStatus Head::append_to(Series& s, std::int64_t t, double v) {
  if (t < min_valid_t_.load(std::memory_order_relaxed)) {
    counters_.out_of_bounds.fetch_add(1, std::memory_order_relaxed);
    return AppendStatus::kOutOfBounds;
  }
  const SeriesRef ref = s.ref;
  const auto bits = std::bit_cast<std::uint64_t>(v);
  std::lock_guard series_lock(s.mu);
  // Collected (truncate() sets this under the same lock): the caller holds a
  // handle to a series the head no longer has.
  if (s.removed) return AppendStatus::kUnknownSeries;
  if (s.has_last && t <= s.last_t) {
    if (t < s.last_t) {
      counters_.out_of_order.fetch_add(1, std::memory_order_relaxed);
      return AppendStatus::kOutOfOrder;
    }
    if (bits != s.last_v_bits) {
      counters_.duplicate_timestamp.fetch_add(1, std::memory_order_relaxed);
      return AppendStatus::kDuplicateTimestamp;
    }
    counters_.duplicates_ignored.fetch_add(1, std::memory_order_relaxed);
    return AppendStatus::kOk;
  }
  if (s.open.count() >= options_.samples_per_chunk) {
    const std::uint64_t* stored = log_ ? log_->store_chunk(ref, s.open) : nullptr;
    if (stored) {
      SealedChunk c;
      c.min_t = s.open.min_t();
      c.max_t = s.open.max_t();
      c.words = stored;
      c.bits = static_cast<std::uint32_t>(s.open.bits());
      c.count = s.open.count();
      s.sealed.push_back(std::move(c));
    } else {
      s.sealed.push_back(s.open.seal());
    }
    s.open.reset();
  }
  s.open.append(t, v);
  s.last_t = t;
  s.last_v_bits = bits;
  s.has_last = true;
  s.write_hint.store(s.open.words() + s.open.bits() / 64, std::memory_order_relaxed);
  ref_stripes_[ref & stripe_mask_].appended.fetch_add(1, std::memory_order_relaxed);
  return AppendStatus::kOk;
}

SeriesResult Head::append(const LabelSet& labels, std::int64_t t, double v) {
  Appender appender(*this);
  return appender.append(labels, t, v);  // committed by the destructor
}

template <class Fn>
void Head::for_each_series(Fn&& fn) const {
  for (std::size_t i = 0; i <= stripe_mask_; ++i) {
    RefStripe& rs = ref_stripes_[i];
    std::shared_lock stripe_lock(rs.mu);
    rs.series.for_each([&](const std::shared_ptr<Series>& sp) {
      std::lock_guard series_lock(sp->mu);
      fn(sp->ref, *sp);
    });
  }
}

template <class Fn>
bool Head::with_series(SeriesRef ref, Fn&& fn) const {
  const RefStripe& rs = ref_stripes_[ref & stripe_mask_];
  std::shared_lock stripe_lock(rs.mu);
  const auto* found = rs.find(ref);
  if (!found) return false;
  fn(static_cast<const Series&>(**found));
  return true;
}

std::vector<SeriesRef> Head::matching_refs(const MatcherSet& matchers) const {
  std::shared_lock lock(index_->mu);
  return index_->select(matchers);
}

void Head::select(const MatcherSet& matchers, std::int64_t mint, std::int64_t maxt,
                  const SeriesVisitor& visit) const {
  if (mint > maxt) return;
  const std::vector<SeriesRef> refs = matching_refs(matchers);
  std::vector<Sample> buffer;
  std::vector<Label> scratch;  // the visited series' labels, unpacked into reused strings
  for (SeriesRef ref : refs) {
    const RefStripe& rs = ref_stripes_[ref & stripe_mask_];
    std::shared_lock stripe_lock(rs.mu);
    const auto* found = rs.find(ref);
    if (!found) continue;  // removed since the index was read
    const Series& s = **found;
    buffer.clear();
    {
      std::lock_guard series_lock(s.mu);
      s.read(mint, maxt, buffer);
    }
    if (buffer.empty()) continue;
    s.labels.unpack_into(scratch);
    LabelSet labels = LabelSet::adopt_sorted(std::move(scratch));
    const bool more = visit(labels, std::span<const Sample>(buffer));
    scratch = std::move(labels).release();
    if (!more) return;
  }
}

std::vector<SeriesSamples> Head::select(const MatcherSet& matchers, std::int64_t mint,
                                        std::int64_t maxt) const {
  std::vector<SeriesSamples> out;
  if (mint > maxt) return out;
  const std::vector<SeriesRef> refs = matching_refs(matchers);
  for (SeriesRef ref : refs) {
    SeriesSamples ss;
    with_series(ref, [&](const Series& s) {
      std::lock_guard series_lock(s.mu);
      s.read(mint, maxt, ss.samples);
      if (!ss.samples.empty()) ss.labels = s.labels.unpack();
    });
    if (ss.samples.empty()) continue;
    ss.ref = ref;
    out.push_back(std::move(ss));
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesSamples& a, const SeriesSamples& b) { return a.labels < b.labels; });
  return out;
}

std::vector<LabelSet> Head::series(const MatcherSet& matchers, std::int64_t mint,
                                   std::int64_t maxt) const {
  std::vector<LabelSet> out;
  if (mint > maxt) return out;
  const std::vector<SeriesRef> refs = matching_refs(matchers);
  const bool all_time = mint == INT64_MIN && maxt == INT64_MAX;
  for (SeriesRef ref : refs) {
    with_series(ref, [&](const Series& s) {
      std::lock_guard series_lock(s.mu);
      if (all_time ? !s.empty() : s.has_sample_in(mint, maxt)) out.push_back(s.labels.unpack());
    });
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Head::label_names(const MatcherSet& matchers, std::int64_t mint,
                                           std::int64_t maxt) const {
  if (matchers.empty() && mint == INT64_MIN && maxt == INT64_MAX) {
    std::shared_lock lock(index_->mu);
    return index_->names();
  }
  std::vector<std::string> out;
  for (const LabelSet& ls : series(matchers, mint, maxt))
    for (const auto& l : ls) out.push_back(l.name);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> Head::label_values(std::string_view name, const MatcherSet& matchers,
                                            std::int64_t mint, std::int64_t maxt) const {
  if (matchers.empty() && mint == INT64_MIN && maxt == INT64_MAX) {
    std::shared_lock lock(index_->mu);
    return index_->values(name);
  }
  std::vector<std::string> out;
  for (const LabelSet& ls : series(matchers, mint, maxt)) {
    const std::string_view v = ls.get(name);
    if (!v.empty()) out.emplace_back(v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::size_t Head::truncate(std::int64_t mint) {
  std::lock_guard truncate_lock(truncate_mu_);
  // The cutoff never moves back.
  mint = std::max(mint, min_valid_t_.load(std::memory_order_relaxed));
  min_valid_t_.store(mint, std::memory_order_relaxed);

  // Pass 1, stripe by stripe under read locks: drop old chunks, note series
  // left empty.
  std::vector<std::pair<SeriesRef, std::uint64_t>> candidates;
  for_each_series([&](SeriesRef ref, Series& s) {
    auto keep = std::lower_bound(s.sealed.begin(), s.sealed.end(), mint,
                                 [](const SealedChunk& c, std::int64_t t) { return c.max_t < t; });
    if (keep != s.sealed.begin()) {
      s.sealed.erase(s.sealed.begin(), keep);
      if (s.sealed.capacity() > 2 * s.sealed.size() + 4) s.sealed.shrink_to_fit();
    }
    if (!s.open.empty() && s.open.max_t() < mint) s.open.release();
    if (!s.empty()) return;
    if (s.has_last) {
      candidates.emplace_back(ref, s.hash);
    } else if (s.seen_empty_at == Series::kNeverSeenEmpty) {
      s.seen_empty_at = mint;  // created, never written: its creator may be about to
    } else if (mint > s.seen_empty_at) {
      candidates.emplace_back(ref, s.hash);  // still empty after the cutoff moved on
    }
  });

  // Pass 2: unlink the empty series, checking again under the locks: an
  // append may have landed meanwhile.
  return unlink_series(candidates, [](const Series& s) { return s.empty(); });
}

template <class Still>
std::size_t Head::unlink_series(const std::vector<std::pair<SeriesRef, std::uint64_t>>& candidates,
                                Still&& still) {
  // Hash stripe, then ref stripe, then the series: the order get_or_create
  // takes them in.
  std::vector<std::shared_ptr<Series>> removed;
  for (const auto& [ref, hash] : candidates) {
    HashStripe& hs = hash_stripes_[hash & stripe_mask_];
    RefStripe& rs = ref_stripes_[ref & stripe_mask_];
    std::unique_lock hash_lock(hs.mu);
    std::unique_lock ref_lock(rs.mu);
    auto* found = rs.find(ref);
    if (!found) continue;
    Series* series = found->get();
    {
      std::lock_guard series_lock(series->mu);
      if (!still(*series)) continue;
      series->removed = true;  // handles held elsewhere now refuse appends
    }
    if (Series** by_hash = hs.by_hash.find(mix(hash), [&](Series* s) { return s == series; }))
      hs.by_hash.erase(by_hash);
    removed.push_back(rs.series.erase(found));
    num_series_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (!removed.empty()) {
    std::vector<std::pair<SeriesRef, const detail::PackedLabels*>> gone;
    gone.reserve(removed.size());
    for (const auto& s : removed) gone.emplace_back(s->ref, &s->labels);
    std::unique_lock index_lock(index_->mu);
    index_->remove(gone);
  }
  counters_.series_removed.fetch_add(removed.size(), std::memory_order_relaxed);
  return removed.size();
}

std::vector<IdleSeries> Head::idle_series(std::int64_t cutoff, std::size_t limit) {
  std::vector<IdleSeries> out;
  for_each_series([&](SeriesRef ref, Series& s) {
    if (out.size() >= limit || s.removed || !s.has_last || s.last_t >= cutoff) return;
    if (!s.open.empty()) {
      // Sealed early: the cold store reaches chunks in chunk files only.
      const std::uint64_t* stored = log_ ? log_->store_chunk(ref, s.open) : nullptr;
      if (!stored) return;
      SealedChunk c;
      c.min_t = s.open.min_t();
      c.max_t = s.open.max_t();
      c.words = stored;
      c.bits = static_cast<std::uint32_t>(s.open.bits());
      c.count = s.open.count();
      s.sealed.push_back(std::move(c));
      s.open.release();
      s.write_hint.store(nullptr, std::memory_order_relaxed);
    }
    IdleSeries idle;
    for (const SealedChunk& c : s.sealed) {
      if (c.in_memory()) return;  // a full disk kept it here: the series stays
      idle.chunks.push_back({c.words, c.min_t, c.max_t, c.bits, c.count});
    }
    idle.ref = ref;
    idle.hash = s.hash;
    idle.last_t = s.last_t;
    idle.labels = s.labels.unpack();
    out.push_back(std::move(idle));
  });
  return out;
}

std::size_t Head::remove_idle(std::span<const IdleSeries> series) {
  std::vector<std::pair<SeriesRef, std::uint64_t>> candidates;
  std::unordered_map<SeriesRef, std::int64_t> last_t;
  candidates.reserve(series.size());
  for (const IdleSeries& s : series) {
    candidates.emplace_back(s.ref, s.hash);
    last_t[s.ref] = s.last_t;
  }
  // Gone only when nothing arrived since idle_series() saw it.
  return unlink_series(
      candidates, [&](const Series& s) { return s.open.empty() && s.last_t == last_t[s.ref]; });
}

namespace {

// Rough heap cost of one allocation of n bytes with glibc malloc.
std::size_t alloc_cost(std::size_t n) {
  return n == 0 ? 0 : (n + 8 + 15) / 16 * 16;
}

}  // namespace

std::uint64_t Head::samples_appended() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= stripe_mask_; ++i)
    n += ref_stripes_[i].appended.load(std::memory_order_relaxed);
  return n;
}

HeadStats Head::stats() const {
  HeadStats st;
  bool first = true;
  for (std::size_t i = 0; i <= stripe_mask_; ++i) {
    const RefStripe& rs = ref_stripes_[i];
    std::shared_lock stripe_lock(rs.mu);
    st.samples_appended += rs.appended.load(std::memory_order_relaxed);
    st.memory_bytes += rs.series.capacity() * sizeof(std::shared_ptr<Series>);
    rs.series.for_each([&](const std::shared_ptr<Series>& sp) {
      const Series& s = *sp;
      std::lock_guard series_lock(s.mu);
      ++st.series;
      // The series object with its control block.
      std::size_t mem = alloc_cost(sizeof(Series) + 16);
      mem += alloc_cost(s.labels.bytes());
      mem += alloc_cost(s.sealed.capacity() * sizeof(SealedChunk));
      for (const auto& c : s.sealed) {
        st.samples += c.count;
        st.chunk_bytes += c.bytes();
        if (c.in_memory()) {
          mem += alloc_cost(c.bytes());
          ++st.memory_chunks;
        } else {
          st.mapped_chunk_bytes += c.bytes();
        }
        ++st.chunks;
      }
      if (!s.open.empty()) {
        st.samples += s.open.count();
        ++st.chunks;
      }
      st.chunk_bytes += s.open.capacity_bytes();
      mem += alloc_cost(s.open.capacity_bytes());
      st.memory_bytes += mem;
      if (!s.empty()) {
        const std::int64_t lo = s.sealed.empty() ? s.open.min_t() : s.sealed.front().min_t;
        if (first || lo < st.min_t) st.min_t = lo;
        if (first || s.last_t > st.max_t) st.max_t = s.last_t;
        first = false;
      }
    });
  }
  for (std::size_t i = 0; i <= stripe_mask_; ++i) {
    const HashStripe& hs = hash_stripes_[i];
    std::shared_lock lock(hs.mu);
    st.memory_bytes += hs.by_hash.capacity() * sizeof(Series*);
  }
  {
    std::shared_lock lock(index_->mu);
    st.memory_bytes += index_->memory_bytes();
  }
  st.memory_bytes += (stripe_mask_ + 1) * (sizeof(RefStripe) + sizeof(HashStripe));
  st.series_created = counters_.series_created.load(std::memory_order_relaxed);
  st.series_removed = counters_.series_removed.load(std::memory_order_relaxed);
  st.series_limit_rejections = counters_.series_limit_rejections.load(std::memory_order_relaxed);
  st.out_of_order = counters_.out_of_order.load(std::memory_order_relaxed);
  st.duplicate_timestamp = counters_.duplicate_timestamp.load(std::memory_order_relaxed);
  st.out_of_bounds = counters_.out_of_bounds.load(std::memory_order_relaxed);
  st.duplicates_ignored = counters_.duplicates_ignored.load(std::memory_order_relaxed);
  return st;
}

// ---------------------------------------------------------------------------
// Restoring

SeriesRef Head::restore_series(SeriesRef ref, const LabelSet& labels) {
  if (labels.empty() || ref == 0) return 0;
  if (auto existing = find(labels)) return *existing;
  const std::uint64_t hash = labels.hash();
  HashStripe& hs = hash_stripes_[hash & stripe_mask_];
  RefStripe& rs = ref_stripes_[ref & stripe_mask_];
  std::unique_lock hash_lock(hs.mu);
  std::unique_lock ref_lock(rs.mu);
  if (rs.find(ref)) return 0;  // the ref is taken by other labels: corrupt input
  auto series = std::make_shared<Series>(labels, hash);
  series->ref = ref;
  {
    std::unique_lock index_lock(index_->mu);
    index_->add_with_ref(ref, labels);
  }
  hs.by_hash.insert(series.get());
  rs.series.insert(std::move(series));
  num_series_.fetch_add(1, std::memory_order_relaxed);
  counters_.series_created.fetch_add(1, std::memory_order_relaxed);
  return ref;
}

bool Head::restore_chunk(SeriesRef ref, std::int64_t min_t, std::int64_t max_t, std::uint32_t bits,
                         std::uint16_t count, const std::uint64_t* words, bool last) {
  RefStripe& rs = ref_stripes_[ref & stripe_mask_];
  std::shared_lock stripe_lock(rs.mu);
  auto* found = rs.find(ref);
  if (!found) return false;
  Series& s = **found;
  std::lock_guard series_lock(s.mu);
  if (s.has_last && min_t <= s.last_t) return false;
  if (!s.open.empty()) return false;  // chunks come before loose samples
  SealedChunk c;
  c.min_t = min_t;
  c.max_t = max_t;
  c.words = words;
  c.bits = bits;
  c.count = count;
  s.last_t = max_t;
  if (last) {
    // The last sample's value, for the duplicate check of the next append.
    ChunkIterator it(c);
    while (it.next()) {
    }
    s.last_v_bits = std::bit_cast<std::uint64_t>(it.v());
  }
  s.has_last = true;
  s.sealed.push_back(std::move(c));
  return true;
}

void Head::finish_restore() {
  std::unique_lock index_lock(index_->mu);
  index_->finish_restore();
}

void Head::reserve_refs(SeriesRef ref) {
  std::unique_lock index_lock(index_->mu);
  index_->reserve(ref);
}

SeriesRef Head::last_ref() const {
  std::shared_lock index_lock(index_->mu);
  return index_->last_ref();
}

void Head::set_min_valid_time(std::int64_t t) {
  std::lock_guard truncate_lock(truncate_mu_);
  if (t > min_valid_t_.load(std::memory_order_relaxed))
    min_valid_t_.store(t, std::memory_order_relaxed);
}

std::size_t Head::store_memory_chunks() {
  std::size_t left = 0;
  for_each_series([&](SeriesRef ref, Series& s) {
    for (SealedChunk& c : s.sealed) {
      if (!c.in_memory()) continue;
      // Re-encoded through an appender: store_chunk takes the open form.
      ChunkAppender a;
      for (ChunkIterator it(c); it.next();) a.append(it.t(), it.v());
      const std::uint64_t* stored = log_ ? log_->store_chunk(ref, a) : nullptr;
      if (!stored) {
        ++left;
        continue;
      }
      c.words = stored;
      c.owned.reset();
    }
  });
  return left;
}

void Head::visit_series(const SeriesStateVisitor& fn) const {
  std::vector<Label> scratch;
  for_each_series([&](SeriesRef ref, const Series& s) {
    s.labels.unpack_into(scratch);
    LabelSet labels = LabelSet::adopt_sorted(std::move(scratch));
    fn(ref, labels, s.open);
    scratch = std::move(labels).release();
  });
}

// ---------------------------------------------------------------------------
// Appender

AppendStatus Appender::append(SeriesRef ref, std::int64_t t_ms, double v) {
  const AppendStatus st = head_.append_unlogged(ref, t_ms, v);
  if (st == AppendStatus::kOk && head_.log_) pending_.push_back({ref, t_ms, v});
  return st;
}

void Appender::prefetch_series(const SeriesHandle& series) {
  if (!series) return;
  const auto* p = reinterpret_cast<const char*>(series.s_.get());
  __builtin_prefetch(p, 1);
  __builtin_prefetch(p + 64, 1);
  __builtin_prefetch(p + 95, 1);  // the end of `open`: the hot part may straddle three lines
}

void Appender::prefetch_tail(const SeriesHandle& series) {
  if (!series) return;
  if (const std::uint64_t* tail = series.s_->write_hint.load(std::memory_order_relaxed))
    __builtin_prefetch(tail, 1);
}

AppendStatus Appender::append(const SeriesHandle& series, std::int64_t t_ms, double v) {
  if (!series) return AppendStatus::kUnknownSeries;
  const AppendStatus st = head_.append_to(*series.s_, t_ms, v);
  if (st == AppendStatus::kOk && head_.log_) pending_.push_back({series.s_->ref, t_ms, v});
  return st;
}

SeriesResult Appender::append(const LabelSet& labels, std::int64_t t_ms, double v) {
  // Refuse before creating: no series is left behind without a sample.
  if (!labels.empty() && t_ms < head_.min_valid_time()) {
    head_.counters_.out_of_bounds.fetch_add(1, std::memory_order_relaxed);
    return {AppendStatus::kOutOfBounds, 0, false};
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    SeriesResult r = head_.get_or_create(labels);
    if (r.status != AppendStatus::kOk) return r;
    r.status = append(r.ref, t_ms, v);
    // A series created empty can be collected by a concurrent truncate()
    // before its first sample lands: create it again, once.
    if (r.status != AppendStatus::kUnknownSeries) return r;
  }
  return {AppendStatus::kUnknownSeries, 0, false};
}

void Appender::commit() {
  if (pending_.empty()) return;
  if (head_.log_) head_.log_->log_samples(pending_);
  pending_.clear();
  if (pending_.capacity() > 65536) pending_.shrink_to_fit();
}

}  // namespace watch::tsdb
