// gzip bodies, as watch receives them (scraped metrics, OTLP requests):
// decompressed with a bound on the output, so a small body cannot expand
// into more memory than the caller allows.
//
//   std::string body;
//   if (std::string error = watch::gunzip(compressed, 16 << 20, body); !error.empty())
//     return reply(400, error);   // "invalid gzip body: incorrect header check"
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace watch {

// Inflates a gzip body (one member or several, as Go's reader accepts) into
// `out`, failing as soon as the output passes `limit` (0: none). Returns ""
// on success, else why it failed ("body size limit of N bytes exceeded (gzip
// body, decompressed)", "invalid gzip body: ...").
std::string gunzip(std::string_view in, std::size_t limit, std::string& out);

}  // namespace watch
