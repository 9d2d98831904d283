// tir::Schedule loop primitives: golden printed IR after each primitive, numerical equality of
// scheduled programs (LLVM JIT) with the reference interpreter on the unscheduled ones, and the
// text of the errors a refused primitive gives.
#include <doctest/doctest.h>

#include <functional>
#include <random>

#include "schedule_testing.hpp"
#include "kiln/backend/llvm.hpp"
#include "kiln/build.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/interpreter.hpp"
#include "kiln/tir/schedule/schedule.hpp"
#include "tensor_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using runtime::Arg;

namespace {

ir::PrimFunc matmul(int64_t M, int64_t N, int64_t K) {
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({K, N}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
  return create_prim_func({A, B, C});
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
// Two blocks: S = row sums of A, C = S / 64.
ir::PrimFunc mean_rows() {
  auto A = placeholder<f32>({6, 64}, "A");
  auto k = reduce_axis(64, "k");
  auto S = compute({6}, [&](Index i) { return sum(A(i, k), k); }, "S");
  auto C = compute({6}, [&](Index i) { return S(i) / 64.0; }, "C");
  return create_prim_func({A, C});
}

// Schedules corpus program `name`, JIT-compiles the result and compares every output with the
// interpreter run on the unscheduled function; the trace must replay to the same IR.
int check_schedule(const std::string& name, const std::function<void(tir::Schedule&)>& sched) {
  const corpus::Case& c = testing::corpus_case(name);
  ir::PrimFunc f = c.build();
  tir::Schedule s(f);
  sched(s);
  return testing::check_schedule(f, s, testing::options_of(c));
}

using testing::error_of;

}  // namespace

// ---- golden IR ------------------------------------------------------------------------------------

TEST_CASE("split by a dividing factor: i = io * 8 + ii, no predicate") {
  tir::Schedule s(add_one(32));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
  (void)io;
  (void)ii;
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((32,), "float32"), C: T.Buffer((32,), "float32")):
    with T.block("root"):
        for i0_0 in T.serial(0, 4):
            for i0_1 in T.serial(0, 8):
                with T.block("C"):
                    v_i0 = T.axis.spatial(32, i0_0 * 8 + i0_1)
                    T.reads(A[v_i0])
                    T.writes(C[v_i0])
                    C[v_i0] = A[v_i0] + T.float32(1)
)");
}

TEST_CASE("split by a non-dividing factor adds a block predicate") {
  tir::Schedule s(add_one(37));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  s.split(i, {std::nullopt, 8});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((37,), "float32"), C: T.Buffer((37,), "float32")):
    with T.block("root"):
        for i0_0 in T.serial(0, 5):
            for i0_1 in T.serial(0, 8):
                with T.block("C"):
                    v_i0 = T.axis.spatial(37, i0_0 * 8 + i0_1)
                    T.where(i0_0 * 8 + i0_1 < 37)
                    T.reads(A[v_i0])
                    T.writes(C[v_i0])
                    C[v_i0] = A[v_i0] + T.float32(1)
)");
}

TEST_CASE("split into three loops with the middle factor inferred") {
  tir::Schedule s(add_one(60));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto loops = s.split(i, {2, std::nullopt, 5});
  CHECK(loops.size() == 3);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((60,), "float32"), C: T.Buffer((60,), "float32")):
    with T.block("root"):
        for i0_0 in T.serial(0, 2):
            for i0_1 in T.serial(0, 6):
                for i0_2 in T.serial(0, 5):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(60, i0_0 * 30 + i0_1 * 5 + i0_2)
                        T.reads(A[v_i0])
                        T.writes(C[v_i0])
                        C[v_i0] = A[v_i0] + T.float32(1)
)");
}

