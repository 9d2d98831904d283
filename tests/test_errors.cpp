// Error messages a user sees, checked by their text: every one must say what was wrong, where,
// and what is legal. Covers the call boundary of a JIT-compiled kernel, targets, module lookup,
// and the places where the interpreter and the JIT must refuse the same input the same way.
#include <doctest/doctest.h>

#include <string>

#include "error_testing.hpp"
#include "kiln/backend/llvm.hpp"
#include "kiln/kiln.hpp"

using namespace kiln;
using runtime::Arg;
using runtime::Tensor;

namespace {

using testing::error_of;
using testing::contains;

// C(n, 4) = A(n, 4) + B(4), with n symbolic.
ir::PrimFunc add_rows() {
  auto n = te::var("n");
  auto A = te::placeholder<f32>({n, 4}, "A");
  auto B = te::placeholder<f32>({4}, "B");
  auto C = te::compute({n, 4}, [&](te::Index i, te::Index j) { return A(i, j) + B(j); }, "C");
  return te::create_prim_func({A, B, C});
}

const runtime::Module& add_rows_module() {
  static runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(add_rows()), Target("llvm"));
  return mod;
}

Tensor zeros_f32(std::vector<int64_t> shape) { return Tensor::zeros(std::move(shape), DataType::float_(32)); }


}  // namespace

TEST_CASE("a correct call runs (the baseline for the error cases below)") {
  Tensor a = zeros_f32({3, 4}), b = zeros_f32({4}), c = zeros_f32({3, 4});
  a.at<float>({2, 1}) = 1.5f;
  b.at<float>({1}) = 2.0f;
  add_rows_module()["main"](a, b, c);
  CHECK(c.at<float>({2, 1}) == 3.5f);
  CHECK(c.at<float>({0, 0}) == 0.0f);
}

TEST_CASE("call boundary: wrong shape names the argument and both shapes") {
  std::string msg = error_of([] { add_rows_module()["main"](zeros_f32({3, 4}), zeros_f32({5}), zeros_f32({3, 4})); });
  INFO(msg);
  CHECK(contains(msg, "'B'"));
  CHECK(contains(msg, "(5,)"));
  CHECK(contains(msg, "(4,)"));
}

TEST_CASE("call boundary: a symbolic size bound twice to different values") {
  std::string msg = error_of([] { add_rows_module()["main"](zeros_f32({3, 4}), zeros_f32({4}), zeros_f32({7, 4})); });
  INFO(msg);
  CHECK(contains(msg, "'C'"));
  CHECK(contains(msg, "n"));
  CHECK(contains(msg, "3"));
  CHECK(contains(msg, "7"));
}

TEST_CASE("call boundary: wrong dtype") {
  std::string msg = error_of([] {
    add_rows_module()["main"](Tensor::zeros({3, 4}, DataType::float_(64)), zeros_f32({4}), zeros_f32({3, 4}));
  });
  INFO(msg);
  CHECK(contains(msg, "'A'"));
  CHECK(contains(msg, "float32"));
  CHECK(contains(msg, "float64"));
}

TEST_CASE("call boundary: wrong rank") {
  std::string msg = error_of([] { add_rows_module()["main"](zeros_f32({12}), zeros_f32({4}), zeros_f32({3, 4})); });
  INFO(msg);
  CHECK(contains(msg, "'A'"));
  CHECK(contains(msg, "(12,)"));
}

TEST_CASE("call boundary: wrong number of arguments lists the parameters") {
  std::string msg = error_of([] { add_rows_module()["main"](zeros_f32({3, 4}), zeros_f32({4})); });
  INFO(msg);
  CHECK(contains(msg, "3"));
  CHECK(contains(msg, "2"));
  CHECK(contains(msg, "A"));
  CHECK(contains(msg, "C"));
}

TEST_CASE("call boundary: a scalar where a tensor is expected") {
  std::string msg = error_of([] { add_rows_module()["main"](zeros_f32({3, 4}), 1.0, zeros_f32({3, 4})); });
  INFO(msg);
  CHECK(contains(msg, "'B'"));
  CHECK(contains(msg, "tensor"));
}

