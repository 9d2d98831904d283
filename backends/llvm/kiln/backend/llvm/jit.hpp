// kiln/backend/llvm/jit.hpp: optimize generated LLVM IR for the host and JIT it with ORC LLJIT.
//
// Why the JIT is shared: one LLJIT (with its host detection and TargetMachines) per distinct
// CPU / feature set / opt level serves every kiln module of the process, instead of one per
// kiln::build. Each kiln module gets its own JITDylib, removed (its code freed) when the last
// runtime::Module or Function referencing it dies. Each PrimFunc is its own LLVM module (so its
// compile time can be measured and reported as jit_time_ms). The runtime helpers kernels call are
// absolute symbols of a shared "kiln_runtime" JITDylib; libm functions (tanhf, erff, expf for
// vector lanes, ...) resolve from the process. Building from several threads at once is safe:
// codegen and the O3 pipeline run in parallel (each on its own LLVMContext and pooled
// TargetMachine); machine-code emission is serialized per shared LLJIT.
// KILN_JIT_STATS=1 prints the time of each phase of each function to stderr.
#pragma once
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/OptimizationLevel.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/backend/llvm/codegen.hpp"
#include "kiln/runtime/module.hpp"
#include "kiln/target.hpp"
#include "kiln/tir/bind_args.hpp"

namespace kiln::backend::llvm {

// What the LLVM backend takes from a Target: CPU, features, optimization level.
struct CompileOptions {
  std::string mcpu;    // empty or "native": the host CPU with its features
  std::string mattr;   // "+avx2,-fma": added to the CPU's features
  std::string mtriple; // empty: the host; anything else must be the host (the JIT runs in process)
  int opt_level = 3;
  std::string target_str = "llvm";
  bool keep_llvm_ir = false;  // keep the optimized IR text (LLVMFunction::llvm_ir), for tests and debugging

  static CompileOptions from_target(const Target& t) {
    KILN_USER_CHECK(t.kind() == "llvm", "the LLVM backend compiles for target kind 'llvm', got '", t.str(), "'");
    CompileOptions o;
    o.mcpu = t.attr_or("mcpu", "");
    o.mattr = t.attr_or("mattr", "");
    o.mtriple = t.attr_or("mtriple", "");
    o.opt_level = std::stoi(t.attr_or("opt-level", "3"));
    o.target_str = t.str();
    return o;
  }
};

namespace detail {

inline void init_llvm_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::llvm::InitializeNativeTarget();
    ::llvm::InitializeNativeTargetAsmPrinter();
    ::llvm::InitializeNativeTargetAsmParser();
  });
}

template <typename T>
T check_llvm(::llvm::Expected<T> v, const char* what) {
  if (!v) {
    std::string msg;
    ::llvm::raw_string_ostream os(msg);
    os << v.takeError();
    internal_error("LLVM ", what, " failed: ", os.str());
  }
  return std::move(*v);
}
inline void check_llvm(::llvm::Error e, const char* what) {
  if (e) {
    std::string msg;
    ::llvm::raw_string_ostream os(msg);
    os << std::move(e);
    internal_error("LLVM ", what, " failed: ", os.str());
  }
}

