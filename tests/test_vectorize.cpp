// Tests of tir::vectorize_loops: the structure it produces (vectorized loops become Ramp/Broadcast
// vector code; loops it cannot vectorize exactly stay loops) and, for every program, that the
// lowered program computes exactly what the original computes: the reference interpreter on the
// original (vectorized loops run serially), the interpreter on the lowered IR, and the LLVM JIT
// must agree byte for byte on random inputs.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kiln/backend/llvm.hpp"
#include "kiln/build.hpp"
#include "kiln/te/te.hpp"
#include "kiln/tir/interpreter.hpp"
#include "kiln/tir/lower.hpp"
#include "tensor_testing.hpp"

using namespace kiln;
using namespace kiln::ir;
using runtime::Arg;
using runtime::Tensor;

namespace {

constexpr DataType kF32 = DataType::float_(32), kI32 = DataType::int_(32);
constexpr DataType kI64 = DataType::int_(64), kBool = DataType::boolean();

Expr ci(int64_t v, DataType t = kI64) { return int_imm(v, t); }
Expr cf(double v) { return float_imm(v, kF32); }

// for (v = 0; v < extent; ++v) body
Stmt loop(const Var& v, int64_t extent, Stmt body, ForKind kind = ForKind::Serial) {
  return for_loop(v, int_imm(0, v.dtype()), int_imm(extent, v.dtype()), kind, std::move(body));
}

// Rebuilds the loops whose variable is named in `names` as vectorized loops.
class MarkVectorized : public StmtExprMutator {
 public:
  explicit MarkVectorized(std::set<std::string> names) : names_(std::move(names)) {}
  using StmtExprMutator::mutate;
  Stmt mutate_for(const Stmt& s) override {
    Stmt r = StmtExprMutator::mutate_for(s);
    auto* n = r.as<ForNode>();
    if (!names_.count(n->loop_var.name())) return r;
    return for_loop(n->loop_var, n->min, n->extent, ForKind::Vectorized, n->body, n->thread_tag, n->annotations);
  }

