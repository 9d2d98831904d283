// tir::Schedule blockize and tensorize, and the x86 tensor intrinsics: golden printed IR after each
// primitive, numerical equality of scheduled programs (LLVM JIT) with the reference interpreter on
// the unscheduled ones, trace replay, the assembly of the AVX-512 intrinsics (checked on any x86
// machine, run only where the CPU has the features), and the text of the errors.
#include <doctest/doctest.h>

#include <string>

#include "kiln/backend/llvm.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/intrin/x86.hpp"
#include "kiln/tir/schedule/schedule.hpp"
#include "kiln/tir/tensor_intrin.hpp"
#include "schedule_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using testing::contains_all;
using testing::error_of;

namespace {

ir::PrimFunc matmul(int64_t M, int64_t N, int64_t K, bool use_f64 = false) {
  if (use_f64) {
    auto A = placeholder<f64>({M, K}, "A");
    auto B = placeholder<f64>({K, N}, "B");
    auto k = reduce_axis(K, "k");
    auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
    return create_prim_func({A, B, C});
  }
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({K, N}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
  return create_prim_func({A, B, C});
}
// C = A * B^T: B's access is not the intrinsic's B[k, j] pattern.
ir::PrimFunc matmul_nt(int64_t M, int64_t N, int64_t K) {
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({N, K}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(j, k), k); }, "C");
  return create_prim_func({A, B, C});
}
// A max-plus "matmul": the same loops, another computation.
ir::PrimFunc maxmul(int64_t M, int64_t N, int64_t K) {
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({K, N}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return te::max(A(i, k) * B(k, j), k); }, "C");
  return create_prim_func({A, B, C});
}
ir::PrimFunc scale2d(int64_t M, int64_t N) {
  auto A = placeholder<f32>({M, N}, "A");
  auto C = compute({M, N}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "C");
  return create_prim_func({A, C});
}
// C[i, jo, ji] = sum_{ko, ki} u8 A[i, ko*4+ki] * s8 B[jo, ko, ji*4+ki]: B packed 4 bytes per output
// lane, the layout vpdpbusd reads.
ir::PrimFunc int8_packed_matmul(int64_t M, int64_t N, int64_t K, int64_t lanes) {
  auto A = placeholder<u8>({M, K}, "A");
  auto B = placeholder<i8>({N / lanes, K / 4, lanes * 4}, "B");
  auto ko = reduce_axis(K / 4, "ko");
  auto ki = reduce_axis(4, "ki");
  auto C = compute({M, N / lanes, lanes}, [&](Index i, Index jo, Index ji) {
    return sum(cast<i32>(A(i, ko * 4 + ki)) * cast<i32>(B(jo, ko, ji * 4 + ki)), {ko, ki});
  }, "C");
  return create_prim_func({A, B, C});
}
// for i: { B[i] = A[i] + 1; C[i] = B[i] * 2 }: two blocks under one loop.
ir::PrimFunc two_blocks_in_one_loop() {
  DataType f32 = DataType::float_(32);
  ir::Buffer A = ir::make_buffer("A", f32, {ir::int_imm(8)}), B = ir::make_buffer("B", f32, {ir::int_imm(8)}),
             C = ir::make_buffer("C", f32, {ir::int_imm(8)});
  ir::Var i("i");
  auto block = [&](const char* name, const ir::Buffer& in, const ir::Buffer& out, ir::Expr (*op)(ir::Expr)) {
    ir::Var v(std::string("v_") + name);
    ir::BlockNode b;
    b.name = name;
    b.iter_vars = {{v, {ir::int_imm(0), ir::int_imm(8)}, ir::IterKind::DataPar, ""}};
    b.reads = {{in, {{v, ir::int_imm(1)}}}};
    b.writes = {{out, {{v, ir::int_imm(1)}}}};
    b.body = ir::buffer_store(out, op(ir::buffer_load(in, {v})), {v});
    return ir::block_realize({i}, ir::bool_imm(true), ir::make_block(std::move(b)));
  };
  ir::Stmt body = ir::for_loop(i, ir::int_imm(0), ir::int_imm(8), ir::ForKind::Serial,
                               ir::seq({block("B", A, B, [](ir::Expr x) { return ir::add(x, ir::float_imm(1)); }),
                                        block("C", B, C, [](ir::Expr x) { return ir::mul(x, ir::float_imm(2)); })}));
  ir::BlockNode root;
  root.name = "root";
  root.body = body;
  return ir::make_prim_func("main", {A, B, C}, ir::block_realize({}, ir::bool_imm(true), ir::make_block(std::move(root))));
}