inline std::vector<std::string> split_features(const std::string& mattr) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < mattr.size()) {
    size_t comma = mattr.find(',', start);
    if (comma == std::string::npos) comma = mattr.size();
    if (comma > start) out.push_back(mattr.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// The machine to compile for: the host, or the CPU / features the target names (checked against
// what LLVM knows, so a typo is a UserError instead of an LLVM warning on stderr).
inline ::llvm::orc::JITTargetMachineBuilder machine_builder(const CompileOptions& o) {
  init_llvm_once();
  static const ::llvm::orc::JITTargetMachineBuilder host =
      check_llvm(::llvm::orc::JITTargetMachineBuilder::detectHost(), "host detection");
  ::llvm::orc::JITTargetMachineBuilder jtmb = host;
  if (!o.mtriple.empty()) {
    ::llvm::Triple want(::llvm::Triple::normalize(o.mtriple));
    KILN_USER_CHECK(want.getArch() == jtmb.getTargetTriple().getArch() && want.getOS() == jtmb.getTargetTriple().getOS(),
                    "target option -mtriple=", o.mtriple, ": the llvm target JIT-compiles for this process, whose triple is ",
                    jtmb.getTargetTriple().str(), "; drop -mtriple or use that triple");
  }
  if (!o.mcpu.empty() && o.mcpu != "native") {
    jtmb.setCPU(o.mcpu);
    jtmb.getFeatures() = ::llvm::SubtargetFeatures();
  }
  auto feats = split_features(o.mattr);
  if (!feats.empty()) jtmb.addFeatures(feats);
  jtmb.setCodeGenOptLevel(o.opt_level == 0   ? ::llvm::CodeGenOptLevel::None
                          : o.opt_level == 1 ? ::llvm::CodeGenOptLevel::Less
                          : o.opt_level == 2 ? ::llvm::CodeGenOptLevel::Default
                                             : ::llvm::CodeGenOptLevel::Aggressive);
  jtmb.getOptions().AllowFPOpFusion = ::llvm::FPOpFusion::Strict;  // a*b+c is two roundings
  return jtmb;
}

// Checks -mcpu and -mattr against what LLVM knows for the host triple, before a TargetMachine is
// made (LLVM itself would only print a warning and ignore them).
inline void check_cpu_and_features(const CompileOptions& o, const ::llvm::Triple& triple) {
  if ((o.mcpu.empty() || o.mcpu == "native") && o.mattr.empty()) return;
  std::string err;
  const ::llvm::Target* target = ::llvm::TargetRegistry::lookupTarget(triple.str(), err);
  KILN_ICHECK(target, "no LLVM target for the host triple ", triple.str(), ": ", err);
  std::unique_ptr<::llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple.str(), "", ""));
  if (!o.mcpu.empty() && o.mcpu != "native" && !sti->isCPUStringValid(o.mcpu))
    user_error("target '", o.target_str, "': LLVM does not know the CPU '", o.mcpu, "' for ", triple.str(),
               "; use -mcpu=native (this machine: ", ::llvm::sys::getHostCPUName().str(),
               ") or an LLVM CPU name such as x86-64-v3, skylake-avx512, znver4");
  for (auto& f : split_features(o.mattr)) {
    std::string name = f.substr(1);
    bool known = false;
    for (auto& kv : sti->getAllProcessorFeatures()) known |= name == kv.Key;
    KILN_USER_CHECK(known, "target '", o.target_str, "': LLVM does not know the CPU feature '", name, "' for ",
                    triple.str(), "; features are LLVM names such as avx2, fma, avx512f, f16c");
  }
}

inline void optimize(::llvm::Module& m, ::llvm::TargetMachine& tm, int level) {
  ::llvm::LoopAnalysisManager lam;
  ::llvm::FunctionAnalysisManager fam;
  ::llvm::CGSCCAnalysisManager cgam;
  ::llvm::ModuleAnalysisManager mam;
  ::llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = level >= 2;
  pto.SLPVectorization = level >= 2;
  ::llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  ::llvm::OptimizationLevel ol = level <= 0   ? ::llvm::OptimizationLevel::O0
                                 : level == 1 ? ::llvm::OptimizationLevel::O1
                                 : level == 2 ? ::llvm::OptimizationLevel::O2
                                              : ::llvm::OptimizationLevel::O3;
  ::llvm::ModulePassManager mpm =
      level <= 0 ? pb.buildO0DefaultPipeline(ol) : pb.buildPerModuleDefaultPipeline(ol);
  mpm.run(m, mam);
}

inline std::string module_text(const ::llvm::Module& m) {
  std::string s;
  ::llvm::raw_string_ostream os(s);
  m.print(os, nullptr);
  return os.str();
}

// KILN_DUMP_LLVM=dir writes <dir>/<function>.ll (optimized) and <function>.unopt.ll.
inline void dump_llvm(const std::string& name, const char* suffix, const ::llvm::Module& m) {
  const char* dir = std::getenv("KILN_DUMP_LLVM");
  if (!dir || !*dir) return;
  std::ofstream(std::string(dir) + "/" + name + suffix) << module_text(m);
}

inline std::string symbol_for(const std::string& name, size_t index) {
  std::string s = "kiln_fn" + std::to_string(index) + "_";
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s;
}

