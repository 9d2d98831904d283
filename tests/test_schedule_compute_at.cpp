// tir::Schedule compute-location primitives (compute_at, reverse_compute_at, compute_inline,
// reverse_compute_inline) and rolling_buffer: golden printed IR after each, numerical equality of
// the scheduled programs (LLVM JIT) with the interpreter on the unscheduled ones, trace replay and
// C++ printing, and the text of the errors a refused primitive gives.
#include <doctest/doctest.h>

#include "schedule_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using testing::check_schedule;
using testing::contains_all;
using testing::error_of;

namespace {

// B = A * 2; C = B + 1.
ir::PrimFunc two_stage() {
  auto A = placeholder<f32>({16, 8}, "A");
  auto B = compute({16, 8}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "B");
  auto C = compute({16, 8}, [&](Index i, Index j) { return B(i, j) + 1.0; }, "C");
  return create_prim_func({A, C});
}
// B = A * 2; C = B + 1; D = C * C.
ir::PrimFunc three_stage() {
  auto A = placeholder<f32>({12, 6}, "A");
  auto B = compute({12, 6}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "B");
  auto C = compute({12, 6}, [&](Index i, Index j) { return B(i, j) + 1.0; }, "C");
  auto D = compute({12, 6}, [&](Index i, Index j) { return C(i, j) * C(i, j); }, "D");
  return create_prim_func({A, D});
}
// A 3-tap 1-D stencil: C[i] = B[i] + B[i + 1] + B[i + 2].
ir::PrimFunc stencil_1d() {
  auto A = placeholder<f32>({18}, "A");
  auto B = compute({18}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto C = compute({16}, [&](Index i) { return B(i) + B(i + 1) + B(i + 2); }, "C");
  return create_prim_func({A, C});
}
// A 3-tap diagonal 2-D stencil.
ir::PrimFunc stencil_2d() {
  auto A = placeholder<f32>({14, 10}, "A");
  auto B = compute({14, 10}, [&](Index i, Index j) { return A(i, j) + 1.0; }, "B");
  auto C = compute({12, 8}, [&](Index i, Index j) { return B(i, j) + B(i + 1, j + 1) + B(i + 2, j + 2); }, "C");
  return create_prim_func({A, C});
}

// The handle of the loop with variable `v` among the loops of block `block`.
tir::LoopRV loop_by_var(tir::Schedule& s, const std::string& block, const ir::Var& v) {
  for (auto& l : s.get_loops(s.get_block(block)))
    if (s.loop_name(l) == v.name()) return l;
  internal_error("no loop '", v.name(), "' around block '", block, "'");
}

}  // namespace

// ---- compute_at -------------------------------------------------------------------------------------

TEST_CASE("compute_at at the consumer's outer loop computes one row of the producer per iteration") {
  ir::PrimFunc f = two_stage();
  tir::Schedule s(f);
  auto c = s.get_block("C");
  auto [i, j] = s.get_loops<2>(c);
  (void)j;
  s.compute_at(s.get_block("B"), i);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((16, 8), "float32"), C: T.Buffer((16, 8), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((16, 8), "float32")
        for i0 in T.serial(0, 16):
            for ax0 in T.serial(0, 8):
                with T.block("B"):
                    v_i0 = T.axis.spatial(16, i0)
                    v_i1 = T.axis.spatial(8, ax0)
                    T.reads(A[v_i0, v_i1])
                    T.writes(B[v_i0, v_i1])
                    B[v_i0, v_i1] = A[v_i0, v_i1] * T.float32(2)
            for i1 in T.serial(0, 8):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(16, i0)
                    v_i1_1 = T.axis.spatial(8, i1)
                    T.reads(B[v_i0_1, v_i1_1])
                    T.writes(C[v_i0_1, v_i1_1])
                    C[v_i0_1, v_i1_1] = B[v_i0_1, v_i1_1] + T.float32(1)
)");
  CHECK(check_schedule(f, s) == 2);
}

TEST_CASE("compute_at at the innermost loop: one element, no loops; preserve_unit_loops keeps them") {
  ir::PrimFunc f = two_stage();
  tir::Schedule s(f);
  auto [i, j] = s.get_loops<2>(s.get_block("C"));
  (void)i;
  s.compute_at(s.get_block("B"), j);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((16, 8), "float32"), C: T.Buffer((16, 8), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((16, 8), "float32")
        for i0 in T.serial(0, 16):
            for i1 in T.serial(0, 8):
                with T.block("B"):
                    v_i0 = T.axis.spatial(16, i0)
                    v_i1 = T.axis.spatial(8, i1)
                    T.reads(A[v_i0, v_i1])
                    T.writes(B[v_i0, v_i1])
                    B[v_i0, v_i1] = A[v_i0, v_i1] * T.float32(2)
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(16, i0)
                    v_i1_1 = T.axis.spatial(8, i1)
                    T.reads(B[v_i0_1, v_i1_1])
                    T.writes(C[v_i0_1, v_i1_1])
                    C[v_i0_1, v_i1_1] = B[v_i0_1, v_i1_1] + T.float32(1)
)");
  CHECK(check_schedule(f, s) == 2);

  tir::Schedule p(f);
  auto loops = p.get_loops(p.get_block("C"));
  p.compute_at(p.get_block("B"), loops[1], true);
  std::string text = ir::to_text(p.func());
  CHECK(contains_all(text, {"for ax0 in T.serial(0, 1):", "for ax1 in T.serial(0, 1):", "v_i0 = T.axis.spatial(16, i0)",
                            "v_i1 = T.axis.spatial(8, i1)"}));
  CHECK(check_schedule(f, p) == 2);
}

TEST_CASE("compute_at of the padding of a conv2d: three rows of the padded image per output row") {
  const corpus::Case& c = testing::corpus_case("conv2d_nchw_pad1");
  ir::PrimFunc f = c.build();
  tir::Schedule s(f);
  auto loops = s.get_loops(s.get_block("conv"));
  s.compute_at(s.get_block("pad"), loops[2]);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(X: T.Buffer((1, 4, 10, 10), "float32"), W: T.Buffer((6, 4, 3, 3), "float32"), conv: T.Buffer((1, 6, 10, 10), "float32")):
    with T.block("root"):
        pad = T.alloc_buffer((1, 4, 12, 12), "float32")
        for i0 in T.serial(0, 1):
            for i1 in T.serial(0, 6):
                for i2 in T.serial(0, 10):
                    for ax0 in T.serial(0, 4):
                        for ax1 in T.serial(0, 3):
                            for ax2 in T.serial(0, 12):
                                with T.block("pad"):
                                    v_i0 = T.axis.spatial(1, 0)
                                    v_i1 = T.axis.spatial(4, ax0)
                                    v_i2 = T.axis.spatial(12, ax1 + i2)
                                    v_i3 = T.axis.spatial(12, ax2)
                                    T.reads(X[v_i0, v_i1, v_i2 - 1, v_i3 - 1])
                                    T.writes(pad[v_i0, v_i1, v_i2, v_i3])
                                    pad[v_i0, v_i1, v_i2, v_i3] = T.if_then_else(v_i2 >= 1 and v_i2 < 11 and v_i3 >= 1 and v_i3 < 11, X[v_i0, v_i1, v_i2 - 1, v_i3 - 1], T.float32(0))
                    for i3 in T.serial(0, 10):
                        for rc in T.serial(0, 4):
                            for ry in T.serial(0, 3):
                                for rx in T.serial(0, 3):
                                    with T.block("conv"):
                                        v_i0_1 = T.axis.spatial(1, i0)
                                        v_i1_1 = T.axis.spatial(6, i1)
                                        v_i2_1 = T.axis.spatial(10, i2)
                                        v_i3_1 = T.axis.spatial(10, i3)
                                        v_rc = T.axis.reduce(4, rc)
                                        v_ry = T.axis.reduce(3, ry)
                                        v_rx = T.axis.reduce(3, rx)
                                        T.reads(conv[v_i0_1, v_i1_1, v_i2_1, v_i3_1], pad[v_i0_1, v_rc + v_i1_1 // 6 * 4, v_i2_1 + v_ry, v_i3_1 + v_rx], W[v_i1_1, v_rc, v_ry, v_rx])
                                        T.writes(conv[v_i0_1, v_i1_1, v_i2_1, v_i3_1])
                                        with T.init():
                                            conv[v_i0_1, v_i1_1, v_i2_1, v_i3_1] = T.float32(0)
                                        conv[v_i0_1, v_i1_1, v_i2_1, v_i3_1] = conv[v_i0_1, v_i1_1, v_i2_1, v_i3_1] + pad[v_i0_1, v_i1_1 // 6 * 4 + v_rc, v_i2_1 * 1 + v_ry * 1, v_i3_1 * 1 + v_rx * 1] * W[v_i1_1, v_rc, v_ry, v_rx]
)");
  CHECK(check_schedule(f, s, testing::options_of(c)) == 3);
}

TEST_CASE("compute_at at every legal depth: each candidate loop computes the same results") {
  const corpus::Case& c = testing::corpus_case("conv2d_nchw_pad1");
  ir::PrimFunc f = c.build();
  std::vector<ir::Var> where = tir::schedule_detail::compute_at_candidates(f, "pad", false);
  std::string names;
  for (auto& v : where) names += v.name() + " ";
  CHECK(names == "i0 i1 i2 i3 rc ry rx ");
  for (auto& v : where)
    for (bool unit : {false, true}) {
      CAPTURE(v.name());
      tir::Schedule s(f);
      s.compute_at(s.get_block("pad"), loop_by_var(s, "conv", v), unit);
      CHECK(check_schedule(f, s, testing::options_of(c)) == 3);
    }
  // The reverse direction: the consumer of a two-stage pipeline at each loop of its producer.
  ir::PrimFunc g = two_stage();
  std::vector<ir::Var> rev = tir::schedule_detail::compute_at_candidates(g, "C", true);
  CHECK(rev.size() == 2);
  for (auto& v : rev) {
    tir::Schedule s(g);
    s.reverse_compute_at(s.get_block("C"), loop_by_var(s, "B", v));
    CHECK(check_schedule(g, s) == 2);
  }
}

TEST_CASE("compute_at under a split that does not divide: the producer's region gets a predicate") {
  ir::PrimFunc f = stencil_1d();
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto [io, ii] = s.split<2>(i, {std::nullopt, 5});
  (void)ii;
  s.compute_at(s.get_block("B"), io);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((18,), "float32"), C: T.Buffer((16,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((18,), "float32")
        for i0_0 in T.serial(0, 4):
            for ax0 in T.serial(0, 7):
                with T.block("B"):
                    v_i0 = T.axis.spatial(18, ax0 + i0_0 * 5)
                    T.where(ax0 + i0_0 * 5 < 18)
                    T.reads(A[v_i0])
                    T.writes(B[v_i0])
                    B[v_i0] = A[v_i0] * T.float32(2)
            for i0_1 in T.serial(0, 5):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(16, i0_0 * 5 + i0_1)
                    T.where(i0_0 * 5 + i0_1 < 16)
                    T.reads(B[v_i0_1:v_i0_1 + 3])
                    T.writes(C[v_i0_1])
                    C[v_i0_1] = B[v_i0_1] + B[v_i0_1 + 1] + B[v_i0_1 + 2]
)");
  CHECK(check_schedule(f, s) == 2);
}

TEST_CASE("compute_at with split, reorder, fuse and parallel loops around it") {
  const corpus::Case& c = testing::corpus_case("matmul_bias_relu");
  ir::PrimFunc f = c.build();
  {
    // A tiled, parallel consumer; the reduction computed per tile.
    tir::Schedule s(f);
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 16});
    s.reorder({io, jo, ii, ji});
    s.parallel(io);
    s.compute_at(s.get_block("M"), jo);
    auto m = s.get_loops(s.get_block("M"));
    CHECK(m.size() == 5);  // io, jo, then one loop per iteration variable of M
    auto f2 = s.fuse({ii, ji});
    s.vectorize(s.split(f2, {std::nullopt, 8})[1]);
    CHECK(check_schedule(f, s, testing::options_of(c)) == 4);
  }
  {
    // The producer moved first, its own loops transformed afterwards.
    tir::Schedule s(f);
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    (void)j;
    s.compute_at(s.get_block("M"), i);
    auto [mi, a0, a1] = s.get_loops<3>(s.get_block("M"));
    (void)mi;
    auto [a1o, a1i] = s.split<2>(a1, {std::nullopt, 4});
    s.reorder({a1o, a0, a1i});
    s.unroll(a1i);
    CHECK(check_schedule(f, s, testing::options_of(c)) == 4);
  }
  {
    // A three-stage chain: both producers into one loop of the last stage.
    ir::PrimFunc g = three_stage();
    tir::Schedule s(g);
    auto [i, j] = s.get_loops<2>(s.get_block("D"));
    (void)j;
    s.parallel(i);
    s.compute_at(s.get_block("C"), i);
    s.compute_at(s.get_block("B"), i);
    std::string text = ir::to_text(s.func());
    CHECK(text.find("with T.block(\"B\")") < text.find("with T.block(\"C\")"));
    CHECK(text.find("with T.block(\"C\")") < text.find("with T.block(\"D\")"));
    CHECK(check_schedule(g, s) == 2);
  }
}

TEST_CASE("compute_at to LoopRV::root() leaves the block where it is, and is recorded") {
  ir::PrimFunc f = two_stage();
  tir::Schedule s(f);
  s.compute_at(s.get_block("B"), tir::LoopRV::root());
  CHECK(ir::structural_equal(s.func(), f));
  CHECK(s.trace().to_cpp() == "auto b0 = s.get_block(\"B\");\ns.compute_at(b0, tir::LoopRV::root(), 0);\n");
  CHECK(check_schedule(f, s) == 2);
}

// ---- reverse_compute_at -------------------------------------------------------------------------------

TEST_CASE("reverse_compute_at puts the epilogue of a matmul under the producer's loop") {
  const corpus::Case& c = testing::corpus_case("matmul_bias_relu");
  ir::PrimFunc f = c.build();
  tir::Schedule s(f);
  auto [i, j, k] = s.get_loops<3>(s.get_block("M"));
  (void)j;
  (void)k;
  s.reverse_compute_at(s.get_block("C"), i);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((32, 48), "float32"), B: T.Buffer((48, 40), "float32"), bias: T.Buffer((40,), "float32"), C: T.Buffer((32, 40), "float32")):
    with T.block("root"):
        M = T.alloc_buffer((32, 40), "float32")
        for i0 in T.serial(0, 32):
            for i1 in T.serial(0, 40):
                for k in T.serial(0, 48):
                    with T.block("M"):
                        v_i0 = T.axis.spatial(32, i0)
                        v_i1 = T.axis.spatial(40, i1)
                        v_k = T.axis.reduce(48, k)
                        T.reads(M[v_i0, v_i1], A[v_i0, v_k], B[v_k, v_i1])
                        T.writes(M[v_i0, v_i1])
                        with T.init():
                            M[v_i0, v_i1] = T.float32(0)
                        M[v_i0, v_i1] = M[v_i0, v_i1] + A[v_i0, v_k] * B[v_k, v_i1]
            for ax0 in T.serial(0, 40):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(32, i0)
                    v_i1_1 = T.axis.spatial(40, ax0)
                    T.reads(M[v_i0_1, v_i1_1], bias[v_i1_1])
                    T.writes(C[v_i0_1, v_i1_1])
                    C[v_i0_1, v_i1_1] = T.max(M[v_i0_1, v_i1_1] + bias[v_i1_1], T.float32(0))
)");
  CHECK(check_schedule(f, s, testing::options_of(c)) == 4);
}

