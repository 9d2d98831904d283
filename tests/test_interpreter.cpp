// Unit tests for the reference interpreter (tir/interpreter.hpp), the call boundary
// (tir/bind_args.hpp) and the 16-bit float conversions (runtime/float16.hpp). Programs are built
// by hand with the ir/op.hpp constructors, in TensorIR form and in lowered form.
#include <doctest/doctest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "error_testing.hpp"
#include "kiln/runtime/float16.hpp"
#include "kiln/tir/bind_args.hpp"
#include "kiln/tir/interpreter.hpp"

using namespace kiln;
using namespace kiln::ir;
using runtime::Arg;
using runtime::Tensor;

namespace {

const DataType F32 = DataType::float_(32), F16 = DataType::float_(16), BF16 = DataType::bfloat16();
const DataType I32 = DataType::int_(32), I64 = DataType::int_(64);

Expr c64(int64_t v) { return int_imm(v); }
Expr fc(double v) { return float_imm(v, F32); }
Expr ld(const Buffer& b, std::vector<Expr> idx) { return buffer_load(b, std::move(idx)); }
Stmt loop(const Var& v, Expr extent, Stmt body, ForKind kind = ForKind::Serial, std::string tag = {}) {
  return for_loop(v, c64(0), std::move(extent), kind, std::move(body), std::move(tag));
}

// A 1-D compact view of b over the same memory (what flattening produces).
Buffer flat(const Buffer& b, Expr size) {
  auto n = std::make_shared<BufferNode>(*b.get());
  n->shape = {std::move(size)};
  n->strides = {};
  return Buffer(std::shared_ptr<const BufferNode>(std::move(n)));
}

Stmt root(Stmt body, std::vector<Buffer> allocs = {}) {
  BlockNode r;
  r.name = "root";
  r.body = std::move(body);
  r.alloc_buffers = std::move(allocs);
  return block_realize({}, bool_imm(true), make_block(std::move(r)));
}

IterVar iter(const Var& v, Expr extent, IterKind k = IterKind::DataPar) { return IterVar{v, Range{c64(0), std::move(extent)}, k, ""}; }

// C[n, m] = sum_k A[n, k] * B[k, m] as TensorIR with an init statement.
PrimFunc matmul_blocked(Expr n, Expr m, Expr k) {
  Buffer A = make_buffer("A", F32, {n, k}), B = make_buffer("B", F32, {k, m}), C = make_buffer("C", F32, {n, m});
  Var i("i"), j("j"), r("k"), vi("vi"), vj("vj"), vk("vk");
  BlockNode b;
  b.name = "C";
  b.iter_vars = {iter(vi, n), iter(vj, m), iter(vk, k, IterKind::CommReduce)};
  b.init = buffer_store(C, fc(0), {vi, vj});
  b.body = buffer_store(C, ld(C, {vi, vj}) + ld(A, {vi, vk}) * ld(B, {vk, vj}), {vi, vj});
  Stmt s = block_realize({i, j, r}, bool_imm(true), make_block(std::move(b)));
  s = loop(i, n, loop(j, m, loop(r, k, s)));
  return make_prim_func("main", {A, B, C}, root(s));
}

// The same matmul in lowered form: flattened 1-D buffers sharing the parameters' data.
PrimFunc matmul_lowered(int64_t n, int64_t m, int64_t k) {
  Buffer A = make_buffer("A", F32, {c64(n), c64(k)}), B = make_buffer("B", F32, {c64(k), c64(m)}),
         C = make_buffer("C", F32, {c64(n), c64(m)});
  Buffer Af = flat(A, c64(n * k)), Bf = flat(B, c64(k * m)), Cf = flat(C, c64(n * m));
  Var i("i"), j("j"), r("k");
  Expr ci = i * m + j;
  Stmt update = buffer_store(Cf, ld(Cf, {ci}) + ld(Af, {i * k + r}) * ld(Bf, {r * m + j}), {ci});
  Stmt body = loop(i, c64(n), loop(j, c64(m), seq({buffer_store(Cf, fc(0), {ci}), loop(r, c64(k), update)})));
  return make_prim_func("main", {A, B, C}, body);
}

Tensor iota_tensor(std::vector<int64_t> shape, float scale, float offset) {
  Tensor t = Tensor::empty(std::move(shape), F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = float(i % 7) * scale + offset;
  return t;
}

void check_matmul(const Tensor& A, const Tensor& B, const Tensor& C) {
  int64_t n = A.shape(0), k = A.shape(1), m = B.shape(1);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      float acc = 0;
      for (int64_t r = 0; r < k; ++r) acc = acc + A.data_as<float>()[i * k + r] * B.data_as<float>()[r * m + j];
      if (acc != C.data_as<float>()[i * m + j]) ++bad;
    }
  CHECK(bad == 0);
}

using kiln::testing::error_of;

// Runs `body` (which reads/writes the given buffers) on the given tensors.
void run(const std::vector<Buffer>& bufs, Stmt body, const std::vector<Arg>& args, std::vector<Var> scalars = {}) {
  tir::interpret(make_prim_func("main", bufs, std::move(body), std::move(scalars)), args);
}

float h(float x) { return runtime::round_to_half(x); }

}  // namespace

// ---- float16 / bfloat16 ---------------------------------------------------------------------------

TEST_CASE("float16: every half bit pattern round-trips through float") {
  int mismatches = 0, nans = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = runtime::half_bits_to_float(uint16_t(b));
    uint16_t back = runtime::float_to_half_bits(f);
    if (std::isnan(f)) {
      ++nans;
      if ((back & 0x7c00) != 0x7c00 || (back & 0x3ff) == 0 || (back & 0x8000) != (b & 0x8000)) ++mismatches;
      if ((b & 0x200) && back != b) ++mismatches;  // quiet NaNs keep their payload
    } else if (back != b) {
      ++mismatches;
    }
    if (!std::isnan(f) && runtime::double_to_half_bits(double(f)) != b) ++mismatches;
  }
  CHECK(nans == 2 * 1023);
  CHECK(mismatches == 0);
  CHECK(runtime::half_bits_to_float(0x3c00) == 1.0f);
  CHECK(runtime::half_bits_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(runtime::half_bits_to_float(0x7bff) == 65504.0f);
  CHECK(std::isinf(runtime::half_bits_to_float(0xfc00)));
}