TEST_CASE("split of a symbolic extent infers the outer factor and guards with a predicate") {
  tir::Schedule s(scale_symbolic());
  auto [i] = s.get_loops<1>(s.get_block("C"));
  s.split(i, {std::nullopt, 4});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((m,), "float32"), C: T.Buffer((m,), "float32")):
    m = T.int64()
    with T.block("root"):
        for i0_0 in T.serial(0, (m + 3) // 4):
            for i0_1 in T.serial(0, 4):
                with T.block("C"):
                    v_i0 = T.axis.spatial(m, i0_0 * 4 + i0_1)
                    T.where(i0_0 * 4 + i0_1 < m)
                    T.reads(A[v_i0])
                    T.writes(C[v_i0])
                    C[v_i0] = A[v_i0] * T.float32(2)
)");
}

TEST_CASE("parallel and vectorize set the loop kinds") {
  tir::Schedule s(add_one(37));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
  s.parallel(io);
  s.vectorize(ii);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((37,), "float32"), C: T.Buffer((37,), "float32")):
    with T.block("root"):
        for i0_0 in T.parallel(0, 5):
            for i0_1 in T.vectorized(0, 8):
                with T.block("C"):
                    v_i0 = T.axis.spatial(37, i0_0 * 8 + i0_1)
                    T.where(i0_0 * 8 + i0_1 < 37)
                    T.reads(A[v_i0])
                    T.writes(C[v_i0])
                    C[v_i0] = A[v_i0] + T.float32(1)
)");
}

TEST_CASE("fuse: vi = floordiv(f, 6), vj = floormod(f, 6)") {
  tir::Schedule s(matmul(4, 6, 5));
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)k;
  s.fuse({i, j});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4, 5), "float32"), B: T.Buffer((5, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        for i0_i1_fused in T.serial(0, 24):
            for k in T.serial(0, 5):
                with T.block("C"):
                    v_i0 = T.axis.spatial(4, i0_i1_fused // 6)
                    v_i1 = T.axis.spatial(6, i0_i1_fused % 6)
                    v_k = T.axis.reduce(5, k)
                    T.reads(C[v_i0, v_i1], A[v_i0, v_k], B[v_k, v_i1])
                    T.writes(C[v_i0, v_i1])
                    with T.init():
                        C[v_i0, v_i1] = T.float32(0)
                    C[v_i0, v_i1] = C[v_i0, v_i1] + A[v_i0, v_k] * B[v_k, v_i1]
)");
}

TEST_CASE("split then fuse gives back the original binding") {
  tir::Schedule s(add_one(32));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
  s.fuse({io, ii});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((32,), "float32"), C: T.Buffer((32,), "float32")):
    with T.block("root"):
        for i0_0_i0_1_fused in T.serial(0, 32):
            with T.block("C"):
                v_i0 = T.axis.spatial(32, i0_0_i0_1_fused)
                T.reads(A[v_i0])
                T.writes(C[v_i0])
                C[v_i0] = A[v_i0] + T.float32(1)
)");
}

TEST_CASE("reorder: given loops swap places, the others stay") {
  tir::Schedule s(matmul(4, 6, 5));
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)j;
  s.reorder({k, i});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4, 5), "float32"), B: T.Buffer((5, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        for k in T.serial(0, 5):
            for i1 in T.serial(0, 6):
                for i0 in T.serial(0, 4):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(4, i0)
                        v_i1 = T.axis.spatial(6, i1)
                        v_k = T.axis.reduce(5, k)
                        T.reads(C[v_i0, v_i1], A[v_i0, v_k], B[v_k, v_i1])
                        T.writes(C[v_i0, v_i1])
                        with T.init():
                            C[v_i0, v_i1] = T.float32(0)
                        C[v_i0, v_i1] = C[v_i0, v_i1] + A[v_i0, v_k] * B[v_k, v_i1]
)");
}

