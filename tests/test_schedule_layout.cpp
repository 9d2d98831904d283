// tir::IndexMap and the layout primitives (transform_layout, transform_block_layout, pad_einsum,
// decompose_padding): golden printed IR, numerical equality with the interpreter (LLVM JIT),
// trace replay and C++ printing, and the text of the errors a refused primitive gives.
#include <doctest/doctest.h>

#include "kiln/ir/parser.hpp"
#include "schedule_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using testing::contains_all;
using testing::error_of;
using tir::BufferIndexType;

namespace {

std::vector<ir::Expr> shape(std::initializer_list<int64_t> dims) {
  std::vector<ir::Expr> out;
  for (int64_t d : dims) out.push_back(ir::int_imm(d));
  return out;
}
std::string texts(const std::vector<ir::Expr>& es) {
  std::string s;
  for (auto& e : es) s += (s.empty() ? "" : ", ") + ir::to_text(e);
  return s;
}

// B = A * 2 (10 x 6), C = transpose(B) + 1: B is an intermediate buffer.
ir::PrimFunc pipeline(int64_t rows = 10) {
  auto A = placeholder<f32>({rows, 6}, "A");
  auto B = compute({rows, 6}, [&](Index i, Index j) { return A(i, j) * 2.0; }, "B");
  auto C = compute({6, rows}, [&](Index i, Index j) { return B(j, i) + 1.0; }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc matmul(int64_t M, int64_t N, int64_t K) {
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({K, N}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
  return create_prim_func({A, B, C});
}
ir::PrimFunc row_max(int64_t n, int64_t m) {
  auto A = placeholder<f32>({n, m}, "A");
  auto k = reduce_axis(m, "k");
  auto C = compute({n}, [&](Index i) { return te::max(A(i, k), k); }, "C");
  return create_prim_func({A, C});
}

}  // namespace

// ---- IndexMap ---------------------------------------------------------------------------------------

TEST_CASE("IndexMap: built from lambdas, applied, shapes, text and C++") {
  tir::IndexMap pack([](Index i, Index j) { return std::vector<Index>{j, i / 4, i % 4}; });
  CHECK(pack.num_inputs() == 2);
  CHECK(pack.num_outputs() == 3);
  CHECK(pack.to_text() == "(i0, i1) => (i1, i0 // 4, i0 % 4)");
  CHECK(pack.to_cpp() ==
        "tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{i1, te::floordiv(i0, 4), "
        "te::floormod(i0, 4)}; })");
  CHECK(texts(pack.map_shape(shape({10, 6}))) == "6, 3, 4");
  CHECK(texts(pack.map_shape(shape({12, 6}))) == "6, 3, 4");
  CHECK(texts(pack.apply(shape({9, 5}))) == "5, 2, 1");
  ir::Var x("x"), y("y");
  CHECK(texts(pack.apply({x, y})) == "y, x // 4, x % 4");
  // Other return forms: a tuple (integers allowed), an array, a single index.
  auto tup = tir::IndexMap::from([](Index i, Index j) { return std::tuple{0, j, i}; });
  CHECK(tup.to_text() == "(i0, i1) => (0, i1, i0)");
  CHECK(tup.to_cpp() == "tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{te::Index(0), i1, i0}; })");
  tir::IndexMap arr([](Index i, Index j, Index k) { return std::array<Index, 2>{i * 6 + j, k}; });
  CHECK(texts(arr.map_shape(shape({5, 6, 7}))) == "30, 7");
  tir::IndexMap one([](Index i) { return floordiv(i, 8) * 8 + floormod(i, 8); });
  CHECK(one.to_text() == "(i0) => (i0)");  // simplified
  // Symbolic shapes.
  ir::Var n("n");
  CHECK(texts(pack.map_shape({n, ir::int_imm(6)})) == "6, (n + 3) // 4, 4");
}

TEST_CASE("IndexMap: inverse of permutations, packing and fusing; padding predicate") {
  tir::IndexMap t([](Index i, Index j) { return std::vector<Index>{j, i}; });
  CHECK(t.inverse(shape({10, 6})).to_text() == "(y0, y1) => (y1, y0)");
  tir::IndexMap fuse([](Index i, Index j) { return i * 6 + j; });
  CHECK(fuse.inverse(shape({10, 6})).to_text() == "(y0) => (y0 // 6, y0 % 6)");
  tir::IndexMap pack([](Index i, Index j) { return std::vector<Index>{j, i / 4, i % 4}; });
  CHECK(pack.inverse(shape({12, 6})).to_text() == "(y0, y1, y2) => (y1 * 4 + y2, y0)");
  auto nsi = pack.non_surjective_inverse(shape({10, 6}));
  CHECK(nsi.map.to_text() == "(y0, y1, y2) => (y1 * 4 + y2, y0)");
  CHECK(ir::to_text(nsi.padding) == "y1 * 4 + y2 >= 10");
  // inverse(apply(x)) == x at every point.
  auto inv = pack.inverse(shape({12, 6}));
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t j = 0; j < 6; ++j) CHECK(texts(inv.apply(pack.apply(shape({i, j})))) == texts(shape({i, j})));
  // A map with a constant output (a new unit dimension) and nested splits.
  CHECK(tir::IndexMap::from_text("(a) => (0, a)").inverse(shape({5})).to_text() == "(y0, y1) => (y1)");
  CHECK(tir::IndexMap::from_text("(a) => (a // 8, a % 8 // 2, a % 2)").inverse(shape({32})).to_text() ==
        "(y0, y1, y2) => (y0 * 8 + y1 * 2 + y2)");
}

TEST_CASE("IndexMap: text round trip") {
  for (const char* text : {"(i0, i1) => (i1, i0 // 4, i0 % 4)", "(a, b, c) => (a * 12 + b * 4 + c)", "(i) => (0, i)",
                           "(i, j) => (min(i, j), max(i, 3))", "(i) => (i * 3 - 1)"}) {
    CHECK(tir::IndexMap::from_text(text).to_text() == text);
  }
  CHECK(tir::IndexMap::from_text("( i , j )=>(j,i)").to_text() == "(i, j) => (j, i)");
  CHECK(tir::IndexMap::from_text("(i) => i // 2").to_text() == "(i) => (i // 2)");
  CHECK(tir::IndexMap::from_text("(i) => (i + 2) * 3").to_text() == "(i) => (i * 3 + 6)");
  auto m = tir::IndexMap([](Index i, Index j) { return std::vector<Index>{j, (i + j) / 3}; });
  CHECK(tir::IndexMap::from_text(m.to_text()).to_text() == m.to_text());
}

TEST_CASE("error: IndexMap inverses of maps that are not one-to-one") {
  auto err = [](const char* text, std::vector<ir::Expr> s) {
    return error_of([&] { tir::IndexMap::from_text(text).inverse(s); });
  };
  CHECK(contains_all(err("(i, j) => (i + j)", shape({10, 6})),
                     {"IndexMap (i, j) => (i + j) is not invertible over the shape (10, 6)", "two indices can map to the same place"}));
  CHECK(contains_all(err("(i, j) => (i)", shape({10, 6})), {"input 'j' is not used"}));
  CHECK(contains_all(err("(i, j) => (i, i, j)", shape({10, 6})), {"input 'i' is used twice"}));
  CHECK(contains_all(err("(i) => (i // 4)", shape({10})), {"input 'i' has a part no output uses"}));
  CHECK(contains_all(err("(i) => (min(i, 3))", shape({10})), {"uses min, which is not invertible"}));
  CHECK(contains_all(err("(i) => (i // 4, i % 4)", shape({10})),
                     {"is not a bijection over the shape (10)", "mapped shape (3, 4)", "y0 * 4 + y1 >= 10",
                      "non_surjective_inverse"}));
  CHECK(contains_all(err("(i, j) => (i * j)", shape({4, 4})), {"multiplies two indices"}));
  CHECK(contains_all(err("(i) => (i // 6, i % 6 // 4, i % 4)", shape({12})), {"splits a part of 'i' of extent 6 by 4"}));
}

TEST_CASE("error: malformed IndexMap text and lambdas") {
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i j) => (i)"); }),
                     {"IndexMap::from_text: expected ','", "(i j) => (i)", "the form is"}));
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i) => (k)"); }), {"'k' is not an input of the map"}));
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i, i) => (i)"); }), {"the input 'i' is named twice"}));
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i) -> (i)"); }), {"expected '=>'"}));
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i) => (i) x"); }), {"unexpected text after the outputs"}));
  auto n = te::var("n");
  CHECK(contains_all(error_of([&] { tir::IndexMap([&](Index i) { return i * n; }); }),
                     {"uses 'n', which is not an input of the map"}));
  CHECK(contains_all(error_of([] { tir::IndexMap([](Index i) { return select(i < 3, i, Index(0)); }); }),
                     {"is not index arithmetic"}));
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i) => (i - 3)").map_shape(shape({4})); }),
                     {"output 0 (i - 3) can be negative", "layouts need indices >= 0"}));
  CHECK(contains_all(error_of([] { tir::IndexMap::from_text("(i) => (i)").map_shape(shape({4, 4})); }),
                     {"takes 1 indices but the shape has 2 dimensions"}));
  CHECK(contains_all(error_of([] { tir::IndexMap().to_cpp(); }), {"the map is empty"}));
}