TEST_CASE("bfloat16: every bit pattern round-trips through float") {
  int mismatches = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = runtime::bfloat16_bits_to_float(uint16_t(b));
    uint16_t back = runtime::float_to_bfloat16_bits(f);
    if (std::isnan(f) ? !std::isnan(runtime::bfloat16_bits_to_float(back)) : back != b) ++mismatches;
    if (!std::isnan(f) && runtime::double_to_bfloat16_bits(double(f)) != b) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("float16 and bfloat16 round ties to even, overflow to inf, keep NaN") {
  using namespace runtime;
  CHECK(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);      // tie -> even (down)
  CHECK(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie -> even (up)
  CHECK(float_to_half_bits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3c01);
  CHECK(float_to_half_bits(65519.0f) == 0x7bff);
  CHECK(float_to_half_bits(65520.0f) == 0x7c00);
  CHECK(float_to_half_bits(-1e10f) == 0xfc00);
  CHECK(float_to_half_bits(std::ldexp(1.0f, -25)) == 0x0000);                 // tie with 0 -> 0
  CHECK(float_to_half_bits(std::ldexp(1.0f, -25) * 1.5f) == 0x0001);
  CHECK(float_to_half_bits(3 * std::ldexp(1.0f, -25)) == 0x0002);             // 1.5 units -> 2
  CHECK(float_to_half_bits(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)) == 0x0400);  // rounds up into normals
  CHECK(float_to_half_bits(-0.0f) == 0x8000);
  CHECK(std::isnan(half_bits_to_float(float_to_half_bits(std::nanf("")))));
  CHECK(float_to_half_bits(std::bit_cast<float>(0x7f800001u)) != 0x7c00);  // a signaling NaN is not inf
  // From double: one rounding, not double -> float -> half.
  double just_above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  CHECK(double_to_half_bits(just_above_tie) == 0x3c01);
  CHECK(float_to_half_bits(float(just_above_tie)) == 0x3c00);
  CHECK(float_to_bfloat16_bits(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  CHECK(float_to_bfloat16_bits(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(float_to_bfloat16_bits(3.4e38f) == 0x7f80);
  CHECK(std::isnan(bfloat16_bits_to_float(float_to_bfloat16_bits(std::bit_cast<float>(0x7f800001u)))));
  CHECK(double_to_bfloat16_bits(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30)) == 0x3f81);
  CHECK(bf16_bits_to_float(float_to_bf16_bits(2.0f)) == 2.0f);
}

#ifdef __FLT16_MANT_DIG__
TEST_CASE("float16 agrees with the compiler's _Float16 on random floats") {
  std::mt19937 rng(7);
  int bad = 0;
  for (int i = 0; i < 200000; ++i) {
    float f = std::bit_cast<float>(uint32_t(rng()));
    if (std::isnan(f)) continue;
    auto ref = std::bit_cast<uint16_t>(static_cast<_Float16>(f));
    if (runtime::float_to_half_bits(f) != ref) ++bad;
  }
  CHECK(bad == 0);
}
#endif

// ---- TensorIR and lowered programs ------------------------------------------------------------

TEST_CASE("TensorIR matmul with init matches a C++ loop, and so does its lowered form") {
  Tensor A = iota_tensor({13, 9}, 0.5f, -1.0f), B = iota_tensor({9, 11}, 0.25f, 0.125f);
  Tensor C = Tensor::empty({13, 11}, F32);
  std::memset(C.data(), 0xff, C.nbytes());  // init must overwrite garbage
  tir::interpret(matmul_blocked(c64(13), c64(11), c64(9)), {A, B, C});
  check_matmul(A, B, C);
  Tensor C2 = Tensor::empty({13, 11}, F32);
  tir::interpret(matmul_lowered(13, 11, 9), {A, B, C2});
  check_matmul(A, B, C2);
}

TEST_CASE("symbolic shapes: one PrimFunc runs at several sizes") {
  Var n("n"), m("m"), k("k");
  PrimFunc f = matmul_blocked(n, m, k);
  CHECK(tir::shape_vars(f).size() == 3);
  CHECK(tir::shape_vars(f)[0].same_as(n));
  CHECK(tir::shape_vars(f)[1].same_as(k));  // A is (n, k): k appears before m
  for (auto [N, M, K] : {std::tuple{1, 1, 1}, {5, 3, 8}, {16, 17, 2}, {0, 4, 3}, {3, 4, 0}}) {
    Tensor A = iota_tensor({N, K}, 1.0f, 0.0f), B = iota_tensor({K, M}, 0.5f, 1.0f), C = Tensor::empty({N, M}, F32);
    for (int64_t i = 0; i < C.numel(); ++i) C.data_as<float>()[i] = 42.0f;
    tir::interpret(f, {A, B, C});
    if (K > 0) check_matmul(A, B, C);
    else CHECK(C.data_as<float>()[0] == 42.0f);  // no reduction iteration: the block (and its init) never runs
  }
  auto bound = tir::bind_arguments(f, {Tensor::empty({5, 8}, F32), Tensor::empty({8, 3}, F32), Tensor::empty({5, 3}, F32)});
  CHECK(bound.shape_var_values == std::vector<int64_t>{5, 8, 3});
  CHECK(bound.int_values.at(m.get()) == 3);
}

TEST_CASE("a predicate-guarded block skips the iterations outside the domain") {
  // B[vi] = A[vi] * 2 for vi = io * 4 + ii < 10, with io in [0, 3) and ii in [0, 4).
  Buffer A = make_buffer("A", F32, {c64(10)}), B = make_buffer("B", F32, {c64(10)});
  Var io("io"), ii("ii"), vi("vi");
  auto make = [&](Expr pred) {
    BlockNode b;
    b.name = "B";
    b.iter_vars = {iter(vi, c64(10))};
    b.body = buffer_store(B, ld(A, {vi}) * fc(2), {vi});
    Stmt s = block_realize({io * 4 + ii}, pred, make_block(std::move(b)));
    return make_prim_func("main", {A, B}, root(loop(io, c64(3), loop(ii, c64(4), s))));
  };
  Tensor a = iota_tensor({10}, 1.0f, 0.0f), b = Tensor::zeros({10}, F32);
  tir::interpret(make(io * 4 + ii < c64(10)), {a, b});
  for (int i = 0; i < 10; ++i) CHECK(b.data_as<float>()[i] == a.data_as<float>()[i] * 2);
  // Lowered: the predicate becomes an IfThenElse around the store.
  Tensor b2 = Tensor::zeros({10}, F32);
  Expr idx = io * 4 + ii;
  run({A, B}, loop(io, c64(3), loop(ii, c64(4), if_then_else(idx < c64(10), buffer_store(B, ld(A, {idx}) * fc(2), {idx})))),
      {a, b2});
  CHECK(std::memcmp(b.data(), b2.data(), b.nbytes()) == 0);
  std::string err = error_of([&] { tir::interpret(make(bool_imm(true)), {a, b}); });
  CHECK(err.find("block 'B'") != std::string::npos);
  CHECK(err.find("'vi' is bound to 10, outside its domain [0, 10)") != std::string::npos);
}

TEST_CASE("block alloc_buffers are fresh per execution; the lowered form uses Allocate") {
  // For each row i: T[j] = A[i, j] * 2; B[i, j] = T[3 - j].
  Buffer A = make_buffer("A", F32, {c64(3), c64(4)}), B = make_buffer("B", F32, {c64(3), c64(4)});
  Buffer T = make_buffer("T", F32, {c64(4)}, "local");
  Var i("i"), j("j"), vi("vi");
  BlockNode b;
  b.name = "row";
  b.iter_vars = {iter(vi, c64(3))};
  b.alloc_buffers = {T};
  b.body = seq({loop(j, c64(4), buffer_store(T, ld(A, {vi, j}) * fc(2), {j})),
                loop(j, c64(4), buffer_store(B, ld(T, {c64(3) - j}), {vi, j}))});
  PrimFunc blocked = make_prim_func("main", {A, B}, root(loop(i, c64(3), block_realize({i}, bool_imm(true), make_block(b)))));
  Tensor a = iota_tensor({3, 4}, 1.0f, 1.0f), out1 = Tensor::zeros({3, 4}, F32), out2 = Tensor::zeros({3, 4}, F32);
  tir::interpret(blocked, {a, out1});
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) CHECK(out1.at<float>({r, c}) == a.at<float>({r, 3 - c}) * 2);

  // Fresh per execution: what row 0 wrote into T is gone (poisoned) when row 1 runs.
  BlockNode b3 = b;
  b3.body = seq({if_then_else(eq(vi, c64(0)), buffer_store(T, fc(7), {c64(0)})), buffer_store(B, ld(T, {c64(0)}), {vi, c64(0)})});
  Tensor out3 = Tensor::zeros({3, 4}, F32);
  tir::interpret(make_prim_func("main", {A, B}, root(loop(i, c64(3), block_realize({i}, bool_imm(true), make_block(b3))))),
                 {a, out3});
  CHECK(out3.at<float>({0, 0}) == 7.0f);
  CHECK(std::isnan(out3.at<float>({1, 0})));

  Buffer Af = flat(A, c64(12)), Bf = flat(B, c64(12));
  Stmt lowered = loop(i, c64(3), allocate(T, seq({loop(j, c64(4), buffer_store(T, ld(Af, {i * 4 + j}) * fc(2), {j})),
                                                   loop(j, c64(4), buffer_store(Bf, ld(T, {c64(3) - j}), {i * 4 + j}))})));
  run({A, B}, lowered, {a, out2});
  CHECK(std::memcmp(out1.data(), out2.data(), out1.nbytes()) == 0);
}

TEST_CASE("root-block intermediate buffers and a reduction with init in two stages") {
  // T[i] = A[i] + 1 (intermediate), then s[0] = sum_i T[i].
  Buffer A = make_buffer("A", F32, {c64(6)}), S = make_buffer("S", F32, {c64(1)});
  Buffer T = make_buffer("T", F32, {c64(6)});
  Var i("i"), vi("vi"), r("r"), vr("vr"), z("z"), vz("vz");
  BlockNode b1;
  b1.name = "T";
  b1.iter_vars = {iter(vi, c64(6))};
  b1.body = buffer_store(T, ld(A, {vi}) + fc(1), {vi});
  BlockNode b2;
  b2.name = "S";
  b2.iter_vars = {iter(vz, c64(1)), iter(vr, c64(6), IterKind::CommReduce)};
  b2.init = buffer_store(S, fc(0), {vz});
  b2.body = buffer_store(S, ld(S, {vz}) + ld(T, {vr}), {vz});
  Stmt body = seq({loop(i, c64(6), block_realize({i}, bool_imm(true), make_block(b1))),
                   loop(z, c64(1), loop(r, c64(6), block_realize({z, r}, bool_imm(true), make_block(b2))))});
  Tensor a = iota_tensor({6}, 1.0f, 0.0f), s = Tensor::zeros({1}, F32);
  s.data_as<float>()[0] = 1000;
  tir::interpret(make_prim_func("main", {A, S}, root(body, {T})), {a, s});
  CHECK(s.data_as<float>()[0] == 0 + 1 + 2 + 3 + 4 + 5 + 6.0f);
}

TEST_CASE("multi-dimensional buffers honour strides and elem_offset") {
  // V is a 2x2 view of M's memory (4x4) starting at element 5 with row stride 4.
  Buffer M = make_buffer("M", F32, {c64(4), c64(4)}), O = make_buffer("O", F32, {c64(2), c64(2)});
  auto vn = std::make_shared<BufferNode>(*M.get());
  vn->name = "V";
  vn->shape = {c64(2), c64(2)};
  vn->strides = {c64(4), c64(1)};
  vn->elem_offset = c64(5);
  Buffer V(std::shared_ptr<const BufferNode>(std::move(vn)));
  Var i("i"), j("j");
  Tensor m = iota_tensor({4, 4}, 1.0f, 0.0f), o = Tensor::zeros({2, 2}, F32);
  for (int k = 0; k < 16; ++k) m.data_as<float>()[k] = float(k);
  run({M, O}, loop(i, c64(2), loop(j, c64(2), buffer_store(O, ld(V, {i, j}), {i, j}))), {m, o});
  CHECK(o.at<float>({0, 0}) == 5);
  CHECK(o.at<float>({0, 1}) == 6);
  CHECK(o.at<float>({1, 0}) == 9);
  CHECK(o.at<float>({1, 1}) == 10);
}

// ---- numerics ---------------------------------------------------------------------------------

TEST_CASE("integers wrap: int8, uint8, int32, int64") {
  auto one = [](DataType t, std::function<Expr(Expr, Expr)> op, int64_t a, int64_t b) {
    Buffer X = make_buffer("X", t, {c64(1)});
    Tensor x = Tensor::empty({1}, t);
    std::memset(x.data(), 0, x.nbytes());
    run({X}, buffer_store(X, op(int_imm(a, t), int_imm(b, t)), {c64(0)}), {x});
    return x;
  };
  CHECK(one(DataType::int_(8), [](Expr a, Expr b) { return a + b; }, 100, 100).data_as<int8_t>()[0] == -56);
  CHECK(one(DataType::int_(8), [](Expr a, Expr b) { return a * b; }, -128, -1).data_as<int8_t>()[0] == -128);
  CHECK(one(DataType::int_(8), [](Expr a, Expr b) { return div(a, b); }, -128, -1).data_as<int8_t>()[0] == -128);
  CHECK(one(DataType::uint(8), [](Expr a, Expr b) { return a - b; }, 3, 5).data_as<uint8_t>()[0] == 254);
  CHECK(one(DataType::uint(8), [](Expr a, Expr b) { return a * b; }, 16, 17).data_as<uint8_t>()[0] == 16);
  CHECK(one(DataType::uint(8), [](Expr a, Expr b) { return select(lt(a, b), a, b); }, 200, 100).data_as<uint8_t>()[0] ==
        100);
  CHECK(one(I32, [](Expr a, Expr b) { return a + b; }, INT32_MAX, 1).data_as<int32_t>()[0] == INT32_MIN);
  CHECK(one(I32, [](Expr a, Expr b) { return a * b; }, 65536, 65537).data_as<int32_t>()[0] == 65536);
  CHECK(one(I64, [](Expr a, Expr b) { return a + b; }, INT64_MAX, 1).data_as<int64_t>()[0] == INT64_MIN);
  CHECK(one(I64, [](Expr a, Expr b) { return div(a, b); }, INT64_MIN, -1).data_as<int64_t>()[0] == INT64_MIN);
  CHECK(one(DataType::uint(32), [](Expr a, Expr b) { return max(a, b); }, int64_t(3000000000), 5).data_as<uint32_t>()[0] ==
        3000000000u);
  CHECK(one(DataType::uint(64), [](Expr a, Expr b) { return max(a, b); }, -1, 5).data_as<uint64_t>()[0] == ~uint64_t(0));
  // Casts narrow by wrapping; float -> int truncates toward zero.
  Buffer X = make_buffer("X", DataType::int_(8), {c64(4)});
  Tensor x = Tensor::empty({4}, DataType::int_(8));
  run({X},
      seq({buffer_store(X, cast(DataType::int_(8), int_imm(300, I32)), {c64(0)}),
           buffer_store(X, cast(DataType::int_(8), fc(-2.9)), {c64(1)}),
           buffer_store(X, cast(DataType::int_(8), cast(DataType::boolean(), int_imm(7, I32))), {c64(2)}),
           buffer_store(X, cast(DataType::int_(8), int_imm(200, DataType::uint(8))), {c64(3)})}),
      {x});
  CHECK(x.data_as<int8_t>()[0] == 44);
  CHECK(x.data_as<int8_t>()[1] == -2);
  CHECK(x.data_as<int8_t>()[2] == 1);
  CHECK(x.data_as<int8_t>()[3] == -56);
}

TEST_CASE("floordiv/floormod floor, div/mod truncate, division by zero is an error") {
  Buffer X = make_buffer("X", I32, {c64(8)});
  Tensor x = Tensor::empty({8}, I32);
  Expr a = int_imm(-7, I32), b = int_imm(2, I32), nb = int_imm(-2, I32);
  run({X},
      seq({buffer_store(X, floordiv(a, b), {c64(0)}), buffer_store(X, floormod(a, b), {c64(1)}),
           buffer_store(X, div(a, b), {c64(2)}), buffer_store(X, truncmod(a, b), {c64(3)}),
           buffer_store(X, floordiv(int_imm(7, I32), nb), {c64(4)}), buffer_store(X, floormod(int_imm(7, I32), nb), {c64(5)}),
           buffer_store(X, floordiv(int_imm(-8, I32), b), {c64(6)}), buffer_store(X, floormod(int_imm(-8, I32), b), {c64(7)})}),
      {x});
  std::vector<int32_t> got(x.data_as<int32_t>(), x.data_as<int32_t>() + 8);
  CHECK(got == std::vector<int32_t>{-4, 1, -3, -1, -4, -1, -4, 0});
  Var d("d", I32);
  std::string err = error_of([&] { run({X}, buffer_store(X, floordiv(a, d), {c64(0)}), {x, 0}, {d}); });
  CHECK(err.find("integer division by zero") != std::string::npos);
  CHECK(err.find("floordiv") != std::string::npos);
  // Float floordiv/floormod.
  Buffer Y = make_buffer("Y", F32, {c64(2)});
  Tensor y = Tensor::empty({2}, F32);
  run({Y}, seq({buffer_store(Y, floordiv(fc(-7), fc(2)), {c64(0)}), buffer_store(Y, floormod(fc(-7), fc(2)), {c64(1)})}), {y});
  CHECK(y.data_as<float>()[0] == -4.0f);
  CHECK(y.data_as<float>()[1] == 1.0f);
}

TEST_CASE("float16 and bfloat16 round after every operation") {
  // A * A - B with A = 1 + 2^-10, B = 1 + 2^-9: exact is 2^-20, per-op float16 rounding gives 0.
  for (DataType t : {F16, BF16}) {
    INFO(t.str());
    int mbits = t == F16 ? 10 : 7;
    Buffer A = make_buffer("A", t, {c64(1)}), B = make_buffer("B", t, {c64(1)}), C = make_buffer("C", t, {c64(3)});
    Tensor a = Tensor::empty({1}, t), b = Tensor::empty({1}, t), c = Tensor::empty({3}, t);
    auto put = [&](const Tensor& x, int64_t i, float v) {
      x.data_as<uint16_t>()[i] = t == F16 ? runtime::float_to_half_bits(v) : runtime::float_to_bfloat16_bits(v);
    };
    auto get = [&](int64_t i) {
      uint16_t v = c.data_as<uint16_t>()[i];
      return t == F16 ? runtime::half_bits_to_float(v) : runtime::bfloat16_bits_to_float(v);
    };
    put(a, 0, 1.0f + std::ldexp(1.0f, -mbits));
    put(b, 0, 1.0f + std::ldexp(1.0f, -mbits + 1));
    Expr x = ld(A, {c64(0)}), y = ld(B, {c64(0)});
    Expr in_f32 = cast(t, cast(F32, x) * cast(F32, x) - cast(F32, y));  // computed in float32 then rounded once
    run({A, B, C},
        seq({buffer_store(C, x * x - y, {c64(0)}), buffer_store(C, in_f32, {c64(1)}),
             buffer_store(C, call(t, "fma", {x, x, float_imm(0, t) - y}), {c64(2)})}),
        {a, b, c});
    CHECK(get(0) == 0.0f);
    CHECK(get(1) == std::ldexp(1.0f, -2 * mbits));
    CHECK(get(2) == std::ldexp(1.0f, -2 * mbits));
  }
  CHECK(h(1.0f + std::ldexp(1.0f, -11)) == 1.0f);
}

TEST_CASE("float min/max ignore NaN; math intrinsics; round half to even") {
  Buffer X = make_buffer("X", F32, {c64(8)});
  Tensor x = Tensor::empty({8}, F32);
  Expr nan = fc(std::nan(""));
  run({X},
      seq({buffer_store(X, min(nan, fc(1)), {c64(0)}), buffer_store(X, max(fc(2), nan), {c64(1)}),
           buffer_store(X, call(F32, "round", {fc(2.5)}), {c64(2)}), buffer_store(X, call(F32, "round", {fc(-3.5)}), {c64(3)}),
           buffer_store(X, call(F32, "sigmoid", {fc(0)}), {c64(4)}), buffer_store(X, call(F32, "exp", {fc(1)}), {c64(5)}),
           buffer_store(X, call(F32, "rsqrt", {fc(4)}), {c64(6)}), buffer_store(X, call(F32, "abs", {fc(-3)}), {c64(7)})}),
      {x});
  float* p = x.data_as<float>();
  CHECK(p[0] == 1.0f);
  CHECK(p[1] == 2.0f);
  CHECK(p[2] == 2.0f);
  CHECK(p[3] == -4.0f);
  CHECK(p[4] == 0.5f);
  CHECK(p[5] == std::exp(1.0f));
  CHECK(p[6] == 0.5f);
  CHECK(p[7] == 3.0f);
  std::string err = error_of([&] { run({X}, buffer_store(X, call(F32, "frobnicate", {fc(1)}), {c64(0)}), {x}); });
  CHECK(err.find("unknown intrinsic 'frobnicate'") != std::string::npos);
  CHECK(err.find("sigmoid") != std::string::npos);
}

TEST_CASE("if_then_else is lazy; Select evaluates both sides") {
  // Padding: B[i] = i < 4 ? A[i] : 0 over i in [0, 6) reads A out of bounds only in the untaken branch.
  Buffer A = make_buffer("A", F32, {c64(4)}), B = make_buffer("B", F32, {c64(6)});
  Var i("i");
  Tensor a = iota_tensor({4}, 1.0f, 1.0f), b = Tensor::zeros({6}, F32);
  run({A, B}, loop(i, c64(6), buffer_store(B, call(F32, "if_then_else", {i < c64(4), ld(A, {i}), fc(0)}), {i})), {a, b});
  CHECK(b.data_as<float>()[3] == 4.0f);
  CHECK(b.data_as<float>()[5] == 0.0f);
  std::string err = error_of([&] { run({A, B}, loop(i, c64(6), buffer_store(B, select(i < c64(4), ld(A, {i}), fc(0)), {i})), {a, b}); });
  CHECK(err.find("out-of-bounds load from buffer 'A'") != std::string::npos);
  CHECK(err.find("index (4)") != std::string::npos);
}

TEST_CASE("Ramp and Broadcast: vector loads, stores and ops lane by lane") {
  Buffer A = make_buffer("A", F32, {c64(8)}), B = make_buffer("B", F32, {c64(4)});
  Tensor a = iota_tensor({8}, 1.0f, 0.0f), b = Tensor::zeros({4}, F32);
  for (int k = 0; k < 8; ++k) a.data_as<float>()[k] = float(k);
  // B[0:4] = A[0:8:2] + 0.5
  run({A, B}, buffer_store(B, ld(A, {ramp(c64(0), c64(2), 4)}) + broadcast(fc(0.5), 4), {ramp(c64(0), c64(1), 4)}), {a, b});
  CHECK(b.data_as<float>()[0] == 0.5f);
  CHECK(b.data_as<float>()[3] == 6.5f);
  // A vector store reads all lanes before writing: A[1:5] = A[0:4] shifts, it does not smear.
  run({A, B}, buffer_store(A, ld(A, {ramp(c64(0), c64(1), 4)}), {ramp(c64(1), c64(1), 4)}), {a, b});
  std::vector<float> got(a.data_as<float>(), a.data_as<float>() + 6);
  CHECK(got == std::vector<float>{0, 0, 1, 2, 3, 5});
  // A vector Let and a vectorized loop over int32 lanes with a vector select.
  Buffer X = make_buffer("X", I32, {c64(8)});
  Tensor x = Tensor::zeros({8}, I32);
  Var v("v", DataType::int_(32, 4)), o("o");
  Expr lanes = ramp(int_imm(0, I32), int_imm(3, I32), 4);
  Stmt s = loop(o, c64(2), let_stmt(v, lanes, buffer_store(X, select(v > broadcast(int_imm(4, I32), 4), v, broadcast(int_imm(-1, I32), 4)),
                                                           {ramp(o * 4, c64(1), 4)})),
                ForKind::Vectorized);
  run({X}, s, {x});
  std::vector<int32_t> xi(x.data_as<int32_t>(), x.data_as<int32_t>() + 8);
  CHECK(xi == std::vector<int32_t>{-1, -1, 6, 9, -1, -1, 6, 9});
  // Out of bounds in one lane is an error naming the lane.
  std::string err = error_of([&] { run({A, B}, buffer_store(B, ld(A, {ramp(c64(6), c64(1), 4)}), {ramp(c64(0), c64(1), 4)}), {a, b}); });
  CHECK(err.find("out-of-bounds load from buffer 'A'") != std::string::npos);
  CHECK(err.find("lane 2") != std::string::npos);
}

TEST_CASE("thread-bound, parallel and unrolled loops run serially in order") {
  Buffer A = make_buffer("A", F32, {c64(16)}), B = make_buffer("B", F32, {c64(16)});
  Var bx("bx"), tx("tx"), u("u");
  Tensor a = iota_tensor({16}, 1.0f, 0.0f), b = Tensor::zeros({16}, F32);
  Stmt s = loop(bx, c64(4), loop(tx, c64(4), buffer_store(B, ld(A, {bx * 4 + tx}) + fc(1), {bx * 4 + tx}), ForKind::ThreadBinding,
                                 "threadIdx.x"),
                ForKind::ThreadBinding, "blockIdx.x");
  run({A, B}, s, {a, b});
  for (int k = 0; k < 16; ++k) CHECK(b.data_as<float>()[k] == a.data_as<float>()[k] + 1);
  // Order: a running prefix sum is only right if iterations run in increasing order.
  Stmt scan = loop(u, c64(15), buffer_store(B, ld(B, {u}) + ld(B, {u + 1}), {u + 1}), ForKind::Parallel);
  run({A, B}, seq({loop(u, c64(16), buffer_store(B, fc(1), {u}), ForKind::Unrolled), scan}), {a, b});
  CHECK(b.data_as<float>()[15] == 16.0f);
}

TEST_CASE("fresh allocations are poisoned") {
  Buffer F = make_buffer("F", F32, {c64(2)}), I = make_buffer("I", I32, {c64(2)});
  Buffer TF = make_buffer("TF", F32, {c64(4)}, "local"), TI = make_buffer("TI", I32, {c64(4)}, "shared");
  Tensor f = Tensor::zeros({2}, F32), i = Tensor::zeros({2}, I32);
  run({F, I},
      allocate(TF, allocate(TI, seq({buffer_store(TF, fc(3), {c64(0)}), buffer_store(F, ld(TF, {c64(0)}), {c64(0)}),
                                     buffer_store(F, ld(TF, {c64(1)}), {c64(1)}), buffer_store(I, ld(TI, {c64(2)}), {c64(0)})}))),
      {f, i});
  CHECK(f.data_as<float>()[0] == 3.0f);
  CHECK(std::isnan(f.data_as<float>()[1]));
  CHECK(uint32_t(i.data_as<int32_t>()[0]) == 0xA5A5A5A5u);
  // A buffer used outside its allocation is an error, not a crash.
  std::string err = error_of([&] { run({F, I}, buffer_store(F, ld(TF, {c64(0)}), {c64(0)}), {f, i}); });
  CHECK(err.find("buffer 'TF'") != std::string::npos);
  CHECK(err.find("not allocated") != std::string::npos);
}

TEST_CASE("out-of-bounds accesses are UserErrors naming buffer, index and bound") {
  Buffer A = make_buffer("A", F32, {c64(3), c64(4)});
  Var i("i");
  Tensor a = Tensor::zeros({3, 4}, F32);
  std::string err = error_of([&] { run({A}, loop(i, c64(5), buffer_store(A, fc(1), {c64(1), i})), {a}); });
  CHECK(err.find("out-of-bounds store to buffer 'A'") != std::string::npos);
  CHECK(err.find("index (1, 4) is outside its shape (3, 4)") != std::string::npos);
  CHECK(err.find("dim 1: 4 is not in [0, 4)") != std::string::npos);
  // A flattened view larger than the memory behind it: caught by the memory bound.
  Buffer Af = flat(A, c64(100));
  err = error_of([&] { run({A}, buffer_store(Af, fc(1), {c64(12)}), {a}); });
  CHECK(err.find("element offset 12 is outside its memory of 12 float32 elements") != std::string::npos);
  err = error_of([&] { run({A}, buffer_store(A, ld(A, {c64(-1), c64(0)}), {c64(0), c64(0)}), {a}); });
  CHECK(err.find("out-of-bounds load from buffer 'A'") != std::string::npos);
  CHECK(err.find("-1 is not in [0, 3)") != std::string::npos);
}

TEST_CASE("Reduce nodes and unbound variables are reported") {
  Buffer A = make_buffer("A", F32, {c64(4)}), B = make_buffer("B", F32, {c64(1)});
  Var k("k");
  Expr red = reduce(ReduceOp::Sum, ld(A, {k}), {iter(k, c64(4), IterKind::CommReduce)});
  Tensor a = Tensor::zeros({4}, F32), b = Tensor::zeros({1}, F32);
  CHECK_THROWS_WITH_AS(run({A, B}, buffer_store(B, red, {c64(0)}), {a, b}), doctest::Contains("create_prim_func should have removed it"),
                       InternalError);
  Var stray("stray");
  std::string err = error_of([&] { run({A, B}, buffer_store(B, ld(A, {stray}), {c64(0)}), {a, b}); });
  CHECK(err.find("variable 'stray'") != std::string::npos);
}

TEST_CASE("scalar int and float parameters, and Let expressions") {
  Buffer A = make_buffer("A", F32, {c64(5)}), C = make_buffer("C", F32, {c64(5)});
  Var alpha("alpha", F32), s("s", I32), i("i"), t("t", F32);
  Expr body = let(t, ld(A, {i}) * alpha, t + cast(F32, s) + t);
  PrimFunc f = make_prim_func("axpb", {A, C}, loop(i, c64(5), buffer_store(C, body, {i})), {alpha, s});
  Tensor a = iota_tensor({5}, 1.0f, 0.0f), c = Tensor::zeros({5}, F32);
  tir::interpret(f, {a, c, 0.1, 3});
  for (int k = 0; k < 5; ++k) {
    float x = a.data_as<float>()[k] * 0.1f;
    CHECK(c.data_as<float>()[k] == x + 3.0f + x);
  }
  tir::interpret(f, {a, c, 2, -1});  // an integer for a float parameter is fine
  CHECK(c.data_as<float>()[1] == 1 * 2.0f - 1 + 2.0f);
  // A scalar size parameter used in a buffer shape.
  Var n("n");
  Buffer X = make_buffer("X", I64, {n});
  PrimFunc g = make_prim_func("fill", {X}, loop(i, n, buffer_store(X, i * i, {i})), {n});
  Tensor x = Tensor::zeros({6}, I64);
  tir::interpret(g, {x, 6});
  CHECK(x.data_as<int64_t>()[5] == 25);
  CHECK(tir::shape_vars(g).empty());
  CHECK(error_of([&] { tir::interpret(g, {x, 5}); }).find("has shape (6,) but expected (n,) with n = 5 bound by argument 1 ('n')") !=
        std::string::npos);
}

// ---- the call boundary --------------------------------------------------------------------------

TEST_CASE("bind_arguments: errors name the kernel, the argument and what was expected") {
  Var n("n");
  Buffer A = make_buffer("A", F32, {n, c64(128)}), B = make_buffer("B", F32, {n, c64(128)}), C = make_buffer("C", F32, {n * 2});
  PrimFunc f = make_prim_func("main", {A, B, C}, evaluate(c64(0)));
  auto t = [](std::vector<int64_t> s, DataType d = DataType::float_(32)) { return Tensor::empty(std::move(s), d); };
  auto err = [&](std::vector<Arg> args) { return error_of([&] { tir::bind_arguments(f, args); }); };
  auto has = [](const std::string& e, const std::string& part) {
    INFO(e);
    CHECK(e.find(part) != std::string::npos);
  };

  has(err({t({64, 128}), t({64, 128})}), "kernel 'main' takes 3 arguments (A, B, C) but was called with 2");
  has(err({t({64, 128}), t({65, 128}), t({128})}),
      "kernel 'main': argument 1 ('B') has shape (65, 128) but expected (n, 128) with n = 64 bound by argument 0 ('A') dim 0");
  has(err({t({64, 128}), t({64, 128}, DataType::float_(64)), t({128})}),
      "argument 1 ('B') has the wrong element type: expected float32, got float64");
  has(err({t({64, 128}), t({64}), t({128})}), "argument 1 ('B') has 1 dimension (shape (64,)) but expected 2: (n, 128)");
  has(err({t({64, 127}), t({64, 128}), t({128})}), "argument 0 ('A') has shape (64, 127) but expected (n, 128)");
  has(err({t({64, 128}), t({64, 128}), t({127})}), "argument 2 ('C') has shape (127,) but expected (n*2,) with n = 64");
  has(err({t({64, 128}), t({64, 128}), t({127})}), "dim 0 should be n*2 = 128");
  has(err({t({64, 128}), 3, t({128})}), "argument 1 ('B') must be a float32 tensor of shape (n, 128) but was passed the integer 3");

  Tensor big = t({128, 64});
  Tensor transposed = Tensor::view(big.data(), {64, 128}, DataType::float_(32), {1, 64});
  has(err({transposed, t({64, 128}), t({128})}), "argument 0 ('A') is not compact");
  has(err({transposed, t({64, 128}), t({128})}), "pass a compact tensor (e.g. a copy)");
  Tensor on_gpu = Tensor::view(big.data(), {64, 128}, DataType::float_(32), {}, runtime::Device::cuda());
  has(err({on_gpu, t({64, 128}), t({128})}), "argument 0 ('A') is on cuda:0 but this kernel runs on cpu:0");

  // Misaligned data when the buffer promises more than natural alignment.
  auto an = std::make_shared<BufferNode>(*A.get());
  an->align_bytes = 64;
  Buffer A64(std::shared_ptr<const BufferNode>(std::move(an)));
  PrimFunc g = make_prim_func("aligned", {A64}, evaluate(c64(0)));
  Tensor store = t({65 * 128});
  Tensor shifted = Tensor::view(store.data_as<float>() + 1, {64, 128}, DataType::float_(32));
  has(error_of([&] { tir::bind_arguments(g, {shifted}); }), "kernel 'aligned': argument 0 ('A'): data pointer");
  has(error_of([&] { tir::bind_arguments(g, {shifted}); }), "not aligned to 64 bytes");
  CHECK_NOTHROW(tir::bind_arguments(g, {Tensor::view(store.data_as<float>() + 16, {64, 128}, DataType::float_(32))}));

  // Scalars: tensor for a scalar, float for an int, value out of range.
  Var k("k", I32), alpha("alpha", F32);
  PrimFunc s = make_prim_func("scal", {}, evaluate(c64(0)), {k, alpha});
  has(error_of([&] { tir::bind_arguments(s, {t({2}), 1.0}); }), "argument 0 ('k') is a scalar of type int32 but was passed a tensor");
  has(error_of([&] { tir::bind_arguments(s, {1.5, 1.0}); }), "argument 0 ('k') is a scalar of type int32 but was passed the float 1.5");
  has(error_of([&] { tir::bind_arguments(s, {int64_t(1) << 40, 1.0}); }), "does not fit in it");
  auto bs = tir::bind_arguments(s, {7, 2.5});
  CHECK(bs.int_values.at(k.get()) == 7);
  CHECK(bs.float_values.at(alpha.get()) == 2.5);

  // Zero-size tensors are legal; the bound values come back in shape_vars order.
  auto b0 = tir::bind_arguments(f, {t({0, 128}), t({0, 128}), t({0})});
  CHECK(b0.shape_var_values == std::vector<int64_t>{0});
  auto b1 = tir::bind_arguments(f, {t({3, 128}), t({3, 128}), t({6})});
  CHECK(b1.shape_var_values == std::vector<int64_t>{3});
}

TEST_CASE("bind_arguments: size variables only inside expressions cannot be inferred; Var strides bind") {
  Var m("m"), n("n");
  Buffer A = make_buffer("A", F32, {m * 2}), B = make_buffer("B", F32, {n});
  PrimFunc f = make_prim_func("main", {A, B}, evaluate(c64(0)));
  std::string e = error_of([&] { tir::bind_arguments(f, {Tensor::empty({8}, F32), Tensor::empty({3}, F32)}); });
  CHECK(e.find("cannot infer size variable 'm'") != std::string::npos);
  CHECK(e.find("argument 0 ('A')") != std::string::npos);

  // A later bare dimension binds a variable an earlier expression dimension used.
  Buffer C = make_buffer("C", F32, {n * 2}), D = make_buffer("D", F32, {n});
  PrimFunc g = make_prim_func("main", {C, D}, evaluate(c64(0)));
  CHECK(tir::bind_arguments(g, {Tensor::empty({8}, F32), Tensor::empty({4}, F32)}).shape_var_values == std::vector<int64_t>{4});
  CHECK(error_of([&] { tir::bind_arguments(g, {Tensor::empty({9}, F32), Tensor::empty({4}, F32)}); })
            .find("has shape (9,) but expected (n*2,) with n = 4 bound by argument 1 ('D') dim 0") != std::string::npos);

  // Symbolic strides: a strided view is accepted and its stride bound.
  Var s0("s0"), r("r"), c("c");
  Buffer S = make_buffer("S", F32, {r, c}, "global", {s0, c64(1)});
  Buffer O = make_buffer("O", F32, {r, c});
  Var i("i"), j("j");
  PrimFunc h = make_prim_func("main", {S, O}, loop(i, r, loop(j, c, buffer_store(O, ld(S, {i, j}), {i, j}))));
  Tensor big = iota_tensor({4, 10}, 1.0f, 0.0f);
  for (int k = 0; k < 40; ++k) big.data_as<float>()[k] = float(k);
  Tensor view = Tensor::view(big.data_as<float>() + 2, {4, 3}, F32, {10, 1});
  Tensor out = Tensor::zeros({4, 3}, F32);
  tir::interpret(h, {view, out});
  CHECK(out.at<float>({3, 2}) == 34.0f);
  CHECK(tir::shape_vars(h).size() == 3);
}

TEST_CASE("speed: a 128^3 matmul runs at a useful rate") {
  PrimFunc f = matmul_blocked(c64(128), c64(128), c64(128));
  Tensor A = iota_tensor({128, 128}, 0.5f, 0.0f), B = iota_tensor({128, 128}, 0.25f, 1.0f), C = Tensor::empty({128, 128}, F32);
  auto t0 = std::chrono::steady_clock::now();
  tir::interpret(f, {A, B, C});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check_matmul(A, B, C);
  MESSAGE("interpreter: 128^3 blocked matmul (2.1 M multiply-adds) in " << s * 1e3 << " ms = " << 2.097152 / s << " M MAC/s");
  CHECK(s < 30.0);
  PrimFunc g = matmul_lowered(128, 128, 128);
  t0 = std::chrono::steady_clock::now();
  tir::interpret(g, {A, B, C});
  s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  check_matmul(A, B, C);
  MESSAGE("interpreter: 128^3 lowered matmul in " << s * 1e3 << " ms = " << 2.097152 / s << " M MAC/s");
  CHECK(s < 30.0);
}
