// Fuzz target: the files watch's head reads back at start (watch/tsdb/):
// WAL segments, checkpoints, chunk files and cold files. A crash leaves
// torn files, and a disk damages them; a start must never crash, hang or
// refuse, and what it restored must read back.
//
// The first byte picks the file; the rest is its content. Records (WAL,
// checkpoint) and chunk file entries are written with correct CRCs around
// the fuzzed payloads, so the fuzzer reaches the decoders behind the
// checksums; a cold file gets its CRC fixed up. Then Db::open must succeed
// and every series must read.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "watch/tsdb/db.h"
#include "watch/tsdb/file_util.h"
#include "watch/tsdb/records.h"
#include "watch/tsdb/wal.h"

namespace {

using namespace watch::tsdb;

[[noreturn]] void violated(const char* property, const std::string& detail = {}) {
  std::fprintf(stderr, "property violated: %s %s\n", property, detail.c_str());
  std::abort();
}

void write_file(const std::string& path, std::span<const std::uint8_t> bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// [type][length][payload...] repeated, as WAL records with their CRCs.
void write_records(const std::string& dir, std::span<const std::uint8_t> in) {
  file::make_dirs(dir, nullptr);
  auto wal = Wal::open(dir);
  if (!wal) violated("cannot open a WAL in a fresh directory");
  std::size_t i = 0;
  while (i + 2 <= in.size()) {
    const std::uint8_t type = in[i] % 12 ? in[i] % 12 : 1;
    const std::size_t len = std::min<std::size_t>(in[i + 1] * 4u, in.size() - i - 2);
    wal->log(type, in.subspan(i + 2, len));
    i += 2 + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const std::string root = [] {
    char tmpl[] = "/tmp/fb-fuzz-tsdb-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  const std::string dir = root + "/db";
  file::remove_all(dir, nullptr);
  file::make_dirs(dir, nullptr);
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  // A series for refs 1 to 4, so that chunks and samples of those refs attach.
  std::vector<std::uint8_t> series;
  for (std::uint64_t ref = 1; ref <= 4; ++ref)
    encode_series(ref, watch::LabelSet::from({{"__name__", "m"}, {"r", std::to_string(ref)}}),
                  series);
  switch (data[0] % 4) {
    case 0:  // WAL segments
      write_records(dir + "/wal", in);
      break;
    case 1: {  // a checkpoint, then a WAL naming the series
      write_records(dir + "/checkpoint.00000001", in);
      auto wal = Wal::open(dir + "/wal");
      wal->log(kRecordSeries, series);
      break;
    }
    case 2: {  // chunk file entries: [ref][count][bits lo][bits hi][words...]
      file::make_dirs(dir + "/chunks_head", nullptr);
      std::vector<std::uint8_t> out = {'F', 'B', 'C', 'H', 'U', 'N', 'K', '1'};
      std::size_t i = 0;
      while (i + 4 <= in.size()) {
        const std::uint64_t ref = in[i] % 6;
        const std::uint16_t count = static_cast<std::uint16_t>(in[i + 1] + 1);
        const std::uint32_t bits = static_cast<std::uint32_t>(in[i + 2] | (in[i + 3] << 8)) + 1;
        const std::size_t n = (bits + 63) / 64;
        std::vector<std::uint8_t> entry;
        file::put_u64(entry, ref);
        file::put_u64(entry, static_cast<std::uint64_t>(std::int64_t{1000} * i));
        file::put_u64(entry, static_cast<std::uint64_t>(std::int64_t{1000} * i + 999));
        file::put_u32(entry, bits);
        entry.push_back(static_cast<std::uint8_t>(count));
        entry.push_back(static_cast<std::uint8_t>(count >> 8));
        entry.push_back(0);
        entry.push_back(0);
        i += 4;
        for (std::size_t w = 0; w < n * 8; ++w) entry.push_back(i < in.size() ? in[i++] : 0);
        const std::uint32_t crc = wal_crc(entry);
        out.insert(out.end(), entry.begin(), entry.end());
        file::put_u32(out, crc);
        file::put_u32(out, 0);
      }
      write_file(dir + "/chunks_head/000001", out);
      auto wal = Wal::open(dir + "/wal");
      wal->log(kRecordSeries, series);
      break;
    }
    default: {  // a cold file, its CRC made right
      file::make_dirs(dir + "/cold", nullptr);
      std::vector<std::uint8_t> out(in.begin(), in.end());
      if (out.size() >= 16) {
        const std::uint32_t crc = wal_crc({out.data(), out.size() - 8});
        for (int b = 0; b < 4; ++b)
          out[out.size() - 8 + b] = static_cast<std::uint8_t>(crc >> (8 * b));
      }
      write_file(dir + "/cold/000001", out);
      break;
    }
  }

  RecoveryReport report;
  std::string error;
  auto db = Db::open({.dir = dir, .evict_idle_after_ms = 60'000}, 1'000'000'000, &error, &report);
  if (!db) violated("a damaged directory stopped the start", error);
  std::size_t seen = 0;
  db->select(MatcherSet(), INT64_MIN, INT64_MAX,
             [&](const watch::LabelSet&, std::span<const watch::Sample> samples) {
               seen += samples.size();
               return true;
             });
  db->series(MatcherSet());
  db->label_names();
  db->gc(1'000'000'000);
  return 0;
}