 private:
  std::set<std::string> names_;
};
PrimFunc vectorize(const PrimFunc& f, std::set<std::string> names) {
  return with_body(f, MarkVectorized(std::move(names)).mutate(f->body));
}

// What the lowered body looks like.
struct Shape {
  int loops = 0, vectorized_loops = 0;
  int vector_stores = 0, dense_stores = 0, strided_stores = 0;  // dense: Ramp with stride 1
  int vector_loads = 0, dense_loads = 0, gathers = 0;
  int broadcasts = 0, selects = 0, vector_lets = 0, scalar_loads_in_vectors = 0;
};
Shape shape_of(const Stmt& s) {
  struct V : StmtExprVisitor {
    Shape r;
    void visit(const Expr& e) override {
      if (!e.defined()) return;
      if (e.as<BroadcastNode>()) {
        ++r.broadcasts;
        if (e.as<BroadcastNode>()->value.as<BufferLoadNode>()) ++r.scalar_loads_in_vectors;
      }
      if (e.as<SelectNode>() && e.dtype().is_vector()) ++r.selects;
      if (auto* l = e.as<LetNode>(); l && l->var.dtype().is_vector()) ++r.vector_lets;
      ExprVisitor::visit(e);
    }
    void visit(const Stmt& s) override {
      if (auto* l = s.as<LetStmtNode>(); l && l->var.dtype().is_vector()) ++r.vector_lets;
      StmtExprVisitor::visit(s);
    }
    void visit_for(const ForNode& n) override {
      ++r.loops;
      r.vectorized_loops += n.for_kind == ForKind::Vectorized;
      StmtExprVisitor::visit_for(n);
    }
    void visit_buffer_load(const BufferLoadNode& n) override {
      if (n.dtype.is_vector()) {
        ++r.vector_loads;
        auto* ramp = n.indices[0].as<RampNode>();
        if (ramp && is_const_int(ramp->stride, 1)) ++r.dense_loads;
        else ++r.gathers;
      }
      ExprVisitor::visit_buffer_load(n);
    }
    void visit_buffer_store(const BufferStoreNode& n) override {
      if (n.value.dtype().is_vector()) {
        ++r.vector_stores;
        auto* ramp = n.indices[0].as<RampNode>();
        if (ramp && is_const_int(ramp->stride, 1)) ++r.dense_stores;
        else if (ramp) ++r.strided_stores;
      }
      StmtExprVisitor::visit_buffer_store(n);
    }
  } v;
  v.visit(s);
  return v.r;
}

std::string byte_diff(const Tensor& want, const Tensor& got, const std::string& what) {
  if (want.nbytes() != got.nbytes()) return what + ": sizes differ";
  if (std::memcmp(want.data(), got.data(), size_t(want.nbytes())) == 0) return {};
  for (int64_t i = 0; i < want.numel(); ++i) {
    size_t w = size_t(want.dtype().bytes());
    if (std::memcmp(static_cast<const char*>(want.data()) + size_t(i) * w,
                    static_cast<const char*>(got.data()) + size_t(i) * w, w) != 0)
      return what + ": first difference at element " + std::to_string(i) + ": expected " +
             std::to_string(testing::get(want, i)) + ", got " + std::to_string(testing::get(got, i));
  }
  return what + ": bytes differ";
}

Tensor random_for(const Buffer& b, const std::map<std::string, int64_t>& sizes, std::mt19937_64& rng) {
  DataType t = b->dtype;
  auto shape = testing::eval_shape(b->shape, sizes);
  if (t.is_float()) return testing::random_tensor(shape, t, rng, -3.0, 3.0);
  if (t.is_uint()) return testing::random_tensor(shape, t, rng, 0, 200);
  if (t.is_int()) return testing::random_tensor(shape, t, rng, t.bits == 8 ? -128 : -1000, t.bits == 8 ? 127 : 1000);
  return testing::random_tensor(shape, t, rng, 0, 1);
}

// Lowers f and runs the original (interpreter), the lowered IR (interpreter) and the JIT on the
// same random inputs; every tensor must be byte-identical afterwards. Returns the lowered body.
int g_programs_checked = 0;
Stmt check_exact(const PrimFunc& f, const std::map<std::string, int64_t>& sizes = {}, int runs = 3) {
  PrimFunc low = tir::lower(f);
  runtime::Module mod = kiln::build(IRModule::from_prim_func(f), Target("llvm"));
  std::mt19937_64 rng(0x5eed + uint64_t(g_programs_checked));
  for (int run = 0; run < runs; ++run) {
    std::vector<Tensor> ref, lowered, jit;
    for (auto& b : f->param_buffers) {
      ref.push_back(random_for(b, sizes, rng));
      lowered.push_back(testing::clone(ref.back()));
      jit.push_back(testing::clone(ref.back()));
    }
    tir::interpret(f, std::vector<Arg>(ref.begin(), ref.end()));
    tir::interpret(low, std::vector<Arg>(lowered.begin(), lowered.end()));
    mod["main"].call(std::vector<Arg>(jit.begin(), jit.end()));
    for (size_t i = 0; i < ref.size(); ++i) {
      std::string name = f->name + ":" + f->param_buffers[i]->name;
      std::string d1 = byte_diff(ref[i], lowered[i], name + " (interpreter on lowered IR)");
      std::string d2 = byte_diff(ref[i], jit[i], name + " (LLVM JIT)");
      CHECK_MESSAGE(d1.empty(), d1);
      CHECK_MESSAGE(d2.empty(), d2);
    }
  }
  ++g_programs_checked;
  return low->body;
}

// ---- the programs ------------------------------------------------------------------------------

// f32 element-wise with math intrinsics (vector llvm intrinsics and per-lane libm calls).
PrimFunc ew_f32() {
  auto A = te::placeholder<f32>({4, 16}, "A");
  auto B = te::placeholder<f32>({4, 16}, "B");
  auto C = te::compute({4, 16}, [&](te::Index i, te::Index j) {
    return te::exp(A(i, j)) * B(i, j) + te::sqrt(te::fabs(B(i, j))) - te::tanh(A(i, j)) + te::sigmoid(B(i, j)) +
           te::floor(A(i, j) * 2.5f) + te::pow(te::fabs(A(i, j)), 1.5f) + te::fma(A(i, j), B(i, j), 0.25f);
  }, "C");
  return vectorize(te::create_prim_func({A, B, C}, "ew_f32"), {"i1"});
}

// float16 arithmetic (legalized to f32 with a rounding after each op), comparisons, casts.
PrimFunc ew_f16() {
  auto A = te::placeholder<f16>({2, 8}, "A");
  auto B = te::placeholder<f16>({2, 8}, "B");
  auto C = te::compute({2, 8}, [&](te::Index i, te::Index j) { return A(i, j) * B(i, j) + A(i, j); }, "C");
  auto D = te::compute({2, 8}, [&](te::Index i, te::Index j) {
    return te::cast<f32>(te::max(A(i, j), B(i, j))) * 3.0f + te::cast<f32>(te::exp(A(i, j)));
  }, "D");
  auto E = te::compute({2, 8}, [&](te::Index i, te::Index j) { return te::cast<i32>(A(i, j) * B(i, j)); }, "E");
  return vectorize(te::create_prim_func({A, B, C, D, E}, "ew_f16"), {"i1"});
}

// int8 with widening/narrowing casts and wrapping arithmetic; uint8 and bool outputs.
PrimFunc ew_int8() {
  auto A = te::placeholder<i8>({32}, "A");
  auto B = te::placeholder<i8>({32}, "B");
  auto C = te::compute({32}, [&](te::Index i) { return A(i) * B(i) + A(i) - te::cast<i8>(3); }, "C");
  auto D = te::compute({32}, [&](te::Index i) {
    return te::cast<i8>(te::cast<i32>(A(i)) * 7 + te::cast<i32>(B(i)) / 3 - te::cast<i32>(i));
  }, "D");
  auto E = te::compute({32}, [&](te::Index i) { return te::cast<u8>(A(i)) + te::cast<u8>(te::abs(B(i))); }, "E");
  auto F = te::compute({32}, [&](te::Index i) { return A(i) < B(i) && (te::cast<i32>(A(i)) % 2 == 0); }, "F");
  return vectorize(te::create_prim_func({A, B, C, D, E, F}, "ew_int8"), {"i0"});
}

// Select (both sides evaluated), min/max, a lane-dependent condition on the loop variable.
PrimFunc selects() {
  auto A = te::placeholder<f32>({3, 16}, "A");
  auto B = te::placeholder<f32>({3, 16}, "B");
  auto C = te::compute({3, 16}, [&](te::Index i, te::Index j) {
    return te::select(A(i, j) > B(i, j), A(i, j) - B(i, j), te::max(B(i, j), 0.5f) * 2.0f) +
           te::select(j % 3 == 0, te::cast<f32>(j), te::min(A(i, j), -0.5f));
  }, "C");
  return vectorize(te::create_prim_func({A, B, C}, "selects"), {"i1"});
}

// Strided loads and stores: a transpose (store stride 8) and every second element (load stride 2).
PrimFunc strided() {
  Buffer A = make_buffer("A", kF32, {ci(8), ci(8)});
  Buffer T = make_buffer("T", kF32, {ci(8), ci(8)});
  Buffer E = make_buffer("E", kF32, {ci(16)});
  Buffer H = make_buffer("H", kF32, {ci(8)});
  Var i("i"), j("j"), k("k");
  Stmt tr = loop(i, 8, loop(j, 8, buffer_store(T, buffer_load(A, {i, j}) + cf(1.0), {j, i}), ForKind::Vectorized));
  Stmt ev = loop(k, 8, buffer_store(H, buffer_load(E, {k * ci(2)}) - buffer_load(E, {ci(15) - k * ci(2)}), {k}),
                 ForKind::Vectorized);
  return make_prim_func("strided", {A, T, E, H}, seq({tr, ev}));
}

// Lane-invariant operands (a row scale, a scalar constant) next to lane-dependent ones.
PrimFunc broadcast_operands() {
  auto A = te::placeholder<f32>({4, 8}, "A");
  auto S = te::placeholder<f32>({4}, "S");
  auto bias = te::placeholder<f32>({8}, "bias");
  auto C = te::compute({4, 8}, [&](te::Index i, te::Index j) { return A(i, j) * S(i) + bias(j) + S(0); }, "C");
  return vectorize(te::create_prim_func({A, S, bias, C}, "bcast"), {"i1"});
}

// A reduction with the innermost spatial loop vectorized: C[i, j] += A[i, k] * B[k, j] over i, k, j.
PrimFunc matmul_ikj() {
  Buffer A = make_buffer("A", kF32, {ci(3), ci(5)});
  Buffer B = make_buffer("B", kF32, {ci(5), ci(8)});
  Buffer C = make_buffer("C", kF32, {ci(3), ci(8)});
  Var i("i"), k("k"), j("j");
  Stmt init = if_then_else(eq(k, ci(0)), buffer_store(C, cf(0.0), {i, j}));
  Stmt update = buffer_store(C, buffer_load(C, {i, j}) + buffer_load(A, {i, k}) * buffer_load(B, {k, j}), {i, j});
  return make_prim_func("matmul_ikj", {A, B, C}, loop(i, 3, loop(k, 5, loop(j, 8, seq({init, update}), ForKind::Vectorized))));
}

// TE reduction: the innermost spatial loop holds the reduction loop, so it stays a loop.
PrimFunc te_row_sum() {
  auto A = te::placeholder<f32>({4, 8, 6}, "A");
  auto k = te::reduce_axis(6, "k");
  auto S = te::compute({4, 8}, [&](te::Index i, te::Index j) { return te::sum(A(i, j, k), k); }, "S");
  return vectorize(te::create_prim_func({A, S}, "row_sum"), {"i1"});
}

// Loop-carried dependences: a running sum through memory, a sum into one element, overlapping stores.
PrimFunc carried() {
  Buffer P = make_buffer("P", kF32, {ci(9)});
  Buffer A = make_buffer("A", kF32, {ci(8)});
  Buffer S = make_buffer("S", kF32, {ci(1)});
  Buffer O = make_buffer("O", kI32, {ci(9)});
  Var j("j"), k("k"), m("m");
  Stmt prefix = loop(j, 8, buffer_store(P, buffer_load(P, {j + ci(1)}) + buffer_load(P, {j}), {j + ci(1)}), ForKind::Vectorized);
  Stmt total = loop(k, 8, buffer_store(S, buffer_load(S, {ci(0)}) + buffer_load(A, {k}), {ci(0)}), ForKind::Vectorized);
  Stmt overlap = loop(m, 8, seq({buffer_store(O, ci(1, kI32), {m + ci(1)}), buffer_store(O, cast(kI32, m), {m})}),
                      ForKind::Vectorized);
  return make_prim_func("carried", {P, A, S, O}, seq({prefix, total, overlap}));
}

// Stores at disjoint elements (interleaving) and an in-place update at the same element: exact.
PrimFunc independent() {
  Buffer A = make_buffer("A", kF32, {ci(8)});
  Buffer B = make_buffer("B", kF32, {ci(16)});
  Buffer X = make_buffer("X", kF32, {ci(8)});
  Var j("j");
  Stmt body = seq({buffer_store(B, buffer_load(A, {j}), {j * ci(2)}),
                   buffer_store(B, buffer_load(A, {j}) * cf(-1.0), {j * ci(2) + ci(1)}),
                   buffer_store(X, buffer_load(X, {j}) * cf(2.0), {j}),
                   buffer_store(X, buffer_load(X, {j}) + buffer_load(B, {j * ci(2) + ci(1)}), {j})});
  return make_prim_func("independent", {A, B, X}, loop(j, 8, body, ForKind::Vectorized));
}

// Padding with the lazy if_then_else: loading branches keep the loop; a branch-free one is a Select.
PrimFunc padding() {
  auto n = te::var("n");
  auto A = te::placeholder<f32>({n, 6}, "A");
  auto P = te::compute({n, 8}, [&](te::Index i, te::Index j) {
    return te::if_then_else(j >= 1 && j < 7, A(i, j - 1), 0.0f);
  }, "P");
  auto Q = te::compute({n, 8}, [&](te::Index i, te::Index j) {
    return te::if_then_else(j < 3, te::cast<f32>(j * 2), te::cast<f32>(i));
  }, "Q");
  return vectorize(te::create_prim_func({A, P, Q}, "padding"), {"i1"});
}

// 7 lanes, and a symbolic outer extent.
PrimFunc seven_lanes() {
  auto n = te::var("n");
  auto A = te::placeholder<f32>({n, 7}, "A");
  auto B = te::placeholder<i32>({n, 7}, "B");
  auto C = te::compute({n, 7}, [&](te::Index i, te::Index j) {
    return A(i, j) * te::cast<f32>(B(i, j)) + te::cast<f32>(i * 7 + j);
  }, "C");
  return vectorize(te::create_prim_func({A, B, C}, "seven"), {"i1"});
}

// int32 loop variables and indices, a lane-dependent LetStmt and Let, a lane-invariant if.
PrimFunc lets_i32() {
  Buffer A = make_buffer("A", kI32, {int_imm(4, kI32), int_imm(16, kI32)});
  Buffer B = make_buffer("B", kI32, {int_imm(4, kI32), int_imm(16, kI32)});
  Var i("i", kI32), j("j", kI32), t("t", kI32), u("u", kI32), s("s", kI32);
  Expr a = buffer_load(A, {i, j});
  Expr lete = let(u, t * int_imm(3, kI32), u + u);
  Stmt body = let_stmt(s, i * int_imm(10, kI32),
                       let_stmt(t, a + j, if_then_else(lt(i, int_imm(2, kI32)), buffer_store(B, lete + s, {i, j}),
                                                       buffer_store(B, floordiv(t, int_imm(4, kI32)) - s, {i, j}))));
  return make_prim_func("lets_i32", {A, B}, loop(i, 4, loop(j, 16, body, ForKind::Vectorized)));
}

// An int32 loop variable in an int64-indexed buffer (a widening cast of the Ramp) and a bool buffer.
PrimFunc mixed_index() {
  Buffer A = make_buffer("A", kF32, {ci(3), ci(8)});
  Buffer M = make_buffer("M", kBool, {ci(3), ci(8)});
  Var i("i"), j("j", kI32);
  Expr jj = cast(kI64, j);
  Stmt body = seq({buffer_store(M, buffer_load(A, {i, jj}) > cf(0.0), {i, jj}),
                   buffer_store(A, select(buffer_load(M, {i, jj}), buffer_load(A, {i, jj}), cf(0.0)), {i, jj})});
  return make_prim_func("mixed", {A, M}, loop(i, 3, loop(j, 8, body, ForKind::Vectorized)));
}

// Vectorized loops nested in each other: the inner one is vectorized, the outer one stays a loop.
PrimFunc nested() {
  Buffer A = make_buffer("A", kF32, {ci(4), ci(4)});
  Var i("i"), j("j");
  return make_prim_func("nested", {A},
                        loop(i, 4, loop(j, 4, buffer_store(A, buffer_load(A, {i, j}) + cast(kF32, i - j), {i, j}),
                                        ForKind::Vectorized),
                             ForKind::Vectorized));
}

}  // namespace

