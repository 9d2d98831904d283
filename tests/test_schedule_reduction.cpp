// tir::Schedule reduction primitives (decompose_reduction, rfactor) and merge / loop_partition:
// golden printed IR after each primitive, numerical equality of scheduled programs (LLVM JIT)
// with the reference interpreter on the unscheduled ones, trace replay and C++ printing, and the
// text of the errors a refused primitive gives.
#include <doctest/doctest.h>

#include "schedule_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using testing::check_schedule;
using testing::contains_all;
using testing::corpus_case;
using testing::error_of;
using testing::options_of;

namespace {

ir::PrimFunc row_sum(int64_t n, int64_t m) {
  auto A = placeholder<f32>({n, m}, "A");
  auto k = reduce_axis(m, "k");
  auto C = compute({n}, [&](Index i) { return sum(A(i, k), k); }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc add_one(int64_t n) {
  auto A = placeholder<f32>({n}, "A");
  auto C = compute({n}, [&](Index i) { return A(i) + 1.0; }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc scale_symbolic() {
  auto m = var("m");
  auto A = placeholder<f32>({m}, "A");
  auto C = compute({m}, [&](Index i) { return A(i) * 2.0; }, "C");
  return create_prim_func({A, C});
}
// B = A * 2, then C = B + 1: two element-wise nests.
ir::PrimFunc two_nests(int64_t n) {
  auto A = placeholder<f32>({n}, "A");
  auto B = compute({n}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto C = compute({n}, [&](Index i) { return B(i) + 1.0; }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc two_nests_2d(int64_t n, int64_t m) {
  auto A = placeholder<f32>({n, m}, "A");
  auto B = compute({n, m}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "B");
  auto C = compute({n, m}, [&](Index i, Index j) { return B(i, j) + A(i, j); }, "C");
  return create_prim_func({A, C});
}
// C reads B backwards: C[i] needs B[n - 1 - i], written at another iteration.
ir::PrimFunc reversed(int64_t n) {
  auto A = placeholder<f32>({n}, "A");
  auto B = compute({n}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto C = compute({n}, [&](Index i) { return B(n - 1 - i) + 1.0; }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc three_nests(int64_t n) {
  auto A = placeholder<f32>({n}, "A");
  auto B = compute({n}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto D = compute({n}, [&](Index i) { return A(i) - 1.0; }, "D");
  auto C = compute({n}, [&](Index i) { return B(i) + D(i); }, "C");
  return create_prim_func({A, C});
}

// Rewrites reduction updates `C = C + x` into `C = C - x`, which is no commutative reduction.
ir::PrimFunc subtracting(const ir::PrimFunc& f) {
  struct M : ir::StmtExprMutator {
    using ir::StmtExprMutator::mutate;
    ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
      auto* n = s.as<ir::BufferStoreNode>();
      auto* b = n->value.as<ir::BinaryNode>();
      if (!b || b->op != ir::BinaryOp::Add) return s;
      return ir::buffer_store(n->buffer, ir::sub(b->a, b->b), n->indices);
    }
  };
  return ir::with_body(f, M().mutate(f->body));
}
// Declares that block C also writes A[v_i0, 0].
ir::PrimFunc two_writes(const ir::PrimFunc& f) {
  struct M : ir::StmtExprMutator {
    using ir::StmtExprMutator::mutate;
    ir::Stmt mutate_block(const ir::Stmt& s) override {
      auto* n = s.as<ir::BlockNode>();
      if (n->name != "C") return ir::StmtExprMutator::mutate_block(s);
      ir::BlockNode c = *n;
      const ir::Buffer& a = n->reads.back().buffer;
      c.writes.push_back(ir::BufferRegion{a, {ir::Range{n->iter_vars[0].var, ir::int_imm(1)}, ir::Range{ir::int_imm(0), ir::int_imm(1)}}});
      return ir::Stmt(ir::make_block(std::move(c)));
    }
  };
  return ir::with_body(f, M().mutate(f->body));
}

// `f` with the extent of the loop named `name` set to `extent`.
ir::PrimFunc with_loop_extent(const ir::PrimFunc& f, const std::string& name, int64_t extent) {
  struct M : ir::StmtExprMutator {
    std::string n;
    int64_t e = 1;
    using ir::StmtExprMutator::mutate;
    ir::Stmt mutate_for(const ir::Stmt& s) override {
      auto* l = s.as<ir::ForNode>();
      if (l->loop_var.name() != n) return ir::StmtExprMutator::mutate_for(s);
      return ir::for_loop(l->loop_var, l->min, ir::int_imm(e, l->loop_var.dtype()), l->for_kind, mutate(l->body));
    }
  } m;
  m.n = name;
  m.e = extent;
  return ir::with_body(f, m.mutate(f->body));
}

// Rewrites block predicates `a < b` into the equivalent `b - a > 0`.
ir::PrimFunc flipped_predicates(const ir::PrimFunc& f) {
  struct M : ir::StmtExprMutator {
    using ir::StmtExprMutator::mutate;
    ir::Stmt mutate_block_realize(const ir::Stmt& s) override {
      auto* r = s.as<ir::BlockRealizeNode>();
      auto* lt = r->predicate.as<ir::BinaryNode>();
      if (!lt || lt->op != ir::BinaryOp::LT) return ir::StmtExprMutator::mutate_block_realize(s);
      ir::Expr p = ir::gt(ir::sub(lt->b, lt->a), ir::make_const(lt->a.dtype(), 0));
      return ir::block_realize(r->iter_values, p, r->block);
    }
  };
  return ir::with_body(f, M().mutate(f->body));
}

testing::CheckOptions sizes(std::vector<std::map<std::string, int64_t>> s) {
  testing::CheckOptions o;
  o.sizes = std::move(s);
  return o;
}

}  // namespace

// ---- decompose_reduction ------------------------------------------------------------------------

TEST_CASE("decompose_reduction: golden IR, the init block before the given loop") {
  ir::PrimFunc f = row_sum(4, 16);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  auto [i, k] = s.get_loops<2>(c);
  (void)k;
  auto init = s.decompose_reduction(c, i);
  CHECK(s.block_name(init) == "C_init");
  CHECK(s.block_name(c) == "C");  // the update keeps its name and handle
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4, 16), "float32"), C: T.Buffer((4,), "float32")):
    with T.block("root"):
        for i0_init in T.serial(0, 4):
            with T.block("C_init"):
                v_i0 = T.axis.spatial(4, i0_init)
                T.writes(C[v_i0])
                C[v_i0] = T.float32(0)
        for i0 in T.serial(0, 4):
            for k in T.serial(0, 16):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(4, i0)
                    v_k = T.axis.reduce(16, k)
                    T.reads(C[v_i0_1], A[v_i0_1, v_k])
                    T.writes(C[v_i0_1])
                    C[v_i0_1] = C[v_i0_1] + A[v_i0_1, v_k]
)");
  check_schedule(f, s);
}

TEST_CASE("decompose_reduction on matmul at every legal loop after splitting k") {
  const auto& c = corpus_case("matmul");
  ir::PrimFunc f = c.build();
  for (int at = 0; at < 3; ++at) {
    CAPTURE(at);
    tir::Schedule s(f);
    auto b = s.get_block("C");
    auto [i, j, k] = s.get_loops<3>(b);
    auto [k0, k1] = s.split<2>(k, {std::nullopt, 8});
    (void)k1;
    tir::LoopRV where[] = {i, j, k0};
    auto init = s.decompose_reduction(b, where[at]);
    CHECK(s.get_loops(init).size() == 2);
    CHECK(check_schedule(f, s, options_of(c)) == 3);
  }
}

TEST_CASE("decompose_reduction then parallel and vectorize the init, on reductions of each kind") {
  for (const char* name : {"max_axis_middle", "sum_where_lower_triangular", "sum_reduce_axis_with_offset", "matmul_symbolic_m"}) {
    CAPTURE(name);
    const auto& c = corpus_case(name);
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    auto b = s.get_block("C");
    auto loops = s.get_loops(b);
    auto init = s.decompose_reduction(b, loops[0]);
    s.parallel(s.get_loops(init)[0]);
    check_schedule(f, s, options_of(c));
  }
  const auto& c = corpus_case("min_and_prod");
  ir::PrimFunc f = c.build();
  tir::Schedule s(f);
  for (const char* b : {"Mn", "Pr"}) {
    auto blk = s.get_block(b);
    s.decompose_reduction(blk, s.get_loops(blk)[1]);
  }
  check_schedule(f, s, options_of(c));
}

// ---- rfactor ------------------------------------------------------------------------------------

TEST_CASE("rfactor: golden IR of a row sum with the new dimension last") {
  ir::PrimFunc f = row_sum(4, 16);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  auto [i, k] = s.get_loops<2>(c);
  (void)i;
  auto [k0, k1] = s.split<2>(k, {std::nullopt, 4});
  (void)k0;
  auto rf = s.rfactor(k1, 1);
  CHECK(s.block_name(rf) == "C_rf");
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4, 16), "float32"), C: T.Buffer((4,), "float32")):
    with T.block("root"):
        C_rf = T.alloc_buffer((4, 4), "float32")
        for i0 in T.serial(0, 4):
            for k_0 in T.serial(0, 4):
                for k_1 in T.serial(0, 4):
                    with T.block("C_rf"):
                        v_k_1 = T.axis.spatial(4, k_1)
                        v_i0 = T.axis.spatial(4, i0)
                        v_k_0 = T.axis.reduce(4, k_0)
                        T.reads(C_rf[v_i0, v_k_1], A[v_i0, v_k_0 * 4 + v_k_1])
                        T.writes(C_rf[v_i0, v_k_1])
                        with T.init():
                            C_rf[v_i0, v_k_1] = T.float32(0)
                        C_rf[v_i0, v_k_1] = C_rf[v_i0, v_k_1] + A[v_i0, v_k_0 * 4 + v_k_1]
        for i0_1 in T.serial(0, 4):
            for k_1_1 in T.serial(0, 4):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(4, i0_1)
                    v_k_1_1 = T.axis.reduce(4, k_1_1)
                    T.reads(C[v_i0_1], C_rf[v_i0_1, v_k_1_1])
                    T.writes(C[v_i0_1])
                    with T.init():
                        C[v_i0_1] = T.float32(0)
                    C[v_i0_1] = C[v_i0_1] + C_rf[v_i0_1, v_k_1_1]
)");
  check_schedule(f, s);
}

TEST_CASE("rfactor on a row sum, then the rfactor loop made outermost and parallel") {
  const auto& c = corpus_case("sum_axis1");  // 12 x 31, split by 4 does not divide
  ir::PrimFunc f = c.build();
  tir::Schedule s(f);
  auto b = s.get_block("C");
  auto [i, k] = s.get_loops<2>(b);
  (void)i;
  auto [k0, k1] = s.split<2>(k, {std::nullopt, 4});
  (void)k0;
  auto rf = s.rfactor(k1, 0);
  auto [ri, rk0, rk1] = s.get_loops<3>(rf);
  s.reorder({rk1, ri, rk0});
  s.parallel(rk1);
  CHECK(check_schedule(f, s, options_of(c)) == 2);
}

TEST_CASE("rfactor on matmul's split k, at each position of the new dimension, parallel rfactor loop") {
  const auto& c = corpus_case("matmul");  // K = 29: the split leaves a predicate
  ir::PrimFunc f = c.build();
  for (int64_t axis : {0, 1, 2, -1}) {
    for (int inner = 0; inner < 2; ++inner) {
      CAPTURE(axis);
      CAPTURE(inner);
      tir::Schedule s(f);
      auto b = s.get_block("C");
      auto [i, j, k] = s.get_loops<3>(b);
      (void)i;
      (void)j;
      auto [k0, k1] = s.split<2>(k, {std::nullopt, 8});
      auto rf = s.rfactor(inner ? k1 : k0, axis);
      auto loops = s.get_loops(rf);
      s.parallel(loops[inner ? 3 : 2]);
      check_schedule(f, s, options_of(c));
    }
  }
}

TEST_CASE("rfactor is exact on integer sums, and works for max, min, prod, conditions and offsets") {
  {
    const auto& c = corpus_case("matmul_int8_acc_int32");  // int32 accumulation: exact comparison
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    (void)i;
    (void)j;
    auto [k0, k1] = s.split<2>(k, {std::nullopt, 16});
    (void)k1;
    auto rf = s.rfactor(k0, 1);
    s.parallel(s.get_loops(rf)[2]);
    check_schedule(f, s, options_of(c));
  }
  for (const char* name : {"max_axis_middle", "sum_where_lower_triangular", "sum_reduce_axis_with_offset"}) {
    CAPTURE(name);
    const auto& c = corpus_case(name);
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    auto loops = s.get_loops(s.get_block("C"));
    auto parts = s.split(loops.back(), {std::nullopt, 4});
    auto rf = s.rfactor(parts[1], 0);
    auto rl = s.get_loops(rf);
    s.parallel(rl.back());
    check_schedule(f, s, options_of(c));
  }
  {
    const auto& c = corpus_case("min_and_prod");
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    s.rfactor(s.get_loops(s.get_block("Mn"))[1], 1);
    s.rfactor(s.get_loops(s.get_block("Pr"))[1], 0);
    check_schedule(f, s, options_of(c));
  }
  {
    const auto& c = corpus_case("sum_all_two_axes");  // two reduction axes: rfactor one of them
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    auto rf = s.rfactor(s.get_loops(s.get_block("C"))[2], 0);
    auto init = s.decompose_reduction(s.get_block("C"), s.get_loops(s.get_block("C"))[0]);
    (void)init;
    (void)rf;
    check_schedule(f, s, options_of(c));
  }
}

// ---- merge --------------------------------------------------------------------------------------

TEST_CASE("merge: golden IR of two element-wise nests") {
  ir::PrimFunc f = two_nests(8);
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("B"));
  auto [j] = s.get_loops<1>(s.get_block("C"));
  auto m = s.merge({j, i});  // any order: the bodies keep program order
  CHECK(s.loop_name(m) == "i0_m");
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((8,), "float32")
        for i0_m in T.serial(0, 8):
            with T.block("B"):
                v_i0 = T.axis.spatial(8, i0_m)
                T.reads(A[v_i0])
                T.writes(B[v_i0])
                B[v_i0] = A[v_i0] * T.float32(2)
            with T.block("C"):
                v_i0_1 = T.axis.spatial(8, i0_m)
                T.reads(B[v_i0_1])
                T.writes(C[v_i0_1])
                C[v_i0_1] = B[v_i0_1] + T.float32(1)
)");
  check_schedule(f, s);
}

