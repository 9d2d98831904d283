// tests/schedule_testing.hpp: the checks every schedule test repeats. A scheduled function must
// JIT-compile (LLVM) and give the interpreter's results on the unscheduled function; its trace
// must replay to the same IR; a refused primitive's message is checked by its text.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <random>
#include <string>

#include "corpus.hpp"
#include "error_testing.hpp"
#include "kiln/backend/llvm.hpp"
#include "kiln/build.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/interpreter.hpp"
#include "kiln/tir/schedule/schedule.hpp"
#include "tensor_testing.hpp"

namespace kiln::testing {

// Random inputs for every parameter of f: values in [lo, hi] (integers: whole numbers),
// `int_ranges` overriding the range per parameter name.
inline std::vector<runtime::Tensor> random_args(const ir::PrimFunc& f, const std::map<std::string, int64_t>& sizes,
                                                std::mt19937_64& rng, double lo = -1.0, double hi = 1.0,
                                                const std::map<std::string, std::pair<int64_t, int64_t>>& int_ranges = {}) {
  std::vector<runtime::Tensor> out;
  for (auto& b : f->param_buffers) {
    double l = lo, h = hi;
    if (auto it = int_ranges.find(b->name); it != int_ranges.end()) {
      l = double(it->second.first);
      h = double(it->second.second);
    }
    out.push_back(random_tensor(eval_shape(b->shape, sizes), b->dtype, rng, l, h));
  }
  return out;
}

struct CheckOptions {
  std::vector<std::map<std::string, int64_t>> sizes = {{}};  // one call per map (symbolic sizes)
  double lo = -1.0, hi = 1.0;
  std::map<std::string, std::pair<int64_t, int64_t>> int_ranges = {};
  uint64_t seed = 7;
};

// Runs the interpreter on `reference` and the LLVM JIT on `scheduled` with the same random
// inputs; CHECKs every parameter buffer equal (within testing::tolerance). Returns how many
// buffers were compared.
inline int check_against_interpreter(const ir::PrimFunc& reference, const ir::PrimFunc& scheduled,
                                     const CheckOptions& o = {}, const std::string& what = "scheduled") {
  runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(scheduled, "main"), Target("llvm"));
  std::mt19937_64 rng(o.seed);
  int compared = 0;
  for (auto& sizes : o.sizes) {
    std::vector<runtime::Tensor> ref = random_args(reference, sizes, rng, o.lo, o.hi, o.int_ranges);
    std::vector<runtime::Tensor> jit;
    for (auto& t : ref) jit.push_back(clone(t));
    tir::interpret(reference, std::vector<runtime::Arg>(ref.begin(), ref.end()));
    mod["main"].call(std::vector<runtime::Arg>(jit.begin(), jit.end()));
    for (size_t i = 0; i < ref.size(); ++i) {
      std::string diff = compare(ref[i], jit[i], what + ":" + reference->param_buffers[i]->name);
      CHECK_MESSAGE(diff.empty(), diff << "\n" << ir::to_text(scheduled));
      ++compared;
    }
  }
  return compared;
}

// The schedule's trace replays on `original` to the schedule's function, survives a JSON round
// trip, and the scheduled function matches the interpreter on `original`.
inline int check_schedule(const ir::PrimFunc& original, const tir::Schedule& s, const CheckOptions& o = {}) {
  CHECK_MESSAGE(ir::structural_equal(s.trace().apply_to(original), s.func()), "trace replay differs:\n"
                                                                                  << s.trace().to_json());
  tir::Trace back = tir::Trace::from_json(s.trace().to_json());
  CHECK_MESSAGE(ir::structural_equal(back.apply_to(original), s.func()), "JSON round trip replays differently");
  return check_against_interpreter(original, s.func(), o);
}

// A corpus program by name.
inline const corpus::Case& corpus_case(const std::string& name) {
  static std::vector<corpus::Case> cases = corpus::all_cases();
  for (auto& c : cases)
    if (c.name == name) return c;
  internal_error("no corpus case '", name, "'");
}
inline CheckOptions options_of(const corpus::Case& c) { return CheckOptions{c.sizes, c.lo, c.hi, c.int_ranges, 7}; }

}  // namespace kiln::testing
