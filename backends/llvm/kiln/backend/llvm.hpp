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
//
// llvm::emit_assembly(func, target) returns the assembly for any CPU of the host's architecture
// (-mcpu=skylake-avx512 on a machine without AVX-512, say): for checking instruction selection.
#pragma once
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/CodeGen.h>

#include "kiln/backend/llvm/codegen.hpp"
#include "kiln/backend/llvm/jit.hpp"
#include "kiln/build.hpp"

namespace kiln::backend::llvm {
namespace detail {

// UserError when a function calls an LLVM intrinsic (ir::kCallLLVMIntrin) whose CPU features the
// target lacks: LLVM itself would abort in instruction selection.
inline void check_intrinsic_features(const ir::IRModule& lowered, const CompileOptions& o) {
  std::unique_ptr<::llvm::TargetMachine> tm;
  for (auto& [name, base] : lowered.functions()) {
    if (base->kind != ir::FuncKind::Prim) continue;
    for (auto& [intrin, feats] : llvm_intrinsic_features(lowered.prim_func(name))) {
      if (feats.empty()) continue;
      if (!tm) tm = check_llvm(machine_builder(o).createTargetMachine(), "target machine creation");
      if (!tm->getMCSubtargetInfo()->checkFeatures(feats))
        user_error("function '", name, "' calls the LLVM intrinsic '", intrin, "', which needs the CPU features '", feats,
                   "', but target '", o.target_str, "' (CPU ", tm->getTargetCPU().str(),
                   ") lacks them; build for a CPU that has them (e.g. \"llvm -mcpu=sapphirerapids\" or -mattr=", feats,
                   ") and run it only where the CPU has them, or tensorize with an intrinsic for this CPU");
    }
  }
}

}  // namespace detail

// The assembly of `f` (lowered and optimized as kiln::build does) for `target`, whose CPU may be
// any LLVM knows for the host's architecture: nothing is run, so a kernel for a CPU feature this
// machine lacks can still be inspected.
inline std::string emit_assembly(const ir::PrimFunc& f, const Target& target) {
  CompileOptions o = CompileOptions::from_target(target);
  ::llvm::orc::JITTargetMachineBuilder jtmb = detail::machine_builder(o);
  detail::check_cpu_and_features(o, jtmb.getTargetTriple());
  tir::check_cpu_compatible(f);
  ir::IRModule lowered = ir::IRModule::from_prim_func(tir::lower(f), "main");
  detail::check_intrinsic_features(lowered, o);
  std::unique_ptr<::llvm::TargetMachine> tm = detail::check_llvm(jtmb.createTargetMachine(), "target machine creation");
  ::llvm::LLVMContext ctx;
  ::llvm::Module m("main", ctx);
  m.setDataLayout(tm->createDataLayout());
  m.setTargetTriple(jtmb.getTargetTriple().str());
  CodeGen(ctx, m).add_function(lowered.prim_func("main"), detail::symbol_for("main", 0));
  {
    std::string err;
    ::llvm::raw_string_ostream os(err);
    if (::llvm::verifyModule(m, &os)) internal_error("LLVM IR for '", f->name, "' does not verify: ", os.str());
  }
  detail::optimize(m, *tm, o.opt_level);
  ::llvm::SmallString<0> text;
  ::llvm::raw_svector_ostream os(text);
  ::llvm::legacy::PassManager pm;
  KILN_ICHECK(!tm->addPassesToEmitFile(pm, os, nullptr, ::llvm::CodeGenFileType::AssemblyFile),
              "LLVM cannot emit assembly for target '", o.target_str, "'");
  pm.run(m);
  return std::string(text.str());
}

}  // namespace kiln::backend::llvm

namespace kiln::backend::llvm::detail {
// Registered at static-initialization time of any translation unit that includes this header.
inline const bool registered_with_build = [] {
  kiln::register_backend("llvm", [](const ir::IRModule& lowered, const Target& target) {
    CompileOptions o = CompileOptions::from_target(target);
    check_intrinsic_features(lowered, o);
    return llvm::compile(lowered, o);
  });
  return true;
}();
}  // namespace kiln::backend::llvm::detail
