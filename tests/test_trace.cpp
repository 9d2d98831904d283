// Schedule traces: every primitive call is recorded; a trace round-trips through JSON, replays on
// the unscheduled function to structurally equal IR, and prints as C++ that redoes the schedule.
#include <doctest/doctest.h>

#include <functional>
#include <random>

#include "kiln/backend/llvm.hpp"
#include "kiln/build.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/interpreter.hpp"
#include "kiln/te/te.hpp"
#include "kiln/tir/schedule/schedule.hpp"
#include "tensor_testing.hpp"

using namespace kiln;
using namespace kiln::te;

namespace {

ir::PrimFunc matmul_bias() {
  auto A = placeholder<f32>({37, 20}, "A");
  auto B = placeholder<f32>({20, 45}, "B");
  auto bias = placeholder<f32>({45}, "bias");
  auto k = reduce_axis(20, "k");
  auto M = compute({37, 45}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "M");
  auto C = compute({37, 45}, [&](Index i, Index j) { return M(i, j) + bias(j); }, "C");
  return create_prim_func({A, B, bias, C});
}

// The schedule whose trace the tests below check; the same calls as the expected to_cpp text.
void schedule_matmul_bias(tir::Schedule& s) {
  auto b0 = s.get_block("M");
  auto [l1, l2, l3] = s.get_loops<3>(b0);
  auto [l4, l5] = s.split<2>(l1, {std::nullopt, 8});
  auto [l6, l7] = s.split<2>(l2, {std::nullopt, 16});
  s.reorder({l4, l6, l3, l5, l7});
  s.parallel(l4);
  s.unroll(l5);
  s.annotate(l7, "pragma_note", "tile \"inner\"");
  s.annotate(b0, "weight", 0.25);
  auto b8 = s.get_block("C");
  auto [l9, l10] = s.get_loops<2>(b8);
  auto l11 = s.fuse({l9, l10});
  s.annotate(l11, "hint", 3);
  auto [b12] = s.get_producers<1>(b8);
  auto l13 = s.add_unit_loop(b12);
  s.unannotate(b0, "weight");
  (void)l6;
  (void)l13;
}

}  // namespace

TEST_CASE("trace records every call, lookups included, and prints as C++") {
  tir::Schedule s(matmul_bias());
  schedule_matmul_bias(s);
  CHECK(s.trace().size() == 16);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("M");
auto [l1, l2, l3] = s.get_loops<3>(b0);
auto [l4, l5] = s.split<2>(l1, {std::nullopt, 8});
auto [l6, l7] = s.split<2>(l2, {std::nullopt, 16});
s.reorder({l4, l6, l3, l5, l7});
s.parallel(l4);
s.unroll(l5);
s.annotate(l7, "pragma_note", "tile \"inner\"");
s.annotate(b0, "weight", 0.25);
auto b8 = s.get_block("C");
auto [l9, l10] = s.get_loops<2>(b8);
auto l11 = s.fuse({l9, l10});
s.annotate(l11, "hint", 3);
auto [b12] = s.get_producers<1>(b8);
auto l13 = s.add_unit_loop(b12);
s.unannotate(b0, "weight");
)");
}

TEST_CASE("trace JSON: exact text, round trip, and replay to structurally equal IR") {
  ir::PrimFunc f = matmul_bias();
  tir::Schedule s(f);
  schedule_matmul_bias(s);
  std::string json = s.trace().to_json();
  CHECK(json.starts_with(R"({"version": 1, "insts": [
  {"kind": "get_block", "inputs": [{"str": "M"}], "outputs": [{"block": 0}]},
  {"kind": "get_loops", "inputs": [{"block": 0}], "outputs": [{"loop": 1}, {"loop": 2}, {"loop": 3}]},
  {"kind)"));
  CHECK(json.find(R"({"kind": "split", "inputs": [{"loop": 1}, null, {"int": 8}], "outputs": [{"loop": 4}, {"loop": 5}]})") !=
        std::string::npos);
  CHECK(json.find(R"({"kind": "annotate", "inputs": [{"loop": 7}, {"str": "pragma_note"}, {"str": "tile \"inner\""}], "outputs": []})") !=
        std::string::npos);
  CHECK(json.find(R"({"kind": "annotate", "inputs": [{"block": 0}, {"str": "weight"}, {"float": 0.25}], "outputs": []})") !=
        std::string::npos);

  tir::Trace back = tir::Trace::from_json(json);
  CHECK(back.instructions() == s.trace().instructions());
  CHECK(back.to_json() == json);

  // Replaying on the unscheduled function gives the same IR (new loop variables, same structure).
  ir::PrimFunc replayed = back.apply_to(f);
  auto diff = ir::structural_diff(replayed, s.func());
  CHECK_MESSAGE(!diff.has_value(), diff.value_or(""));
  CHECK(ir::to_text(replayed) == ir::to_text(s.func()));
  CHECK(ir::structural_hash(replayed) == ir::structural_hash(s.func()));
  // ... and on a fresh build of the same program (different Var and Buffer objects).
  CHECK(ir::structural_equal(back.apply_to(matmul_bias()), s.func()));
  // The replayed schedule records the same trace again.
  tir::Schedule r(f);
  back.apply_to(r);
  CHECK(r.trace().to_json() == json);
}

