#include "watch/model/gzip.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>

namespace watch {

std::string gunzip(std::string_view in, std::size_t limit, std::string& out) {
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "gzip: cannot initialise zlib";
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  const auto* next = reinterpret_cast<const Bytef*>(in.data());
  std::size_t left = in.size();
  std::array<char, 16 * 1024> buf;
  for (;;) {
    if (zs.avail_in == 0 && left > 0) {
      const auto n = static_cast<uInt>(std::min<std::size_t>(left, UINT_MAX));
      zs.next_in = const_cast<Bytef*>(next);
      zs.avail_in = n;
      next += n;
      left -= n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t produced = buf.size() - zs.avail_out;
    if (limit != 0 && out.size() + produced > limit)
      return fmt::format("body size limit of {} bytes exceeded (gzip body, decompressed)", limit);
    out.append(buf.data(), produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && left == 0) return {};
      if (inflateReset(&zs) != Z_OK) return "invalid gzip body: cannot reset zlib";
      continue;  // another gzip member follows
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && left == 0)
      return "invalid gzip body: unexpected end of data";
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return fmt::format("invalid gzip body: {}", zs.msg ? zs.msg : "corrupt data");
  }
}

}  // namespace watch
