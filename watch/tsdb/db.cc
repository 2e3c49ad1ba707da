#include "watch/tsdb/db.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <unordered_map>

#include <fmt/format.h>

#include "firebreak/log.h"
#include "watch/tsdb/file_util.h"
#include "watch/tsdb/records.h"

namespace watch::tsdb {
namespace {

constexpr std::uint64_t kCheckpointVersion = 1;
constexpr std::size_t kCheckpointRecordBytes = 1u << 20;
constexpr std::string_view kCheckpointPrefix = "checkpoint.";

// Checkpoint directories in `dir` by segment, ascending (".tmp" ones left out).
std::vector<std::uint32_t> checkpoints(const std::string& dir) {
  std::vector<std::uint32_t> out;
  for (const std::string& name : file::list_dir(dir)) {
    if (!name.starts_with(kCheckpointPrefix)) continue;
    const std::string_view digits = std::string_view(name).substr(kCheckpointPrefix.size());
    if (digits.size() != 8 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    std::uint32_t n = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), n);
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One series of a checkpoint: its ref, labels and open chunk.
void encode_series_state(SeriesRef ref, const LabelSet& labels, const ChunkAppender& open,
                         std::vector<std::uint8_t>& out) {
  encode_series(ref, labels, out);
  put_varint(out, open.count());
  if (open.empty()) return;
  put_varint(out, zigzag(open.min_t()));
  put_varint(out, open.bits());
  const std::size_t n = (open.bits() + 63) / 64;
  for (std::size_t i = 0; i < n; ++i) file::put_u64(out, open.words()[i]);
}

}  // namespace

std::string checkpoint_name(std::uint32_t segment) {
  return fmt::format("{}{:08d}", kCheckpointPrefix, segment);
}

Db::Db(DbOptions options) : options_(std::move(options)), head_(options_.head) {}

Db::~Db() {
  close(nullptr);
}

std::unique_ptr<Db> Db::open(DbOptions options, std::int64_t now_ms, std::string* error,
                             RecoveryReport* report) {
  std::unique_ptr<Db> db(new Db(std::move(options)));
  RecoveryReport local;
  RecoveryReport& r = report ? *report : local;
  r = RecoveryReport{};
  if (db->options_.dir.empty()) return db;
  if (!db->recover(now_ms, r, error)) return nullptr;
  return db;
}

bool Db::recover(std::int64_t now_ms, RecoveryReport& report, std::string* error) {
  const auto started = std::chrono::steady_clock::now();
  const std::string& dir = options_.dir;
  if (!file::make_dirs(dir, error)) return false;
  // Leftovers of a checkpoint a crash interrupted.
  for (const std::string& name : file::list_dir(dir))
    if (name.starts_with(kCheckpointPrefix) && name.ends_with(".tmp"))
      file::remove_all(dir + "/" + name, nullptr);

  chunks_ = ChunkFiles::open(dir + "/chunks_head", options_.chunks, error);
  if (!chunks_) return false;
  // Samples older than the retention are not replayed at all.
  head_.set_min_valid_time(now_ms - options_.head.retention_ms);
  replaying_ = true;
  head_.set_log(this);  // chunks sealed while replaying go to chunk files; nothing is logged

  // 1. Every chunk on disk, by series; attached when its series appears.
  struct PendingChunk {
    std::int64_t min_t, max_t;
    std::uint32_t bits;
    std::uint16_t count;
    const std::uint64_t* words;
  };
  std::unordered_map<SeriesRef, std::vector<PendingChunk>> on_disk;
  SeriesRef max_ref = 0;
  chunks_->replay(
      [&](const ChunkFiles::Entry& e) {
        on_disk[e.ref].push_back({e.min_t, e.max_t, e.bits, e.count, e.words});
        max_ref = std::max(max_ref, e.ref);
        ++report.chunks_loaded;
      },
      &report.problems);

  // Every logged ref (an alias too: a ref naming a series the head holds
  // under another, collected and created again) with its series and the
  // newest sample its chunk files hold: replayed samples up to that are
  // already there and are skipped without a lookup in the head.
  struct Replayed {
    SeriesHandle series;
    std::int64_t chunks_max_t = INT64_MIN;
  };
  std::unordered_map<SeriesRef, Replayed> replayed_series;
  std::uint64_t replayed = 0;
  Appender app(head_);  // nothing is logged while replaying_
  auto replay_sample = [&](Replayed& r, std::int64_t t, double v) {
    if (t <= r.chunks_max_t) return;
    if (app.append(r.series, t, v) == AppendStatus::kOk) ++replayed;
  };
  auto add_series = [&](SeriesRef logged, const LabelSet& labels) -> Replayed* {
    max_ref = std::max(max_ref, logged);
    const SeriesRef ref = head_.restore_series(logged, labels);
    if (ref == 0) {
      report.problems.push_back(
          fmt::format("series ref {} is logged twice with different labels; "
                      "the second ({}) is ignored",
                      logged, labels.to_string()));
      return nullptr;
    }
    Replayed& r = replayed_series[logged];
    r.series = head_.handle(ref);
    if (ref != logged) {
      if (auto own = replayed_series.find(ref); own != replayed_series.end())
        r.chunks_max_t = own->second.chunks_max_t;
    }
    auto it = on_disk.find(logged);
    if (it == on_disk.end()) return &r;
    auto& chunks = it->second;
    std::sort(chunks.begin(), chunks.end(),
              [](const PendingChunk& a, const PendingChunk& b) { return a.min_t < b.min_t; });
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      const PendingChunk& c = chunks[i];
      if (head_.restore_chunk(ref, c.min_t, c.max_t, c.bits, c.count, c.words,
                              i + 1 == chunks.size())) {
        r.chunks_max_t = std::max(r.chunks_max_t, c.max_t);
        continue;
      }
      // Overlaps what the series has: sample by sample.
      for (ChunkIterator s(c.words, c.bits, c.count); s.next();) replay_sample(r, s.t(), s.v());
    }
    on_disk.erase(it);
    if (ref != logged) replayed_series[ref].chunks_max_t = r.chunks_max_t;
    return &r;
  };