TEST_CASE("vectorize_loops: an f32 element-wise loop becomes dense vector loads and stores") {
  Stmt low = check_exact(ew_f32());
  Shape s = shape_of(low);
  CHECK(s.vectorized_loops == 0);
  CHECK(s.loops == 1);  // i0 stays; i1 is gone
  CHECK(s.dense_stores == 1);
  CHECK(s.dense_loads >= 2);
  CHECK(s.gathers == 0);
  CHECK(s.broadcasts >= 1);  // the constants 2.5, 1.5 and 0.25
  auto* outer = low.as<ForNode>();
  REQUIRE(outer);
  auto* store = outer->body.as<BufferStoreNode>();
  REQUIRE(store);
  CHECK(store->value.dtype() == DataType::float_(32, 16));
  auto* ramp = store->indices[0].as<RampNode>();
  REQUIRE(ramp);
  CHECK(ramp->lanes == 16);
  CHECK(ramp->base.dtype() == kI64);
  // The base is the lane-invariant row offset (scalar), the stride 1.
  CHECK(uses_var(ramp->base, outer->loop_var.get()));
}

TEST_CASE("vectorize_loops: float16, int8 and bool element-wise programs are exact") {
  Shape h = shape_of(check_exact(ew_f16()));
  CHECK(h.vectorized_loops == 0);
  CHECK(h.dense_stores == 3);
  Stmt low = check_exact(ew_int8());
  Shape s = shape_of(low);
  CHECK(s.loops == 0);
  CHECK(s.dense_stores == 4);
  // The bool store is a vector of 32 bools.
  bool found_bool = false;
  for (auto& st : low.as<SeqStmtNode>()->seq)
    if (auto* b = st.as<BufferStoreNode>(); b && b->value.dtype() == DataType::boolean(32)) found_bool = true;
  CHECK(found_bool);
}