// Splits a matmul's loops into (outer, inner) with inner extents (mi, ni, ki) and orders them
// i0 j0 k0 i1 j1 k1; returns the inner i loop, where the tile starts.
tir::LoopRV tile_matmul(tir::Schedule& s, int64_t mi, int64_t ni, int64_t ki) {
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  auto [i0, i1] = s.split<2>(i, {std::nullopt, mi});
  auto [j0, j1] = s.split<2>(j, {std::nullopt, ni});
  auto [k0, k1] = s.split<2>(k, {std::nullopt, ki});
  s.reorder({i0, j0, k0, i1, j1, k1});
  return i1;
}

bool host_has(const char* feature) {
  __builtin_cpu_init();
  if (std::string(feature) == "avx512f") return __builtin_cpu_supports("avx512f");
  if (std::string(feature) == "avx512vnni") return __builtin_cpu_supports("avx512vnni");
  return false;
}

// Lines of `text` that contain both words.
size_t lines_with(const std::string& text, const std::string& a, const std::string& b) {
  size_t n = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    n += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
    start = end + 1;
  }
  return n;
}

size_t count(const std::string& text, const std::string& word) {
  size_t n = 0;
  for (size_t p = text.find(word); p != std::string::npos; p = text.find(word, p + 1)) ++n;
  return n;
}

const testing::CheckOptions kInt8Ranges{{{}}, -1.0, 1.0, {{"A", {0, 255}}, {"B", {-128, 127}}}, 7};

}  // namespace

// ---- blockize ---------------------------------------------------------------------------------

TEST_CASE("blockize: an elementwise tile, golden IR, with and without unit iterators") {
  for (bool preserve : {true, false}) {
    ir::PrimFunc f = scale2d(8, 16);
    tir::Schedule s(f);
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 4});
    tir::BlockRV o = s.blockize(ji, preserve);
    CHECK(s.block_name(o) == "C_o");
    CHECK(ir::to_text(s.func()) == (preserve ? R"(@T.prim_func
def main(A: T.Buffer((8, 16), "float32"), C: T.Buffer((8, 16), "float32")):
    with T.block("root"):
        for i0 in T.serial(0, 8):
            for i1_0 in T.serial(0, 4):
                with T.block("C_o"):
                    v_i0_o = T.axis.spatial(8, i0)
                    v_i1_o = T.axis.spatial(4, i1_0)
                    T.reads(A[v_i0_o, v_i1_o * 4:v_i1_o * 4 + 4])
                    T.writes(C[v_i0_o, v_i1_o * 4:v_i1_o * 4 + 4])
                    for i1_1 in T.serial(0, 4):
                        with T.block("C"):
                            v_i0_i = T.axis.spatial(1, 0)
                            v_i1_i = T.axis.spatial(4, i1_1)
                            T.reads(A[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4])
                            T.writes(C[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4])
                            C[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4] = A[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4] * T.float32(2)
)" : R"(@T.prim_func
def main(A: T.Buffer((8, 16), "float32"), C: T.Buffer((8, 16), "float32")):
    with T.block("root"):
        for i0 in T.serial(0, 8):
            for i1_0 in T.serial(0, 4):
                with T.block("C_o"):
                    v_i0_o = T.axis.spatial(8, i0)
                    v_i1_o = T.axis.spatial(4, i1_0)
                    T.reads(A[v_i0_o, v_i1_o * 4:v_i1_o * 4 + 4])
                    T.writes(C[v_i0_o, v_i1_o * 4:v_i1_o * 4 + 4])
                    for i1_1 in T.serial(0, 4):
                        with T.block("C"):
                            v_i1_i = T.axis.spatial(4, i1_1)
                            T.reads(A[v_i0_o, v_i1_i + v_i1_o * 4])
                            T.writes(C[v_i0_o, v_i1_i + v_i1_o * 4])
                            C[v_i0_o, v_i1_i + v_i1_o * 4] = A[v_i0_o, v_i1_i + v_i1_o * 4] * T.float32(2)
)"));
    CHECK(testing::check_schedule(f, s) == 2);
  }
}