TEST_CASE("bind, unroll and annotations on loops and blocks") {
  tir::Schedule s(matmul(4, 6, 5));
  auto c = s.get_block("C");
  auto [i, j, k] = s.get_loops<3>(c);
  s.bind(i, "blockIdx.x");
  s.bind(j, "threadIdx.x");
  s.unroll(k);
  s.annotate(k, "pragma_x", 4);
  s.annotate(c, "note", "hi");
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4, 5), "float32"), B: T.Buffer((5, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        for i0 in T.thread_binding(0, 4, thread="blockIdx.x"):
            for i1 in T.thread_binding(0, 6, thread="threadIdx.x"):
                for k in T.unroll(0, 5, annotations={"pragma_x": 4}):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(4, i0)
                        v_i1 = T.axis.spatial(6, i1)
                        v_k = T.axis.reduce(5, k)
                        T.reads(C[v_i0, v_i1], A[v_i0, v_k], B[v_k, v_i1])
                        T.writes(C[v_i0, v_i1])
                        T.block_attr({"note": "hi"})
                        with T.init():
                            C[v_i0, v_i1] = T.float32(0)
                        C[v_i0, v_i1] = C[v_i0, v_i1] + A[v_i0, v_k] * B[v_k, v_i1]
)");
  s.unannotate(k, "pragma_x");
  s.unannotate(c, "note");
  CHECK(ir::to_text(s.func()).find("pragma_x") == std::string::npos);
  CHECK(ir::to_text(s.func()).find("block_attr") == std::string::npos);
}

TEST_CASE("add_unit_loop above a block and above a loop") {
  tir::Schedule s(add_one(4));
  auto c = s.get_block("C");
  auto [i] = s.get_loops<1>(c);
  s.add_unit_loop(c);
  s.add_unit_loop(i);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
    with T.block("root"):
        for u in T.serial(0, 1):
            for i0 in T.serial(0, 4):
                for u_1 in T.serial(0, 1):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(4, i0)
                        T.reads(A[v_i0])
                        T.writes(C[v_i0])
                        C[v_i0] = A[v_i0] + T.float32(1)
)");
  CHECK(s.get_loops(c).size() == 3);
}

// ---- lookups --------------------------------------------------------------------------------------

TEST_CASE("lookups: child blocks, producers, consumers, output blocks") {
  tir::Schedule s(mean_rows());
  auto names = [&](const std::vector<tir::BlockRV>& bs) {
    std::string out;
    for (auto& b : bs) out += (out.empty() ? "" : ",") + s.block_name(b);
    return out;
  };
  auto S = s.get_block("S"), C = s.get_block("C");
  CHECK(names(s.get_child_blocks(s.get_block("root"))) == "S,C");
  CHECK(names(s.get_producers(C)) == "S");
  CHECK(names(s.get_consumers(S)) == "C");
  CHECK(s.get_producers(S).empty());
  CHECK(s.get_consumers(C).empty());
  CHECK(names(s.get_output_blocks()) == "C");
  auto [i, k] = s.get_loops<2>(S);
  CHECK(names(s.get_child_blocks(i)) == "S");
  CHECK(names(s.get_child_blocks(k)) == "S");
  CHECK(s.get_child_blocks(S).empty());
  CHECK(s.loop_name(k) == "k");
}

// ---- numerical equality through the JIT ------------------------------------------------------------