TEST_CASE("vectorize_loops: select and min/max work lane-wise") {
  Shape s = shape_of(check_exact(selects()));
  CHECK(s.vectorized_loops == 0);
  CHECK(s.selects == 2);
  CHECK(s.dense_stores == 1);
}

TEST_CASE("vectorize_loops: strided loads and stores keep their stride (gathers/scatters)") {
  Stmt low = check_exact(strided());
  Shape s = shape_of(low);
  CHECK(s.vectorized_loops == 0);
  CHECK(s.strided_stores == 1);  // T[ramp(i, 8, 8)]
  CHECK(s.dense_stores == 1);    // H
  CHECK(s.gathers == 2);         // E[ramp(0, 2, 8)] and E[ramp(15, -2, 8)]
  auto* tr = low.as<SeqStmtNode>()->seq[0].as<ForNode>()->body.as<BufferStoreNode>();
  REQUIRE(tr);
  auto* ramp = tr->indices[0].as<RampNode>();
  REQUIRE(ramp);
  CHECK(is_const_int(ramp->stride, 8));
}

TEST_CASE("vectorize_loops: lane-invariant operands stay scalar and are broadcast") {
  Stmt low = check_exact(broadcast_operands());
  Shape s = shape_of(low);
  CHECK(s.vectorized_loops == 0);
  CHECK(s.scalar_loads_in_vectors == 2);  // S[i] and S[0] are scalar loads, broadcast
  CHECK(s.dense_loads == 2);              // A and bias
}