using KernelFn = int32_t (*)(void**);

// One LLJIT shared by every kiln module compiled for the same machine (see the top of this file).
struct SharedJIT {
  ::llvm::orc::JITTargetMachineBuilder jtmb;
  std::unique_ptr<::llvm::orc::LLJIT> jit;
  ::llvm::orc::JITDylib* runtime_lib = nullptr;  // runtime helpers and process symbols
  ::llvm::DataLayout data_layout;
  std::string triple;
  std::mutex mutex;  // LLJIT's compiler is single-threaded: guards materialization and JITDylib removal
  uint64_t next_dylib = 0;
  std::mutex tm_mutex;  // TargetMachines for the O3 pipeline: one per compiling thread at a time
  std::vector<std::unique_ptr<::llvm::TargetMachine>> idle_tms;

  SharedJIT(::llvm::orc::JITTargetMachineBuilder b, std::unique_ptr<::llvm::orc::LLJIT> j)
      : jtmb(std::move(b)), jit(std::move(j)), data_layout(jit->getDataLayout()), triple(jtmb.getTargetTriple().str()) {}

  std::unique_ptr<::llvm::TargetMachine> acquire_tm() {
    {
      std::lock_guard<std::mutex> lock(tm_mutex);
      if (!idle_tms.empty()) {
        auto tm = std::move(idle_tms.back());
        idle_tms.pop_back();
        return tm;
      }
    }
    return check_llvm(jtmb.createTargetMachine(), "target machine creation");
  }
  void release_tm(std::unique_ptr<::llvm::TargetMachine> tm) {
    std::lock_guard<std::mutex> lock(tm_mutex);
    idle_tms.push_back(std::move(tm));
  }
};

inline void define_runtime_symbols(::llvm::orc::LLJIT& jit, ::llvm::orc::JITDylib& jd) {
  ::llvm::orc::SymbolMap syms;
  auto flags = ::llvm::JITSymbolFlags::Exported | ::llvm::JITSymbolFlags::Callable;
  auto add = [&](const char* name, auto* fn) {
    syms[jit.mangleAndIntern(name)] = ::llvm::orc::ExecutorSymbolDef(::llvm::orc::ExecutorAddr::fromPtr(fn), flags);
  };
  add(RuntimeSymbols::alloc, &kiln_alloc);
  add(RuntimeSymbols::free, &kiln_free);
  add(RuntimeSymbols::parallel_for, &::kiln_parallel_for);
  add("__extendhfsf2", &extend_half_to_float);
  add("__truncsfhf2", &trunc_float_to_half);
  add("__truncdfhf2", &trunc_double_to_half);
  check_llvm(jd.define(::llvm::orc::absoluteSymbols(std::move(syms))), "defining runtime symbols");
  jd.addGenerator(check_llvm(::llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                                 jit.getDataLayout().getGlobalPrefix()),
                             "process symbol lookup"));
}

// The shared JIT for these options, created (and the options checked) on first use. The JITs live
// until the process exits: they are deliberately never destroyed, so no static destructor races
// with LLVM's own.
inline std::shared_ptr<SharedJIT> shared_jit(const CompileOptions& o) {
  struct Registry {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<SharedJIT>> by_options;  // the target's spelling
    std::map<std::string, std::shared_ptr<SharedJIT>> by_machine;  // triple, CPU, features, opt level
  };
  static Registry* registry = new Registry;
  std::string options_key = o.mtriple + "|" + o.mcpu + "|" + o.mattr + "|" + std::to_string(o.opt_level);
  std::lock_guard<std::mutex> lock(registry->mutex);
  if (auto it = registry->by_options.find(options_key); it != registry->by_options.end()) return it->second;
  auto jtmb = machine_builder(o);
  check_cpu_and_features(o, jtmb.getTargetTriple());
  std::string machine_key = jtmb.getTargetTriple().str() + "|" + jtmb.getCPU() + "|" + jtmb.getFeatures().getString() +
                            "|" + std::to_string(o.opt_level);
  std::shared_ptr<SharedJIT>& shared = registry->by_machine[machine_key];
  if (!shared) {
    auto jit = check_llvm(::llvm::orc::LLJITBuilder()
                              .setJITTargetMachineBuilder(jtmb)
                              .setPlatformSetUp(::llvm::orc::setUpInactivePlatform)  // kernels have no static ctors
                              .create(),
                          "LLJIT creation");
    auto s = std::make_shared<SharedJIT>(jtmb, std::move(jit));
    s->runtime_lib = &s->jit->getExecutionSession().createBareJITDylib("kiln_runtime");
    define_runtime_symbols(*s->jit, *s->runtime_lib);
    shared = s;
  }
  registry->by_options[options_key] = shared;
  return shared;
}