  // 2. The newest checkpoint.
  std::uint32_t first_segment = 0;
  const auto cps = checkpoints(dir);
  if (!cps.empty()) {
    const std::uint32_t n = cps.back();
    const std::string cp_dir = dir + "/" + checkpoint_name(n);
    WalReader reader(cp_dir);
    bool header = false;
    while (auto rec = reader.next()) {
      ByteReader in(rec->payload);
      if (rec->type == kRecordCheckpointHeader) {
        std::uint64_t version = 0, last_ref = 0;
        std::int64_t min_valid = 0;
        if (!in.varint(version) || version != kCheckpointVersion || !in.varint(last_ref) ||
            !in.svarint(min_valid)) {
          report.problems.push_back(cp_dir + ": unknown checkpoint version; ignored");
          break;
        }
        header = true;
        max_ref = std::max<SeriesRef>(max_ref, last_ref);
        head_.set_min_valid_time(min_valid);
        continue;
      }
      if (rec->type != kRecordSeriesState || !header) continue;
      while (!in.done()) {
        std::uint64_t ref = 0, nlabels = 0, count = 0;
        if (!in.varint(ref) || !in.varint(nlabels) || nlabels > in.left() / 2) break;
        std::vector<Label> labels(static_cast<std::size_t>(nlabels));
        bool ok = true;
        for (Label& l : labels) ok = ok && in.string(l.name) && in.string(l.value);
        if (!ok || !in.varint(count)) {
          report.problems.push_back(cp_dir + ": malformed series record; the rest is ignored");
          break;
        }
        Replayed* at = add_series(ref, LabelSet::from(std::move(labels)));
        if (count == 0) continue;
        std::uint64_t min_t = 0, bits = 0;
        std::span<const std::uint8_t> raw;
        if (!in.varint(min_t) || !in.varint(bits) || count > 0xffff || bits > count * 256 ||
            !in.bytes((bits + 63) / 64 * 8, raw)) {
          report.problems.push_back(cp_dir + ": malformed open chunk; the rest is ignored");
          break;
        }
        std::vector<std::uint64_t> words((bits + 63) / 64);
        for (std::size_t i = 0; i < words.size(); ++i) words[i] = file::get_u64(raw.data() + 8 * i);
        if (!at) continue;
        for (ChunkIterator it(words.data(), bits, static_cast<std::uint32_t>(count)); it.next();)
          replay_sample(*at, it.t(), it.v());
      }
      app.commit();  // (logs nothing: it only empties the appender's batch)
    }
    if (reader.corruption()) {
      // A checkpoint is renamed into place whole: damage is the disk's.
      report.problems.push_back("checkpoint " + reader.corruption()->to_string() +
                                "; what follows is ignored");
    }
    report.from_checkpoint = header;
    report.checkpoint_segment = n;
    first_segment = n;
  }