TEST_CASE("merge: two levels at once, split loops, a reduction producer, three nests") {
  {
    ir::PrimFunc f = two_nests_2d(6, 10);
    tir::Schedule s(f);
    auto [bi, bj] = s.get_loops<2>(s.get_block("B"));
    auto [ci, cj] = s.get_loops<2>(s.get_block("C"));
    (void)bi;
    (void)ci;
    auto m = s.merge({bj, cj});  // merges i and j
    CHECK(s.get_loops(s.get_block("C")).size() == 2);
    s.parallel(s.get_loops(s.get_block("B"))[0]);
    (void)m;
    check_schedule(f, s);
  }
  {
    ir::PrimFunc f = two_nests(37);
    tir::Schedule s(f);
    auto [i] = s.get_loops<1>(s.get_block("B"));
    auto [j] = s.get_loops<1>(s.get_block("C"));
    auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 8});
    (void)ii;
    (void)ji;
    s.merge({io, jo});  // each outer iteration covers 8 elements of both
    check_schedule(f, s);
  }
  {
    const auto& c = corpus_case("mean_axis_last");  // S[i] = sum_k A[i, k]; C[i] = S[i] / 64
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    s.merge({s.get_loops(s.get_block("S"))[0], s.get_loops(s.get_block("C"))[0]});
    check_schedule(f, s, options_of(c));
  }
  {
    ir::PrimFunc f = three_nests(16);
    tir::Schedule s(f);
    s.merge({s.get_loops(s.get_block("B"))[0], s.get_loops(s.get_block("D"))[0], s.get_loops(s.get_block("C"))[0]});
    CHECK(s.get_child_blocks(s.get_loops(s.get_block("C"))[0]).size() == 3);
    check_schedule(f, s);
  }
}