TEST_CASE("vectorize_loops: a reduction with its innermost spatial loop vectorized") {
  Stmt low = check_exact(matmul_ikj());
  Shape s = shape_of(low);
  CHECK(s.vectorized_loops == 0);
  CHECK(s.loops == 2);           // i and k
  CHECK(s.dense_stores == 2);    // init and update, under the scalar condition k == 0
  CHECK(s.scalar_loads_in_vectors == 1);  // A[i, k]
  // The TE reduction nests the reduce loop inside the spatial loop: that loop stays.
  Shape r = shape_of(check_exact(te_row_sum()));
  CHECK(r.vectorized_loops == 1);
  CHECK(r.vector_stores == 0);
}

TEST_CASE("vectorize_loops: loop-carried dependences keep the loop") {
  Stmt low = check_exact(carried());
  Shape s = shape_of(low);
  CHECK(s.vectorized_loops == 3);  // running sum, sum into one element, overlapping stores
  CHECK(s.vector_stores == 0);
  // Disjoint stores and same-element updates are exact and vectorize.
  Shape d = shape_of(check_exact(independent()));
  CHECK(d.vectorized_loops == 0);
  CHECK(d.strided_stores == 2);
  CHECK(d.dense_stores == 2);
}

TEST_CASE("vectorize_loops: lazy if_then_else padding") {
  std::map<std::string, int64_t> sizes{{"n", 3}};
  Stmt low = check_exact(padding(), sizes);
  Shape s = shape_of(low);
  // P loads in its branch under a lane-dependent condition: that loop stays. Q becomes a Select.
  CHECK(s.vectorized_loops == 1);
  CHECK(s.selects == 1);
  CHECK(s.dense_stores == 1);
}

