// kiln/ir/dtype.hpp: runtime data types (code, bits, lanes), as in TVM and DLPack.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/error.hpp"

namespace kiln {

enum class TypeCode : uint8_t { Int = 0, UInt = 1, Float = 2, Handle = 3, BFloat = 4, Bool = 5 };

struct DataType {
  TypeCode code = TypeCode::Handle;
  uint8_t bits = 0;
  uint16_t lanes = 1;

  constexpr DataType() = default;
  constexpr DataType(TypeCode c, int b, int l = 1) : code(c), bits(uint8_t(b)), lanes(uint16_t(l)) {}

  static constexpr DataType boolean(int lanes = 1) { return {TypeCode::Bool, 1, lanes}; }
  static constexpr DataType int_(int bits, int lanes = 1) { return {TypeCode::Int, bits, lanes}; }
  static constexpr DataType uint(int bits, int lanes = 1) { return {TypeCode::UInt, bits, lanes}; }
  static constexpr DataType float_(int bits, int lanes = 1) { return {TypeCode::Float, bits, lanes}; }
  static constexpr DataType bfloat16(int lanes = 1) { return {TypeCode::BFloat, 16, lanes}; }
  static constexpr DataType handle() { return {TypeCode::Handle, 64, 1}; }
  static constexpr DataType void_() { return {TypeCode::Handle, 0, 1}; }

  constexpr bool is_bool() const { return code == TypeCode::Bool; }
  constexpr bool is_int() const { return code == TypeCode::Int; }
  constexpr bool is_uint() const { return code == TypeCode::UInt; }
  constexpr bool is_integer() const { return is_int() || is_uint(); }   // not bool
  constexpr bool is_float() const { return code == TypeCode::Float || code == TypeCode::BFloat; }
  constexpr bool is_bfloat16() const { return code == TypeCode::BFloat; }
  constexpr bool is_float16() const { return code == TypeCode::Float && bits == 16; }
  constexpr bool is_handle() const { return code == TypeCode::Handle && bits != 0; }
  constexpr bool is_void() const { return code == TypeCode::Handle && bits == 0; }
  constexpr bool is_scalar() const { return lanes == 1; }
  constexpr bool is_vector() const { return lanes > 1; }
  constexpr DataType element_of() const { return {code, bits, 1}; }
  constexpr DataType with_lanes(int l) const { return {code, bits, l}; }
  // Bytes one element occupies in memory (bool is stored as one byte).
  constexpr int bytes() const { return code == TypeCode::Bool ? lanes : (bits * lanes + 7) / 8; }

  friend constexpr bool operator==(DataType a, DataType b) {
    return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
  }
  friend constexpr bool operator!=(DataType a, DataType b) { return !(a == b); }

  std::string str() const {
    std::string s;
    switch (code) {
      case TypeCode::Int: s = "int" + std::to_string(bits); break;
      case TypeCode::UInt: s = "uint" + std::to_string(bits); break;
      case TypeCode::Float: s = "float" + std::to_string(bits); break;
      case TypeCode::BFloat: s = "bfloat16"; break;
      case TypeCode::Bool: s = "bool"; break;
      case TypeCode::Handle: s = bits == 0 ? "void" : "handle"; break;
    }
    if (lanes > 1) s += "x" + std::to_string(lanes);
    return s;
  }

  // Parses "float32", "int8x16", "bool", "bfloat16", "handle"; throws UserError otherwise.
  static DataType parse(std::string_view text) {
    std::string_view s = text;
    int lanes = 1;
    if (auto x = s.find('x'); x != std::string_view::npos && x > 0) {
      auto lane_text = s.substr(x + 1);
      lanes = 0;
      for (char c : lane_text) {
        if (c < '0' || c > '9') { lanes = -1; break; }
        lanes = lanes * 10 + (c - '0');
      }
      if (lanes <= 0) lanes = -1;
      s = s.substr(0, x);
    }
    auto with_bits = [&](std::string_view prefix, TypeCode code, DataType& out) {
      if (s.substr(0, prefix.size()) != prefix) return false;
      auto rest = s.substr(prefix.size());
      if (rest == "8" || rest == "16" || rest == "32" || rest == "64") {
        int b = std::stoi(std::string(rest));
        if (code == TypeCode::Float && b == 8) return false;
        out = DataType(code, b, lanes);
        return true;
      }
      return false;
    };
    DataType out;
    bool ok = lanes > 0 &&
              (s == "bool"       ? (out = boolean(lanes), true)
               : s == "bfloat16" ? (out = bfloat16(lanes), true)
               : s == "handle"   ? (out = handle(), true)
               : s == "void"     ? (out = void_(), true)
                                 : with_bits("int", TypeCode::Int, out) || with_bits("uint", TypeCode::UInt, out) ||
                                   with_bits("float", TypeCode::Float, out));
    if (!ok)
      user_error("unknown data type '", text, "'; legal: bool, int8/16/32/64, uint8/16/32/64, float16/32/64, ",
                 "bfloat16, optionally with lanes as in 'float32x8'");
    return out;
  }
};

inline std::ostream& operator<<(std::ostream& os, DataType t) { return os << t.str(); }

// Compile-time element types of the typed DSL. Each maps to one runtime DataType.
struct f16 { uint16_t bits; };   // IEEE half, storage only
struct bf16 { uint16_t bits; };  // bfloat16, storage only
using f32 = float;
using f64 = double;
using i8 = int8_t;
using i16 = int16_t;
using i32 = int32_t;
using i64 = int64_t;
using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;

template <typename T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DataType value = DataType::boolean(); };
template <> struct dtype_of<f16> { static constexpr DataType value = DataType::float_(16); };
template <> struct dtype_of<bf16> { static constexpr DataType value = DataType::bfloat16(); };
template <> struct dtype_of<float> { static constexpr DataType value = DataType::float_(32); };
template <> struct dtype_of<double> { static constexpr DataType value = DataType::float_(64); };
template <> struct dtype_of<int8_t> { static constexpr DataType value = DataType::int_(8); };
template <> struct dtype_of<int16_t> { static constexpr DataType value = DataType::int_(16); };
template <> struct dtype_of<int32_t> { static constexpr DataType value = DataType::int_(32); };
template <> struct dtype_of<int64_t> { static constexpr DataType value = DataType::int_(64); };
template <> struct dtype_of<uint8_t> { static constexpr DataType value = DataType::uint(8); };
template <> struct dtype_of<uint16_t> { static constexpr DataType value = DataType::uint(16); };
template <> struct dtype_of<uint32_t> { static constexpr DataType value = DataType::uint(32); };
template <> struct dtype_of<uint64_t> { static constexpr DataType value = DataType::uint(64); };
template <typename T> inline constexpr DataType dtype_v = dtype_of<T>::value;

}  // namespace kiln