TEST_CASE("reverse_compute_at under a tiled producer with a non-dividing split") {
  auto A = placeholder<f32>({37}, "A");
  auto B = compute({37}, [&](Index i) { return A(i) * 3.0; }, "B");
  auto C = compute({37}, [&](Index i) { return B(i) - 1.0; }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("B"));
  auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
  (void)ii;
  s.reverse_compute_at(s.get_block("C"), io);
  std::string text = ir::to_text(s.func());
  CHECK(contains_all(text, {"for ax0 in T.serial(0, 8):", "v_i0_1 = T.axis.spatial(37, ax0 + i0_0 * 8)",
                            "T.where(ax0 + i0_0 * 8 < 37)"}));
  CHECK(check_schedule(f, s) == 2);
}

// ---- compute_inline / reverse_compute_inline ------------------------------------------------------------

TEST_CASE("compute_inline substitutes the producer into its consumer and drops its buffer") {
  ir::PrimFunc f = two_stage();
  tir::Schedule s(f);
  s.compute_inline(s.get_block("B"));
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((16, 8), "float32"), C: T.Buffer((16, 8), "float32")):
    with T.block("root"):
        for i0 in T.serial(0, 16):
            for i1 in T.serial(0, 8):
                with T.block("C"):
                    v_i0 = T.axis.spatial(16, i0)
                    v_i1 = T.axis.spatial(8, i1)
                    T.reads(A[v_i0, v_i1])
                    T.writes(C[v_i0, v_i1])
                    C[v_i0, v_i1] = A[v_i0, v_i1] * T.float32(2) + T.float32(1)
)");
  CHECK(check_schedule(f, s) == 2);
}