TEST_CASE("blockize: a reduction moves its init into the outer block") {
  ir::PrimFunc f = matmul(8, 8, 8);
  tir::Schedule s(f);
  auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
  auto [jo, ji] = s.split<2>(j, {std::nullopt, 4});
  s.reorder({jo, k, ji});
  s.blockize(ji);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((8, 8), "float32"), B: T.Buffer((8, 8), "float32"), C: T.Buffer((8, 8), "float32")):
    with T.block("root"):
        for i0 in T.serial(0, 8):
            for i1_0 in T.serial(0, 2):
                for k in T.serial(0, 8):
                    with T.block("C_o"):
                        v_i0_o = T.axis.spatial(8, i0)
                        v_i1_o = T.axis.spatial(2, i1_0)
                        v_k_o = T.axis.reduce(8, k)
                        T.reads(C[v_i0_o, v_i1_o * 4:v_i1_o * 4 + 4], A[v_i0_o, v_k_o], B[v_k_o, v_i1_o * 4:v_i1_o * 4 + 4])
                        T.writes(C[v_i0_o, v_i1_o * 4:v_i1_o * 4 + 4])
                        with T.init():
                            for i1_1_init in T.serial(0, 4):
                                with T.block("C_init"):
                                    v_i1_i_init = T.axis.spatial(4, i1_1_init)
                                    T.writes(C[v_i0_o, v_i1_i_init + v_i1_o * 4])
                                    C[v_i0_o, v_i1_i_init + v_i1_o * 4] = T.float32(0)
                        for i1_1 in T.serial(0, 4):
                            with T.block("C"):
                                v_i0_i = T.axis.spatial(1, 0)
                                v_i1_i = T.axis.spatial(4, i1_1)
                                v_k_i = T.axis.reduce(1, 0)
                                T.reads(C[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4], A[v_i0_i + v_i0_o, v_k_i + v_k_o], B[v_k_i + v_k_o, v_i1_i + v_i1_o * 4])
                                T.writes(C[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4])
                                C[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4] = C[v_i0_i + v_i0_o, v_i1_i + v_i1_o * 4] + A[v_i0_i + v_i0_o, v_k_i + v_k_o] * B[v_k_i + v_k_o, v_i1_i + v_i1_o * 4]
)");
  CHECK(testing::check_schedule(f, s) == 3);
}

TEST_CASE("blockize: matmul tiles, nested blockize, and a corpus program") {
  {
    ir::PrimFunc f = matmul(64, 64, 64);
    tir::Schedule s(f);
    tir::LoopRV i1 = tile_matmul(s, 4, 8, 4);
    tir::BlockRV o = s.blockize(i1, false);
    // The outer block is itself a block that a loop around it can blockize again.
    auto loops = s.get_loops(o);
    REQUIRE(loops.size() == 3);
    tir::BlockRV oo = s.blockize(loops[2]);
    CHECK(s.block_name(oo) == "C_o_o");
    CHECK(testing::check_schedule(f, s) == 3);
  }
  {
    // The whole nest: the outer block has unit (or no) iterators.
    ir::PrimFunc f = matmul(16, 8, 4);
    tir::Schedule s(f);
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    s.blockize(i, false);
    CHECK(testing::check_schedule(f, s) == 3);
  }
  {
    const auto& c = testing::corpus_case("matmul");
    ir::PrimFunc f = c.build();
    tir::Schedule s(f);
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));  // 37 x 45 x 29: odd extents, no split
    s.reorder({i, k, j});
    s.blockize(j);
    CHECK(testing::check_schedule(f, s, testing::options_of(c)) >= 1);
  }
}