// The code of one kiln module: a JITDylib of a shared LLJIT, removed when the last function of the
// module is gone.
class ModuleDylib {
 public:
  explicit ModuleDylib(std::shared_ptr<SharedJIT> jit) : jit_(std::move(jit)) {
    std::lock_guard<std::mutex> lock(jit_->mutex);
    jd_ = &jit_->jit->getExecutionSession().createBareJITDylib("kiln_module_" + std::to_string(jit_->next_dylib++));
    jd_->addToLinkOrder(*jit_->runtime_lib);
  }
  ModuleDylib(const ModuleDylib&) = delete;
  ModuleDylib& operator=(const ModuleDylib&) = delete;
  ~ModuleDylib() {
    std::lock_guard<std::mutex> lock(jit_->mutex);
    if (auto err = jit_->jit->getExecutionSession().removeJITDylib(*jd_))
      ::llvm::consumeError(std::move(err));  // nothing sensible to do in a destructor
  }

  SharedJIT& jit() const { return *jit_; }

  // Adds an optimized LLVM module and returns the address of `symbol` in it (machine code emitted now).
  KernelFn materialize(::llvm::orc::ThreadSafeModule m, const std::string& symbol) {
    std::lock_guard<std::mutex> lock(jit_->mutex);
    check_llvm(jit_->jit->addIRModule(*jd_, std::move(m)), "adding a module");
    return check_llvm(jit_->jit->lookup(*jd_, symbol), "materializing a kernel").toPtr<KernelFn>();
  }

 private:
  std::shared_ptr<SharedJIT> jit_;
  ::llvm::orc::JITDylib* jd_ = nullptr;
};

class LLVMFunction : public runtime::FunctionNode {
 public:
  LLVMFunction(std::string name, ir::PrimFunc f, KernelFn fn, double ms, std::shared_ptr<ModuleDylib> code,
               std::string ir_text)
      : name_(std::move(name)), func_(std::move(f)), fn_(fn), ms_(ms), code_(std::move(code)), ir_text_(std::move(ir_text)) {}
  const std::string& name() const override { return name_; }
  double jit_time_ms() const override { return ms_; }
  const ir::PrimFunc& prim_func() const { return func_; }
  KernelFn kernel() const { return fn_; }
  // The optimized LLVM IR of this function (for tests and debugging).
  const std::string& llvm_ir() const { return ir_text_; }

  void call(const std::vector<runtime::Arg>& args) const override {
    tir::BoundArgs bound = tir::bind_arguments(func_, args);
    size_t n = func_->params.size();
    std::vector<int64_t> ints(n + bound.shape_var_values.size());
    std::vector<double> floats(n);
    std::vector<void*> packed;
    for (size_t i = 0; i < n; ++i) {
      if (func_->param_buffers[i].defined()) {
        packed.push_back(args[i].tensor().data());
        continue;
      }
      const ir::Var& v = func_->params[i];
      if (v.dtype().is_float()) {
        floats[i] = bound.float_values.at(v.get());
        packed.push_back(&floats[i]);
      } else {
        ints[i] = bound.int_values.at(v.get());
        packed.push_back(&ints[i]);
      }
    }
    for (size_t k = 0; k < bound.shape_var_values.size(); ++k) {
      ints[n + k] = bound.shape_var_values[k];
      packed.push_back(&ints[n + k]);
    }
    int32_t rc = fn_(packed.data());
    if (rc == kErrorOutOfMemory)
      user_error("kernel '", name_, "' could not allocate a temporary buffer: out of memory, or its size (from the ",
                 "arguments) is negative or overflows int64");
    if (rc != 0)
      throw Error(kiln::detail::concat("kernel '", name_, "' failed with error code ", rc,
                                       rc == -1 ? " (an exception inside a parallel loop)" : ""));
  }

