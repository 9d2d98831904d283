// kiln/runtime/float16.hpp: conversions between float/double and the 16-bit float formats.
//
// IEEE half (1 sign, 5 exponent, 10 mantissa bits) and bfloat16 (1, 8, 7). Every conversion to a
// narrow format rounds to nearest even, produces subnormals and infinities like IEEE 754, and keeps
// NaN a (quiet) NaN with its sign and top payload bits. Conversions to float are exact.
#pragma once
#include <bit>
#include <cstdint>

namespace kiln::runtime {

namespace detail {
// Rounds d once to a binary format with `ebits` exponent and `mbits` mantissa bits (<= 15 bits in
// all), returning its bit pattern. Going from double avoids the double rounding double->float->half.
inline uint16_t round_double_to_narrow(double d, int ebits, int mbits) {
  uint64_t x = std::bit_cast<uint64_t>(d);
  auto sign = uint16_t((x >> 63) << 15);
  uint64_t a = x & 0x7fffffffffffffffULL;
  auto inf = uint16_t(((1u << ebits) - 1) << mbits);
  if (a >= 0x7ff0000000000000ULL) {
    if (a == 0x7ff0000000000000ULL) return uint16_t(sign | inf);
    uint64_t payload = (a >> (52 - mbits)) & ((1u << mbits) - 1);
    return uint16_t(sign | inf | (1u << (mbits - 1)) | payload);  // quiet bit set: never becomes inf
  }
  int bias = (1 << (ebits - 1)) - 1;
  auto exp = int64_t(a >> 52);
  int shift = 52 - mbits;
  if (exp >= 1023 - bias + 1) {  // a normal number of the narrow format (or an overflow)
    uint64_t m = a - (uint64_t(1023 - bias) << 52);
    uint64_t r = (m + (uint64_t(1) << (shift - 1)) - 1 + ((m >> shift) & 1)) >> shift;  // carries into the exponent
    return uint16_t(sign | (r >= inf ? inf : r));
  }
  if (exp == 0) return sign;  // double subnormals are far below the narrow formats' smallest subnormal
  // Subnormal of the narrow format: count units of its smallest subnormal, rounded to nearest even.
  uint64_t mant = (a & ((uint64_t(1) << 52) - 1)) | (uint64_t(1) << 52);
  int64_t sh = 1076 - bias - mbits - exp;
  if (sh >= 54) return sign;
  uint64_t r = mant >> sh, rem = mant & ((uint64_t(1) << sh) - 1), half = uint64_t(1) << (sh - 1);
  if (rem > half || (rem == half && (r & 1))) ++r;
  return uint16_t(sign | r);
}
}  // namespace detail

inline uint16_t double_to_half_bits(double d) { return detail::round_double_to_narrow(d, 5, 10); }
inline uint16_t double_to_bfloat16_bits(double d) { return detail::round_double_to_narrow(d, 8, 7); }

inline uint16_t float_to_half_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  auto sign = uint16_t((x >> 16) & 0x8000);
  uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN stays a quiet NaN
  if (a >= 0x38800000u) {                                                        // normal half, inf or overflow
    uint32_t m = a - (uint32_t(127 - 15) << 23);
    uint32_t r = (m + 0xfffu + ((m >> 13) & 1u)) >> 13;
    return uint16_t(sign | (r >= 0x7c00u ? 0x7c00u : r));
  }
  return detail::round_double_to_narrow(double(f), 5, 10);  // subnormal or zero: rare, exact via double
}

inline float half_bits_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (mant << 13));
  // Subnormal or zero: mant * 2^-24, exact in float.
  float v = float(mant) * 5.9604644775390625e-08f;
  return sign ? -v : v;
}

inline uint16_t float_to_bfloat16_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // NaN stays a quiet NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);                  // overflow carries into inf
}

inline float bfloat16_bits_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

// Short spellings used by the test helpers.
inline uint16_t float_to_bf16_bits(float f) { return float_to_bfloat16_bits(f); }
inline float bf16_bits_to_float(uint16_t b) { return bfloat16_bits_to_float(b); }

// Rounds a float to the nearest half / bfloat16 value, returned as float (the f16/bf16 arithmetic
// of the interpreter: compute in float, then round after every operation).
inline float round_to_half(float f) { return half_bits_to_float(float_to_half_bits(f)); }
inline float round_to_bfloat16(float f) { return bfloat16_bits_to_float(float_to_bfloat16_bits(f)); }

}  // namespace kiln::runtime