TEST_CASE("scheduled corpus programs agree with the interpreter (LLVM JIT)") {
  int compared = 0;
  // Tiled matmul with non-dividing splits (37 = 5 * 8 - 3, 45 = 3 * 16 - 3), reordered, parallel.
  compared += check_schedule("matmul", [](tir::Schedule& s) {
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 16});
    s.reorder({io, jo, k, ii, ji});
    s.parallel(io);
    s.unroll(ii);
  });
  // Symbolic extent: the outer factor is inferred, the predicate guards m = 1, 5, 33.
  compared += check_schedule("matmul_symbolic_m", [](tir::Schedule& s) {
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    auto [io, ii] = s.split<2>(i, {std::nullopt, 4});
    s.parallel(io);
    auto [k0, k1] = s.split<2>(k, {std::nullopt, 5});
    s.reorder({k0, j, ii, k1});
  });
  // A reduction over k in [5, 35), split by a non-dividing factor: the init must still run once.
  compared += check_schedule("sum_reduce_axis_with_offset", [](tir::Schedule& s) {
    auto [i, k] = s.get_loops<2>(s.get_block("C"));
    auto [ko, ki] = s.split<2>(k, {std::nullopt, 7});
    s.reorder({ko, i, ki});
  });
  // Vectorized inner loops on an elementwise program, parallel outer.
  compared += check_schedule("add_broadcast_row", [](tir::Schedule& s) {
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 11});
    s.vectorize(ji);
    auto f = s.fuse({i, jo});
    s.parallel(f);
  });
  // Fuse three loops (batch, rows, cols) and split the fused loop again.
  compared += check_schedule("batch_matmul", [](tir::Schedule& s) {
    auto [b, i, j, k] = s.get_loops<4>(s.get_block("C"));
    auto f = s.fuse({b, i, j});
    auto [fo, fi] = s.split<2>(f, {std::nullopt, 10});
    s.parallel(fo);
    s.unroll(k);
    (void)fi;
  });
  // Several blocks, symbolic rows: every block's row loop in parallel, a unit loop added.
  compared += check_schedule("softmax_rows", [](tir::Schedule& s) {
    for (const char* name : {"rowmax", "e", "rowsum", "softmax"}) {
      auto b = s.get_block(name);
      auto loops = s.get_loops(b);
      s.parallel(loops[0]);
      s.add_unit_loop(b);
    }
    auto [i, j, u] = s.get_loops<3>(s.get_block("softmax"));
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 8});
    s.vectorize(ji);
    (void)i;
    (void)jo;
    (void)u;
  });
  // 2-D tiling of a transpose, with non-dividing tiles on both axes.
  compared += check_schedule("transpose_2d", [](tir::Schedule& s) {
    auto [i, j] = s.get_loops<2>(s.get_block("T"));
    auto [io, ii] = s.split<2>(i, {std::nullopt, 4});
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 4});
    s.reorder({io, jo, ii, ji});
    s.annotate(jo, "pragma_hint", 1);
  });
  // Convolution with padding: tile the output channels and reorder the reduction loops outward.
  compared += check_schedule("conv2d_nchw_pad1", [](tir::Schedule& s) {
    auto [n, k, y, x, rc, ry, rx] = s.get_loops<7>(s.get_block("conv"));
    auto [ko, ki] = s.split<2>(k, {std::nullopt, 4});
    s.reorder({ko, rc, y, ki});
    auto f = s.fuse({n, ko});
    s.parallel(f);
    (void)x;
    (void)ry;
    (void)rx;
    auto [pn, pc, py, px] = s.get_loops<4>(s.get_block("pad"));
    s.fuse({pn, pc, py});
    s.vectorize(px);
  });
  // Reductions into two different outputs, split on the reduction loop with a 3-way split.
  compared += check_schedule("min_and_prod", [](tir::Schedule& s) {
    auto [i, k] = s.get_loops<2>(s.get_block("Mn"));
    s.split(k, {2, std::nullopt, 2});
    s.parallel(i);
  });
  CHECK(compared >= 20);
}

TEST_CASE("vectorized spatial loops around and inside reductions agree with the interpreter") {
  int compared = 0;
  // The vectorized loop contains the reduction loop.
  compared += check_schedule("matmul_transposed_b", [](tir::Schedule& s) {
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 8});
    s.vectorize(ji);
    (void)i;
    (void)jo;
    (void)k;
  });
  // The reduction loop moved outside a vectorized spatial loop with a predicate (45 = 3 * 16 - 3).
  compared += check_schedule("matmul", [](tir::Schedule& s) {
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 16});
    s.reorder({i, jo, k, ji});
    s.vectorize(ji);
    s.parallel(i);
  });
  CHECK(compared == 6);
}