// ---- loop_partition -----------------------------------------------------------------------------

TEST_CASE("loop_partition: golden IR, the copy renamed C_1") {
  ir::PrimFunc f = add_one(10);
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto parts = s.loop_partition(i, {4, std::nullopt});
  REQUIRE(parts.size() == 2);
  CHECK(s.loop_name(parts[1]) == "i0_p1");
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((10,), "float32"), C: T.Buffer((10,), "float32")):
    with T.block("root"):
        for i0_p0 in T.serial(0, 4):
            with T.block("C"):
                v_i0 = T.axis.spatial(10, i0_p0)
                T.reads(A[v_i0])
                T.writes(C[v_i0])
                C[v_i0] = A[v_i0] + T.float32(1)
        for i0_p1 in T.serial(0, 6):
            with T.block("C_1"):
                v_i0_1 = T.axis.spatial(10, i0_p1 + 4)
                T.reads(A[v_i0_1])
                T.writes(C[v_i0_1])
                C[v_i0_1] = A[v_i0_1] + T.float32(1)
)");
  check_schedule(f, s);
}

TEST_CASE("loop_partition of a symbolic extent clamps the parts to it") {
  ir::PrimFunc f = scale_symbolic();
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  s.loop_partition(i, {4, std::nullopt});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((m,), "float32"), C: T.Buffer((m,), "float32")):
    m = T.int64()
    with T.block("root"):
        for i0_p0 in T.serial(0, T.min(4, m)):
            with T.block("C"):
                v_i0 = T.axis.spatial(m, i0_p0)
                T.reads(A[v_i0])
                T.writes(C[v_i0])
                C[v_i0] = A[v_i0] * T.float32(2)
        for i0_p1 in T.serial(0, T.max(m - T.min(4, m), 0)):
            with T.block("C_1"):
                v_i0_1 = T.axis.spatial(m, i0_p1 + T.min(4, m))
                T.reads(A[v_i0_1])
                T.writes(C[v_i0_1])
                C[v_i0_1] = A[v_i0_1] * T.float32(2)
)");
  CHECK(check_schedule(f, s, sizes({{{"m", 1}}, {{"m", 4}}, {{"m", 11}}})) == 6);
  tir::Schedule s2(f);
  s2.loop_partition(s2.get_loops(s2.get_block("C"))[0], {2, std::nullopt, 3});
  check_schedule(f, s2, sizes({{{"m", 1}}, {{"m", 3}}, {{"m", 5}}, {{"m", 12}}}));
}