TEST_CASE("blockize: the trace prints C++ that redoes it") {
  ir::PrimFunc f = scale2d(8, 16);
  tir::Schedule s(f);
  auto [i, j] = s.get_loops<2>(s.get_block("C"));
  auto [jo, ji] = s.split<2>(j, {std::nullopt, 4});
  s.blockize(ji, false);
  std::string cpp = s.trace().to_cpp();
  CHECK(cpp == "auto b0 = s.get_block(\"C\");\nauto [l1, l2] = s.get_loops<2>(b0);\n"
               "auto [l3, l4] = s.split<2>(l2, {std::nullopt, 4});\nauto b5 = s.blockize(l4, 0);\n");
  {
    tir::Schedule s2(f);  // the printed code, pasted
    auto b0 = s2.get_block("C");
    auto [l1, l2] = s2.get_loops<2>(b0);
    auto [l3, l4] = s2.split<2>(l2, {std::nullopt, 4});
    auto b5 = s2.blockize(l4, 0);
    (void)l1, (void)l3, (void)b5;
    CHECK(ir::structural_equal(s2.func(), s.func()));
  }
}

TEST_CASE("blockize: errors") {
  SUBCASE("two blocks under the loop") {
    tir::Schedule s(two_blocks_in_one_loop());
    auto loops = s.get_loops(s.get_block("B"));
    ir::PrimFunc before = s.func();
    std::string e = error_of([&] { s.blockize(loops[0]); });
    CHECK(contains_all(e, {"blockize", "loop 'i'", "2 blocks", "'B', 'C'", "exactly one block"}));
    CHECK(s.func().same_as(before));
    CHECK(s.trace().size() == 2);
  }
  SUBCASE("a predicate from a split that does not divide") {
    tir::Schedule s(scale2d(8, 10));
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [jo, ji] = s.split<2>(j, {std::nullopt, 4});
    std::string e = error_of([&] { s.blockize(ji); });
    CHECK(contains_all(e, {"blockize", "loop 'i1_1'", "block 'C'", "predicate", "factors that divide"}));
  }
  SUBCASE("a binding that is not affine") {
    tir::Schedule s(scale2d(8, 16));
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    tir::LoopRV fused = s.fuse({i, j});
    auto [fo, fi] = s.split<2>(fused, {std::nullopt, 32});
    std::string e = error_of([&] { s.blockize(fi); });
    CHECK(contains_all(e, {"blockize", "block 'C'", "not affine", "i0_i1_fused_1 // 16"}));
  }
  SUBCASE("inner loops that do not cover a dense range") {
    // i and j swapped under the blockized loop: v_i1 = i1_1 * 1 with stride ... made by a split of
    // the outer loop: v_i0 = i0_0 * 2 + i0_1 with only i0_0 inside.
    tir::Schedule s(scale2d(8, 16));
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [i0, i1] = s.split<2>(i, {std::nullopt, 2});
    s.reorder({i1, i0});  // i0_1 (stride 1) outside, i0_0 (stride 2) inside
    std::string e = error_of([&] { s.blockize(i0); });
    CHECK(contains_all(e, {"blockize", "'v_i0'", "dense range", "stride 2, expected 1"}));
  }
  SUBCASE("a loop with no block under it is not a loop any more") {
    tir::Schedule s(scale2d(8, 16));
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    s.split<2>(j, {std::nullopt, 4});
    std::string e = error_of([&] { s.blockize(j); });
    CHECK(contains_all(e, {"blockize", "'i1'", "no longer exists"}));
  }
}

// ---- the registry -------------------------------------------------------------------------------