TEST_CASE("vectorize_loops: 7 lanes under a symbolic outer extent") {
  for (int64_t n : {1, 4}) {
    Stmt low = check_exact(seven_lanes(), {{"n", n}});
    Shape s = shape_of(low);
    CHECK(s.vectorized_loops == 0);
    CHECK(s.loops == 1);
    auto* outer = low.as<ForNode>();
    REQUIRE(outer);
    CHECK(!outer->extent.as<IntImmNode>());  // n
    auto* store = outer->body.as<BufferStoreNode>();
    REQUIRE(store);
    CHECK(store->value.dtype().lanes == 7);
  }
}

TEST_CASE("vectorize_loops: int32 indices, vector lets and a lane-invariant if") {
  Stmt low = check_exact(lets_i32());
  Shape s = shape_of(low);
  CHECK(s.vectorized_loops == 0);
  CHECK(s.vector_lets == 2);  // t (LetStmt) and u (Let); s stays a scalar let
  CHECK(s.dense_stores == 2);
  Shape m = shape_of(check_exact(mixed_index()));
  CHECK(m.vectorized_loops == 0);
  CHECK(m.vector_stores == 2);
}

TEST_CASE("vectorize_loops: nested vectorized loops vectorize the inner one only") {
  Shape s = shape_of(check_exact(nested()));
  CHECK(s.vectorized_loops == 1);
  CHECK(s.dense_stores == 1);
}