TEST_CASE("loop_partition: exact, remainder and inferred sizes; reductions and nested loops") {
  ir::PrimFunc f = add_one(37);
  for (auto sizes_ : std::vector<std::vector<std::optional<int64_t>>>{{16, 21}, {8, std::nullopt}, {std::nullopt, 5},
                                                                      {3, std::nullopt, 4, 4}}) {
    tir::Schedule s(f);
    auto parts = s.loop_partition(s.get_loops(s.get_block("C"))[0], sizes_);
    CHECK(parts.size() == sizes_.size());
    if (sizes_.back() && *sizes_.back() <= 5) s.vectorize(parts.back());
    check_schedule(f, s);
  }
  // Partitioning a reduction loop: the init still runs once, in the first part.
  const auto& c = corpus_case("matmul");
  ir::PrimFunc mm = c.build();
  tir::Schedule s(mm);
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)j;
  s.loop_partition(k, {5, std::nullopt});
  auto parts = s.loop_partition(i, {10, 20, std::nullopt});  // copies the j and k loops too
  CHECK(s.get_child_blocks(parts[2]).size() == 2);
  s.parallel(parts[1]);
  CHECK(check_schedule(mm, s, options_of(c)) == 3);
  CHECK(contains_all(ir::to_text(s.func()), {"\"C_1_1\"", "\"C_1_1_1\"", "\"C_2\"", "\"C_1_2\""}));
}