// ---- transform_layout -------------------------------------------------------------------------------

TEST_CASE("transform_layout: transpose of an intermediate buffer") {
  ir::PrimFunc f = pipeline();
  tir::Schedule s(f);
  s.transform_layout(s.get_block("B"), BufferIndexType::Write, 0, [](Index i, Index j) { return std::vector<Index>{j, i}; });
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((10, 6), "float32"), C: T.Buffer((6, 10), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((6, 10), "float32")
        for i0 in T.serial(0, 10):
            for i1 in T.serial(0, 6):
                with T.block("B"):
                    v_i0 = T.axis.spatial(10, i0)
                    v_i1 = T.axis.spatial(6, i1)
                    T.reads(A[v_i0, v_i1])
                    T.writes(B[v_i1, v_i0])
                    B[v_i1, v_i0] = A[v_i0, v_i1] * T.float32(2)
        for i0_1 in T.serial(0, 6):
            for i1_1 in T.serial(0, 10):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(6, i0_1)
                    v_i1_1 = T.axis.spatial(10, i1_1)
                    T.reads(B[v_i0_1, v_i1_1])
                    T.writes(C[v_i0_1, v_i1_1])
                    C[v_i0_1, v_i1_1] = B[v_i0_1, v_i1_1] + T.float32(1)
)");
  CHECK(testing::check_schedule(f, s) == 2);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("B");
s.transform_layout(b0, tir::BufferIndexType::Write, 0, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{i1, i0}; }));
)");
}