TEST_CASE("every corpus program, fused, split by a non-dividing factor and parallel, agrees with the interpreter") {
  int compared = 0, refused = 0;
  for (auto& c : corpus::all_cases()) {
    INFO("program: " << c.name);
    try {
      compared += check_schedule(c.name, [&](tir::Schedule& s) {
        auto root = s.get_block("root");
        for (auto& b : s.get_child_blocks(root)) {
          auto loops = s.get_loops(b);
          if (loops.empty()) continue;
          auto parts = s.split(loops.back(), {std::nullopt, 3});
          tir::LoopRV outer = loops.size() == 1 ? parts[0] : loops.size() >= 3 ? s.fuse({loops[0], loops[1]}) : loops[0];
          // A reduction loop outermost (sum_all_two_axes) is refused: that is the check working.
          try {
            s.parallel(outer);
          } catch (const UserError& e) {
            CHECK_MESSAGE(std::string(e.what()).find("feeds the reduce iteration variable") != std::string::npos, e.what());
            ++refused;
          }
        }
      });
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << ": " << e.what());
    }
  }
  MESSAGE("corpus under a schedule: " << compared << " outputs compared, " << refused << " parallel refusals");
  CHECK(compared >= 40);
}

// ---- errors ---------------------------------------------------------------------------------------

TEST_CASE("error: fuse of loops that are not adjacent") {
  tir::Schedule s(matmul(4, 6, 5));
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)j;
  CHECK(error_of([&] { s.fuse({i, k}); }) ==
        "fuse: loop 'k' is not directly nested inside loop 'i0'; fuse takes consecutive, perfectly nested loops, "
        "outermost first, with nothing else between them");
  CHECK(error_of([&] { s.fuse({j, i}); }) ==
        "fuse: loop 'i0' is not directly nested inside loop 'i1'; fuse takes consecutive, perfectly nested loops, "
        "outermost first, with nothing else between them");
}

TEST_CASE("error: reorder of loops of different blocks") {
  tir::Schedule s(mean_rows());
  auto [si, sk] = s.get_loops<2>(s.get_block("S"));
  auto [ci] = s.get_loops<1>(s.get_block("C"));
  (void)si;
  CHECK(error_of([&] { s.reorder({sk, ci}); }) ==
        "reorder: loop 'k' (around block 'S') is not in the perfect loop nest below loop 'i0' (around block 'C') "
        "('i0'); reorder takes loops of one perfect loop nest (each loop's body is the next loop, no blocks or other statements between them), such as "
        "the loops of one block from get_loops");
}

TEST_CASE("error: reorder with a loop given twice") {
  tir::Schedule s(matmul(4, 6, 5));
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)k;
  CHECK(error_of([&] { s.reorder({i, j, i}); }) == "reorder: loop 'i0' is given twice");
}

TEST_CASE("error: parallel, vectorize and bind of a reduction loop") {
  tir::Schedule s(matmul(4, 6, 8));
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)j;
  CHECK(error_of([&] { s.parallel(k); }) ==
        "parallel: loop 'k' feeds the reduce iteration variable 'v_k' of block 'C', so its iterations depend on each "
        "other; only loops that bind spatial (data-parallel) iteration variables can be parallelized. Pick a spatial "
        "loop, or rfactor the reduction first");
  CHECK(error_of([&] { s.vectorize(k); }).find("vectorize: loop 'k' feeds the reduce iteration variable 'v_k'") == 0);
  CHECK(error_of([&] { s.bind(k, "threadIdx.x"); }).find("can be bound to a thread axis") != std::string::npos);
  // A loop outside the reduction loop is fine.
  CHECK(error_of([&] { s.parallel(i); }).empty());
}

TEST_CASE("error: vectorize of a symbolic extent") {
  tir::Schedule s(scale_symbolic());
  auto [i] = s.get_loops<1>(s.get_block("C"));
  CHECK(error_of([&] { s.vectorize(i); }) ==
        "vectorize: loop 'i0' has the extent m, which is not a constant; a vectorized loop needs a constant extent (it "
        "becomes the vector width). Split it by a constant first, e.g. s.split(loop, {std::nullopt, 8}), and vectorize "
        "the inner loop");
}

