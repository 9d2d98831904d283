// kiln/tir/lower.hpp: TensorIR -> the lowered form every backend consumes.
//
// Lowered form: plain loop nests (each loop keeps its ForKind and annotations), no Block,
// BlockRealize or Reduce; every load/store is a 1-D access to a compact flat view of its buffer
// (same `data` var, elem_offset folded into the index); intermediate buffers are Allocate
// statements; float16/bfloat16 arithmetic is float32 arithmetic rounded back after each op;
// vectorized loops are straight-line vector code (Ramp/Broadcast) unless vectorize_loops kept them.
// Param buffers keep their shapes so the call boundary can check tensors against them.
//
// The pass list below is the whole pipeline, in order. KILN_TIME_PASSES=1 prints each pass's time
// to stderr; KILN_DUMP_IR=dir writes the IR after each pass.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "kiln/arith/simplify.hpp"
#include "kiln/ir/ir.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/tir/transform/check_cpu_compatible.hpp"
#include "kiln/tir/transform/check_vectorized_loops.hpp"
#include "kiln/tir/transform/convert_blocks_to_loops.hpp"
#include "kiln/tir/transform/flatten_buffers.hpp"
#include "kiln/tir/transform/legalize_narrow_floats.hpp"
#include "kiln/tir/transform/vectorize_loops.hpp"
#include "kiln/tir/transform/verify_lowered.hpp"

namespace kiln::tir {
namespace detail {

// Runs one pass of the pipeline, timing it when KILN_TIME_PASSES is set.
class PassRunner {
 public:
  explicit PassRunner(const ir::PrimFunc& f) : func_(f->name) {
    const char* t = std::getenv("KILN_TIME_PASSES");
    time_ = t && *t && std::string(t) != "0";
  }

  // A plain function pointer, so that an overloaded pass name picks its PrimFunc overload.
  using Pass = ir::PrimFunc (*)(const ir::PrimFunc&);

  ir::PrimFunc operator()(const char* name, Pass pass, const ir::PrimFunc& f) {
    auto start = std::chrono::steady_clock::now();
    ir::PrimFunc out = pass(f);
    if (time_) {
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[kiln] lower '%s': %-26s %9.3f ms\n", func_.c_str(), name, ms);
    }
    if (const char* dir = std::getenv("KILN_DUMP_IR"); dir && *dir) dump(dir, name, out);
    return out;
  }

 private:
  // KILN_DUMP_IR=dir: the IR after each pass in <dir>/<func>.<NN>.<pass>.tir, NN counting passes.
  void dump(const char* dir, const char* pass, const ir::PrimFunc& f) {
    char file[64];
    std::snprintf(file, sizeof file, ".%02d.", ++dumped_);
    std::string path = std::string(dir) + "/" + func_ + file + pass + ".tir";
    std::ofstream os(path);
    KILN_USER_CHECK(os.good(), "KILN_DUMP_IR: cannot write '", path, "'; make sure the directory exists");
    os << ir::to_text(f);
  }

  std::string func_;
  int dumped_ = 0;
  bool time_ = false;
};

}  // namespace detail

inline ir::PrimFunc lower(const ir::PrimFunc& f) {
  KILN_USER_CHECK(f.defined() && f->body.defined(), "tir::lower needs a PrimFunc with a body");
  detail::PassRunner run(f);
  ir::PrimFunc g = f;
  g = run("convert_blocks_to_loops", convert_blocks_to_loops, g);
  // Substituted block bindings and init guards simplify well here, before the extents are checked.
  g = run("simplify", arith::simplify, g);
  g = run("check_vectorized_loops", check_vectorized_loops, g);
  g = run("legalize_narrow_floats", legalize_narrow_floats, g);
  g = run("flatten_buffers", flatten_buffers, g);
  // Vectorized loops -> Ramp/Broadcast vector code where exact; other ones stay hinted loops.
  g = run("vectorize_loops", vectorize_loops, g);
  // The flat indices (the simplifier never folds the cast<f32>(cast<f16>(x)) pairs
  // legalize_narrow_floats made: they are the per-op rounding).
  g = run("simplify_flat_indices", arith::simplify, g);
  g = run("verify_lowered", verify_lowered, g);
  return g;
}

}  // namespace kiln::tir