TEST_CASE("transform_layout: packing i -> (i // 4, i % 4) with padding filled by a pad block") {
  ir::PrimFunc f = pipeline(10);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  s.transform_layout(c, BufferIndexType::Read, 0, [](Index i, Index j) { return std::vector<Index>{i / 4, j, i % 4}; }, -1.0);
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((10, 6), "float32"), C: T.Buffer((6, 10), "float32")):
    with T.block("root"):
        B = T.alloc_buffer((3, 6, 4), "float32")
        for i0 in T.serial(0, 10):
            for i1 in T.serial(0, 6):
                with T.block("B"):
                    v_i0 = T.axis.spatial(10, i0)
                    v_i1 = T.axis.spatial(6, i1)
                    T.reads(A[v_i0, v_i1])
                    T.writes(B[v_i0 // 4, v_i1, v_i0 % 4])
                    B[v_i0 // 4, v_i1, v_i0 % 4] = A[v_i0, v_i1] * T.float32(2)
        for ax0 in T.serial(0, 3):
            for ax1 in T.serial(0, 6):
                for ax2 in T.serial(0, 4):
                    with T.block("B_pad"):
                        v_ax0 = T.axis.spatial(3, ax0)
                        v_ax1 = T.axis.spatial(6, ax1)
                        v_ax2 = T.axis.spatial(4, ax2)
                        T.where(ax0 * 4 + ax2 >= 10)
                        T.writes(B[v_ax0, v_ax1, v_ax2])
                        B[v_ax0, v_ax1, v_ax2] = T.float32(-1)
        for i0_1 in T.serial(0, 6):
            for i1_1 in T.serial(0, 10):
                with T.block("C"):
                    v_i0_1 = T.axis.spatial(6, i0_1)
                    v_i1_1 = T.axis.spatial(10, i1_1)
                    T.reads(B[v_i1_1 // 4, v_i0_1, v_i1_1 % 4])
                    T.writes(C[v_i0_1, v_i1_1])
                    C[v_i0_1, v_i1_1] = B[v_i1_1 // 4, v_i0_1, v_i1_1 % 4] + T.float32(1)
)");
  CHECK(testing::check_schedule(f, s) == 2);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("C");
s.transform_layout(b0, tir::BufferIndexType::Read, 0, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{te::floordiv(i0, 4), i1, te::floormod(i0, 4)}; }), -1);
)");
}

TEST_CASE("transform_layout: packing without padding, then split and reorder over the packed layout") {
  ir::PrimFunc f = pipeline(12);
  tir::Schedule s(f);
  auto b = s.get_block("B");
  s.transform_layout(b, BufferIndexType::Write, 0, [](Index i, Index j) { return std::vector<Index>{i / 4, j, i % 4}; }, 0.0);
  // No padding: the pad value is not needed and no pad block appears.
  CHECK(ir::to_text(s.func()).find("B_pad") == std::string::npos);
  auto [i, j] = s.get_loops<2>(b);
  auto [io, ii] = s.split<2>(i, {std::nullopt, 4});
  s.reorder({io, j, ii});
  CHECK(ir::to_text(s.func()).find("T.writes(B[v_i0 // 4, v_i1, v_i0 % 4])") != std::string::npos);
  CHECK(testing::check_schedule(f, s) == 2);
}

TEST_CASE("transform_layout: split first, then the accesses simplify with the loop domains") {
  ir::PrimFunc f = pipeline(12);
  tir::Schedule s(f);
  auto b = s.get_block("B");
  auto [i, j] = s.get_loops<2>(b);
  s.split(i, {std::nullopt, 4});
  (void)j;
  s.transform_layout(b, BufferIndexType::Write, 0, [](Index i, Index j) { return std::vector<Index>{i / 4, j, i % 4}; });
  CHECK(ir::to_text(s.func()).find("B[v_i0 // 4, v_i1, v_i0 % 4] = A[v_i0, v_i1]") != std::string::npos);
  CHECK(testing::check_schedule(f, s) == 2);
}

TEST_CASE("transform_layout of a parameter changes the calling layout") {
  ir::PrimFunc f = matmul(12, 10, 8);
  tir::Schedule s(f);
  // B (8 x 10) becomes B^T (10 x 8); the caller passes it transposed.
  s.transform_layout(s.get_block("C"), BufferIndexType::Read, 2, [](Index k, Index j) { return std::vector<Index>{j, k}; });
  CHECK(texts(s.func()->param_buffers[1]->shape) == "10, 8");
  CHECK(s.func()->params[1].same_as(s.func()->param_buffers[1]->data));
  CHECK(ir::to_text(s.func()).find("A[v_i0, v_k] * B[v_i1, v_k]") != std::string::npos);
  // The transformed function, JIT-compiled, agrees with the interpreter running it.
  CHECK(testing::check_against_interpreter(s.func(), s.func()) == 3);
  // And by hand with the original: pass B transposed.
  std::mt19937_64 rng(3);
  auto a = testing::random_tensor({12, 8}, DataType::float_(32), rng, -1, 1);
  auto bm = testing::random_tensor({8, 10}, DataType::float_(32), rng, -1, 1);
  auto bt = runtime::Tensor::empty({10, 8}, DataType::float_(32));
  for (int64_t k = 0; k < 8; ++k)
    for (int64_t j = 0; j < 10; ++j) bt.at<float>({j, k}) = bm.at<float>({k, j});
  auto c_ref = runtime::Tensor::zeros({12, 10}, DataType::float_(32));
  auto c_new = runtime::Tensor::zeros({12, 10}, DataType::float_(32));
  tir::interpret(f, {a, bm, c_ref});
  runtime::Module mod = kiln::build(s.mod(), Target("llvm"));
  mod["main"].call({a, bt, c_new});
  CHECK(testing::compare(c_ref, c_new, "C").empty());
  CHECK(ir::structural_equal(s.trace().apply_to(f), s.func()));
}

TEST_CASE("transform_layout of an output parameter with padding and a pad value") {
  auto A = placeholder<f32>({10}, "A");
  auto C = compute({10}, [&](Index i) { return A(i) + 1.0; }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  tir::Schedule s(f);
  s.transform_layout(s.get_block("C"), BufferIndexType::Write, 0, [](Index i) { return std::vector<Index>{i / 4, i % 4}; }, 7.0);
  CHECK(texts(s.func()->param_buffers[1]->shape) == "3, 4");
  CHECK(testing::check_against_interpreter(s.func(), s.func()) == 2);
  std::mt19937_64 rng(5);
  auto a = testing::random_tensor({10}, DataType::float_(32), rng, -1, 1);
  auto c = runtime::Tensor::zeros({3, 4}, DataType::float_(32));
  kiln::build(s.mod(), Target("llvm"))["main"].call({a, c});
  for (int64_t i = 0; i < 12; ++i) {
    float got = c.at<float>({i / 4, i % 4});
    CHECK(got == doctest::Approx(i < 10 ? a.at<float>({i}) + 1.0f : 7.0f));
  }
  CHECK(ir::structural_equal(s.trace().apply_to(f), s.func()));
}

TEST_CASE("error: transform_layout") {
  ir::PrimFunc f = pipeline();
  tir::Schedule s(f);
  auto b = s.get_block("B");
  auto t = [](Index i, Index j) { return std::vector<Index>{j, i}; };
  CHECK(contains_all(error_of([&] { s.transform_layout(b, BufferIndexType::Read, 3, t); }),
                     {"transform_layout: block 'B' has 1 read buffer (0: 'A'); read buffer index 3 is out of range"}));
  CHECK(contains_all(error_of([&] { s.transform_layout(b, BufferIndexType::Write, 0, [](Index i) { return i; }); }),
                     {"transform_layout: buffer 'B' (write 0 of block 'B') has 2 dimensions", "takes 1 indices"}));
  CHECK(contains_all(error_of([&] { s.transform_layout(b, BufferIndexType::Write, 0, tir::IndexMap::from_text("(i, j) => (i + j)")); }),
                     {"transform_layout: buffer 'B'", "is not invertible over the shape (10, 6)"}));
  CHECK(contains_all(error_of([&] {
                       s.transform_layout(b, BufferIndexType::Read, 0, [](Index i, Index j) { return std::vector<Index>{i / 4, j, i % 4}; }, 0.0);
                     }),
                     {"transform_layout: buffer 'A' (read 0 of block 'B')", "no block writes it",
                      "Call transform_layout without a pad_value"}));
  CHECK(s.trace().size() == 1);  // refused calls record nothing
  CHECK(ir::structural_equal(s.func(), f));
}

TEST_CASE("error: transform_layout refuses padding a block reads as a whole region") {
  // A gather reads a whole row of the table: a region that would include the padding.
  auto T = placeholder<f32>({10, 5}, "T");
  auto idx = placeholder<i64>({3}, "idx");
  auto C = compute({3, 5}, [&](Index i, Index j) { return T(idx(i), j); }, "C");
  ir::PrimFunc f = create_prim_func({T, idx, C});
  tir::Schedule s(f);
  auto c = s.get_block("C");
  std::string e = error_of([&] {
    s.transform_layout(c, BufferIndexType::Read, 0, [](Index i, Index j) { return std::vector<Index>{i / 4, j, i % 4}; });
  });
  CHECK(contains_all(e, {"transform_layout: buffer 'T' (read 0 of block 'C')", "accesses a region of it that includes the padding",
                         "give a pad_value"}));
  // Without padding the same gather is fine.
  s.transform_layout(c, BufferIndexType::Read, 0, [](Index i, Index j) { return std::vector<Index>{j, i}; });
  CHECK(testing::check_against_interpreter(s.func(), s.func(), {{{}}, -1, 1, {{"idx", {0, 9}}}}) == 3);
}

// ---- transform_block_layout -------------------------------------------------------------------------

TEST_CASE("transform_block_layout: fuse the iteration space of a block into one loop") {
  ir::PrimFunc f = pipeline();
  tir::Schedule s(f);
  auto c = s.get_block("C");
  s.transform_block_layout(c, [](Index i, Index j) { return i * 10 + j; });
  CHECK(ir::to_text(s.func()).find(R"(        for ax0 in T.serial(0, 60):
            with T.block("C"):
                v_i0_1 = T.axis.spatial(6, ax0 // 10)
                v_i1_1 = T.axis.spatial(10, ax0 % 10)
                T.reads(B[v_i1_1, v_i0_1])
)") != std::string::npos);
  CHECK(testing::check_schedule(f, s) == 2);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("C");
s.transform_block_layout(b0, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{i0 * 10 + i1}; }));
)");
}

TEST_CASE("transform_block_layout: permute and tile a matmul's iteration space, then split and reorder") {
  ir::PrimFunc f = matmul(16, 12, 8);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  s.transform_block_layout(c, [](Index i, Index j, Index k) { return std::vector<Index>{i / 4, j, k, i % 4}; });
  CHECK(ir::to_text(s.func()).find("v_i0 = T.axis.spatial(16, ax0 * 4 + ax3)") != std::string::npos);
  auto loops = s.get_loops(c);
  CHECK(loops.size() == 4);
  auto [jo, ji] = s.split<2>(loops[1], {std::nullopt, 4});
  s.reorder({jo, loops[0], loops[2], ji, loops[3]});
  CHECK(testing::check_schedule(f, s) == 3);
}

TEST_CASE("error: transform_block_layout") {
  ir::PrimFunc f = matmul(16, 12, 8);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  CHECK(contains_all(error_of([&] { s.transform_block_layout(c, [](Index i, Index j) { return std::vector<Index>{j, i}; }); }),
                     {"transform_block_layout: block 'C' has 3 iteration variables but the index map", "takes 2 indices"}));
  CHECK(contains_all(error_of([&] {
                       s.transform_block_layout(c, [](Index i, Index j, Index k) { return std::vector<Index>{i / 5, j, k, i % 5}; });
                     }),
                     {"transform_block_layout: block 'C'", "is not a bijection over the shape (16, 12, 8)"}));
  auto [i, j, k] = s.get_loops<3>(c);
  s.split(i, {std::nullopt, 5});
  CHECK(contains_all(error_of([&] { s.transform_block_layout(c, [](Index i, Index j, Index k) { return std::vector<Index>{j, i, k}; }); }),
                     {"transform_block_layout: block 'C' has the predicate", "needs a block that runs at every point of its loops"}));
  tir::Schedule s2(f);
  auto c2 = s2.get_block("C");
  auto l2 = s2.get_loops(c2);
  s2.split(l2[1], {std::nullopt, 4});
  CHECK(contains_all(error_of([&] { s2.transform_block_layout(c2, [](Index i, Index j, Index k) { return std::vector<Index>{j, i, k}; }); }),
                     {"transform_block_layout: block 'C' has non-trivial bindings or sits under loops that are not its own",
                      "loop 'i1_0' is not the binding of one of its iteration variables"}));
  tir::Schedule s3(f);
  auto c3 = s3.get_block("C");
  s3.parallel(s3.get_loops(c3)[0]);
  CHECK(contains_all(error_of([&] { s3.transform_block_layout(c3, [](Index i, Index j, Index k) { return std::vector<Index>{j, i, k}; }); }),
                     {"loop 'i0' is parallel", "set loop kinds and annotations after it"}));
  (void)j;
  (void)k;
}

// ---- pad_einsum ---------------------------------------------------------------------------------------

TEST_CASE("pad_einsum: matmul 30x30x30 padded to multiples of 8") {
  ir::PrimFunc f = matmul(30, 30, 30);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  s.pad_einsum(c, {8, 8, 8});
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((30, 30), "float32"), B: T.Buffer((30, 30), "float32"), C: T.Buffer((30, 30), "float32")):
    with T.block("root"):
        C_pad = T.alloc_buffer((32, 32), "float32")
        A_pad = T.alloc_buffer((32, 32), "float32")
        B_pad = T.alloc_buffer((32, 32), "float32")
        for ax0 in T.serial(0, 32):
            for ax1 in T.serial(0, 32):
                with T.block("A_pad"):
                    v_ax0 = T.axis.spatial(32, ax0)
                    v_ax1 = T.axis.spatial(32, ax1)
                    T.reads(A[v_ax0, v_ax1])
                    T.writes(A_pad[v_ax0, v_ax1])
                    A_pad[v_ax0, v_ax1] = T.if_then_else(v_ax0 < 30 and v_ax1 < 30, A[v_ax0, v_ax1], T.float32(0))
        for ax0_1 in T.serial(0, 32):
            for ax1_1 in T.serial(0, 32):
                with T.block("B_pad"):
                    v_ax0_1 = T.axis.spatial(32, ax0_1)
                    v_ax1_1 = T.axis.spatial(32, ax1_1)
                    T.reads(B[v_ax0_1, v_ax1_1])
                    T.writes(B_pad[v_ax0_1, v_ax1_1])
                    B_pad[v_ax0_1, v_ax1_1] = T.if_then_else(v_ax0_1 < 30 and v_ax1_1 < 30, B[v_ax0_1, v_ax1_1], T.float32(0))
        for i0 in T.serial(0, 32):
            for i1 in T.serial(0, 32):
                for k in T.serial(0, 32):
                    with T.block("C"):
                        v_i0 = T.axis.spatial(32, i0)
                        v_i1 = T.axis.spatial(32, i1)
                        v_k = T.axis.reduce(32, k)
                        T.reads(C_pad[v_i0, v_i1], A_pad[v_i0, v_k], B_pad[v_k, v_i1])
                        T.writes(C_pad[v_i0, v_i1])
                        with T.init():
                            C_pad[v_i0, v_i1] = T.float32(0)
                        C_pad[v_i0, v_i1] = C_pad[v_i0, v_i1] + A_pad[v_i0, v_k] * B_pad[v_k, v_i1]
        for ax0_2 in T.serial(0, 30):
            for ax1_2 in T.serial(0, 30):
                with T.block("C_unpad"):
                    v_ax0_2 = T.axis.spatial(30, ax0_2)
                    v_ax1_2 = T.axis.spatial(30, ax1_2)
                    T.reads(C_pad[v_ax0_2, v_ax1_2])
                    T.writes(C[v_ax0_2, v_ax1_2])
                    C[v_ax0_2, v_ax1_2] = C_pad[v_ax0_2, v_ax1_2]
)");
  CHECK(testing::check_schedule(f, s) == 3);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("C");
