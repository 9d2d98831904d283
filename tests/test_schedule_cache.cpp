// tir::Schedule data-movement and storage primitives (cache_read, cache_write, cache_inplace,
// reindex, set_scope, storage_align): golden printed IR after each primitive, numerical equality of
// scheduled programs (LLVM JIT) with the interpreter on the unscheduled ones, trace replay and C++
// printing, and the text of the errors a refused primitive gives.
#include <doctest/doctest.h>

#include "kiln/ir/parser.hpp"
#include "kiln/tir/lower.hpp"
#include "schedule_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using testing::check_schedule;
using testing::contains_all;
using testing::error_of;

namespace {

ir::PrimFunc matmul(int64_t M, int64_t N, int64_t K) {
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({K, N}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
  return create_prim_func({A, B, C});
}
// The two-block pipeline B = A * 2, C = B + 1.
ir::PrimFunc chain(int64_t n) {
  auto A = placeholder<f32>({n}, "A");
  auto B = compute({n}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto C = compute({n}, [&](Index i) { return B(i) + 1.0; }, "C");
  return create_prim_func({A, C});
}
// A 2-D elementwise chain with an intermediate buffer to align.
ir::PrimFunc chain2d(int64_t n, int64_t m) {
  auto A = placeholder<f32>({n, m}, "A");
  auto B = compute({n, m}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "B");
  auto C = compute({n, m}, [&](Index i, Index j) { return B(i, j) + 1.0; }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc chain2d_symbolic() {
  auto n = var("n");
  auto A = placeholder<f32>({n, 5}, "A");
  auto B = compute({n, 5}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "B");
  auto C = compute({n, 5}, [&](Index i, Index j) { return B(i, j) - A(i, j); }, "C");
  return create_prim_func({A, C});
}
// C[i] = A[i] + A[7 - i]: two accesses of A with different indices.
ir::PrimFunc mirrored_sum() {
  auto A = placeholder<f32>({8}, "A");
  auto C = compute({8}, [&](Index i) { return A(i) + A(7 - i); }, "C");
  return create_prim_func({A, C});
}

// Hand-written TensorIR for shapes te does not make.
const char* kInPlace = R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    with T.block("root"):
        for i in T.serial(0, 8):
            with T.block("acc"):
                vi = T.axis.spatial(8, i)
                T.reads(A[vi], B[vi])
                T.writes(A[vi])
                A[vi] = A[vi] + B[vi]
)";
const char* kHalfWrite = R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        for i in T.serial(0, 4):
            with T.block("half"):
                vi = T.axis.spatial(4, i)
                T.reads(A[vi])
                T.writes(C[vi])
                C[vi] = A[vi]
)";
const char* kTwoWriters = R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((8,), "float32")
        for i in T.serial(0, 8):
            with T.block("B1"):
                vi = T.axis.spatial(8, i)
                T.reads(A[vi])
                T.writes(B[vi])
                B[vi] = A[vi]
        for i_1 in T.serial(0, 8):
            with T.block("B2"):
                vi_1 = T.axis.spatial(8, i_1)
                T.reads(B[vi_1])
                T.writes(B[vi_1])
                B[vi_1] = B[vi_1] * T.float32(2)
        for i_2 in T.serial(0, 8):
            with T.block("C"):
                vi_2 = T.axis.spatial(8, i_2)
                T.reads(B[vi_2])
                T.writes(C[vi_2])
                C[vi_2] = B[vi_2]
)";
const char* kSharedNest = R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((8,), "float32")
        for i in T.serial(0, 8):
            with T.block("B"):
                vi = T.axis.spatial(8, i)
                T.reads(A[vi])
                T.writes(B[vi])
                B[vi] = A[vi] * T.float32(2)
            with T.block("C"):
                vj = T.axis.spatial(8, i)
                T.reads(B[vj])
                T.writes(C[vj])
                C[vj] = B[vj] + T.float32(1)
)";
const char* kReversedWrite = R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        for i in T.serial(0, 8):
            with T.block("rev"):
                vi = T.axis.spatial(8, i)
                T.reads(A[vi])
                T.writes(C[7 - vi])
                C[7 - vi] = A[vi]
)";
const char* kNested = R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        for io in T.serial(0, 2):
            with T.block("outer"):
                vo = T.axis.spatial(2, io)
                T.reads(A[vo * 4:vo * 4 + 4])
                T.writes(C[vo * 4:vo * 4 + 4])
                for ii in T.serial(0, 4):
                    with T.block("inner"):
                        vi = T.axis.spatial(8, vo * 4 + ii)
                        T.reads(A[vi])
                        T.writes(C[vi])
                        C[vi] = A[vi] + T.float32(1)
)";

std::string text(const tir::Schedule& s) { return ir::to_text(s.func()); }