TEST_CASE("compute_inline of conv2d padding and of a stencil's producer") {
  const corpus::Case& c = testing::corpus_case("conv2d_nchw_pad1");
  ir::PrimFunc f = c.build();
  tir::Schedule s(f);
  s.compute_inline(s.get_block("pad"));
  std::string text = ir::to_text(s.func());
  CHECK(text.find("pad = T.alloc_buffer") == std::string::npos);
  CHECK(contains_all(text, {"T.reads(conv[v_i0, v_i1, v_i2, v_i3], W[v_i1, v_rc, v_ry, v_rx], X[v_i0, v_rc + v_i1 // 6 * 4, "
                            "v_i2 + v_ry - 1, v_i3 + v_rx - 1])",
                            "T.if_then_else(v_i2 * 1 + v_ry * 1 >= 1 and"}));
  CHECK(check_schedule(f, s, testing::options_of(c)) == 3);

  ir::PrimFunc g = stencil_1d();
  tir::Schedule t(g);
  t.compute_inline(t.get_block("B"));
  CHECK(contains_all(ir::to_text(t.func()), {"T.reads(A[v_i0:v_i0 + 3])",
                                             "C[v_i0] = A[v_i0] * T.float32(2) + A[v_i0 + 1] * T.float32(2) + A[v_i0 + 2] * T.float32(2)"}));
  CHECK(check_schedule(g, t) == 2);
}