s.pad_einsum(b0, {8, 8, 8});
)");
}

TEST_CASE("pad_einsum then tiling by the padding factor needs no predicate") {
  ir::PrimFunc f = matmul(30, 30, 30);
  tir::Schedule s(f);
  auto c = s.get_block("C");
  s.pad_einsum(c, {8, 8, 8});
  auto [i, j, k] = s.get_loops<3>(c);
  auto [io, ii] = s.split<2>(i, {std::nullopt, 8});
  auto [jo, ji] = s.split<2>(j, {std::nullopt, 8});
  s.reorder({io, jo, k, ii, ji});
  s.vectorize(ji);
  CHECK(ir::to_text(s.func()).find("T.where") == std::string::npos);
  CHECK(testing::check_schedule(f, s) == 3);
}

TEST_CASE("pad_einsum on a corpus matmul with only some axes padded, and a batch matmul") {
  const auto& mm = testing::corpus_case("matmul");  // 37 x 45, k = 29
  tir::Schedule s(mm.build());
  s.pad_einsum(s.get_block("C"), {1, 16, 1});
  std::string text = ir::to_text(s.func());
  CHECK(text.find("A_pad") == std::string::npos);  // A has no padded dimension: read as it is
  CHECK(text.find("B_pad = T.alloc_buffer((29, 48)") != std::string::npos);
  CHECK(testing::check_schedule(mm.build(), s, testing::options_of(mm)) == 3);
  const auto& bmm = testing::corpus_case("batch_matmul");
  ir::PrimFunc bf = bmm.build();
  tir::Schedule s2(bf);
  auto blocks = s2.get_child_blocks(s2.get_block("root"));
  s2.pad_einsum(blocks.back(), {4, 4, 4, 4});
  CHECK(testing::check_schedule(bf, s2, testing::options_of(bmm)) == 3);
}