  // 3. The WAL from the checkpoint on.
  const std::string wal_dir = dir + "/wal";
  {
    WalReader reader(wal_dir, first_segment);
    std::vector<RefSeries> series;
    std::vector<RefSample> samples;
    std::uint32_t last_segment = first_segment;
    bool any = false;
    while (auto rec = reader.next()) {
      if (!any || rec->segment != last_segment) ++report.wal_segments;
      any = true;
      last_segment = rec->segment;
      if (rec->type == kRecordSeries) {
        series.clear();
        if (!decode_series(rec->payload, series))
          report.problems.push_back(
              fmt::format("WAL segment {:08d} at offset {}: malformed "
                          "series record",
                          rec->segment, rec->offset));
        for (const RefSeries& s : series) add_series(s.ref, s.labels);
        app.commit();
      } else if (rec->type == kRecordSamples) {
        samples.clear();
        if (!decode_samples(rec->payload, samples))
          report.problems.push_back(
              fmt::format("WAL segment {:08d} at offset {}: malformed "
                          "samples record",
                          rec->segment, rec->offset));
        for (const RefSample& s : samples) {
          auto it = replayed_series.find(s.ref);
          if (it != replayed_series.end()) replay_sample(it->second, s.t, s.v);
        }
        app.commit();
      }
    }
    report.wal_bytes = reader.bytes_read();
    if (const auto& bad = reader.corruption()) {
      std::string repair_error;
      const std::int64_t dropped = wal_repair(wal_dir, *bad, &repair_error);
      report.problems.push_back(
          dropped >= 0
              ? fmt::format("WAL {}: cut there ({} bytes dropped)", bad->to_string(), dropped)
              : fmt::format("WAL {}: could not cut it: {}", bad->to_string(), repair_error));
    }
  }
  // Segments a checkpoint covers whose removal a crash interrupted.
  for (std::uint32_t s : wal_segments(wal_dir))
    if (s < first_segment) file::remove(wal_segment_path(wal_dir, s), nullptr);

  head_.finish_restore();
  head_.reserve_refs(max_ref);
  load_cold(report);
  head_.truncate(now_ms - options_.head.retention_ms);
  chunks_->truncate_before(now_ms - options_.head.retention_ms);
  report.samples_replayed = replayed;
  report.series = head_.num_series();