// Checks that every instruction kind of the schedule replays to the same function (also
// check_schedule) and that a refused call changes nothing.
void check_unchanged_after(tir::Schedule& s, const std::function<void()>& refused) {
  ir::PrimFunc before = s.func();
  size_t n = s.trace().size();
  CHECK_FALSE(error_of(refused).empty());
  CHECK(s.func().same_as(before));
  CHECK(s.trace().size() == n);
}

}  // namespace

// ---- golden IR ----------------------------------------------------------------------------------
TEST_CASE("cache_read: golden IR for a parameter of a matmul and for an intermediate buffer") {
  tir::Schedule s(matmul(4, 6, 8));
  auto c = s.get_block("C");
  auto a = s.cache_read(c, 1, "local");
  CHECK(s.block_name(a) == "A_local");
  CHECK(text(s) == R"(@T.prim_func
def main(A: T.Buffer((4, 8), "float32"), B: T.Buffer((8, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        A_local = T.alloc_buffer((4, 8), "float32", scope="local")
        for ax0 in T.serial(0, 4):
            for ax1 in T.serial(0, 8):
                with T.block("A_local"):
                    v0 = T.axis.spatial(4, ax0)
                    v1 = T.axis.spatial(8, ax1)
                    T.reads(A[v0, v1])
                    T.writes(A_local[v0, v1])
                    A_local[v0, v1] = A[v0, v1]
        for i0 in T.serial(0, 4):
            for i1 in T.serial(0, 6):
                for k in T.serial(0, 8):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(4, i0)
                        v_i1 = T.axis.spatial(6, i1)
                        v_k = T.axis.reduce(8, k)
                        T.reads(C[v_i0, v_i1], A_local[v_i0, v_k], B[v_k, v_i1])
                        T.writes(C[v_i0, v_i1])
                        with T.init():
                            C[v_i0, v_i1] = T.float32(0)
                        C[v_i0, v_i1] = C[v_i0, v_i1] + A_local[v_i0, v_k] * B[v_k, v_i1]
)");
  // C now reads A_local at index 1, so a second cache_read caches the cache.
  auto a2 = s.cache_read(c, 1, "local");
  CHECK(s.block_name(a2) == "A_local_local");
  // When "<buffer>_<scope>" names a block already, the new block gets a numeric suffix.
  auto X = placeholder<f32>({8}, "X");
  auto Y = compute({8}, [&](Index i) { return X(i) * 2.0; }, "X_local");
  tir::Schedule x(create_prim_func({X, Y}));
  CHECK(x.block_name(x.cache_read(x.get_block("X_local"), 0, "local")) == "X_local_1");
  CHECK(contains_all(text(x), {"X_local_1 = T.alloc_buffer((8,), \"float32\", scope=\"local\")"}));

  tir::Schedule p(chain(8));
  p.cache_read(p.get_block("C"), 0, "local");
  CHECK(text(p) == R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((8,), "float32")
        B_local = T.alloc_buffer((8,), "float32", scope="local")
        for i0 in T.serial(0, 8):
            with T.block("B"):
                v_i0 = T.axis.spatial(8, i0)
                T.reads(A[v_i0])
                T.writes(B[v_i0])
                B[v_i0] = A[v_i0] * T.float32(2)
        for ax0 in T.serial(0, 8):
            with T.block("B_local"):
                v0 = T.axis.spatial(8, ax0)
                T.reads(B[v0])
                T.writes(B_local[v0])
                B_local[v0] = B[v0]
        for i0_1 in T.serial(0, 8):
            with T.block("C"):
                v_i0_1 = T.axis.spatial(8, i0_1)
                T.reads(B_local[v_i0_1])
                T.writes(C[v_i0_1])
                C[v_i0_1] = B_local[v_i0_1] + T.float32(1)
)");
}

TEST_CASE("cache_read redirects every consumer of the buffer, not only the given block") {
  tir::Schedule s(chain2d_symbolic());
  s.cache_read(s.get_block("C"), 1, "global");  // A, read by B and C
  std::string t = text(s);
  CHECK(contains_all(t, {"T.reads(A_global[v_i0, v_i1])", "T.reads(B[v_i0_1, v_i1_1], A_global[v_i0_1, v_i1_1])",
                         "A_global = T.alloc_buffer((n, 5), \"float32\")"}));
  CHECK(t.find("A[v_i0") == std::string::npos);
  check_schedule(chain2d_symbolic(), s, {{{{"n", 1}}, {{"n", 7}}}});
}

TEST_CASE("cache_write: golden IR for the matmul output") {
  tir::Schedule s(matmul(4, 6, 8));
  auto w = s.cache_write(s.get_block("C"), 0, "local");
  CHECK(s.block_name(w) == "C_local");
  CHECK(text(s) == R"(@T.prim_func
def main(A: T.Buffer((4, 8), "float32"), B: T.Buffer((8, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        C_local = T.alloc_buffer((4, 6), "float32", scope="local")
        for i0 in T.serial(0, 4):
            for i1 in T.serial(0, 6):
                for k in T.serial(0, 8):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(4, i0)
                        v_i1 = T.axis.spatial(6, i1)
                        v_k = T.axis.reduce(8, k)
                        T.reads(C_local[v_i0, v_i1], A[v_i0, v_k], B[v_k, v_i1])
                        T.writes(C_local[v_i0, v_i1])
                        with T.init():
                            C_local[v_i0, v_i1] = T.float32(0)
                        C_local[v_i0, v_i1] = C_local[v_i0, v_i1] + A[v_i0, v_k] * B[v_k, v_i1]
        for ax0 in T.serial(0, 4):
            for ax1 in T.serial(0, 6):
                with T.block("C_local"):
                    v0 = T.axis.spatial(4, ax0)
                    v1 = T.axis.spatial(6, ax1)
                    T.reads(C_local[v0, v1])
                    T.writes(C[v0, v1])
                    C[v0, v1] = C_local[v0, v1]
)");
  // Consumers keep reading the original buffer.
  tir::Schedule p(chain(8));
  p.cache_write(p.get_block("B"), 0, "local");
  CHECK(contains_all(text(p), {"B_local[v_i0] = A[v_i0] * T.float32(2)", "B[v0] = B_local[v0]",
                               "C[v_i0_1] = B[v_i0_1] + T.float32(1)"}));
  check_schedule(chain(8), p);
}

TEST_CASE("cache_inplace: golden IR, a copy in before the block and a copy out after it") {
  ir::PrimFunc f = ir::parse_prim_func(kInPlace);
  tir::Schedule s(f);
  auto blocks = s.cache_inplace(s.get_block("acc"), 0, "local");
  REQUIRE(blocks.size() == 2);
  CHECK(s.block_name(blocks[0]) == "A_local");
  CHECK(s.block_name(blocks[1]) == "A_local_1");
  CHECK(text(s) == R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    with T.block("root"):
        A_local = T.alloc_buffer((8,), "float32", scope="local")
        for ax0 in T.serial(0, 8):
            with T.block("A_local"):
                v0 = T.axis.spatial(8, ax0)
                T.reads(A[v0])
                T.writes(A_local[v0])
                A_local[v0] = A[v0]
        for i in T.serial(0, 8):
            with T.block("acc"):
                vi = T.axis.spatial(8, i)
                T.reads(A_local[vi], B[vi])
                T.writes(A_local[vi])
                A_local[vi] = A_local[vi] + B[vi]
        for ax0_1 in T.serial(0, 8):
            with T.block("A_local_1"):
                v0_1 = T.axis.spatial(8, ax0_1)
                T.reads(A_local[v0_1])
                T.writes(A[v0_1])
                A[v0_1] = A_local[v0_1]
)");
  check_schedule(f, s);
  // Both handles work with later primitives.
  auto [l] = s.get_loops<1>(blocks[1]);
  s.split(l, {std::nullopt, 4});
  check_schedule(f, s);
}

TEST_CASE("reindex: golden IR, the new buffer is indexed by the block's iteration variables") {
  tir::Schedule s(matmul(4, 6, 8));
  auto r = s.reindex(s.get_block("C"), tir::BufferIndexType::Read, 1);
  CHECK(s.block_name(r) == "A_reindex");
  CHECK(text(s) == R"(@T.prim_func
def main(A: T.Buffer((4, 8), "float32"), B: T.Buffer((8, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        A_reindex = T.alloc_buffer((4, 1, 8), "float32")
        for ax0 in T.serial(0, 4):
            for ax1 in T.serial(0, 8):
                with T.block("A_reindex"):
                    v0 = T.axis.spatial(4, ax0)
                    v1 = T.axis.spatial(8, ax1)
                    T.reads(A[v0, v1])
                    T.writes(A_reindex[v0, 0, v1])
                    A_reindex[v0, 0, v1] = A[v0, v1]
        for i0 in T.serial(0, 4):
            for i1 in T.serial(0, 6):
                for k in T.serial(0, 8):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(4, i0)
                        v_i1 = T.axis.spatial(6, i1)
                        v_k = T.axis.reduce(8, k)
                        T.reads(C[v_i0, v_i1], A_reindex[v_i0, 0, v_k], B[v_k, v_i1])
                        T.writes(C[v_i0, v_i1])
                        with T.init():
                            C[v_i0, v_i1] = T.float32(0)
                        C[v_i0, v_i1] = C[v_i0, v_i1] + A_reindex[v_i0, 0, v_k] * B[v_k, v_i1]
)");
  check_schedule(matmul(4, 6, 8), s);

  tir::Schedule w(matmul(4, 6, 8));
  w.reindex(w.get_block("C"), tir::BufferIndexType::Write, 0);
  CHECK(contains_all(text(w), {"C_reindex = T.alloc_buffer((4, 6, 1), \"float32\")",
                               "C_reindex[v_i0, v_i1, 0] = C_reindex[v_i0, v_i1, 0] + A[v_i0, v_k] * B[v_k, v_i1]",
                               "with T.block(\"C_reindex\")", "C[v0, v1] = C_reindex[v0, v1, 0]"}));
  check_schedule(matmul(4, 6, 8), w);

  // A transposed read becomes a copy that transposes, and the block reads in its loop order.
  auto A = placeholder<f32>({6, 4}, "A");
  auto Tr = compute({4, 6}, [&](Index i, Index j) { return A(j, i) * 2.0; }, "Tr");
  ir::PrimFunc tr = create_prim_func({A, Tr});
  tir::Schedule t(tr);
  t.reindex(t.get_block("Tr"), tir::BufferIndexType::Read, 0);
  CHECK(contains_all(text(t), {"A_reindex = T.alloc_buffer((4, 6), \"float32\")", "A_reindex[v0, v1] = A[v1, v0]",
                               "Tr[v_i0, v_i1] = A_reindex[v_i0, v_i1] * T.float32(2)"}));
  check_schedule(tr, t);
}

TEST_CASE("set_scope: golden IR; the scope reaches the allocation and the CPU check") {
  tir::Schedule s(chain(8));
  s.set_scope(s.get_block("B"), 0, "local");
  CHECK(text(s) == R"(@T.prim_func
def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((8,), "float32", scope="local")
        for i0 in T.serial(0, 8):
            with T.block("B"):
                v_i0 = T.axis.spatial(8, i0)
                T.reads(A[v_i0])
                T.writes(B[v_i0])
                B[v_i0] = A[v_i0] * T.float32(2)
        for i0_1 in T.serial(0, 8):
            with T.block("C"):
                v_i0_1 = T.axis.spatial(8, i0_1)
                T.reads(B[v_i0_1])
                T.writes(C[v_i0_1])
                C[v_i0_1] = B[v_i0_1] + T.float32(1)
)");
  CHECK(contains_all(ir::to_text(tir::lower(s.func())), {"T.allocate((8,), \"float32\", scope=\"local\") as B"}));
  check_schedule(chain(8), s);
  // Setting the scope it already has changes nothing (but is recorded).
  ir::PrimFunc before = s.func();
  s.set_scope(s.get_block("B"), 0, "local");
  CHECK(s.func().same_as(before));
  // "shared" is a GPU scope: the schedule takes it, a CPU build refuses it.
  s.set_scope(s.get_block("B"), 0, "shared");
  std::string e = error_of([&] { kiln::build(s.mod(), Target("llvm")); });
  CHECK(contains_all(e, {"buffer 'B'", "GPU-only storage scope 'shared'", "Use scope \"global\" or \"local\" on CPU"}));
  tir::Schedule q(chain(8));
  q.cache_read(q.get_block("C"), 0, "shared");
  CHECK(contains_all(error_of([&] { kiln::build(q.mod(), Target("llvm")); }),
                     {"buffer 'B_shared'", "GPU-only storage scope 'shared'", "\"cuda\""}));
}

TEST_CASE("storage_align: golden IR, the lowered allocation grows and indices use the padded stride") {
  tir::Schedule s(chain2d(4, 6));
  s.storage_align(s.get_block("B"), 0, 0, 16, 3);
  CHECK(text(s) == R"(@T.prim_func
def main(A: T.Buffer((4, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((4, 6), "float32", strides=(19, 1))
        for i0 in T.serial(0, 4):
            for i1 in T.serial(0, 6):
                with T.block("B"):
                    v_i0 = T.axis.spatial(4, i0)
                    v_i1 = T.axis.spatial(6, i1)
                    T.reads(A[v_i0, v_i1])
                    T.writes(B[v_i0, v_i1])
                    T.block_attr({"buffer_dim_align": "[[0, 0, 16, 3]]"})
                    B[v_i0, v_i1] = A[v_i0, v_i1] * T.float32(2)
        for i0_1 in T.serial(0, 4):
            for i1_1 in T.serial(0, 6):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(4, i0_1)
                    v_i1_1 = T.axis.spatial(6, i1_1)
                    T.reads(B[v_i0_1, v_i1_1])
                    T.writes(C[v_i0_1, v_i1_1])
                    C[v_i0_1, v_i1_1] = B[v_i0_1, v_i1_1] + T.float32(1)
)");
  // Printed IR reads back to the same function (the annotation and the strides survive).
  CHECK(ir::structural_equal(ir::parse_prim_func(text(s)), s.func()));
  CHECK(ir::to_text(tir::lower(s.func())) == R"(@T.prim_func
def main(A: T.Buffer((4, 6), "float32"), C: T.Buffer((4, 6), "float32")):
    A_1 = T.Buffer((24,), "float32", data=A.data)
    C_1 = T.Buffer((24,), "float32", data=C.data)
    with T.allocate((63,), "float32") as B:
        for i0 in T.serial(0, 4):
            for i1 in T.serial(0, 6):
                B[i0 * 19 + i1] = A_1[i0 * 6 + i1] * T.float32(2)
        for i0_1 in T.serial(0, 4):
            for i1_1 in T.serial(0, 6):
                C_1[i0_1 * 6 + i1_1] = B[i0_1 * 19 + i1_1] + T.float32(1)
)");
  check_schedule(chain2d(4, 6), s);
  // The interpreter sizes a strided allocation by its strides too (63 elements, not 24).
  testing::check_against_interpreter(s.func(), s.func(), {}, "interpreted with padded strides");
  // A second request for the same axis replaces the first; another axis adds to it (the outer
  // stride then includes the inner padding: 1 -> 8 on axis 1, then 8 * 6 = 48 -> 50 on axis 0).
  s.storage_align(s.get_block("B"), 0, 0, 5, 0);
  s.storage_align(s.get_block("B"), 0, 1, 8, 0);
  CHECK(contains_all(text(s), {"strides=(50, 8)", "{\"buffer_dim_align\": \"[[0, 0, 5, 0], [0, 1, 8, 0]]\"}"}));
  check_schedule(chain2d(4, 6), s);
}

TEST_CASE("storage_align with symbolic shapes and on a cache buffer") {
  tir::Schedule s(chain2d_symbolic());
  s.storage_align(s.get_block("B"), 0, 0, 4, 1);
  CHECK(contains_all(text(s), {"strides=(5, 1)"}));  // 5 % 4 == 1 already
  s.storage_align(s.get_block("B"), 0, 0, 8, 2);
  CHECK(contains_all(text(s), {"strides=(10, 1)"}));
  check_schedule(chain2d_symbolic(), s, {{{{"n", 1}}, {{"n", 6}}}});

  ir::PrimFunc f = matmul(16, 12, 8);
  tir::Schedule m(f);
  auto c = m.get_block("C");
  auto a = m.cache_read(c, 1, "local");
  m.storage_align(a, 0, 0, 32, 4);
  auto w = m.cache_write(c, 0, "local");
  (void)w;
  m.storage_align(c, 0, 0, 16, 1);
  CHECK(contains_all(text(m), {"A_local = T.alloc_buffer((16, 8), \"float32\", strides=(36, 1), scope=\"local\")",
                               "C_local = T.alloc_buffer((16, 12), \"float32\", strides=(17, 1), scope=\"local\")"}));
  std::string lowered = ir::to_text(tir::lower(m.func()));
  CHECK(contains_all(lowered, {"T.allocate((548,), \"float32\", scope=\"local\") as A_local",
                               "T.allocate((267,), \"float32\", scope=\"local\") as C_local", "* 36", "* 17"}));
  check_schedule(f, m);
}

// ---- numerical equality, combined with loop primitives -------------------------------------------
TEST_CASE("cache_read of A in a matmul, then split/reorder/fuse of the copy and of the compute") {
  ir::PrimFunc f = matmul(24, 20, 16);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  auto a = s.cache_read(c, 1, "local");
  auto b = s.cache_read(c, 2, "global");
  auto [a0, a1] = s.get_loops<2>(a);
  auto [a1o, a1i] = s.split<2>(a1, {std::nullopt, 4});
  s.reorder({a1o, a0, a1i});
  auto [b0, b1] = s.get_loops<2>(b);
  auto bf = s.fuse({b0, b1});
  s.split(bf, {std::nullopt, 7});
  auto [i, j, k] = s.get_loops<3>(c);
  auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
  s.reorder({io, j, k, ii});
  s.parallel(io);
  CHECK(testing::check_schedule(f, s) == 3);
}

TEST_CASE("cache_write of C, then a split of the copy block and vectorize of its inner loop") {
  ir::PrimFunc f = matmul(16, 32, 12);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  auto w = s.cache_write(c, 0, "local");
  auto [w0, w1] = s.get_loops<2>(w);
  auto [w1o, w1i] = s.split<2>(w1, {std::nullopt, 8});
  s.vectorize(w1i);
  s.parallel(w0);
  (void)w1o;
  auto [i, j, k] = s.get_loops<3>(c);
  s.reorder({i, k, j});
  check_schedule(f, s);
  CHECK(contains_all(text(s), {"T.vectorized(0, 8)"}));
}

TEST_CASE("cache_read/cache_write on symbolic shapes and a two-block pipeline") {
  const auto& mm = testing::corpus_case("matmul_symbolic_m");
  ir::PrimFunc f = mm.build();
  tir::Schedule s(f);
  auto [c] = s.get_output_blocks<1>();
  s.cache_read(c, 1, "local");
  s.cache_write(c, 0, "global");
  check_schedule(f, s, testing::options_of(mm));

  const auto& mbr = testing::corpus_case("matmul_bias_relu");
  ir::PrimFunc g = mbr.build();
  tir::Schedule p(g);
  auto m = p.get_block("M");
  auto out = p.get_block("C");
  p.cache_write(m, 0, "local");   // M -> M_local, copied back to M, C reads M
  p.cache_read(out, 0, "local");  // C reads a copy of M
  p.cache_read(out, 1, "local");  // and of bias
  p.set_scope(p.get_block("M_local"), 0, "local");  // M itself (allocated) goes local too
  check_schedule(g, p, testing::options_of(mbr));
}

TEST_CASE("reindex with loop primitives and on a convolution") {
  ir::PrimFunc f = matmul(8, 12, 10);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  auto ra = s.reindex(c, tir::BufferIndexType::Read, 1);
  auto rc = s.reindex(c, tir::BufferIndexType::Write, 0);
  auto [r0, r1] = s.get_loops<2>(ra);
  s.reorder({r1, r0});
  auto [w0, w1] = s.get_loops<2>(rc);
  s.fuse({w0, w1});
  check_schedule(f, s);

  const auto& cv = testing::corpus_case("conv2d_nhwc_pad");
  ir::PrimFunc g = cv.build();
  tir::Schedule t(g);
  auto conv = t.get_block("conv");
  t.reindex(conv, tir::BufferIndexType::Read, 1);   // pad at [b, y + ry, x + rx, rc]
  t.reindex(conv, tir::BufferIndexType::Read, 2);   // W
  t.reindex(conv, tir::BufferIndexType::Write, 0);  // the output
  CHECK(contains_all(text(t), {"pad_reindex = T.alloc_buffer((1, 9, 9, 1, 3, 3, 5), \"float32\")"}));
  check_schedule(g, t, testing::options_of(cv));
}

// Every root-scope block of some corpus programs, every buffer index: the cache primitives either
// refuse or give the interpreter's results.
TEST_CASE("corpus sweep: cache_read / cache_write / reindex on every block and buffer") {
  int applied = 0, refused = 0;
  for (const char* name : {"matmul_bias_relu", "softmax_rows", "layer_norm", "conv2d_nchw_pad1", "concat_axis1",
                           "sum_where_lower_triangular", "float16_elementwise", "batch_norm_inference"}) {
    const auto& cs = testing::corpus_case(name);
    ir::PrimFunc f = cs.build();
    std::vector<std::string> blocks;
    for (auto& b : tir::schedule_detail::all_blocks(f))
      if (const std::string& n = tir::schedule_detail::block_of(b.stmt)->name; n != "root") blocks.push_back(n);
    for (auto& bn : blocks) {
      const ir::BlockNode* blk = tir::schedule_detail::block_of(tir::schedule_detail::find_block(f, bn).stmt);
      for (int prim = 0; prim < 4; ++prim) {
        size_t n = prim == 0 || prim == 2 ? blk->reads.size() : blk->writes.size();
        for (size_t i = 0; i < n; ++i) {
          tir::Schedule s(f);
          auto b = s.get_block(bn);
          std::string err = error_of([&] {
            if (prim == 0) s.cache_read(b, int64_t(i), "local");
            if (prim == 1) s.cache_write(b, int64_t(i), "global");
            if (prim == 2) s.reindex(b, tir::BufferIndexType::Read, int64_t(i));
            if (prim == 3) s.reindex(b, tir::BufferIndexType::Write, int64_t(i));
          });
          if (!err.empty()) {
            ++refused;
            CHECK(contains_all(err, {"'" + bn + "'"}));
            continue;
          }
          ++applied;
          INFO(name << " block " << bn << " primitive " << prim << " index " << i);
          check_schedule(f, s, testing::options_of(cs));
        }
      }
    }
  }
  CHECK(applied >= 40);
  CHECK(refused >= 5);
  MESSAGE("corpus sweep: " << applied << " applied, " << refused << " refused");
}

// ---- the trace: replay and C++ --------------------------------------------------------------------
namespace {
// The same calls as the expected to_cpp text below, so the printed C++ is known to compile.
void schedule_all_kinds(tir::Schedule& s) {
  auto b0 = s.get_block("M");
  auto b1 = s.cache_read(b0, 1, "local");
  auto b2 = s.cache_write(b0, 0, "local");
  auto b3 = s.get_block("C");
  auto b4 = s.reindex(b3, tir::BufferIndexType::Read, 1);
  s.set_scope(b2, 0, "local");
  s.storage_align(b1, 0, 0, 16, 2);
  (void)b4;
}
void schedule_inplace(tir::Schedule& s) {
  auto b0 = s.get_block("acc");
  auto cache_b1_b2 = s.cache_inplace(b0, 0, "local");
  auto b1 = cache_b1_b2[0];
  auto b2 = cache_b1_b2[1];
  auto b3 = s.reindex(b2, tir::BufferIndexType::Write, 0);
  (void)b1;
  (void)b3;
}
}  // namespace

TEST_CASE("every cache kind replays to the same function and prints as C++ that compiles") {
  const auto& mbr = testing::corpus_case("matmul_bias_relu");
  ir::PrimFunc f = mbr.build();
  tir::Schedule s(f);
  schedule_all_kinds(s);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("M");
auto b1 = s.cache_read(b0, 1, "local");
auto b2 = s.cache_write(b0, 0, "local");
auto b3 = s.get_block("C");
auto b4 = s.reindex(b3, tir::BufferIndexType::Read, 1);
s.set_scope(b2, 0, "local");
s.storage_align(b1, 0, 0, 16, 2);
)");
  CHECK(contains_all(s.trace().to_json(),
                     {R"({"kind": "reindex", "inputs": [{"block": 3}, {"str": "read"}, {"int": 1}])"}));
  check_schedule(f, s, testing::options_of(mbr));

  ir::PrimFunc g = ir::parse_prim_func(kInPlace);
  tir::Schedule p(g);
  schedule_inplace(p);
  CHECK(p.trace().to_cpp() == R"(auto b0 = s.get_block("acc");
auto cache_b1_b2 = s.cache_inplace(b0, 0, "local");
auto b1 = cache_b1_b2[0];
auto b2 = cache_b1_b2[1];
auto b3 = s.reindex(b2, tir::BufferIndexType::Write, 0);
)");
  check_schedule(g, p);

  // A trace with a bad reindex type is refused on replay.
  std::string json = s.trace().to_json();
  std::string bad = json.replace(json.find("\"read\""), 6, "\"sideways\"");
  std::string e = error_of([&] { tir::Trace::from_json(bad).apply_to(f); });
  CHECK(contains_all(e, {"reindex", "\"read\" or \"write\"", "sideways"}));
}

// ---- errors -----------------------------------------------------------------------------------------
TEST_CASE("cache errors: indices, scopes, parameters and alignment arguments") {
  tir::Schedule s(matmul(4, 6, 8));
  auto c = s.get_block("C");
  CHECK(contains_all(error_of([&] { s.cache_read(c, 5, "local"); }),
                     {"cache_read", "read_buffer_index 5 is out of range for block 'C'", "reads 3 buffers",
                      "(0: 'C', 1: 'A', 2: 'B')"}));
  CHECK(contains_all(error_of([&] { s.cache_write(c, -1, "local"); }),
                     {"cache_write", "write_buffer_index -1", "block 'C'", "writes 1 buffer (0: 'C')"}));
  CHECK(contains_all(error_of([&] { s.reindex(c, tir::BufferIndexType::Write, 2); }),
                     {"reindex", "buffer_index 2", "writes 1 buffer (0: 'C')"}));
  CHECK(contains_all(error_of([&] { s.cache_read(c, 1, "texture"); }),
                     {"cache_read", "'texture' is not a storage scope", "\"global\", \"local\", \"shared\"",
                      "on CPU use \"global\" or \"local\""}));
  CHECK(contains_all(error_of([&] { s.set_scope(c, 0, "local"); }),
                     {"set_scope", "buffer 'C'", "block 'C'", "is a parameter of the function", "cache_write"}));
  CHECK(contains_all(error_of([&] { s.storage_align(c, 0, 0, 8, 1); }),
                     {"storage_align", "buffer 'C'", "is a parameter of the function"}));
  CHECK(contains_all(error_of([&] { s.cache_read(c, 0, "local"); }),
                     {"cache_read", "block 'C' both reads and writes 'C'", "use cache_inplace"}));
  CHECK(contains_all(error_of([&] { s.cache_inplace(c, 1, "local"); }),
                     {"cache_inplace", "block 'C' reads 'A' but does not write it", "use cache_read"}));

  tir::Schedule p(chain2d(4, 6));
  auto b = p.get_block("B");
  CHECK(contains_all(error_of([&] { p.storage_align(b, 0, 2, 8, 1); }),
                     {"storage_align", "axis 2 is out of range for buffer 'B'", "has 2 dimensions", "[0, 2)"}));
  CHECK(contains_all(error_of([&] { p.storage_align(b, 0, 0, 0, 0); }),
                     {"storage_align", "factor 0 must be positive"}));
  CHECK(contains_all(error_of([&] { p.storage_align(b, 0, 0, 8, 8); }), {"storage_align", "offset 8", "[0, 8)"}));
  CHECK(contains_all(error_of([&] { p.set_scope(b, 0, "l0cal"); }), {"set_scope", "'l0cal' is not a storage scope"}));
  // A malformed annotation under the key is refused, not misread.
  p.annotate(b, "buffer_dim_align", "sixteen");
  CHECK(contains_all(error_of([&] { p.storage_align(b, 0, 0, 8, 1); }),
                     {"storage_align", "block 'B'", "'buffer_dim_align' annotation",
                      "[[buffer_index, axis, factor, offset], ...]"}));
  p.annotate(b, "buffer_dim_align", "[[0, 1, 0, 0]]");  // a factor of 0 is refused, not divided by
  CHECK(contains_all(error_of([&] { p.storage_align(b, 0, 0, 8, 1); }),
                     {"storage_align", "'buffer_dim_align' annotation"}));
  // Refused calls leave the function and the trace alone.
  check_unchanged_after(p, [&] { p.storage_align(b, 0, 5, 8, 1); });
  check_unchanged_after(s, [&] { s.cache_write(c, 3, "local"); });
}

TEST_CASE("cache errors: producers, loop nests, partial writes and access patterns") {
  {
    tir::Schedule s(ir::parse_prim_func(kInPlace));
    CHECK(contains_all(error_of([&] { s.cache_write(s.get_block("acc"), 0, "local"); }),
                       {"cache_write", "block 'acc' reads 'A' before writing it", "use cache_inplace"}));
  }
  {
    tir::Schedule s(ir::parse_prim_func(kHalfWrite));
    CHECK(contains_all(error_of([&] { s.cache_write(s.get_block("half"), 0, "local"); }),
                       {"cache_write", "cannot show that block 'half' writes all of 'C'", "it writes C[vi]",
                        "must write every element"}));
  }
  {
    tir::Schedule s(ir::parse_prim_func(kTwoWriters));
    CHECK(contains_all(error_of([&] { s.cache_read(s.get_block("C"), 0, "local"); }),
                       {"cache_read", "block 'C' reads 'B', which is written by blocks 'B1', 'B2'",
                        "single block that produces"}));
    CHECK(contains_all(error_of([&] { s.cache_write(s.get_block("B1"), 0, "local"); }),
                       {"cache_write", "written by blocks 'B1', 'B2'", "only producer"}));
    // cache_inplace of the in-place block works though.
    ir::PrimFunc f = s.func();
    s.cache_inplace(s.get_block("B2"), 0, "local");
    check_schedule(f, s);
  }
  {
    tir::Schedule s(ir::parse_prim_func(kSharedNest));
    CHECK(contains_all(error_of([&] { s.cache_read(s.get_block("C"), 0, "local"); }),
                       {"cache_read", "block 'C' reads 'B' inside the same loop nest as its producer 'B'",
                        "before compute_at"}));
    CHECK(contains_all(error_of([&] { s.cache_write(s.get_block("B"), 0, "local"); }),
                       {"cache_write", "block 'C' also accesses 'B' inside the same loop nest as block 'B'"}));
    CHECK(contains_all(error_of([&] { s.reindex(s.get_block("C"), tir::BufferIndexType::Read, 0); }),
                       {"reindex", "'B' is written by block 'B' inside the same loop nest as block 'C'"}));
  }
  {
    ir::PrimFunc f = ir::parse_prim_func(kReversedWrite);
    tir::Schedule s(f);
    CHECK(contains_all(error_of([&] { s.reindex(s.get_block("rev"), tir::BufferIndexType::Write, 0); }),
                       {"reindex", "block 'rev' writes C[7 - vi]", "distinct iteration variable or a constant"}));
    CHECK(contains_all(error_of([&] { s.cache_write(s.get_block("rev"), 0, "local"); }),
                       {"cache_write", "cannot show that block 'rev' writes all of 'C'"}));
    s.reindex(s.get_block("rev"), tir::BufferIndexType::Read, 0);
    check_schedule(f, s);
  }
  {
    tir::Schedule s(ir::parse_prim_func(kNested));
    CHECK(contains_all(error_of([&] { s.cache_read(s.get_block("inner"), 0, "local"); }),
                       {"cache_read", "block 'inner' is nested inside block 'outer'", "root scope"}));
    CHECK(contains_all(error_of([&] { s.reindex(s.get_block("outer"), tir::BufferIndexType::Read, 0); }),
                       {"reindex", "block 'outer' has blocks inside it"}));
  }
  {
    tir::Schedule s(mirrored_sum());
    CHECK(contains_all(error_of([&] { s.reindex(s.get_block("C"), tir::BufferIndexType::Read, 0); }),
                       {"reindex", "block 'C' accesses 'A' at different indices", "A[v_i0]", "A[7 - v_i0]"}));
    ir::PrimFunc f = s.func();
    s.cache_read(s.get_block("C"), 0, "local");  // a cache takes any access pattern
    check_schedule(f, s);
  }
  {
    const auto& pc = testing::corpus_case("conv2d_nchw_pad1");
    tir::Schedule s(pc.build());
    // The pad block reads X only where its condition holds; a reindex copy would read it everywhere.
    CHECK(contains_all(error_of([&] { s.reindex(s.get_block("pad"), tir::BufferIndexType::Read, 0); }),
                       {"reindex", "cannot show that index", "stays inside 'X'", "block 'pad'"}));
  }
}