TEST_CASE("tensor intrinsic registry: names, lookup and registration errors") {
  const tir::TensorIntrin& t = tir::get_tensor_intrin("x86.avx2.fp32_outer_product");
  CHECK(t.name == "x86.avx2.fp32_outer_product");
  CHECK(t.desc->param_buffers.size() == 3);
  std::string e = error_of([&] { tir::get_tensor_intrin("x86.avx3.nothing"); });
  CHECK(contains_all(e, {"no tensor intrinsic named 'x86.avx3.nothing'", "'x86.avx2.fp32_outer_product'",
                         "'x86.avx2.int8_dot'", "'x86.avx512.fp32_outer_product'", "'x86.avx512.vnni_int8_dot'"}));
  e = error_of([&] { tir::register_tensor_intrin("x86.avx2.int8_dot", t.desc, t.impl); });
  CHECK(contains_all(e, {"register_tensor_intrin('x86.avx2.int8_dot')", "already registered"}));
  // desc and impl over different tiles.
  const tir::TensorIntrin& wide = tir::get_tensor_intrin("x86.avx512.fp32_outer_product");
  e = error_of([&] { tir::register_tensor_intrin("test.mismatch", t.desc, wide.impl); });
  CHECK(contains_all(e, {"register_tensor_intrin('test.mismatch')", "parameter 1", "shape (4, 8) in desc", "(4, 16) in impl"}));
  // A desc that is not a tile: the matmul with its init.
  e = error_of([&] { tir::register_tensor_intrin("test.not_a_tile", matmul(4, 8, 4), t.impl); });
  CHECK(contains_all(e, {"register_tensor_intrin('test.not_a_tile')", "desc is not a tile computation", "init"}));
  // impl with a block in it.
  e = error_of([&] {
    tir::Schedule s(matmul(4, 8, 4));
    auto [i, j, k] = s.get_loops<3>(s.get_block("C"));
    s.blockize(i);
    ir::PrimFunc desc = t.desc;
    tir::register_tensor_intrin("test.block_impl", desc, s.func());
  });
  CHECK(contains_all(e, {"register_tensor_intrin('test.block_impl')", "impl contains a block"}));
  CHECK_FALSE(tir::has_tensor_intrin("test.block_impl"));
}

// ---- tensorize ----------------------------------------------------------------------------------

TEST_CASE("tensorize: fp32 matmul 64x64x64 with x86.avx2.fp32_outer_product") {
  ir::PrimFunc f = matmul(64, 64, 64);
  tir::Schedule s(f);
  tir::LoopRV i1 = tile_matmul(s, 4, 8, 4);
  s.tensorize(i1, "x86.avx2.fp32_outer_product");
  std::string text = ir::to_text(s.func());
  CHECK(contains_all(text, {"with T.block(\"C_o\")", "with T.block(\"C_init\")",
                            "C[v_i0_o * 4 + 3, T.Ramp(v_i1_o * 8, 1, 8)] = T.fma(T.Broadcast(A[v_i0_o * 4 + 3, v_k_o * 4 + 3], 8), "
                            "B[v_k_o * 4 + 3, T.Ramp(v_i1_o * 8, 1, 8)], C[v_i0_o * 4 + 3, T.Ramp(v_i1_o * 8, 1, 8)])"}));
  CHECK(count(text, "T.fma(") == 16);
  CHECK(text.find("T.block(\"C\")") == std::string::npos);  // the inner block is gone
  CHECK(testing::check_schedule(f, s) == 3);
  CHECK(s.trace().to_cpp().find("s.tensorize(l5, \"x86.avx2.fp32_outer_product\", 1);\n") != std::string::npos);
  // The same, tensorizing the block blockize made; with a parallel outer loop around it.
  tir::Schedule s2(f);
  tir::LoopRV j1 = tile_matmul(s2, 4, 8, 4);
  s2.blockize(j1);
  auto loops = s2.get_loops(s2.get_block("C_o"));
  s2.parallel(loops[0]);
  s2.tensorize(s2.get_block("C_o"), "x86.avx2.fp32_outer_product");
  CHECK(testing::check_schedule(f, s2) == 3);
}