TEST_CASE("vectorize_loops: a one-lane loop becomes its body; serial loops are untouched") {
  Buffer A = make_buffer("A", kF32, {ci(4)});
  Var i("i"), j("j");
  PrimFunc f = make_prim_func("one", {A}, loop(i, 4, loop(j, 1, buffer_store(A, cf(2.0), {i + j}), ForKind::Vectorized)));
  Stmt low = check_exact(f);
  Shape s = shape_of(low);
  CHECK(s.loops == 1);
  CHECK(s.vector_stores == 0);
  PrimFunc g = make_prim_func("serial", {A}, loop(i, 4, buffer_store(A, cf(2.0), {i})));
  CHECK(tir::vectorize_loops(g->body).same_as(g->body));
}

TEST_CASE("vectorize_loops: the pass runs in tir::lower after flatten_buffers") {
  CHECK(g_programs_checked >= 0);
  // Directly on flattened IR, the pass gives the same vector form as inside lower().
  PrimFunc f = ew_f32();
  PrimFunc flat = tir::flatten_buffers(tir::legalize_narrow_floats(tir::convert_blocks_to_loops(f)));
  Shape s = shape_of(tir::vectorize_loops(flat->body));
  CHECK(s.vectorized_loops == 0);
  CHECK(s.vector_stores == 1);
}