TEST_CASE("reverse_compute_inline merges the consumer into its producer") {
  ir::PrimFunc f = two_stage();
  tir::Schedule s(f);
  s.reverse_compute_inline(s.get_block("C"));
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((16, 8), "float32"), C: T.Buffer((16, 8), "float32")):
    with T.block("root"):
        for i0 in T.serial(0, 16):
            for i1 in T.serial(0, 8):
                with T.block("B"):
                    v_i0 = T.axis.spatial(16, i0)
                    v_i1 = T.axis.spatial(8, i1)
                    T.reads(A[v_i0, v_i1])
                    T.writes(C[v_i0, v_i1])
                    C[v_i0, v_i1] = A[v_i0, v_i1] * T.float32(2) + T.float32(1)
)");
  CHECK(check_schedule(f, s) == 2);

  // Twice along a chain: D into C, then the merged block into B.
  ir::PrimFunc g = three_stage();
  tir::Schedule t(g);
  t.reverse_compute_inline(t.get_block("D"));
  t.reverse_compute_inline(t.get_block("C"));
  CHECK(contains_all(ir::to_text(t.func()), {"with T.block(\"B\")", "D[v_i0, v_i1] = (A[v_i0, v_i1] * T.float32(2) + T.float32(1)) * "
                                                                    "(A[v_i0, v_i1] * T.float32(2) + T.float32(1))"}));
  CHECK(check_schedule(g, t) == 2);
}