TEST_CASE("error: pad_einsum") {
  tir::Schedule s(matmul(30, 30, 30));
  auto c = s.get_block("C");
  CHECK(contains_all(error_of([&] { s.pad_einsum(c, {8, 8}); }),
                     {"pad_einsum: block 'C' has 3 iteration variables but 2 padding factors were given"}));
  CHECK(contains_all(error_of([&] { s.pad_einsum(c, {8, 0, 8}); }), {"pad_einsum: block 'C': padding factor 1 is 0"}));
  tir::Schedule s2(pipeline());
  CHECK(error_of([&] { s2.pad_einsum(s2.get_block("C"), {4, 4}); }).empty());  // a transpose is einsum-like
  tir::Schedule s3(testing::corpus_case("conv2d_nchw_pad1").build());
  CHECK(contains_all(error_of([&] { s3.pad_einsum(s3.get_block("conv"), {1, 8, 1, 1, 1, 1, 1}); }),
                     {"pad_einsum: block 'conv' is not einsum-like: buffer 'pad' is indexed by", "which is not one of the block's iteration variables"}));
  tir::Schedule s4(row_max(6, 30));
  CHECK(contains_all(error_of([&] { s4.pad_einsum(s4.get_block("C"), {1, 8}); }),
                     {"pad_einsum: block 'C': padding the reduction variable 'v_k' from 30 to 32",
                      "only exact for a sum of products"}));
  s4.pad_einsum(s4.get_block("C"), {8, 1});  // padding the spatial axis of a max is fine
  CHECK(testing::check_against_interpreter(row_max(6, 30), s4.func()) == 2);
}