TEST_CASE("the replayed schedule computes what the unscheduled function computes") {
  ir::PrimFunc f = matmul_bias();
  tir::Schedule s(f);
  schedule_matmul_bias(s);
  ir::PrimFunc replayed = tir::Trace::from_json(s.trace().to_json()).apply_to(f);
  runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(replayed), Target("llvm"));
  std::mt19937_64 rng(3);
  std::vector<runtime::Tensor> ref, jit;
  for (auto& b : f->param_buffers) ref.push_back(testing::random_tensor(testing::eval_shape(b->shape, {}), b->dtype, rng, -1, 1));
  for (auto& t : ref) jit.push_back(testing::clone(t));
  tir::interpret(f, std::vector<runtime::Arg>(ref.begin(), ref.end()));
  mod["main"].call(std::vector<runtime::Arg>(jit.begin(), jit.end()));
  std::string d = testing::compare(ref[3], jit[3], "C");
  CHECK_MESSAGE(d.empty(), d);
}

TEST_CASE("an empty trace round-trips and replays to the same function") {
  tir::Schedule s(matmul_bias());
  CHECK(s.trace().to_json() == R"({"version": 1, "insts": []})");
  CHECK(tir::Trace::from_json(s.trace().to_json()).size() == 0);
  CHECK(ir::structural_equal(s.trace().apply_to(s.func()), s.func()));
  CHECK(s.trace().to_cpp().empty());
}

TEST_CASE("bind and block-list lookups in to_cpp") {
  tir::Schedule s(matmul_bias());
  auto [b0] = s.get_output_blocks<1>();
  auto loops = s.get_loops(b0);
  s.bind(loops[0], "blockIdx.x");
  auto kids = s.get_child_blocks(loops[1]);
  CHECK(kids.size() == 1);
  CHECK(s.trace().to_cpp() == R"(auto [b0] = s.get_output_blocks<1>();
auto [l1, l2] = s.get_loops<2>(b0);
s.bind(l1, "blockIdx.x");
auto [b3] = s.get_child_blocks<1>(l2);
)");
  CHECK(ir::structural_equal(tir::Trace::from_json(s.trace().to_json()).apply_to(matmul_bias()), s.func()));
}

TEST_CASE("trace errors: malformed JSON, unknown kinds, traces that do not fit the function") {
  auto err = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(err([] { tir::Trace::from_json(R"({"version": 1, "insts": [)"); }) ==
        "Trace::from_json: expected '{' at character 25");
  CHECK(err([] { tir::Trace::from_json(R"({"version": 2, "insts": []})"); }) ==
        "Trace::from_json: unsupported trace version 2 (this kiln reads version 1) at character 13");
  CHECK(err([] { tir::Trace::from_json(R"({"version": 1, "insts": [{"kind": "x", "inputs": [{"rv": 1}]}]})"); }) ==
        "Trace::from_json: unknown value kind 'rv' (expected block, loop, expr, int, float or str) at character 56");
  ir::PrimFunc f = matmul_bias();
  CHECK(err([&] { tir::Trace::from_json(R"({"version": 1, "insts": [{"kind": "tile", "inputs": [], "outputs": []}]})").apply_to(f); })
            .find("trace: unknown instruction kind 'tile'; known: get_block, get_loops") == 0);
  CHECK(err([&] {
          tir::Trace::from_json(R"({"version": 1, "insts": [{"kind": "parallel", "inputs": [{"loop": 5}], "outputs": []}]})")
              .apply_to(f);
        }) == "trace: instruction 'parallel' uses handle 5 before any instruction created it");
  // A trace recorded on a 3-loop block replayed where the block has 2 loops.
  CHECK(err([&] {
          tir::Trace::from_json(R"({"version": 1, "insts": [
            {"kind": "get_block", "inputs": [{"str": "C"}], "outputs": [{"block": 0}]},
            {"kind": "get_loops", "inputs": [{"block": 0}], "outputs": [{"loop": 1}, {"loop": 2}, {"loop": 3}]}]})")
              .apply_to(f);
        }) == "trace: instruction 'get_loops' produced 2 handles on replay but 3 when recorded; the trace does not fit "
              "this function");
}