  // Past the newest checkpoint's number even when its segments are gone: a
  // later checkpoint must get a new, higher number.
  wal_ = Wal::open(wal_dir, options_.wal, error, first_segment + 1);
  if (!wal_) {
    head_.set_log(nullptr);
    return false;
  }
  checkpoint_segment_ = first_segment;
  // A replayed WAL is worth folding into a checkpoint; a clean start is not.
  dirty_ = report.wal_bytes > 0 || !report.problems.empty();
  replaying_ = false;
  report.seconds = seconds_since(started);
  return true;
}

const char* Db::write_kind_name(WriteKind kind) {
  if (kind == kWalWrite) return "wal";
  return kind == kChunkWrite ? "chunk file" : "cold series file";
}

void Db::note_write_failure(WriteKind kind, const std::string& error) {
  const std::uint8_t was = failing_.load(std::memory_order_relaxed);
  if (was & kind) return;  // one line per episode, not one per scrape
  failing_.store(was | kind, std::memory_order_relaxed);
  FB_LOG_ERROR("tsdb_write_failed",
               "storage write failed: samples stay in memory but are not durable until writes "
               "succeed again",
               {"what", write_kind_name(kind)}, {"error", error}, {"dir", options_.dir});
}

void Db::note_write_success(WriteKind kind) {
  const std::uint8_t was = failing_.load(std::memory_order_relaxed);
  if (!(was & kind)) return;
  failing_.store(was & ~kind, std::memory_order_relaxed);
  FB_LOG_INFO("tsdb_write_recovered", "storage writes succeed again",
              {"what", write_kind_name(kind)});
}

void Db::log_series(std::uint64_t ref, const LabelSet& labels) {
  if (replaying_.load(std::memory_order_relaxed) || !wal_) return;
  dirty_.store(true, std::memory_order_relaxed);
  std::lock_guard lock(log_mu_);
  encode_series(ref, labels, pending_series_);
  // Flushed with the next samples; a large backlog (a first scrape of many
  // series) goes on its own.
  if (pending_series_.size() >= kCheckpointRecordBytes) {
    std::string error;
    if (wal_->log(kRecordSeries, pending_series_, &error)) {
      note_write_success(kWalWrite);
    } else {
      note_write_failure(kWalWrite, error);
    }
    pending_series_.clear();
  }
}

void Db::log_samples(std::span<const RefSample> samples) {
  if (replaying_.load(std::memory_order_relaxed) || !wal_ || samples.empty()) return;
  dirty_.store(true, std::memory_order_relaxed);
  std::lock_guard lock(log_mu_);
  samples_buf_.clear();
  encode_samples(samples, samples_buf_);
  Wal::Entry entries[2];
  std::size_t n = 0;
  if (!pending_series_.empty()) entries[n++] = {kRecordSeries, pending_series_};
  entries[n++] = {kRecordSamples, samples_buf_};
  std::string error;
  if (wal_->log(std::span<const Wal::Entry>(entries, n), &error)) {
    note_write_success(kWalWrite);
  } else {
    note_write_failure(kWalWrite, error);
  }
  pending_series_.clear();
  if (samples_buf_.capacity() > (256u << 10)) std::vector<std::uint8_t>().swap(samples_buf_);
}

const std::uint64_t* Db::store_chunk(std::uint64_t ref, const ChunkAppender& chunk) {
  if (!chunks_) return nullptr;
  std::string error;
  const std::uint64_t* words =
      chunks_->write(ref, chunk.min_t(), chunk.max_t(), static_cast<std::uint32_t>(chunk.bits()),
                     chunk.count(), chunk.words(), &error);
  if (!words) {
    std::lock_guard lock(log_mu_);
    note_write_failure(kChunkWrite, error);
  } else if (failing_.load(std::memory_order_relaxed) & kChunkWrite) {
    std::lock_guard lock(log_mu_);
    note_write_success(kChunkWrite);
  }
  return words;
}

bool Db::write_checkpoint(std::uint32_t segment, std::uint64_t* bytes, std::string* error) {
  const std::string final_dir = options_.dir + "/" + checkpoint_name(segment);
  const std::string tmp_dir = final_dir + ".tmp";
  file::remove_all(tmp_dir, nullptr);
  auto out = Wal::open(tmp_dir, WalOptions{.segment_size = std::size_t{1} << 40}, error);
  if (!out) return false;
  bool ok = true;
  std::string write_error;
  std::vector<std::uint8_t> buf;
  put_varint(buf, kCheckpointVersion);
  put_varint(buf, head_.last_ref());
  put_varint(buf, zigzag(head_.min_valid_time()));
  ok = out->log(kRecordCheckpointHeader, buf, &write_error);
  buf.clear();
  head_.visit_series([&](SeriesRef ref, const LabelSet& labels, const ChunkAppender& open) {
    if (!ok) return;
    encode_series_state(ref, labels, open, buf);
    if (buf.size() >= kCheckpointRecordBytes) {
      ok = out->log(kRecordSeriesState, buf, &write_error);
      buf.clear();
    }
  });
  if (ok && !buf.empty()) ok = out->log(kRecordSeriesState, buf, &write_error);
  if (ok) ok = out->sync(&write_error);
  out->close();
  if (ok && std::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    write_error = file::errno_message("cannot rename", tmp_dir);
    ok = false;
  }
  if (ok) ok = file::sync_dir(options_.dir, &write_error);
  if (!ok) {
    file::remove_all(tmp_dir, nullptr);
    if (error) *error = write_error;
    return false;
  }
  std::int64_t size = 0;
  for (std::uint32_t s : wal_segments(final_dir))
    size += std::max<std::int64_t>(file::size(wal_segment_path(final_dir, s)), 0);
  *bytes = static_cast<std::uint64_t>(size);
  return true;
}

bool Db::checkpoint(std::string* error) {
  std::lock_guard lock(checkpoint_mu_);
  if (!wal_ || closed_) return true;
  // Nothing logged since the last one (or since a start that replayed no
  // WAL): the checkpoint on disk is still whole.
  if (!dirty_.exchange(false)) return true;
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](const std::string& why) {
    dirty_ = true;
    ++cp_stats_.checkpoint_failures;
    if (error) *error = why;
    FB_LOG_ERROR("tsdb_checkpoint_failed", "checkpoint not written; the WAL is kept",
                 {"error", why}, {"dir", options_.dir});
    return false;
  };
  std::string why;
  const std::uint32_t segment = wal_->cut(&why);
  // Chunks a full disk kept on the heap must be in chunk files before the
  // WAL segments holding their samples go.
  if (const std::size_t left = head_.store_memory_chunks(); left > 0)
    return fail(fmt::format("{} chunks could not be written to chunk files", left));
  if (!chunks_->sync(&why)) return fail(why);
  std::uint64_t bytes = 0;
  if (!write_checkpoint(segment, &bytes, &why)) return fail(why);
  for (std::uint32_t old : checkpoints(options_.dir))
    if (old < segment) file::remove_all(options_.dir + "/" + checkpoint_name(old), nullptr);
  wal_->truncate_before(segment);
  checkpoint_segment_ = segment;
  ++cp_stats_.checkpoints;
  cp_stats_.checkpoint_bytes = bytes;
  cp_stats_.checkpoint_seconds = seconds_since(started);
  cp_stats_.last_checkpoint_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  return true;
}

