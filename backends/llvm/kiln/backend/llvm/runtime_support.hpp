// kiln/backend/llvm/runtime_support.hpp: the C functions JIT-compiled kernels call.
//
// Kernels never link against libgcc or compiler-rt: every helper they need is a kiln function whose
// address the JIT defines as an absolute symbol (see jit.hpp), so the same code runs whatever the
// host's toolchain ships.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "kiln/runtime/float16.hpp"
#include "kiln/runtime/thread_pool.hpp"

namespace kiln::backend::llvm::detail {

// Heap memory for Allocate statements too large (or too dynamic) for the stack: 64-byte aligned.
// Returns nullptr on failure; the kernel turns that into error code kErrorOutOfMemory.
inline void* kiln_alloc(int64_t bytes) {
  if (bytes < 0) return nullptr;
  size_t n = (size_t(bytes) + 63) / 64 * 64;
  return std::aligned_alloc(64, n == 0 ? 64 : n);
}
inline void kiln_free(void* p) { std::free(p); }

// Error codes a kernel returns (0 = success).
inline constexpr int32_t kErrorOutOfMemory = 2;

// Half-precision libcalls LLVM emits when the target has no F16C. On x86-64 the ABI passes and
// returns _Float16 in an XMM register, so the signatures must use _Float16, not uint16_t.
#if defined(__x86_64__) && (defined(__FLT16_MAX__) || defined(__clang__))
using HalfAbi = _Float16;
#else
using HalfAbi = uint16_t;
#endif
inline uint16_t half_abi_bits(HalfAbi h) {
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline HalfAbi half_abi_from_bits(uint16_t b) {
  HalfAbi h;
  std::memcpy(&h, &b, 2);
  return h;
}
inline float extend_half_to_float(HalfAbi h) { return runtime::half_bits_to_float(half_abi_bits(h)); }
inline HalfAbi trunc_float_to_half(float f) { return half_abi_from_bits(runtime::float_to_half_bits(f)); }
inline HalfAbi trunc_double_to_half(double d) { return half_abi_from_bits(runtime::double_to_half_bits(d)); }

}  // namespace kiln::backend::llvm::detail