// ---- rolling_buffer ------------------------------------------------------------------------------------

TEST_CASE("rolling_buffer keeps a 3-row window of a 1-D stencil's producer") {
  ir::PrimFunc f = stencil_1d();
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto b = s.get_block("B");
  s.compute_at(b, i);
  s.rolling_buffer(b, 0);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((18,), "float32"), C: T.Buffer((16,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((3,), "float32")
        for i0 in T.serial(0, 16):
            for ax0 in T.serial(0, 3):
                with T.block("B"):
                    v_i0 = T.axis.opaque(18, ax0 + i0)
                    T.where(i0 == 0 or ax0 >= 2)
                    T.reads(A[v_i0])
                    T.writes(B[v_i0 % 3])
                    B[v_i0 % 3] = A[v_i0] * T.float32(2)
            with T.block("C"):
                v_i0_1 = T.axis.spatial(16, i0)
                T.reads(B[0:3])
                T.writes(C[v_i0_1])
                C[v_i0_1] = B[v_i0_1 % 3] + B[(v_i0_1 + 1) % 3] + B[(v_i0_1 + 2) % 3]
)");
  CHECK(check_schedule(f, s) == 2);
  // The rolling loop's iterations depend on each other now.
  CHECK(contains_all(error_of([&] { s.parallel(i); }), {"parallel", "'i0'", "opaque", "'v_i0'", "'B'"}));
}

TEST_CASE("rolling_buffer on a 2-D stencil, whole rows and tiles") {
  ir::PrimFunc f = stencil_2d();
  {
    tir::Schedule s(f);
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    (void)j;
    s.compute_at(s.get_block("B"), i);
    s.rolling_buffer(s.get_block("B"), 0);
    CHECK(contains_all(ir::to_text(s.func()), {"B = T.alloc_buffer((3, 10), \"float32\")", "T.where(i0 == 0 or ax0 >= 2)",
                                               "B[v_i0 % 3, v_i1] = A[v_i0, v_i1] + T.float32(1)"}));
    CHECK(check_schedule(f, s) == 2);
  }
  {
    // 4x4 tiles: windows of 6 rows advance by 4; each column tile keeps its own part of them.
    tir::Schedule s(f);
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [io, ii] = s.split<2>(i, {std::nullopt, 4});
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 4});
    s.reorder({io, jo, ii, ji});
    s.compute_at(s.get_block("B"), jo);
    s.rolling_buffer(s.get_block("B"), 0);
    CHECK(contains_all(ir::to_text(s.func()), {"B = T.alloc_buffer((6, 10), \"float32\")", "T.where(i0_0 == 0 or ax0 >= 2)",
                                               "for ax0 in T.serial(0, 6):", "for ax1 in T.serial(0, 6):"}));
    CHECK(check_schedule(f, s) == 2);
  }
}