TEST_CASE("call boundary: a non-compact view is refused, not misread") {
  Tensor big = zeros_f32({3, 8});
  Tensor strided = Tensor::view(big.data(), {3, 4}, DataType::float_(32), {8, 1});
  std::string msg = error_of([&] { add_rows_module()["main"](strided, zeros_f32({4}), zeros_f32({3, 4})); });
  INFO(msg);
  CHECK(contains(msg, "'A'"));
  CHECK(contains(msg, "compact"));
}

TEST_CASE("the interpreter refuses bad calls with the same message as the JIT") {
  ir::PrimFunc f = add_rows();
  std::vector<Arg> bad = {zeros_f32({3, 4}), zeros_f32({5}), zeros_f32({3, 4})};
  std::string jit = error_of([&] { add_rows_module()["main"].call(bad); });
  std::string interp = error_of([&] { tir::interpret(f, bad); });
  CHECK(jit == interp);
  CHECK(contains(jit, "'B'"));
}

TEST_CASE("module lookup: an unknown function lists the ones that exist") {
  std::string msg = error_of([] { (void)add_rows_module()["mian"]; });
  INFO(msg);
  CHECK(contains(msg, "mian"));
  CHECK(contains(msg, "main"));
}

TEST_CASE("targets: unknown kind and unknown option") {
  std::string kind = error_of([] { Target("llvmm"); });
  INFO(kind);
  CHECK(contains(kind, "llvmm"));
  CHECK(contains(kind, "llvm"));
  CHECK(contains(kind, "cuda"));
  std::string opt = error_of([] { Target("llvm -mcpuu=native"); });
  INFO(opt);
  CHECK(contains(opt, "-mcpuu"));
  CHECK(contains(opt, "-mcpu"));
  CHECK(error_of([] { Target(""); }) != "");
}

TEST_CASE("build: a GPU thread binding is refused on a CPU target, naming the loop") {
  auto A = ir::make_buffer("A", DataType::float_(32), {ir::int_imm(64)});
  ir::Var tx("tx");
  ir::Stmt body = ir::Stmt(std::make_shared<const ir::ForNode>(
      tx, ir::int_imm(0), ir::int_imm(64), ir::ForKind::ThreadBinding,
      ir::Stmt(std::make_shared<const ir::BufferStoreNode>(A, ir::float_imm(1.0), std::vector<ir::Expr>{tx})),
      "threadIdx.x"));
  ir::PrimFunc f = ir::make_prim_func("main", {A}, body);
  std::string msg = error_of([&] { kiln::build(ir::IRModule::from_prim_func(f), Target("llvm")); });
  INFO(msg);
  CHECK(contains(msg, "threadIdx.x"));
  CHECK(contains(msg, "tx"));
  CHECK(contains(msg, "GPU"));
}

TEST_CASE("build: a target whose backend is not compiled in says what to include") {
  std::string msg = error_of([] { kiln::build(ir::IRModule::from_prim_func(add_rows()), Target("cuda")); });
  INFO(msg);
  CHECK(contains(msg, "cuda"));
}

TEST_CASE("DSL: an input used but not passed to create_prim_func is named") {
  auto A = te::placeholder<f32>({4}, "A");
  auto B = te::placeholder<f32>({4}, "B");
  auto C = te::compute({4}, [&](te::Index i) { return A(i) + B(i); }, "C");
  std::string msg = error_of([&] { te::create_prim_func({A, C}); });
  INFO(msg);
  CHECK(contains(msg, "B"));
}

TEST_CASE("parser: a malformed program gives line and column") {
  std::string msg = error_of([] { ir::parse_prim_func("@T.prim_func\ndef main(A: T.Buffer((4,), \"float32\")):\n    A[0] = = 1\n"); });
  INFO(msg);
  CHECK(contains(msg, "line 3"));
}