TEST_CASE("error: split factors") {
  tir::Schedule s(add_one(37));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  CHECK(error_of([&] { s.split(i, {std::nullopt, std::nullopt}); }) ==
        "split: loop 'i0': factors 0 and 1 are both std::nullopt; at most one factor can be inferred from the extent, "
        "give the others as positive integers");
  CHECK(error_of([&] { s.split(i, {4, 8}); }) ==
        "split: loop 'i0': the product of the factors is 32, smaller than the loop's extent 37, so iterations would be "
        "lost; use factors whose product is at least 37 or make one factor std::nullopt to infer it");
  CHECK(error_of([&] { s.split(i, {std::nullopt, 0}); }) ==
        "split: loop 'i0': factor 1 is 0; factors must be positive integers");
  CHECK(error_of([&] { s.split(i, {8}); }) ==
        "split: loop 'i0': needs at least 2 factors, got 1; e.g. s.split(loop, {std::nullopt, 8})");
  CHECK(error_of([&] { s.split<3>(i, {std::nullopt, 8}); }) ==
        "split<3>: 2 factors were given for 3 loops; give exactly 3 factors");
  tir::Schedule t(scale_symbolic());
  auto [m] = t.get_loops<1>(t.get_block("C"));
  CHECK(error_of([&] { t.split(m, {4, 8}); }) ==
        "split: loop 'i0' has the symbolic extent m, so the product of the factors (32) cannot be checked against it; "
        "make one factor std::nullopt to infer it from the extent");
}

TEST_CASE("error: bind to an unknown thread axis") {
  tir::Schedule s(add_one(32));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  CHECK(error_of([&] { s.bind(i, "threadIdx.w"); }) ==
        "bind: 'threadIdx.w' is not a thread axis; the legal ones are blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, "
        "threadIdx.y, threadIdx.z, vthread, vthread.x, vthread.y, vthread.z");
}

TEST_CASE("error: unknown block name lists the blocks") {
  tir::Schedule s(mean_rows());
  CHECK(error_of([&] { s.get_block("D"); }) == "get_block: no block named 'D'; the blocks are 'S', 'C'");
}

TEST_CASE("error: get_loops<N> with the wrong N") {
  tir::Schedule s(matmul(4, 6, 5));
  auto c = s.get_block("C");
  CHECK(error_of([&] { s.get_loops<2>(c); }) ==
        "get_loops<2>: block 'C' has 3 loops ('i0', 'i1', 'k'), not 2; use get_loops<3> or get_loops(block), which "
        "returns a std::vector");
  CHECK(error_of([&] { s.get_producers<1>(c); }) ==
        "get_producers<1>: the result has 0 elements, not 1; use the form without <N>, which returns a std::vector");
}

TEST_CASE("error: a loop handle replaced by split") {
  tir::Schedule s(add_one(32));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  s.split(i, {std::nullopt, 8});
  CHECK(error_of([&] { s.parallel(i); }) ==
        "parallel: loop 'i0' no longer exists in the function: a split or fuse replaced it; use the loops that "
        "primitive returned (or get_loops again)");
}

TEST_CASE("error: a handle of another schedule, and a block handle where a loop is needed") {
  tir::Schedule s(add_one(32));
  CHECK(error_of([&] { s.vectorize(tir::LoopRV{42}); }) ==
        "vectorize: handle 42 does not belong to this schedule; use handles returned by its own get_block, get_loops, "
        "split, ...");
  auto c = s.get_block("C");
  CHECK(error_of([&] { s.unroll(tir::LoopRV{c.id}); }) == "unroll: handle 0 is a block, not a loop");
}

TEST_CASE("error: changing the kind of a loop that already has one") {
  tir::Schedule s(add_one(32));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  s.vectorize(i);
  CHECK(error_of([&] { s.parallel(i); }) ==
        "parallel: loop 'i0' is already vectorized; a loop has one kind, split it to give the parts different kinds");
  tir::Schedule t(add_one(32));
  auto [j] = t.get_loops<1>(t.get_block("C"));
  t.bind(j, "threadIdx.x");
  CHECK(error_of([&] { t.bind(j, "threadIdx.y"); }) ==
        "bind: loop 'i0' is already bound to threadIdx.x; a loop is bound to one thread axis, split it to bind the "
        "parts to different axes");
}

