#include "workload/uuid.h"

#include <array>
#include <cstdint>
#include <string>

#include "firebreak/trace.h"
#include "firebreak/workload/http.h"
#include "firebreak/workload/job.h"

namespace firebreak {
namespace detail {

void write_uuid(char* out) noexcept {
  // TraceId::random() gives 16 random bytes from a fast per-thread generator.
  std::array<std::uint8_t, 16> b = TraceId::random().bytes();
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t o = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 0x0f];
  }
}

}  // namespace detail

std::string generate_uuid() {
  std::string s(detail::kUuidSize, '\0');
  detail::write_uuid(s.data());
  return s;
}

std::string generate_request_id() {
  return generate_uuid();
}

}  // namespace firebreak