// ---- traces ---------------------------------------------------------------------------------------------

namespace {
// The calls of the expected to_cpp text below.
void schedule_pipeline(tir::Schedule& s) {
  auto b0 = s.get_block("C");
  auto [l1, l2] = s.get_loops<2>(b0);
  auto b3 = s.get_block("B");
  s.compute_at(b3, l1, 1);
  auto b4 = s.get_block("D");
  auto [l5, l6] = s.get_loops<2>(b4);
  s.reverse_compute_at(b4, l1, 0);
  (void)l2;
  (void)l5;
  (void)l6;
}
void schedule_inlines(tir::Schedule& s) {
  auto b0 = s.get_block("B");
  s.compute_inline(b0);
  auto b1 = s.get_block("D");
  s.reverse_compute_inline(b1);
}
}  // namespace

TEST_CASE("traces: compute-location instructions replay, round-trip through JSON and print as C++") {
  ir::PrimFunc f = three_stage();
  tir::Schedule s(f);
  schedule_pipeline(s);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("C");
auto [l1, l2] = s.get_loops<2>(b0);
auto b3 = s.get_block("B");
s.compute_at(b3, l1, 1);
auto b4 = s.get_block("D");
auto [l5, l6] = s.get_loops<2>(b4);
s.reverse_compute_at(b4, l1, 0);
)");
  CHECK(s.trace().to_json().find(R"({"kind": "compute_at", "inputs": [{"block": 3}, {"loop": 1}, {"int": 1}], "outputs": []})") !=
        std::string::npos);
  CHECK(check_schedule(f, s) == 2);

  tir::Schedule t(f);
  schedule_inlines(t);
  CHECK(t.trace().to_cpp() == R"(auto b0 = s.get_block("B");
s.compute_inline(b0);
auto b1 = s.get_block("D");
s.reverse_compute_inline(b1);
)");
  CHECK(check_schedule(f, t) == 2);

  ir::PrimFunc g = stencil_1d();
  tir::Schedule r(g);
  auto b0 = r.get_block("C");
  auto [l1] = r.get_loops<1>(b0);
  auto b2 = r.get_block("B");
  r.compute_at(b2, l1, 0);
  r.rolling_buffer(b2, 0);
  CHECK(r.trace().to_cpp() == R"(auto b0 = s.get_block("C");
auto [l1] = s.get_loops<1>(b0);
auto b2 = s.get_block("B");
s.compute_at(b2, l1, 0);
s.rolling_buffer(b2, 0);
)");
  CHECK(check_schedule(g, r) == 2);
  // LoopRV::root() survives JSON.
  tir::Schedule q(f);
  q.compute_at(q.get_block("B"), tir::LoopRV::root(), false);
  CHECK(tir::Trace::from_json(q.trace().to_json()).instructions() == q.trace().instructions());
  CHECK(ir::structural_equal(tir::Trace::from_json(q.trace().to_json()).apply_to(f), f));
}

// ---- errors ---------------------------------------------------------------------------------------------

