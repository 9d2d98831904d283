// kiln/backend/llvm.hpp: the CPU backend. Including this header registers target kind "llvm"
// with kiln::build; kernels are compiled with LLVM 19 (O3 for the host CPU) and JIT-linked in
// process with ORC LLJIT. Meson: dependency('kiln-llvm').
//
//   #include <kiln/backend/llvm.hpp>
//   auto mod = kiln::build(func, kiln::Target("llvm -mcpu=native"));
//   mod["main"](a, b, c);
//
// Kernel ABI (what the generated code exports, for anyone calling it without kiln::runtime):
//   int32_t fn(void** args): args[i] for each param in order: tensor -> its data pointer; integer
//   scalar -> pointer to int64_t; float scalar -> pointer to double; then one pointer to int64_t
//   per tir::shape_vars(f) entry. Returns 0 on success.
// KILN_DUMP_LLVM=dir writes each function's LLVM IR before (.unopt.ll) and after (.ll) optimization.
// KILN_JIT_STATS=1 prints, for each function, the time of codegen, verification, O3 and machine code.
#pragma once
#include "kiln/backend/llvm/codegen.hpp"
#include "kiln/backend/llvm/jit.hpp"
#include "kiln/build.hpp"

namespace kiln::backend::llvm::detail {
// Registered at static-initialization time of any translation unit that includes this header.
inline const bool registered_with_build = [] {
  kiln::register_backend("llvm", [](const ir::IRModule& lowered, const Target& target) {
    return llvm::compile(lowered, target);
  });
  return true;
}();
}  // namespace kiln::backend::llvm::detail
