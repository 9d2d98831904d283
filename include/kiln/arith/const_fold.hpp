// kiln/arith/const_fold.hpp: folding operators whose operands are all constants.
//
// The folded value is exactly what the interpreter and the code generators compute: integers wrap
// to the width of their type, float32 is computed in float (never double), float16/bfloat16 in
// float32 rounded back to the narrow type, float min/max are IEEE maxNum/minNum. Anything whose
// value depends on a runtime error (integer division by zero, float->int out of range) is left
// unfolded so the error still happens where it would have.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kiln/ir/op.hpp"

namespace kiln::arith {

namespace detail {

// The canonical IntImm value of v in type t: sign-extended for signed types, zero-extended for
// unsigned ones (uint64 keeps its bit pattern), 0/1 for bool.
inline int64_t normalize_int(int64_t v, DataType t) {
  if (t.is_bool()) return v != 0;
  int bits = t.bits;
  if (bits >= 64) return v;
  uint64_t mask = (uint64_t(1) << bits) - 1;
  uint64_t u = uint64_t(v) & mask;
  if (t.is_uint()) return int64_t(u);
  if (u >> (bits - 1)) u |= ~mask;
  return int64_t(u);
}
// v reduced to `bits` bits and read as signed: how coefficients of unsigned types are kept.
inline int64_t sign_wrap(int64_t v, int bits) {
  if (bits >= 64) return v;
  return normalize_int(v, DataType::int_(bits));
}
inline ir::Expr make_int(int64_t v, DataType t) { return ir::int_imm(normalize_int(v, t), t); }

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, mant = x & 0x7fffffu;
  if (exp == 0xff) return uint16_t(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int e = int(exp) - 127 + 15;
  if (e >= 31) return uint16_t(sign | 0x7c00u);
  if (e <= 0) {  // a half subnormal (or zero)
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000u;
    int shift = 14 - e;
    uint32_t m = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (m & 1))) m++;
    return uint16_t(sign | m);
  }
  uint32_t m = mant >> 13, rem = mant & 0x1fffu;
  uint32_t h = sign | (uint32_t(e) << 10) | m;
  if (rem > 0x1000u || (rem == 0x1000u && (m & 1))) h++;  // a carry into the exponent is correct
  return uint16_t(h);
}
inline float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float v = std::ldexp(float(mant), -24);
    return sign ? -v : v;
  }
  uint32_t x = exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
inline float round_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu)) x |= 0x400000u;  // NaN stays (quiet) NaN
  else x += 0x7fffu + ((x >> 16) & 1u);
  x &= 0xffff0000u;
  std::memcpy(&f, &x, 4);
  return f;
}
// A value computed in float32 rounded to the float type t (t is float16, bfloat16 or float32).
inline float round_to(float v, DataType t) {
  if (t.is_bfloat16()) return round_to_bfloat16(v);
  if (t.bits == 16) return half_to_float(float_to_half(v));
  return v;
}
// A double constant converted to the float type t.
inline double to_float_type(double v, DataType t) {
  if (t.bits == 64 && !t.is_bfloat16()) return v;
  return double(round_to(float(v), t));
}

inline bool int_less(int64_t a, int64_t b, DataType t) { return t.is_uint() ? uint64_t(a) < uint64_t(b) : a < b; }

// Integer (and bool) binary op on canonical values; nullopt when it must not be folded.
inline std::optional<int64_t> fold_int(ir::BinaryOp op, int64_t a, int64_t b, DataType t) {
  using ir::BinaryOp;
  bool u = t.is_uint();
  auto wrap = [&](uint64_t v) { return normalize_int(int64_t(v), t); };
  switch (op) {
    case BinaryOp::Add: return wrap(uint64_t(a) + uint64_t(b));
    case BinaryOp::Sub: return wrap(uint64_t(a) - uint64_t(b));
    case BinaryOp::Mul: return wrap(uint64_t(a) * uint64_t(b));
    case BinaryOp::Div: case BinaryOp::Mod: case BinaryOp::FloorDiv: case BinaryOp::FloorMod: {
      if (b == 0 || t.is_bool()) return std::nullopt;
      bool is_div = op == BinaryOp::Div || op == BinaryOp::FloorDiv;
      if (u) return wrap(is_div ? uint64_t(a) / uint64_t(b) : uint64_t(a) % uint64_t(b));
      if (a == INT64_MIN && b == -1) return wrap(is_div ? uint64_t(a) : 0);  // wraps, as the hardware result
      int64_t q = a / b, r = a % b;
      if (op == BinaryOp::Div) return wrap(uint64_t(q));
      if (op == BinaryOp::Mod) return wrap(uint64_t(r));
      bool adjust = r != 0 && ((r < 0) != (b < 0));
      if (op == BinaryOp::FloorDiv) return wrap(uint64_t(adjust ? q - 1 : q));
      return wrap(uint64_t(adjust ? r + b : r));
    }
    case BinaryOp::Min: return int_less(b, a, t) ? b : a;
    case BinaryOp::Max: return int_less(a, b, t) ? b : a;
    case BinaryOp::EQ: return a == b;
    case BinaryOp::NE: return a != b;
    case BinaryOp::LT: return int_less(a, b, t);
    case BinaryOp::LE: return !int_less(b, a, t);
    case BinaryOp::GT: return int_less(b, a, t);
    case BinaryOp::GE: return !int_less(a, b, t);
    case BinaryOp::And: return (a != 0) && (b != 0);
    case BinaryOp::Or: return (a != 0) || (b != 0);
  }
  return std::nullopt;
}