// ---- the trace --------------------------------------------------------------------------------------

namespace {
// The same calls as the expected to_cpp text below.
void schedule_by_hand(tir::Schedule& s) {
  auto b0 = s.get_block("B");
  auto [l1] = s.get_loops<1>(b0);
  auto b2 = s.get_block("C");
  auto [l3] = s.get_loops<1>(b2);
  auto l4 = s.merge({l1, l3});
  auto parts_5 = s.loop_partition(l4, {24, std::nullopt});
  auto l5 = parts_5[0];
  auto l6 = parts_5[1];
  auto b7 = s.get_block("S");
  auto [l8, l9] = s.get_loops<2>(b7);
  auto [l10, l11] = s.split<2>(l9, {std::nullopt, 4});
  auto b12 = s.rfactor(l11, 0);
  auto b13 = s.decompose_reduction(b7, l8);
  (void)l5, (void)l6, (void)l10, (void)b12, (void)b13;
}
ir::PrimFunc traced_program() {
  auto A = placeholder<f32>({32}, "A");
  auto X = placeholder<f32>({6, 10}, "X");
  auto B = compute({32}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto C = compute({32}, [&](Index i) { return B(i) + 1.0; }, "C");
  auto k = reduce_axis(10, "k");
  auto S = compute({6}, [&](Index i) { return sum(X(i, k), k); }, "S");
  return create_prim_func({A, X, C, S});
}
}  // namespace

TEST_CASE("the four primitives replay from the trace and print as C++ that compiles") {
  ir::PrimFunc f = traced_program();
  tir::Schedule s(f);
  schedule_by_hand(s);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("B");
auto [l1] = s.get_loops<1>(b0);
auto b2 = s.get_block("C");
auto [l3] = s.get_loops<1>(b2);
auto l4 = s.merge({l1, l3});
auto parts_5 = s.loop_partition(l4, {24, std::nullopt});
auto l5 = parts_5[0];
auto l6 = parts_5[1];
auto b7 = s.get_block("S");
auto [l8, l9] = s.get_loops<2>(b7);
auto [l10, l11] = s.split<2>(l9, {std::nullopt, 4});
auto b12 = s.rfactor(l11, 0);
auto b13 = s.decompose_reduction(b7, l8);
)");
  tir::Schedule again(f);
  schedule_by_hand(again);
  CHECK(ir::structural_equal(again.func(), s.func()));
  CHECK(ir::structural_equal(s.trace().apply_to(f), s.func()));
  check_schedule(f, s);
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("decompose_reduction errors name the block, the loop and the legal loops") {
  ir::PrimFunc mm = corpus_case("matmul").build();
  tir::Schedule s(mm);
  auto c = s.get_block("C");
  auto [i, j, k] = s.get_loops<3>(c);
  (void)i;
  (void)j;
  auto [k0, k1] = s.split<2>(k, {std::nullopt, 8});
  (void)k0;
  size_t before = s.trace().size();
  CHECK(contains_all(error_of([&] { s.decompose_reduction(c, k1); }),
                     {"decompose_reduction", "loop 'k_1'", "inside the reduction loop 'k_0'", "block 'C'",
                      "one of 'i0', 'i1', 'k_0'"}));
  CHECK(s.trace().size() == before);  // refused: nothing recorded
  tir::Schedule s2(corpus_case("mean_axis_last").build());
  CHECK(contains_all(error_of([&] { s2.decompose_reduction(s2.get_block("S"), s2.get_loops(s2.get_block("C"))[0]); }),
                     {"decompose_reduction", "loop 'i0' is not around block 'S'", "('i0', 'k')"}));
  tir::Schedule s3(add_one(8));
  auto c3 = s3.get_block("C");
  CHECK(contains_all(error_of([&] { s3.decompose_reduction(c3, s3.get_loops(c3)[0]); }),
                     {"decompose_reduction", "block 'C' is not a reduction block", "no init"}));

  // A loop that repeats the whole reduction (feeding no iteration variable) re-runs the init.
  tir::Schedule s0(row_sum(4, 8));
  s0.add_unit_loop(s0.get_loops(s0.get_block("C"))[1]);
  ir::PrimFunc rep = with_loop_extent(s0.func(), "u", 2);
  tir::Schedule s4(rep);
  auto c4 = s4.get_block("C");
  auto l4 = s4.get_loops(c4);
  REQUIRE(l4.size() == 3);
  CHECK(contains_all(error_of([&] { s4.decompose_reduction(c4, l4[0]); }),
                     {"decompose_reduction", "loop 'u' feeds no iteration variable of block 'C'", "re-running the init",
                      "inside it"}));
  s4.decompose_reduction(c4, l4[2]);  // inside the repetition: legal, same results
  check_schedule(rep, s4);
}

TEST_CASE("rfactor errors") {
  ir::PrimFunc mm = corpus_case("matmul").build();
  {
    tir::Schedule s(mm);
    auto c = s.get_block("C");
    CHECK(contains_all(error_of([&] { s.rfactor(s.get_loops(c)[0], 0); }),
                       {"rfactor", "loop 'i0' feeds the spatial iteration variable(s) 'v_i0'", "one of 'k'"}));
    auto u = s.add_unit_loop(c);
    CHECK(contains_all(error_of([&] { s.rfactor(u, 0); }),
                       {"rfactor", "loop 'u' is not a reduction loop of block 'C'", "the reduction loops are 'k'"}));
  }
  {
    tir::Schedule s(mm);
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    (void)i;
    auto [k0, k1] = s.split<2>(k, {std::nullopt, 8});
    s.fuse({j, k0});
    CHECK(contains_all(error_of([&] { s.rfactor(k1, 0); }),
                       {"rfactor", "loop 'i1_k_0_fused' feeds both the spatial variable(s) 'v_i1'",
                        "the reduction variable(s) 'v_k'"}));
  }
  {
    tir::Schedule s(row_sum(4, 8));
    auto k = s.get_loops(s.get_block("C"))[1];
    CHECK(contains_all(error_of([&] { s.rfactor(k, 3); }),
                       {"rfactor", "factor_axis 3 is out of range", "buffer 'C' has 1 dimension(s)", "[0, 1]"}));
    s.unroll(k);
    CHECK(contains_all(error_of([&] { s.rfactor(k, 0); }), {"rfactor", "loop 'k' is unroll", "needs a serial loop"}));
  }
  {
    tir::Schedule s(subtracting(row_sum(4, 8)));
    CHECK(contains_all(error_of([&] { s.rfactor(s.get_loops(s.get_block("C"))[1], 0); }),
                       {"rfactor", "block 'C'", "is not a recognized reduction", "sum", "prod", "min", "max"}));
  }
  {
    tir::Schedule s(two_writes(row_sum(4, 8)));
    CHECK(contains_all(error_of([&] { s.rfactor(s.get_loops(s.get_block("C"))[1], 0); }),
                       {"rfactor", "block 'C' writes 2 buffers", "exactly one"}));
  }
  {
    tir::Schedule s(two_nests(8));
    auto m = s.merge({s.get_loops(s.get_block("B"))[0], s.get_loops(s.get_block("C"))[0]});
    CHECK(contains_all(error_of([&] { s.rfactor(m, 0); }), {"rfactor", "loop 'i0_m' has 2 blocks under it ('B', 'C')"}));
  }

  {
    // The same predicate as split makes, written `29 - (k_0 * 8 + k_1) > 0`: rfactor cannot see
    // that every per-k_1 slice starts at k_0 = 0, so it refuses.
    tir::Schedule s0(mm);
    auto [i, j, k] = s0.get_loops<3>(s0.get_block("C"));
    (void)i;
    (void)j;
    s0.split(k, {std::nullopt, 8});
    ir::PrimFunc flipped = flipped_predicates(s0.func());
    tir::Schedule s(flipped);
    auto loops = s.get_loops(s.get_block("C"));
    CHECK(contains_all(error_of([&] { s.rfactor(loops[3], 0); }),
                       {"rfactor", "the predicate of block 'C'", "per-'k_1' slices", "i0 * 8 + i1 < n"}));
  }
}

TEST_CASE("merge errors") {
  {
    tir::Schedule s(reversed(8));
    auto i = s.get_loops(s.get_block("B"))[0];
    auto j = s.get_loops(s.get_block("C"))[0];
    size_t before = s.trace().size();
    CHECK(contains_all(error_of([&] { s.merge({i, j}); }),
                       {"merge", "block 'C' reads B[", "the earlier block 'B' writes B[", "element-wise"}));
    CHECK(s.trace().size() == before);
  }
  {
    tir::Schedule s(two_nests(8));
    auto i = s.get_loops(s.get_block("B"))[0];
    auto j = s.get_loops(s.get_block("C"))[0];
    auto p = s.split(i, {2, 4});
    CHECK(contains_all(error_of([&] { s.merge({p[0], j}); }),
                       {"merge", "loop 'i0' has extent 8 but loop 'i0_0' has extent 2", "equal ranges"}));
  }
  {
    tir::Schedule s(corpus_case("matmul").build());
    auto l = s.get_loops(s.get_block("C"));
    CHECK(contains_all(error_of([&] { s.merge({l[0], l[1]}); }), {"merge", "loop 'i1' is inside loop 'i0'"}));
  }
  {
    tir::Schedule s(three_nests(8));
    auto nests = s.get_child_blocks(s.get_block("root"));
    REQUIRE(nests.size() == 3);
    auto first = s.get_loops(nests[0])[0];
    auto last = s.get_loops(nests[2])[0];
    CHECK(contains_all(error_of([&] { s.merge({first}); }), {"merge", "needs at least 2 loops"}));
    CHECK(contains_all(error_of([&] { s.merge({first, last}); }),
                       {"merge", "are not adjacent", "block '" + s.block_name(nests[1]) + "' runs between them"}));
  }
}

TEST_CASE("loop_partition errors") {
  tir::Schedule s(add_one(10));
  auto l = s.get_loops(s.get_block("C"))[0];
  CHECK(contains_all(error_of([&] { s.loop_partition(l, {4, 4}); }),
                     {"loop_partition", "loop 'i0'", "add up to 8 but the loop's extent is 10"}));
  CHECK(contains_all(error_of([&] { s.loop_partition(l, {std::nullopt, std::nullopt}); }),
                     {"loop_partition", "parts 0 and 1 are both std::nullopt"}));
  CHECK(contains_all(error_of([&] { s.loop_partition(l, {10, std::nullopt}); }),
                     {"loop_partition", "add up to 10, which leaves nothing of the extent 10"}));
  CHECK(contains_all(error_of([&] { s.loop_partition(l, {0, std::nullopt}); }), {"loop_partition", "part 0 has size 0"}));
  tir::Schedule s2(scale_symbolic());
  CHECK(contains_all(error_of([&] { s2.loop_partition(s2.get_loops(s2.get_block("C"))[0], {4, 4}); }),
                     {"loop_partition", "symbolic extent m", "std::nullopt"}));
}
