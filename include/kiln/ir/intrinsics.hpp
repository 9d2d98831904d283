// kiln/ir/intrinsics.hpp: the math intrinsics a CallNode may name, with their arity.
//
// This is the one list the DSL, the reference interpreter and every backend agree on. All of
// them are element-wise on float types and follow C's <cmath> of the same precision (float
// functions for float32; float16/bfloat16 are computed in float32 and rounded to nearest even):
//   exp log exp2 log2 log10 sqrt sin cos tan tanh erf floor ceil trunc fabs   (1 argument)
//   round: rounds half to even (C's nearbyint under the default rounding mode)
//   rsqrt(x) = 1 / sqrt(x)        sigmoid(x) = 1 / (1 + exp(-x))
//   pow(x, y)   fma(x, y, z) = x * y + z rounded once
// "abs" is also defined on integers (wrapping at the most negative value, as two's complement).
#pragma once
#include <string_view>

namespace kiln::ir {

struct IntrinsicInfo {
  std::string_view name;
  int arity;
  bool integer_ok;  // also defined on integer types
};

inline constexpr IntrinsicInfo kIntrinsics[] = {
    {"exp", 1, false},   {"log", 1, false},   {"exp2", 1, false},  {"log2", 1, false},    {"log10", 1, false},
    {"sqrt", 1, false},  {"rsqrt", 1, false}, {"sin", 1, false},   {"cos", 1, false},     {"tan", 1, false},
    {"tanh", 1, false},  {"sigmoid", 1, false}, {"erf", 1, false}, {"floor", 1, false},   {"ceil", 1, false},
    {"trunc", 1, false}, {"round", 1, false}, {"fabs", 1, false},  {"abs", 1, true},      {"pow", 2, false},
    {"fma", 3, false},
};

inline const IntrinsicInfo* find_intrinsic(std::string_view name) {
  for (auto& i : kIntrinsics)
    if (i.name == name) return &i;
  return nullptr;
}

}  // namespace kiln::ir

namespace kiln::ir {

// call_llvm_intrin(name, features, args...): a call of the LLVM intrinsic `name` (a StringImm such
// as "llvm.x86.avx512.vpdpbusd.512"; not overloaded) on `args`. Each argument is bit-cast to the
// intrinsic's parameter type of the same size in bits (a uint8x64 to the <16 x i32> vpdpbusd takes)
// and the result to the call's type. `features` (a StringImm such as "+avx512vnni", "" for none)
// are the CPU features the intrinsic needs: building for a target without them is a UserError,
// not an LLVM crash. Only the LLVM backend implements it; the reference interpreter does not.
// Tensor intrinsics (kiln/tir/intrin/x86.hpp) use it for instructions LLVM does not form by itself.
inline constexpr std::string_view kCallLLVMIntrin = "call_llvm_intrin";

}  // namespace kiln::ir