TEST_CASE("compute_at and reverse_compute_at errors say why and where it is legal") {
  ir::PrimFunc f = three_stage();
  tir::Schedule s(f);
  auto bd = s.get_block("D"), bb = s.get_block("B");
  auto d_loops = s.get_loops(bd);
  auto b_loops = s.get_loops(bb);
  // An output block.
  CHECK(contains_all(error_of([&] { s.compute_at(bd, b_loops[0]); }),
                     {"compute_at: cannot compute block 'D' at loop 'i0' (around block 'B')", "function parameter 'D'",
                      "output block"}));
  // A consumer outside the loop; the legal loops are listed.
  CHECK(error_of([&] { s.compute_at(bb, d_loops[0]); }) ==
        "compute_at: cannot compute block 'B' at loop 'i0' (around block 'D'): its consumer 'C' is not under the loop; "
        "every block that reads 'B' must be under it. compute_at of 'B' is legal at loops 'i0' (around block 'C'), "
        "'i1' (around block 'C'), or at LoopRV::root() to leave it where it is");
  // Already under the loop.
  CHECK(contains_all(error_of([&] { s.compute_at(bb, b_loops[1]); }),
                     {"compute_at", "'B'", "'i1'", "the block is already under this loop", "is legal at loops"}));
  // A consumer before its producer's loop.
  CHECK(contains_all(error_of([&] { s.reverse_compute_at(bb, d_loops[0]); }),
                     {"reverse_compute_at: cannot compute block 'B' at loop 'i0' (around block 'D')", "runs before the loop",
                      "There is no loop where reverse_compute_at of 'B' is legal"}));
  // Nothing was changed by the refusals.
  CHECK(ir::structural_equal(s.func(), f));
  CHECK(s.trace().size() == 4);

  // A reduction split across the loop.
  const corpus::Case& mm = testing::corpus_case("matmul_bias_relu");
  tir::Schedule m(mm.build());
  auto [mi, mj, mk] = m.get_loops<3>(m.get_block("M"));
  (void)mi;
  (void)mj;
  CHECK(error_of([&] { m.reverse_compute_at(m.get_block("C"), mk); }) ==
        "reverse_compute_at: cannot compute block 'C' at loop 'k' (around block 'M'): loop 'k' feeds the reduction "
        "variable 'v_k' of its producer 'M', so under it the block would read partial results. reverse_compute_at of "
        "'C' is legal at loops 'i0' (around block 'M'), 'i1' (around block 'M'), or at LoopRV::root() to leave it where it is");
  // Parallel iterations recomputing overlapping parts of a reduction.
  auto [ci, cj] = m.get_loops<2>(m.get_block("C"));
  auto tiles = m.split(m.fuse({ci, cj}), {std::nullopt, 16});
  m.parallel(tiles[0]);
  CHECK(contains_all(error_of([&] { m.compute_at(m.get_block("M"), tiles[0]); }),
                     {"compute_at", "'M'", "loop 'i0_i1_fused_0' around it is parallel", "overlapping parts of the reduction"}));

  // A stencil consumer reads a window: no set of its instances matches one producer iteration.
  ir::PrimFunc st = stencil_1d();
  tir::Schedule t(st);
  auto [bi] = t.get_loops<1>(t.get_block("B"));
  CHECK(contains_all(error_of([&] { t.reverse_compute_at(t.get_block("C"), bi); }),
                     {"reverse_compute_at", "'C'", "reads a window of 'B' (extent 3 in dimension 0)"}));
  // A stale loop handle: compute_at removed the producer's loops.
  tir::Schedule u(f);
  auto old = u.get_loops(u.get_block("B"));
  u.compute_at(u.get_block("B"), u.get_loops(u.get_block("C"))[0]);
  CHECK(contains_all(error_of([&] { u.parallel(old[0]); }), {"parallel", "'i0' no longer exists"}));
}

TEST_CASE("compute_at and reverse_compute_at refuse a loop of another scope") {
  // C's loops wrapped in a block "outer": they are in the scope of 'outer', B is in the root's.
  ir::PrimFunc f = two_stage();
  auto c = tir::schedule_detail::find_block(f, "C");
  ir::Stmt nest = tir::schedule_detail::enclosing_loops(c.ancestors)[0];
  const ir::BlockNode* cb = tir::schedule_detail::block_of(c.stmt);
  auto whole = [](const ir::Buffer& b) {
    ir::BufferRegion r{b, {}};
    for (auto& e : b->shape) r.region.push_back({ir::int_imm(0), e});
    return r;
  };
  ir::BlockNode outer;
  outer.name = "outer";
  outer.reads = {whole(cb->reads[0].buffer)};
  outer.writes = {whole(cb->writes[0].buffer)};
  outer.body = nest;
  ir::PrimFunc g = tir::schedule_detail::replace(f, nest, ir::block_realize({}, ir::Expr(), ir::make_block(outer)));
  tir::Schedule s(g);
  auto [i, j] = s.get_loops<2>(s.get_block("C"));
  (void)j;
  CHECK(error_of([&] { s.compute_at(s.get_block("B"), i); }) ==
        "compute_at: cannot compute block 'B' at loop 'i0' (around block 'C'): the block is in the scope of block 'root' "
        "but the loop is in the scope of block 'outer'; a block moves only within its own scope. There is no loop where "
        "compute_at of 'B' is legal; leave it where it is (LoopRV::root())");
  auto [bi, bj] = s.get_loops<2>(s.get_block("B"));
  (void)bj;
  CHECK(contains_all(error_of([&] { s.reverse_compute_at(s.get_block("C"), bi); }),
                     {"reverse_compute_at: cannot compute block 'C' at loop 'i0' (around block 'B')",
                      "the block is in the scope of block 'outer' but the loop is in the scope of block 'root'"}));
  CHECK(ir::structural_equal(s.func(), g));
}