 private:
  std::string name_;
  ir::PrimFunc func_;
  KernelFn fn_;
  double ms_;
  std::shared_ptr<ModuleDylib> code_;  // owns the code fn_ points to
  std::string ir_text_;
};

}  // namespace detail

// The compiled function behind a runtime::Function of an "llvm" module:
// dynamic_cast<const LLVMFunction*>(f.get()) gives the raw kernel pointer and, when compiled with
// CompileOptions::keep_llvm_ir, the optimized LLVM IR.
using LLVMFunction = detail::LLVMFunction;

// Compiles every PrimFunc of a lowered module (kiln/tir/lower.hpp) to native code in this process.
// jit_time_ms of a function is the wall time of its codegen, optimization and machine-code
// emission; the module's also includes finding the shared JIT and making the module's JITDylib.
inline runtime::Module compile(const ir::IRModule& lowered, const CompileOptions& options) {
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); };
  static const bool stats = [] {
    const char* s = std::getenv("KILN_JIT_STATS");
    return s && *s && std::string(s) != "0";
  }();
  auto t0 = clock::now();
  auto code = std::make_shared<detail::ModuleDylib>(detail::shared_jit(options));
  detail::SharedJIT& shared = code->jit();
  double setup_ms = since(t0);
  if (stats) std::fprintf(stderr, "[kiln jit] module setup %.2f ms (%s)\n", setup_ms, options.target_str.c_str());

  std::vector<runtime::Function> functions;
  double total_ms = setup_ms;
  size_t index = 0;
  for (auto& [name, base] : lowered.functions()) {
    if (base->kind != ir::FuncKind::Prim) continue;
    auto start = clock::now();
    ir::PrimFunc f = lowered.prim_func(name);
    auto ctx = std::make_unique<::llvm::LLVMContext>();
    auto m = std::make_unique<::llvm::Module>(name, *ctx);
    m->setDataLayout(shared.data_layout);
    m->setTargetTriple(shared.triple);
    std::string symbol = detail::symbol_for(name, index++);
    CodeGen(*ctx, *m).add_function(f, symbol);
    detail::dump_llvm(name, ".unopt.ll", *m);
    double codegen_ms = since(start);
    auto t_verify = clock::now();
    {
      // Cheap (a few hundredths of a millisecond per kernel): kept in release builds, since it turns a
      // code generator bug into an InternalError instead of a miscompile or a crash inside LLVM.
      std::string err;
      ::llvm::raw_string_ostream os(err);
      if (::llvm::verifyModule(*m, &os)) internal_error("LLVM IR for '", name, "' does not verify: ", os.str());
    }
    double verify_ms = since(t_verify);
    auto t_opt = clock::now();
    {
      auto tm = shared.acquire_tm();
      detail::optimize(*m, *tm, options.opt_level);
      shared.release_tm(std::move(tm));
    }
    double opt_ms = since(t_opt);
    detail::dump_llvm(name, ".ll", *m);
    std::string text = options.keep_llvm_ir ? detail::module_text(*m) : std::string();
    auto t_mc = clock::now();
    detail::KernelFn fn = code->materialize(::llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)), symbol);
    double mc_ms = since(t_mc);
    double ms = since(start);
    if (stats)
      std::fprintf(stderr,
                   "[kiln jit] %s: codegen %.2f ms, verify %.2f ms, optimize O%d %.2f ms, machine code %.2f ms, "
                   "total %.2f ms\n",
                   name.c_str(), codegen_ms, verify_ms, options.opt_level, opt_ms, mc_ms, ms);
    total_ms += ms;
    functions.push_back(
        runtime::Function(std::make_shared<detail::LLVMFunction>(name, f, fn, ms, code, std::move(text))));
  }
  return runtime::make_module(std::move(functions), options.target_str, total_ms);
}

inline runtime::Module compile(const ir::IRModule& lowered, const Target& target) {
  return compile(lowered, CompileOptions::from_target(target));
}

}  // namespace kiln::backend::llvm