TEST_CASE("tensorize: u8 x s8 -> i32 packed matmul with x86.avx2.int8_dot, golden IR") {
  ir::PrimFunc f = int8_packed_matmul(4, 16, 16, 8);
  tir::Schedule s(f);
  auto [i, jo, ji, ko, ki] = s.get_loops<5>(s.get_block("C"));
  s.reorder({ko, ji});
  s.tensorize(ji, "x86.avx2.int8_dot");
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((4, 16), "uint8"), B: T.Buffer((2, 4, 32), "int8"), C: T.Buffer((4, 2, 8), "int32")):
    with T.block("root"):
        for i0 in T.serial(0, 4):
            for i1 in T.serial(0, 2):
                for ko in T.serial(0, 4):
                    with T.block("C_o"):
                        v_i0_o = T.axis.spatial(4, i0)
                        v_i1_o = T.axis.spatial(2, i1)
                        v_i2_o = T.axis.spatial(1, 0)
                        v_ko_o = T.axis.reduce(4, ko)
                        v_ki_o = T.axis.reduce(1, 0)
                        T.reads(C[v_i0_o, v_i1_o, v_i2_o * 8:v_i2_o * 8 + 8], A[v_i0_o, v_ki_o * 4 + v_ko_o * 4:v_ki_o * 4 + v_ko_o * 4 + 4], B[v_i1_o, v_ko_o, v_i2_o * 32 + v_ki_o * 4:v_i2_o * 32 + v_ki_o * 4 + 32])
                        T.writes(C[v_i0_o, v_i1_o, v_i2_o * 8:v_i2_o * 8 + 8])
                        with T.init():
                            for i2_init in T.serial(0, 8):
                                with T.block("C_init"):
                                    v_i2_i_init = T.axis.spatial(8, i2_init)
                                    T.writes(C[v_i0_o, v_i1_o, v_i2_i_init + v_i2_o * 8])
                                    C[v_i0_o, v_i1_o, v_i2_i_init + v_i2_o * 8] = T.int32(0)
                        C[v_i0_o, v_i1_o, T.Ramp(v_i2_o * 8, 1, 8)] = C[v_i0_o, v_i1_o, T.Ramp(v_i2_o * 8, 1, 8)] + T.Cast("int32x8", T.Broadcast(A[v_i0_o, v_ki_o * 4 + v_ko_o * 4], 8)) * T.Cast("int32x8", B[v_i1_o, v_ko_o, T.Ramp(v_i2_o * 32 + v_ki_o * 4, 4, 8)]) + T.Cast("int32x8", T.Broadcast(A[v_i0_o, v_ki_o * 4 + v_ko_o * 4 + 1], 8)) * T.Cast("int32x8", B[v_i1_o, v_ko_o, T.Ramp(v_i2_o * 32 + v_ki_o * 4 + 1, 4, 8)]) + T.Cast("int32x8", T.Broadcast(A[v_i0_o, v_ki_o * 4 + v_ko_o * 4 + 2], 8)) * T.Cast("int32x8", B[v_i1_o, v_ko_o, T.Ramp(v_i2_o * 32 + v_ki_o * 4 + 2, 4, 8)]) + T.Cast("int32x8", T.Broadcast(A[v_i0_o, v_ki_o * 4 + v_ko_o * 4 + 3], 8)) * T.Cast("int32x8", B[v_i1_o, v_ko_o, T.Ramp(v_i2_o * 32 + v_ki_o * 4 + 3, 4, 8)])
)");
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("C");
auto [l1, l2, l3, l4, l5] = s.get_loops<5>(b0);
s.reorder({l4, l3});
s.tensorize(l3, "x86.avx2.int8_dot", 1);
)");
  CHECK(testing::check_schedule(f, s, kInt8Ranges) == 3);
  {
    tir::Schedule s2(f);  // the printed code, pasted
    auto b0 = s2.get_block("C");
    auto [l1, l2, l3, l4, l5] = s2.get_loops<5>(b0);
    s2.reorder({l4, l3});
    s2.tensorize(l3, "x86.avx2.int8_dot", 1);
    (void)l1, (void)l2, (void)l5;
    CHECK(ir::structural_equal(s2.func(), s.func()));
  }
  // A bigger one with extreme values: exact, no saturation.
  ir::PrimFunc g = int8_packed_matmul(8, 32, 64, 8);
  tir::Schedule t(g);
  auto loops = t.get_loops(t.get_block("C"));
  t.reorder({loops[3], loops[2]});
  t.tensorize(loops[2], "x86.avx2.int8_dot");
  testing::CheckOptions extreme{{{}}, -1.0, 1.0, {{"A", {250, 255}}, {"B", {-128, -120}}}, 11};
  CHECK(testing::check_schedule(g, t, extreme) == 3);
}