TEST_CASE("compute_inline and reverse_compute_inline errors") {
  const corpus::Case& mm = testing::corpus_case("matmul_bias_relu");
  tir::Schedule m(mm.build());
  CHECK(error_of([&] { m.compute_inline(m.get_block("M")); }) ==
        "compute_inline: cannot inline block 'M': it is a reduction block (iteration variable 'v_k' is reduce); only a "
        "complete block, all spatial, inlines");
  CHECK(contains_all(error_of([&] { m.compute_inline(m.get_block("C")); }),
                     {"compute_inline: cannot inline block 'C'", "function parameter 'C'", "output block"}));
  CHECK(error_of([&] { m.reverse_compute_inline(m.get_block("C")); }) ==
        "reverse_compute_inline: cannot inline block 'C' into its producer: its producer 'M' is a reduction block; the "
        "consumer would run on partial results");

  ir::PrimFunc st = stencil_1d();
  tir::Schedule t(st);
  CHECK(error_of([&] { t.reverse_compute_inline(t.get_block("C")); }) ==
        "reverse_compute_inline: cannot inline block 'C' into its producer: it reads 'B[v_i0 + 1]'; only reads of 'B' at "
        "its iteration variables, each once and all alike, inline (other elements would not exist yet)");
  CHECK(contains_all(error_of([&] { t.reverse_compute_inline(t.get_block("B")); }),
                     {"reverse_compute_inline", "'B'", "no block before it writes an intermediate buffer it reads"}));
  // After rolling_buffer the producer's store is no longer at its iteration variables.
  auto [i] = t.get_loops<1>(t.get_block("C"));
  t.compute_at(t.get_block("B"), i);
  t.rolling_buffer(t.get_block("B"), 0);
  CHECK(contains_all(error_of([&] { t.compute_inline(t.get_block("B")); }),
                     {"compute_inline: cannot inline block 'B'", "iteration variable 'v_i0' is opaque"}));

  // Two consumers: reverse_compute_inline needs the only reader.
  auto A = placeholder<f32>({8}, "A");
  auto B = compute({8}, [&](Index k) { return A(k) + 1.0; }, "B");
  auto C = compute({8}, [&](Index k) { return B(k) * 2.0; }, "C");
  auto D = compute({8}, [&](Index k) { return B(k) + C(k); }, "D");
  tir::Schedule two(create_prim_func({A, D}));
  CHECK(contains_all(error_of([&] { two.reverse_compute_inline(two.get_block("C")); }),
                     {"reverse_compute_inline", "'C'", "block 'D' also reads 'B'", "only reader"}));
}

TEST_CASE("rolling_buffer errors") {
  ir::PrimFunc st = stencil_1d();
  tir::Schedule s(st);
  CHECK(error_of([&] { s.rolling_buffer(s.get_block("B"), 0); }) ==
        "rolling_buffer: block 'B', buffer 'B': the producer and its consumers 'C' share no loop; compute_at the "
        "producer under a loop of its consumer first");
  CHECK(error_of([&] { s.rolling_buffer(s.get_block("B"), 1); }) ==
        "rolling_buffer: block 'B': write buffer index 1 is out of range; it writes 1 buffer ('B')");
  auto [i] = s.get_loops<1>(s.get_block("C"));
  CHECK(contains_all(error_of([&] { s.rolling_buffer(s.get_block("C"), 0); }),
                     {"rolling_buffer: block 'C', buffer 'C'", "function parameter"}));
  // Windows that do not overlap: nothing to roll.
  ir::PrimFunc f = two_stage();
  tir::Schedule t(f);
  t.compute_at(t.get_block("B"), t.get_loops(t.get_block("C"))[0]);
  CHECK(contains_all(error_of([&] { t.rolling_buffer(t.get_block("B"), 0); }),
                     {"rolling_buffer: block 'B', buffer 'B'", "no dimension of its region per iteration of loop 'i0'",
                      "dimension 0 starts at i0 with extent 1", "windows that overlap"}));
  // A rolling loop that is parallel.
  s.compute_at(s.get_block("B"), i);
  s.parallel(i);
  CHECK(contains_all(error_of([&] { s.rolling_buffer(s.get_block("B"), 0); }),
                     {"rolling_buffer", "the rolling loop 'i0' is parallel", "one after the other"}));
}