// ---- decompose_padding --------------------------------------------------------------------------------

TEST_CASE("decompose_padding: conv2d padding split into a constant fill and an in-bounds copy") {
  const auto& cc = testing::corpus_case("conv2d_nchw_pad1");
  ir::PrimFunc f = cc.build();
  tir::Schedule s(f);
  auto pad = s.get_block("pad");
  auto loops = s.get_loops(pad);
  auto fill = s.decompose_padding(pad, loops[0]);
  CHECK(s.block_name(fill) == "pad_pad_const");
  std::string text = ir::to_text(s.func());
  CHECK(text.find(R"(        for i0 in T.serial(0, 1):
            for i1 in T.serial(0, 4):
                for i2 in T.serial(0, 12):
                    for i3 in T.serial(0, 12):
                        with T.block("pad_pad_const"):
                            v_i0 = T.axis.spatial(1, i0)
                            v_i1 = T.axis.spatial(4, i1)
                            v_i2 = T.axis.spatial(12, i2)
                            v_i3 = T.axis.spatial(12, i3)
                            T.writes(pad[v_i0, v_i1, v_i2, v_i3])
                            pad[v_i0, v_i1, v_i2, v_i3] = T.float32(0)
        for i0_1 in T.serial(0, 1):
            for i1_1 in T.serial(0, 4):
                for i2_1 in T.serial(0, 12):
                    for i3_1 in T.serial(0, 12):
                        with T.block("pad"):
                            v_i0_1 = T.axis.spatial(1, i0_1)
                            v_i1_1 = T.axis.spatial(4, i1_1)
                            v_i2_1 = T.axis.spatial(12, i2_1)
                            v_i3_1 = T.axis.spatial(12, i3_1)
                            T.where(i2_1 >= 1 and i2_1 < 11 and i3_1 >= 1 and i3_1 < 11)
                            T.reads(X[v_i0_1, v_i1_1, v_i2_1 - 1, v_i3_1 - 1])
                            T.writes(pad[v_i0_1, v_i1_1, v_i2_1, v_i3_1])
                            pad[v_i0_1, v_i1_1, v_i2_1, v_i3_1] = X[v_i0_1, v_i1_1, v_i2_1 - 1, v_i3_1 - 1]
)") != std::string::npos);
  CHECK(testing::check_schedule(f, s, testing::options_of(cc)) == 3);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("pad");
auto [l1, l2, l3, l4] = s.get_loops<4>(b0);
auto b5 = s.decompose_padding(b0, l1);
)");
}