TEST_CASE("error: unannotate of a missing key lists the keys") {
  tir::Schedule s(add_one(32));
  auto c = s.get_block("C");
  s.annotate(c, "a", 1);
  s.annotate(c, "b", 2.5);
  CHECK(error_of([&] { s.unannotate(c, "z"); }) == "unannotate: block 'C' has no annotation 'z'; it has 'a', 'b'");
  auto [i] = s.get_loops<1>(c);
  CHECK(error_of([&] { s.unannotate(i, "z"); }) == "unannotate: loop 'i0' has no annotation 'z'; it has none");
}

TEST_CASE("error: a schedule over a module names the function to pick") {
  ir::IRModule m;
  m.add("f", add_one(4));
  m.add("g", add_one(8));
  CHECK(error_of([&] { tir::Schedule s(m); }) ==
        "tir::Schedule: the module has 2 PrimFuncs ('f', 'g'); name the one to schedule: tir::Schedule(mod, \"main\")");
  tir::Schedule s(m, "g");
  CHECK(s.mod().contains("g"));
}

TEST_CASE("a refused primitive leaves the function and the trace unchanged") {
  tir::Schedule s(matmul(4, 6, 5));
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  (void)i;
  (void)j;
  ir::PrimFunc before = s.func();
  size_t steps = s.trace().size();
  CHECK_THROWS_AS(s.parallel(k), UserError);
  CHECK_THROWS_AS(s.split(k, {2, 2}), UserError);
  CHECK(s.func().same_as(before));
  CHECK(s.trace().size() == steps);
}

TEST_CASE("error: handles of the wrong kind, empty annotation keys, duplicate block names") {
  tir::Schedule s(add_one(8));
  auto c = s.get_block("C");
  auto [i] = s.get_loops<1>(c);
  CHECK(error_of([&] { s.split(tir::LoopRV{c.id}, {2, 4}); }) == "split: handle 0 is a block, not a loop");
  CHECK(error_of([&] { s.get_loops(tir::BlockRV{i.id}); }) == "get_loops: handle 1 is a loop, not a block");
  CHECK(error_of([&] { s.annotate(i, "", 1); }) == "annotate: loop 'i0': the annotation key is empty");
  CHECK(error_of([&] { tir::Schedule bad{ir::PrimFunc()}; }) == "tir::Schedule needs a PrimFunc with a body");

  // Two copies of the same loop nest under one root: two blocks named "C".
  ir::PrimFunc f = add_one(8);
  auto* root = f->body.as<ir::BlockRealizeNode>();
  ir::BlockNode twice = *root->block.get();
  twice.body = ir::seq({root->block->body, root->block->body});
  ir::PrimFunc dup = ir::with_body(f, ir::block_realize({}, ir::bool_imm(true), ir::make_block(std::move(twice))));
  CHECK(error_of([&] { tir::Schedule d(dup); }) ==
        "tir::Schedule: the function has two blocks named 'C'; a schedule finds blocks by name, so block names must be "
        "unique within a function");
  // The same loop nest twice, the copies' blocks renamed: the loop variable still heads two loops.
  ir::Stmt loop = root->block->body;
  auto* l = loop.as<ir::ForNode>();
  auto* r = l->body.as<ir::BlockRealizeNode>();
  ir::BlockNode renamed = *r->block.get();
  renamed.name = "C2";
  ir::Stmt copy = ir::for_loop(l->loop_var, l->min, l->extent, l->for_kind,
                               ir::block_realize(r->iter_values, r->predicate, ir::make_block(std::move(renamed))));
  ir::BlockNode both = *root->block.get();
  both.body = ir::seq({loop, copy});
  ir::PrimFunc shared = ir::with_body(f, ir::block_realize({}, ir::bool_imm(true), ir::make_block(std::move(both))));
  CHECK(error_of([&] { tir::Schedule d(shared); }) ==
        "tir::Schedule: two loops of the function use the same loop variable 'i0'; a schedule finds loops by their "
        "variable, so give each loop its own ir::Var");
}
