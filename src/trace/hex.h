// Internal: lowercase hex encoding and strict decoding, table-driven.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace firebreak::detail {

struct HexPairs {
  char v[256][2];
};
inline constexpr HexPairs kHexPairs = [] {
  HexPairs t{};
  constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    t.v[i][0] = digits[i >> 4];
    t.v[i][1] = digits[i & 15];
  }
  return t;
}();

// Value of a lowercase hex digit, or -1 (uppercase is not a HEXDIGLC).
inline constexpr std::array<std::int8_t, 256> kHexValue = [] {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<std::int8_t>(c - 'a' + 10);
  return t;
}();

// Writes 2 * n lowercase hex digits.
inline void hex_encode(const std::uint8_t* in, std::size_t n, char* out) noexcept {
  for (std::size_t i = 0; i < n; ++i) std::memcpy(out + 2 * i, kHexPairs.v[in[i]], 2);
}

// Decodes 2 * n lowercase hex digits; false on any other character.
inline bool hex_decode_lower(const char* in, std::size_t n, std::uint8_t* out) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = kHexValue[static_cast<unsigned char>(in[2 * i])];
    const int lo = kHexValue[static_cast<unsigned char>(in[2 * i + 1])];
    if ((hi | lo) < 0) return false;
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return true;
}

}  // namespace firebreak::detail