TEST_CASE("tensorize: x86.avx512.fp32_outer_product, assembly for skylake-avx512, run where possible") {
  ir::PrimFunc f = matmul(64, 64, 64);
  tir::Schedule s(f);
  tir::LoopRV i1 = tile_matmul(s, 4, 16, 4);
  s.tensorize(i1, "x86.avx512.fp32_outer_product");
  CHECK(count(ir::to_text(s.func()), "T.fma(") == 16);
  std::string asm_text = backend::llvm::emit_assembly(s.func(), Target("llvm -mcpu=skylake-avx512"));
  CHECK(asm_text.find("vfmadd") != std::string::npos);
  CHECK(asm_text.find("zmm") != std::string::npos);
  CHECK(lines_with(asm_text, "vfmadd", "zmm") >= 16);  // the 16 FMAs of the tile, on zmm registers
  // The same IR is plain vector code: for this (AVX2) machine LLVM splits it into ymm halves, so it
  // runs and is checked here too.
  CHECK(testing::check_schedule(f, s) == 3);
  if (!host_has("avx512f")) {
    MESSAGE("skipping the AVX-512 run of x86.avx512.fp32_outer_product: this CPU has no avx512f");
    return;
  }
  CHECK(testing::check_against_interpreter(f, s.func()) == 3);
}

TEST_CASE("tensorize: x86.avx512.vnni_int8_dot calls vpdpbusd, run where the CPU has VNNI") {
  ir::PrimFunc f = int8_packed_matmul(4, 32, 64, 16);
  tir::Schedule s(f);
  auto loops = s.get_loops(s.get_block("C"));
  s.reorder({loops[3], loops[2]});
  s.tensorize(loops[2], "x86.avx512.vnni_int8_dot");
  std::string text = ir::to_text(s.func());
  CHECK(contains_all(text, {"call_llvm_intrin", "llvm.x86.avx512.vpdpbusd.512", "+avx512vnni"}));
  std::string asm_text = backend::llvm::emit_assembly(s.func(), Target("llvm -mcpu=cascadelake"));
  CHECK(asm_text.find("vpdpbusd") != std::string::npos);
  CHECK(asm_text.find("zmm") != std::string::npos);
  // A target without VNNI is refused before LLVM would abort in instruction selection.
  std::string e = error_of([&] { backend::llvm::emit_assembly(s.func(), Target("llvm -mcpu=haswell")); });
  CHECK(contains_all(e, {"'main'", "llvm.x86.avx512.vpdpbusd.512", "'+avx512vnni'", "haswell", "lacks them"}));
  if (!host_has("avx512vnni")) {
    e = error_of([&] { kiln::build(s.func(), Target("llvm")); });
    CHECK(contains_all(e, {"llvm.x86.avx512.vpdpbusd.512", "'+avx512vnni'", "lacks them"}));
    MESSAGE("skipping the run of x86.avx512.vnni_int8_dot: this CPU has no avx512vnni");
    return;
  }
  CHECK(testing::check_schedule(f, s, kInt8Ranges) == 3);
}