TEST_CASE("decompose_padding at an inner loop, on the corpus pad_constant and conv2d_nhwc_pad") {
  const auto& pc = testing::corpus_case("pad_constant");  // pad value -3.5
  tir::Schedule s(pc.build());
  auto pad = s.get_block("pad");
  auto [i, j] = s.get_loops<2>(pad);
  s.decompose_padding(pad, j);  // the fill runs inside loop i, one row at a time
  CHECK(ir::to_text(s.func()).find("= T.float32(-3.5)") != std::string::npos);
  CHECK(testing::check_schedule(pc.build(), s, testing::options_of(pc)) == 2);
  (void)i;
  const auto& nh = testing::corpus_case("conv2d_nhwc_pad");
  tir::Schedule s2(nh.build());
  auto p2 = s2.get_block("pad");
  auto l2 = s2.get_loops(p2);
  auto [yo, yi] = s2.split<2>(l2[1], {std::nullopt, 4});
  s2.decompose_padding(p2, yi);
  s2.parallel(yo);
  CHECK(testing::check_schedule(nh.build(), s2, testing::options_of(nh)) == 3);
}

TEST_CASE("error: decompose_padding") {
  const auto& cc = testing::corpus_case("conv2d_nchw_pad1");
  tir::Schedule s(cc.build());
  auto conv = s.get_block("conv");
  auto pad = s.get_block("pad");
  auto conv_loops = s.get_loops(conv);
  CHECK(contains_all(error_of([&] { s.decompose_padding(conv, conv_loops[0]); }),
                     {"decompose_padding: block 'conv' is not a padding block", "if_then_else(in_bounds, value, constant)"}));
  CHECK(contains_all(error_of([&] { s.decompose_padding(pad, conv_loops[0]); }),
                     {"decompose_padding: block 'pad': loop 'i0' (around block 'conv') is not one of its loops", "must be one of 'i0', 'i1', 'i2', 'i3'"}));
  tir::Schedule s2(pipeline());
  CHECK(contains_all(error_of([&] { s2.decompose_padding(s2.get_block("B"), s2.get_loops(s2.get_block("B"))[0]); }),
                     {"decompose_padding: block 'B' is not a padding block"}));
}