template <typename F>
std::optional<double> fold_float_arith(ir::BinaryOp op, F a, F b) {
  using ir::BinaryOp;
  switch (op) {
    case BinaryOp::Add: return double(F(a + b));
    case BinaryOp::Sub: return double(F(a - b));
    case BinaryOp::Mul: return double(F(a * b));
    case BinaryOp::Div: return double(F(a / b));
    case BinaryOp::Min: return double(std::fmin(a, b));  // minNum: NaN loses
    case BinaryOp::Max: return double(std::fmax(a, b));
    default: return std::nullopt;  // float mod/floordiv/floormod: left to the backends
  }
}
inline std::optional<bool> fold_float_compare(ir::BinaryOp op, double a, double b) {
  using ir::BinaryOp;
  switch (op) {
    case BinaryOp::EQ: return a == b;
    case BinaryOp::NE: return a != b;
    case BinaryOp::LT: return a < b;
    case BinaryOp::LE: return a <= b;
    case BinaryOp::GT: return a > b;
    case BinaryOp::GE: return a >= b;
    default: return std::nullopt;
  }
}

}  // namespace detail

// a op b when both are scalar constants and the result is well defined; undefined Expr otherwise.
inline ir::Expr fold_binary(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
  DataType t = a.dtype();
  if (!t.is_scalar() || t != b.dtype()) return {};
  DataType rt = ir::result_type(op, t);
  auto* ia = ir::as_int_imm(a);
  auto* ib = ir::as_int_imm(b);
  if (ia && ib) {
    if (!t.is_integer() && !t.is_bool()) return {};
    if (t.is_bool() && (op == ir::BinaryOp::Add || op == ir::BinaryOp::Sub || op == ir::BinaryOp::Mul)) return {};
    auto r = detail::fold_int(op, ia->value, ib->value, t);
    return r ? detail::make_int(*r, rt) : ir::Expr();
  }
  auto* fa = a.as<ir::FloatImmNode>();
  auto* fb = b.as<ir::FloatImmNode>();
  if (!fa || !fb) return {};
  if (auto c = detail::fold_float_compare(op, fa->value, fb->value)) return ir::bool_imm(*c);
  std::optional<double> r;
  if (t.bits == 64) {
    r = detail::fold_float_arith<double>(op, fa->value, fb->value);
  } else {
    r = detail::fold_float_arith<float>(op, float(fa->value), float(fb->value));
    if (r) r = double(detail::round_to(float(*r), t));
  }
  return r ? ir::float_imm(*r, t) : ir::Expr();
}

inline ir::Expr fold_not(const ir::Expr& a) {
  auto* i = ir::as_int_imm(a);
  if (i && a.dtype() == DataType::boolean()) return ir::bool_imm(i->value == 0);
  return {};
}

// cast<t>(v) for a scalar constant v; undefined when the result is not defined (float->int out of range).
inline ir::Expr fold_cast(DataType t, const ir::Expr& v) {
  DataType s = v.dtype();
  if (!t.is_scalar() || !s.is_scalar()) return {};
  if (t == s) return v;
  if (auto* i = ir::as_int_imm(v)) {
    if (!s.is_integer() && !s.is_bool()) return {};
    if (t.is_bool()) return ir::bool_imm(i->value != 0);
    if (t.is_integer()) return detail::make_int(i->value, t);
    if (!t.is_float()) return {};
    bool u = s.is_uint() && s.bits == 64;  // only uint64 has values outside int64
    if (t.bits == 64 && !t.is_bfloat16()) return ir::float_imm(u ? double(uint64_t(i->value)) : double(i->value), t);
    float f = u ? float(uint64_t(i->value)) : float(i->value);  // one rounding, straight to float
    return ir::float_imm(double(detail::round_to(f, t)), t);
  }
  if (auto* f = v.as<ir::FloatImmNode>()) {
    double x = f->value;
    if (t.is_float()) return ir::float_imm(detail::to_float_type(x, t), t);
    if (t.is_bool()) return ir::bool_imm(x != 0);
    if (!t.is_integer() || std::isnan(x)) return {};
    double tr = std::trunc(x);
    if (t.is_uint()) {
      double limit = std::ldexp(1.0, t.bits);
      if (tr < 0 || tr >= limit) return {};
      return detail::make_int(int64_t(uint64_t(tr)), t);
    }
    double limit = std::ldexp(1.0, t.bits - 1);
    if (tr < -limit || tr >= limit) return {};
    return ir::int_imm(int64_t(tr), t);
  }
  return {};
}

}  // namespace kiln::arith