TEST_CASE("tensorize: errors") {
  SUBCASE("unknown intrinsic lists the registered ones") {
    tir::Schedule s(matmul(64, 64, 64));
    tir::LoopRV i1 = tile_matmul(s, 4, 8, 4);
    ir::PrimFunc before = s.func();
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.fp16_outer_product"); });
    CHECK(contains_all(e, {"tensorize", "no tensor intrinsic named 'x86.avx2.fp16_outer_product'", "registered:",
                           "'x86.avx2.fp32_outer_product'", "'x86.avx512.vnni_int8_dot'"}));
    CHECK(s.func().same_as(before));
  }
  SUBCASE("tile extent") {
    tir::Schedule s(matmul(64, 64, 64));
    tir::LoopRV i1 = tile_matmul(s, 4, 16, 4);
    ir::PrimFunc before = s.func();
    size_t steps = s.trace().size();
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.fp32_outer_product"); });
    CHECK(contains_all(e, {"tensorize: loop 'i0_1'", "does not match tensor intrinsic 'x86.avx2.fp32_outer_product'",
                           "extent mismatch", "iteration variable 1 ('v_i1_i') has extent 16", "('vj') has 8",
                           "split the loop so its inner part has extent 8"}));
    CHECK(s.func().same_as(before));  // neither blockized nor recorded
    CHECK(s.trace().size() == steps);
  }
  SUBCASE("number of tile iterators") {
    tir::Schedule s(matmul(64, 64, 64));
    tir::LoopRV i1 = tile_matmul(s, 4, 8, 1);
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.fp32_outer_product"); });
    CHECK(contains_all(e, {"extent mismatch", "the tile iterates 2 variables of extent > 1 (v_i0_i:4, v_i1_i:8)",
                           "the intrinsic 3 (vi:4, vj:8, vk:4)"}));
  }
  SUBCASE("dtype") {
    tir::Schedule s(matmul(64, 64, 64, /*use_f64=*/true));
    tir::LoopRV i1 = tile_matmul(s, 4, 8, 4);
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.fp32_outer_product"); });
    CHECK(contains_all(e, {"tensorize", "dtype mismatch", "float64", "float32"}));
  }
  SUBCASE("expression") {
    tir::Schedule s(maxmul(64, 64, 64));
    tir::LoopRV i1 = tile_matmul(s, 4, 8, 4);
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.fp32_outer_product"); });
    CHECK(contains_all(e, {"tensorize", "expression mismatch", "T.max(", "is not of the form"}));
  }
  SUBCASE("buffer access pattern") {
    tir::Schedule s(matmul_nt(64, 64, 64));
    tir::LoopRV i1 = tile_matmul(s, 4, 8, 4);
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.fp32_outer_product"); });
    CHECK(contains_all(e, {"tensorize", "buffer access pattern mismatch", "access B[", "is not the description's B[vk, vj]",
                           "shifted by an offset that stays fixed over the tile"}));
  }
  SUBCASE("a leaf block has no tile inside") {
    tir::Schedule s(matmul(64, 64, 64));
    tile_matmul(s, 4, 8, 4);
    std::string e = error_of([&] { s.tensorize(s.get_block("C"), "x86.avx2.fp32_outer_product"); });
    CHECK(contains_all(e, {"tensorize: block 'C'", "not a single block", "tensorize a loop to blockize it first"}));
  }
  SUBCASE("iteration kind") {
    // A tile whose k is spatial: tensorize the elementwise scale as if it were the int8 dot's (j, k).
    ir::PrimFunc f = scale2d(8, 4);
    tir::Schedule s(f);
    auto [i, j] = s.get_loops<2>(s.get_block("C"));
    auto [i0, i1] = s.split<2>(i, {std::nullopt, 8});
    std::string e = error_of([&] { s.tensorize(i1, "x86.avx2.int8_dot"); });
    CHECK(contains_all(e, {"tensorize", "iteration kind mismatch", "'v_i1_i' is spatial", "'vk' is reduce"}));
  }
}
