// The differential corpus: every program runs through the LLVM JIT and through the reference
// interpreter on the same random inputs; every output must agree. Every program also survives
// a print -> parse round trip unchanged.
#include <doctest/doctest.h>

#include <random>

#include "corpus.hpp"
#include "kiln/backend/llvm.hpp"
#include "kiln/build.hpp"
#include "kiln/ir/parser.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/interpreter.hpp"
#include "tensor_testing.hpp"

using namespace kiln;
using runtime::Arg;
using runtime::Tensor;

namespace {

std::vector<Tensor> make_inputs(const ir::PrimFunc& f, const corpus::Case& c, const std::map<std::string, int64_t>& sizes,
                                std::mt19937_64& rng) {
  std::vector<Tensor> out;
  for (auto& b : f->param_buffers) {
    KILN_ICHECK(b.defined(), "corpus programs take only tensors");
    double lo = c.lo, hi = c.hi;
    if (auto it = c.int_ranges.find(b->name); it != c.int_ranges.end()) {
      lo = double(it->second.first);
      hi = double(it->second.second);
    }
    out.push_back(testing::random_tensor(testing::eval_shape(b->shape, sizes), b->dtype, rng, lo, hi));
  }
  return out;
}

}  // namespace

TEST_CASE("corpus has at least 40 programs") { CHECK(corpus::all_cases().size() >= 40); }

TEST_CASE("every corpus program: LLVM JIT agrees with the reference interpreter") {
  std::mt19937_64 rng(20261123);
  double total_jit_ms = 0;
  int calls = 0;
  for (auto& c : corpus::all_cases()) {
    INFO("program: " << c.name);
    try {
      ir::PrimFunc f = c.build();
      runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(f), Target("llvm"));
      total_jit_ms += mod.jit_time_ms();
      for (auto& sizes : c.sizes) {
        std::vector<Tensor> ref = make_inputs(f, c, sizes, rng);
        std::vector<Tensor> jit;
        for (auto& t : ref) jit.push_back(testing::clone(t));
        tir::interpret(f, std::vector<Arg>(ref.begin(), ref.end()));
        mod["main"].call(std::vector<Arg>(jit.begin(), jit.end()));
        ++calls;
        for (size_t i = 0; i < ref.size(); ++i) {
          std::string diff = testing::compare(ref[i], jit[i], c.name + ":" + f->param_buffers[i]->name);
          CHECK_MESSAGE(diff.empty(), diff);
        }
      }
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << ": " << e.what());
    }
  }
  MESSAGE("corpus: " << calls << " calls, total JIT time " << total_jit_ms << " ms");
}

TEST_CASE("every corpus program survives print -> parse unchanged") {
  for (auto& c : corpus::all_cases()) {
    INFO("program: " << c.name);
    try {
      ir::PrimFunc f = c.build();
      std::string text = ir::to_text(f);
      ir::PrimFunc back = ir::parse_prim_func(text);
      auto diff = ir::structural_diff(f, back);
      CHECK_MESSAGE(!diff.has_value(), c.name << ": " << diff.value_or("") << "\n" << text);
      CHECK(ir::to_text(back) == text);
      CHECK(ir::structural_hash(back) == ir::structural_hash(f));
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << ": " << e.what());
    }
  }
}