bool Db::sync(std::string* error) {
  if (!wal_) return true;
  bool ok = wal_->sync(error);
  ok = chunks_->sync(ok ? error : nullptr) && ok;
  return ok;
}

std::size_t Db::gc(std::int64_t now_ms) {
  const std::size_t removed = head_.gc(now_ms);
  const std::int64_t cutoff = head_.min_valid_time();
  {
    std::unique_lock lock(cold_mu_);
    std::erase_if(cold_, [&](const std::unique_ptr<ColdFile>& f) {
      if (f->max_t() >= cutoff) return false;
      file::remove(f->path(), nullptr);
      return true;
    });
  }
  if (chunks_) chunks_->truncate_before(cutoff);
  if (chunks_ && options_.evict_idle_after_ms > 0) evict(now_ms - options_.evict_idle_after_ms);
  return removed;
}

void Db::load_cold(RecoveryReport& report) {
  const std::string dir = options_.dir + "/cold";
  std::vector<std::pair<std::uint32_t, std::string>> files;
  for (const std::string& name : file::list_dir(dir)) {
    if (name.ends_with(".tmp")) {
      file::remove(dir + "/" + name, nullptr);  // a write a crash interrupted
      continue;
    }
    if (name.size() != 6 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    files.emplace_back(static_cast<std::uint32_t>(std::stoul(name)), dir + "/" + name);
  }
  std::sort(files.begin(), files.end());
  std::unique_lock lock(cold_mu_);
  for (const auto& [index, path] : files) {
    next_cold_ = std::max(next_cold_, index + 1);
    std::string error;
    if (auto f = ColdFile::open(path, &error)) {
      cold_.push_back(std::move(f));
    } else {
      report.problems.push_back(error + "; its series are not readable");
    }
  }
}

std::size_t Db::evict(std::int64_t cutoff) {
  std::lock_guard evicting(evict_mu_);
  constexpr std::size_t kBatch = 100'000;
  std::size_t total = 0;
  for (;;) {
    std::vector<IdleSeries> idle = head_.idle_series(cutoff, kBatch);
    if (idle.empty()) break;
    const bool more = idle.size() == kBatch;
    std::vector<ColdSeries> cold;
    cold.reserve(idle.size());
    std::vector<IdleSeries> going;
    for (IdleSeries& s : idle) {
      ColdSeries c{s.labels, {}};
      bool ok = true;
      for (const ChunkMeta& m : s.chunks) {
        const auto at = chunks_->locate(m.words);
        if (!at) {
          ok = false;
          break;
        }
        c.chunks.push_back({*at, m.min_t, m.max_t, m.bits, m.count});
      }
      if (!ok) continue;
      cold.push_back(std::move(c));
      going.push_back(std::move(s));
    }
    if (going.empty()) break;
    std::string path;
    {
      std::unique_lock lock(cold_mu_);
      path = fmt::format("{}/cold/{:06d}", options_.dir, next_cold_++);
    }
    std::string error;
    if (!file::make_dirs(options_.dir + "/cold", &error) ||
        !write_cold_file(path, std::move(cold), &error)) {
      std::lock_guard log_lock(log_mu_);
      note_write_failure(kColdWrite, error);
      break;
    }
    {
      std::lock_guard log_lock(log_mu_);
      note_write_success(kColdWrite);
    }
    auto f = ColdFile::open(path, &error);
    if (!f) {
      FB_LOG_ERROR("tsdb_cold_file_unreadable", "a cold file just written does not read back",
                   {"error", error});
      break;
    }
    {
      std::unique_lock lock(cold_mu_);
      cold_.push_back(std::move(f));
    }
    // Readable from the cold file first, then gone from the head: a query
    // meanwhile sees the series twice and merges it.
    const std::size_t removed = head_.remove_idle(going);
    total += removed;
    dirty_ = true;  // the next checkpoint leaves them out
    if (!more) break;
  }
  evicted_.fetch_add(total, std::memory_order_relaxed);
  return total;
}

std::map<LabelSet, std::vector<Sample>> Db::cold_select(const MatcherSet& matchers,
                                                        std::int64_t mint,
                                                        std::int64_t maxt) const {
  std::map<LabelSet, std::vector<Sample>> out;
  std::shared_lock lock(cold_mu_);
  if (cold_.empty() || !chunks_) return out;
  const std::int64_t floor = std::max(mint, head_.min_valid_time());
  const auto guard = chunks_->read_guard();  // no chunk file unmapped while reading
  bool several = false;
  for (const auto& f : cold_) {
    if (f->max_t() < floor || f->min_t() > maxt) continue;
    f->select(matchers, [&](const LabelSet& labels, std::span<const ColdChunk> chunks) {
      std::vector<Sample>* samples = nullptr;
      for (const ColdChunk& c : chunks) {
        if (c.max_t < floor || c.min_t > maxt) continue;
        const std::uint64_t* words = chunks_->words_at(c.at, c.bits);
        if (!words) continue;  // its file went with the retention
        if (!samples) {
          auto [it, inserted] = out.try_emplace(labels);
          several |= !inserted;
          samples = &it->second;
        }
        for (ChunkIterator it(words, c.bits, c.count); it.next();) {
          if (it.t() < floor) continue;
          if (it.t() > maxt) break;
          samples->push_back(it.sample());
        }
      }
      return true;
    });
  }
  if (several) {
    for (auto& [labels, samples] : out) {
      std::stable_sort(samples.begin(), samples.end(),
                       [](const Sample& a, const Sample& b) { return a.t < b.t; });
      samples.erase(std::unique(samples.begin(), samples.end(),
                                [](const Sample& a, const Sample& b) { return a.t == b.t; }),
                    samples.end());
    }
  }
  return out;
}

namespace {

// Cold samples then the head's, in time order, each time once.
std::vector<Sample> merge_samples(const std::vector<Sample>& cold, std::span<const Sample> head) {
  std::vector<Sample> out;
  out.reserve(cold.size() + head.size());
  std::size_t i = 0, j = 0;
  while (i < cold.size() || j < head.size()) {
    if (j == head.size() || (i < cold.size() && cold[i].t < head[j].t)) {
      out.push_back(cold[i++]);
    } else {
      if (i < cold.size() && cold[i].t == head[j].t) ++i;
      out.push_back(head[j++]);
    }
  }
  return out;
}

}  // namespace

void Db::select(const MatcherSet& matchers, std::int64_t mint, std::int64_t maxt,
                const SeriesVisitor& visit) const {
  if (mint > maxt) return;
  auto cold = cold_select(matchers, mint, maxt);
  if (cold.empty()) return head_.select(matchers, mint, maxt, visit);
  bool stopped = false;
  head_.select(matchers, mint, maxt, [&](const LabelSet& labels, std::span<const Sample> samples) {
    auto it = cold.find(labels);
    if (it == cold.end()) return !(stopped = !visit(labels, samples));
    const std::vector<Sample> merged = merge_samples(it->second, samples);
    cold.erase(it);
    return !(stopped = !visit(labels, merged));
  });
  if (stopped) return;
  for (const auto& [labels, samples] : cold)
    if (!samples.empty() && !visit(labels, samples)) return;
}

std::vector<LabelSet> Db::series(const MatcherSet& matchers, std::int64_t mint,
                                 std::int64_t maxt) const {
  std::vector<LabelSet> out = head_.series(matchers, mint, maxt);
  auto cold = cold_select(matchers, mint, maxt);
  if (cold.empty()) return out;
  for (auto& [labels, samples] : cold)
    if (!samples.empty()) out.push_back(labels);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> Db::label_names(const MatcherSet& matchers, std::int64_t mint,
                                         std::int64_t maxt) const {
  {
    std::shared_lock lock(cold_mu_);
    if (cold_.empty()) return head_.label_names(matchers, mint, maxt);
  }
  std::vector<std::string> out;
  for (const LabelSet& ls : series(matchers, mint, maxt))
    for (const auto& l : ls) out.push_back(l.name);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> Db::label_values(std::string_view name, const MatcherSet& matchers,
                                          std::int64_t mint, std::int64_t maxt) const {
  {
    std::shared_lock lock(cold_mu_);
    if (cold_.empty()) return head_.label_values(name, matchers, mint, maxt);
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

bool Db::close(std::string* error) {
  if (!wal_) return true;
  bool ok = checkpoint(error);
  std::lock_guard lock(checkpoint_mu_);
  if (closed_) return ok;
  closed_ = true;
  head_.set_log(nullptr);
  {
    std::lock_guard log_lock(log_mu_);
    if (!pending_series_.empty()) wal_->log(kRecordSeries, pending_series_, nullptr);
    pending_series_.clear();
  }
  wal_->close();
  chunks_->sync(nullptr);
  return ok;
}

DbStats Db::stats() const {
  DbStats st;
  {
    std::lock_guard lock(checkpoint_mu_);
    st = cp_stats_;
    if (wal_) st.wal_bytes = wal_->size_from(checkpoint_segment_);
  }
  if (wal_) {
    st.wal_bytes_written = wal_->bytes_written();
    st.wal_write_failures = wal_->write_failures();
    st.wal_segment = wal_->current_segment();
  }
  if (chunks_) {
    st.chunk_write_failures = chunks_->write_failures();
    st.chunk_files = chunks_->files();
    st.chunk_file_bytes = chunks_->bytes();
  }
  {
    std::shared_lock lock(cold_mu_);
    st.cold_files = cold_.size();
    for (const auto& f : cold_) st.cold_series += f->series_count();
  }
  st.series_evicted = evicted_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace watch::tsdb