TEST_CASE("vectorize_loops: scalar loads, gathers and scatters of stored buffers") {
  Buffer A = make_buffer("A", kF32, {ci(16)}), B = make_buffer("B", kF32, {ci(16)});
  Buffer Idx = make_buffer("Idx", kI32, {ci(8)}), X = make_buffer("X", kF32, {ci(8)});
  Var j("j");
  auto vloop = [&](Stmt body) { return loop(j, 8, std::move(body), ForKind::Vectorized); };
  // A[0] is written by lane 0 and read by every lane: stays a loop. A[j + 1] never touches B[0].
  Shape s1 = shape_of(check_exact(make_prim_func("s1", {A}, vloop(buffer_store(A, buffer_load(A, {ci(0)}) * cf(2.0), {j})))));
  CHECK(s1.vectorized_loops == 1);
  Shape s2 = shape_of(check_exact(make_prim_func("s2", {B}, vloop(buffer_store(B, buffer_load(B, {ci(0)}) * cf(2.0), {j + ci(1)})))));
  CHECK(s2.vectorized_loops == 0);
  CHECK(s2.broadcasts == 1);  // the whole product B[0] * 2 is lane-invariant
  // Shifting left reads a lane that a store of another lane writes: conservatively a loop.
  Shape s3 = shape_of(check_exact(make_prim_func("s3", {A}, vloop(buffer_store(A, buffer_load(A, {j + ci(1)}), {j})))));
  CHECK(s3.vectorized_loops == 1);
  // A gather through an index buffer (not stored): vectorized.
  Expr gidx = floormod(cast(kI64, buffer_load(Idx, {j})), ci(16));
  Shape s4 = shape_of(check_exact(make_prim_func("s4", {A, Idx, X}, vloop(buffer_store(X, buffer_load(A, {gidx}) + cf(1.0), {j})))));
  CHECK(s4.vectorized_loops == 0);
  CHECK(s4.gathers == 1);
  // A scatter where two lanes hit each element: stores only, the last lane wins either way.
  Shape s5 = shape_of(check_exact(make_prim_func("s5", {A, X}, vloop(seq({buffer_store(X, buffer_load(A, {j}), {floordiv(j, ci(2))}),
                                                                          buffer_store(X, buffer_load(A, {j + ci(8)}), {floordiv(j, ci(2))})})))));
  CHECK(s5.vectorized_loops == 0);
  CHECK(s5.vector_stores == 2);
  // ... but reading it back (a histogram-like update) is a loop-carried dependence.
  Shape s6 = shape_of(check_exact(make_prim_func("s6", {A, X}, vloop(buffer_store(X, buffer_load(X, {floordiv(j, ci(2))}) + buffer_load(A, {j}),
                                                                                  {floordiv(j, ci(2))})))));
  CHECK(s6.vectorized_loops == 1);
  // A store index that reads a buffer the body stores to stays a loop.
  Buffer W = make_buffer("W", kI32, {ci(8)});
  Expr widx = floormod(cast(kI64, buffer_load(W, {j})), ci(8));
  Shape s7 = shape_of(check_exact(make_prim_func("s7", {W, X}, vloop(seq({buffer_store(X, cf(1.0), {widx}),
                                                                          buffer_store(W, buffer_load(W, {j}) + int_imm(3, kI32), {j}),
                                                                          buffer_store(X, cf(2.0), {widx})})))));
  CHECK(s7.vectorized_loops == 1);
}

TEST_CASE("vectorize_loops: very wide loops stay loops for LLVM's vectorizer") {
  Buffer A = make_buffer("A", kF32, {ci(300)});
  Var j("j");
  Stmt body = loop(j, 300, buffer_store(A, buffer_load(A, {j}) + cf(1.0), {j}), ForKind::Vectorized);
  CHECK(tir::vectorize_loops(body).same_as(body));
  Buffer B = make_buffer("B", kF32, {ci(256)});
  Stmt wide = loop(j, 256, buffer_store(B, buffer_load(B, {j}) + cf(1.0), {j}), ForKind::Vectorized);
  CHECK(shape_of(check_exact(make_prim_func("wide", {B}, wide))).dense_stores == 1);
}

TEST_CASE("vectorize_loops: vector code inside a parallel loop (outlined by the backend)") {
  Buffer A = make_buffer("A", kF32, {ci(64), ci(8)}), B = make_buffer("B", kF32, {ci(64), ci(8)});
  Var i("i"), j("j"), t("t", kF32);
  Stmt body = let_stmt(t, buffer_load(A, {i, j}) * cf(0.5), buffer_store(B, t * t + cast(kF32, i), {i, j}));
  PrimFunc f = make_prim_func("par", {A, B}, loop(i, 64, loop(j, 8, body, ForKind::Vectorized), ForKind::Parallel));
  Shape s = shape_of(check_exact(f));
  CHECK(s.loops == 1);
  CHECK(s.vectorized_loops == 0);
  CHECK(s.vector_lets == 1);
  CHECK(s.dense_stores == 1);
}