// ---- traces ---------------------------------------------------------------------------------------

namespace {
// The same calls as the C++ the trace prints below (so that printed form compiles).
void layout_schedule(tir::Schedule& s) {
  auto b0 = s.get_block("B");
  s.transform_layout(b0, tir::BufferIndexType::Write, 0, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{te::floordiv(i0, 4), i1, te::floormod(i0, 4)}; }), 0.5);
  auto b1 = s.get_block("C");
  s.transform_block_layout(b1, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{i1, i0}; }));
}
}  // namespace

TEST_CASE("trace: layout primitives replay, survive JSON and print as C++") {
  ir::PrimFunc f = pipeline();
  tir::Schedule s(f);
  layout_schedule(s);
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("B");
s.transform_layout(b0, tir::BufferIndexType::Write, 0, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{te::floordiv(i0, 4), i1, te::floormod(i0, 4)}; }), 0.5);
auto b1 = s.get_block("C");
s.transform_block_layout(b1, tir::IndexMap([](te::Index i0, te::Index i1) { return std::vector<te::Index>{i1, i0}; }));
)");
  std::string json = s.trace().to_json();
  CHECK(json.find(R"x({"kind": "transform_layout", "inputs": [{"block": 0}, {"int": 1}, {"int": 0}, {"str": "(i0, i1) => (i0 // 4, i1, i0 % 4)"}, {"float": 0.5}], "outputs": []})x") !=
        std::string::npos);
  CHECK(ir::structural_equal(tir::Trace::from_json(json).apply_to(f), s.func()));
  CHECK(testing::check_schedule(f, s) == 2);
}

TEST_CASE("pad_einsum of a block that accumulates into its output without an init copies the output in") {
  ir::PrimFunc f = ir::parse_prim_func(R"(@T.prim_func
def main(A: T.Buffer((10,), "float32"), C: T.Buffer((10,), "float32")):
    with T.block("root"):
        for i in T.serial(0, 10):
            with T.block("C"):
                v_i = T.axis.spatial(10, i)
                T.reads(C[v_i], A[v_i])
                T.writes(C[v_i])
                C[v_i] = C[v_i] + A[v_i]
)");
  tir::Schedule s(f);
  s.pad_einsum(s.get_block("C"), {8});
  std::string text = ir::to_text(s.func());
  CHECK(text.find(R"(with T.block("C_pad"):)") != std::string::npos);
  CHECK(text.find(R"(with T.block("C_unpad"):)") != std::string::npos);
  CHECK(testing::check_schedule(f, s) == 2);
}

TEST_CASE("IndexMap: inputs without distinct identifier names are renamed so the text form reads back") {
  ir::Var a("a b"), b("a b");
  tir::IndexMap m({a, b}, {ir::Expr(b), ir::floordiv(a, ir::int_imm(2))});
  CHECK(m.to_text() == "(i0, i1) => (i1, i0 // 2)");
  CHECK(tir::IndexMap::from_text(m.to_text()).to_text() == m.to_text());
  CHECK(contains_all(error_of([&] { tir::IndexMap({a, a}, {ir::Expr(a)}); }), {"tir::IndexMap: input 'a b' is given twice"}));
}
