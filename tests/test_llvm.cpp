// Tests of the LLVM CPU backend on hand-built lowered IR, against values computed here in C++ and
// against the reference interpreter (tir::interpret).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include "error_testing.hpp"
#include "kiln/backend/llvm.hpp"
#include "kiln/runtime/float16.hpp"
#include "kiln/tir/interpreter.hpp"

using namespace kiln;
using namespace kiln::ir;
using runtime::Tensor;

namespace {

const DataType kF32 = DataType::float_(32);
const DataType kI32 = DataType::int_(32);
const DataType kI64 = DataType::int_(64);

Expr ci64(int64_t v) { return int_imm(v, kI64); }
Expr cf32(double v) { return float_imm(v, kF32); }

runtime::Module build_llvm(const PrimFunc& f, const std::string& target = "llvm") {
  return backend::llvm::compile(IRModule::from_prim_func(f, "main"), Target(target));
}

// for (v = 0; v < extent; ++v) body
Stmt loop(const Var& v, int64_t extent, Stmt body, ForKind kind = ForKind::Serial) {
  return for_loop(v, int_imm(0, v.dtype()), int_imm(extent, v.dtype()), kind, std::move(body));
}

template <typename T>
Tensor make_tensor(const std::vector<T>& values) {
  Tensor t = Tensor::empty({int64_t(values.size())}, dtype_v<T>);
  std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
  return t;
}
Tensor tensor_of_bits(const std::vector<uint16_t>& bits, DataType t) {
  Tensor out = Tensor::empty({int64_t(bits.size())}, t);
  std::memcpy(out.data(), bits.data(), bits.size() * 2);
  return out;
}
template <typename T>
std::vector<T> values_of(const Tensor& t) {
  std::vector<T> out(size_t(t.numel()));
  std::memcpy(out.data(), t.data(), out.size() * sizeof(T));
  return out;
}
Tensor copy_of(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), t.dtype());
  std::memcpy(c.data(), t.data(), t.nbytes());
  return c;
}
// Empty when a and b hold the same bytes, else where they first differ.
std::string byte_diff(const Tensor& a, const Tensor& b) {
  if (a.nbytes() != b.nbytes()) return "sizes differ";
  auto* x = static_cast<const unsigned char*>(a.data());
  auto* y = static_cast<const unsigned char*>(b.data());
  for (size_t k = 0; k < a.nbytes(); ++k)
    if (x[k] != y[k]) {
      size_t elem = k / size_t(a.dtype().bytes());
      std::string s = "element " + std::to_string(elem) + " differs";
      if (a.dtype() == DataType::float_(32))
        s += ": llvm " + std::to_string(a.data_as<float>()[elem]) + " vs interpreter " + std::to_string(b.data_as<float>()[elem]);
      return s;
    }
  return {};
}

// Runs f with the LLVM backend and with the interpreter on copies of the same arguments; the
// tensors must agree byte for byte afterwards. Returns the tensors the LLVM kernel wrote.
std::vector<Tensor> run_both(const PrimFunc& f, const std::vector<runtime::Arg>& inputs) {
  std::vector<runtime::Arg> a, b;
  std::vector<Tensor> out_llvm, out_interp;
  for (auto& arg : inputs) {
    if (!arg.is_tensor()) {
      a.push_back(arg);
      b.push_back(arg);
      out_llvm.emplace_back();
      out_interp.emplace_back();
      continue;
    }
    out_llvm.push_back(copy_of(arg.tensor()));
    out_interp.push_back(copy_of(arg.tensor()));
    a.push_back(out_llvm.back());
    b.push_back(out_interp.back());
  }
  build_llvm(f)["main"].call(a);
  tir::interpret(f, b);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].is_tensor()) {
      std::string diff = byte_diff(out_llvm[i], out_interp[i]);
      CHECK_MESSAGE(diff.empty(), "tensor ", i, ": ", diff);
    }
  return out_llvm;
}

using kiln::testing::error_of;

}  // namespace

TEST_CASE("llvm: elementwise float32 with ramp vector loads and stores") {
  Buffer A = make_buffer("A", kF32, {ci64(64)}), B = make_buffer("B", kF32, {ci64(64)}), C = make_buffer("C", kF32, {ci64(64)});
  Var io("io");
  Expr idx = ramp(io * 8, ci64(1), 8);
  Stmt body = loop(io, 8, buffer_store(C, buffer_load(A, {idx}) * buffer_load(B, {idx}) + broadcast(cf32(1.5), 8), {idx}));
  PrimFunc f = make_prim_func("ew", {A, B, C}, body);
  std::vector<float> a(64), b(64);
  for (int i = 0; i < 64; ++i) a[size_t(i)] = 0.25f * float(i) - 3.0f, b[size_t(i)] = 1.0f / float(i + 1);
  Tensor ta = make_tensor(a), tb = make_tensor(b), tc = Tensor::zeros({64}, kF32);
  backend::llvm::CompileOptions opts;
  opts.keep_llvm_ir = true;
  auto mod = backend::llvm::compile(IRModule::from_prim_func(f, "main"), opts);
  mod["main"](ta, tb, tc);
  auto* fn = dynamic_cast<const backend::llvm::LLVMFunction*>(mod["main"].get());
  REQUIRE(fn != nullptr);
  CHECK(fn->llvm_ir().find("x float>") != std::string::npos);  // vector code survived
  CHECK(fn->llvm_ir().find("noalias") != std::string::npos);
  auto c = values_of<float>(tc);
  for (int i = 0; i < 64; ++i) CHECK(c[size_t(i)] == a[size_t(i)] * b[size_t(i)] + 1.5f);
  CHECK(mod.jit_time_ms() > 0);
  CHECK(mod["main"].jit_time_ms() > 0);
  CHECK(mod.jit_time_ms() >= mod["main"].jit_time_ms());
  run_both(f, {ta, tb, tc});
}

TEST_CASE("llvm: strided gather and scatter") {
  Buffer A = make_buffer("A", kI32, {ci64(32)}), B = make_buffer("B", kI32, {ci64(32)});
  Var i("i");
  // B[ramp(i, 4, 4)] = A[ramp(31 - i, -2, 4)] + ramp(0, 1, 4) cast to int32
  Stmt body = loop(i, 4, buffer_store(B, buffer_load(A, {ramp(ci64(31) - i, ci64(-2), 4)}) + cast(DataType::int_(32, 4), ramp(i, ci64(1), 4)),
                                      {ramp(i, ci64(4), 4)}));
  PrimFunc f = make_prim_func("gather", {A, B}, body);
  std::vector<int32_t> a(32);
  for (int k = 0; k < 32; ++k) a[size_t(k)] = k * 10;
  auto out = run_both(f, {make_tensor(a), Tensor::zeros({32}, kI32)});
  auto b = values_of<int32_t>(out[1]);
  for (int iv = 0; iv < 4; ++iv)
    for (int l = 0; l < 4; ++l) CHECK(b[size_t(iv + 4 * l)] == (31 - iv - 2 * l) * 10 + iv + l);
}

TEST_CASE("llvm: reductions with nested loops (serial, unrolled, vectorized)") {
  const int M = 8, N = 100;
  Buffer A = make_buffer("A", kF32, {ci64(M * N)}), S = make_buffer("S", kF32, {ci64(M)}), T = make_buffer("T", kI32, {ci64(M)});
  Var i("i", kI32), k("k", kI32), j("j");
  Expr ii = cast(kI64, i);
  Stmt sum = seq({buffer_store(S, cf32(0), {ii}),
                  loop(k, N, buffer_store(S, buffer_load(S, {ii}) + buffer_load(A, {ii * N + cast(kI64, k)}), {ii}))});
  Stmt count = seq({buffer_store(T, int_imm(0, kI32), {ii}),
                    loop(j, N, buffer_store(T, buffer_load(T, {ii}) + cast(kI32, buffer_load(A, {ii * N + j}) > cf32(0.0)), {ii}),
                         ForKind::Unrolled)});
  Buffer V = make_buffer("V", kF32, {ci64(M * N)});
  Var q("q");
  Stmt scale = loop(q, M * N, buffer_store(V, buffer_load(A, {q}) * cf32(2.0), {q}), ForKind::Vectorized);
  PrimFunc f = make_prim_func("reduce", {A, S, T, V}, seq({loop(i, M, seq({sum, count})), scale}));
  std::vector<float> a(M * N);
  for (int x = 0; x < M * N; ++x) a[size_t(x)] = std::sin(float(x)) * 3.0f;
  auto out = run_both(f, {make_tensor(a), Tensor::zeros({M}, kF32), Tensor::zeros({M}, kI32), Tensor::zeros({M * N}, kF32)});
  auto s = values_of<float>(out[1]);
  auto t = values_of<int32_t>(out[2]);
  for (int r = 0; r < M; ++r) {
    float acc = 0;
    int pos = 0;
    for (int c = 0; c < N; ++c) acc += a[size_t(r * N + c)], pos += a[size_t(r * N + c)] > 0;
    CHECK(s[size_t(r)] == acc);  // same order, no reassociation: bit exact
    CHECK(t[size_t(r)] == pos);
  }
  auto v = values_of<float>(out[3]);
  for (int x = 0; x < M * N; ++x) CHECK(v[size_t(x)] == a[size_t(x)] * 2.0f);
}

TEST_CASE("llvm: integer wraparound and unsigned division") {
  DataType i8 = DataType::int_(8), u32 = DataType::uint(32);
  Buffer A = make_buffer("A", i8, {ci64(4)}), B = make_buffer("B", i8, {ci64(4)});
  Buffer X = make_buffer("X", kI32, {ci64(4)}), Y = make_buffer("Y", kI32, {ci64(4)});
  Buffer U = make_buffer("U", u32, {ci64(4)}), W = make_buffer("W", u32, {ci64(4)}), Q = make_buffer("Q", u32, {ci64(4)});
  Var i("i");
  Stmt body = loop(i, 4, seq({
      buffer_store(B, buffer_load(A, {i}) + buffer_load(A, {i}), {i}),
      buffer_store(Y, buffer_load(X, {i}) * int_imm(65537, kI32) + int_imm(INT32_MAX, kI32), {i}),
      buffer_store(Q, div(buffer_load(U, {i}), buffer_load(W, {i})), {i}),
      buffer_store(W, truncmod(buffer_load(U, {i}), int_imm(7, u32)), {i}),
  }));
  PrimFunc f = make_prim_func("wrap", {A, B, X, Y, U, W, Q}, body);
  std::vector<int8_t> a = {100, -100, 127, -128};
  std::vector<int32_t> x = {1, 70000, -70000, INT32_MAX};
  std::vector<uint32_t> u = {0xFFFFFFF0u, 7u, 0x80000000u, 12345u}, w = {3u, 2u, 0x10u, 0u};
  std::vector<runtime::Arg> args = {make_tensor(a), Tensor::zeros({4}, i8), make_tensor(x), Tensor::zeros({4}, kI32),
                                    make_tensor(u), make_tensor(w), Tensor::zeros({4}, u32)};
  build_llvm(f)["main"].call(args);
  std::vector<Tensor> out;
  for (auto& arg : args) out.push_back(arg.tensor());
  auto b = values_of<int8_t>(out[1]);
  auto y = values_of<int32_t>(out[3]);
  auto q = values_of<uint32_t>(out[6]);
  auto r = values_of<uint32_t>(out[5]);
  for (size_t k = 0; k < 4; ++k) {
    CHECK(b[k] == int8_t(uint8_t(a[k]) + uint8_t(a[k])));
    CHECK(y[k] == int32_t(uint32_t(x[k]) * 65537u + uint32_t(INT32_MAX)));
    CHECK(r[k] == u[k] % 7u);
  }
  CHECK(q[0] == 0xFFFFFFF0u / 3u);  // unsigned: a signed division would give 5 (-16 / 3)
  CHECK(q[1] == 3u);
  CHECK(q[2] == 0x08000000u);
  CHECK(q[3] == 0u);  // division by zero does not trap in generated code (the interpreter reports it)
  w[3] = 5u;
  run_both(f, {make_tensor(a), Tensor::zeros({4}, i8), make_tensor(x), Tensor::zeros({4}, kI32), make_tensor(u),
               make_tensor(w), Tensor::zeros({4}, u32)});
}

TEST_CASE("llvm: floordiv and floormod on negatives, truncating div and mod") {
  Buffer A = make_buffer("A", kI32, {ci64(8)}), D = make_buffer("D", kI32, {ci64(8)});
  Buffer O = make_buffer("O", kI32, {ci64(8 * 6)});
  Var i("i");
  auto out_at = [&](int k) { return i * 6 + k; };
  Expr a = buffer_load(A, {i}), d = buffer_load(D, {i});
  Stmt body = loop(i, 8, seq({
      buffer_store(O, floordiv(a, d), {out_at(0)}),
      buffer_store(O, floormod(a, d), {out_at(1)}),
      buffer_store(O, div(a, d), {out_at(2)}),
      buffer_store(O, truncmod(a, d), {out_at(3)}),
      buffer_store(O, floordiv(a, int_imm(4, kI32)), {out_at(4)}),
      buffer_store(O, floormod(a, int_imm(-4, kI32)), {out_at(5)}),
  }));
  PrimFunc f = make_prim_func("floordiv", {A, D, O}, body);
  std::vector<int32_t> a_v = {-7, 7, -7, 7, -8, 0, INT32_MIN, -1}, d_v = {2, -2, -2, 2, 4, -3, -1, 5};
  std::vector<runtime::Arg> args;
  Tensor o = Tensor::zeros({48}, kI32);
  build_llvm(f)["main"](make_tensor(a_v), make_tensor(d_v), o);
  auto got = values_of<int32_t>(o);
  auto fdiv = [](int64_t x, int64_t y) { int64_t q = x / y; return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q; };
  auto fmod = [&](int64_t x, int64_t y) { return x - fdiv(x, y) * y; };
  for (size_t k = 0; k < 8; ++k) {
    int64_t x = a_v[k], y = d_v[k];
    CAPTURE(k);
    CHECK(got[k * 6 + 0] == int32_t(uint32_t(fdiv(x, y))));
    CHECK(got[k * 6 + 1] == int32_t(fmod(x, y)));
    CHECK(got[k * 6 + 2] == int32_t(uint32_t(x / y)));  // INT32_MIN / -1 wraps to INT32_MIN
    CHECK(got[k * 6 + 3] == int32_t(x % y));
    CHECK(got[k * 6 + 4] == int32_t(fdiv(x, 4)));
    CHECK(got[k * 6 + 5] == int32_t(fmod(x, -4)));
  }
  CHECK(got[0] == -4);
  CHECK(got[1] == 1);
  CHECK(got[6 * 6 + 2] == INT32_MIN);
  run_both(f, {make_tensor(a_v), make_tensor(d_v), Tensor::zeros({48}, kI32)});
}

TEST_CASE("llvm: float16 and bfloat16 arithmetic rounds after every operation") {
  DataType h = DataType::float_(16), bf = DataType::bfloat16();
  for (DataType t : {h, bf}) {
    CAPTURE(t.str());
    Buffer A = make_buffer("A", t, {ci64(16)}), B = make_buffer("B", t, {ci64(16)}), C = make_buffer("C", t, {ci64(16)});
    Buffer F = make_buffer("F", kF32, {ci64(16)});
    Var i("i");
    // The lowered form: compute in float32, round back after each op.
    auto wide = [&](Expr e) { return cast(kF32, std::move(e)); };
    Expr prod = cast(t, wide(buffer_load(A, {i})) * wide(buffer_load(B, {i})));
    Expr sum = cast(t, wide(prod) + cf32(1.0 / 3.0));
    Stmt body = loop(i, 16, seq({buffer_store(C, sum, {i}), buffer_store(F, div(wide(buffer_load(A, {i})), cf32(3.0)), {i})}));
    // And direct narrow arithmetic (the backend widens and rounds itself), vectorized.
    Buffer D = make_buffer("D", t, {ci64(16)});
    Var v("v");
    Expr idx = ramp(v * 8, ci64(1), 8);
    Stmt vec = loop(v, 2, buffer_store(D, buffer_load(A, {idx}) * buffer_load(B, {idx}) - broadcast(float_imm(0.1, t), 8), {idx}));
    PrimFunc f = make_prim_func("narrow", {A, B, C, F, D}, seq({body, vec}));
    bool is_h = t == h;
    auto to_bits = [&](float x) { return is_h ? runtime::float_to_half_bits(x) : runtime::float_to_bfloat16_bits(x); };
    auto to_f = [&](uint16_t x) { return is_h ? runtime::half_bits_to_float(x) : runtime::bfloat16_bits_to_float(x); };
    std::vector<uint16_t> a(16), b(16);
    for (int k = 0; k < 16; ++k) a[size_t(k)] = to_bits(1.1f * float(k) - 7.3f), b[size_t(k)] = to_bits(0.37f * float(k * k) + 0.01f);
    a[15] = is_h ? 0x7e00 : 0x7fc0;  // NaN stays NaN
    auto out = run_both(f, {tensor_of_bits(a, t), tensor_of_bits(b, t), Tensor::zeros({16}, t), Tensor::zeros({16}, kF32),
                            Tensor::zeros({16}, t)});
    auto c = values_of<uint16_t>(out[2]);
    auto d = values_of<uint16_t>(out[4]);
    uint16_t tenth = is_h ? runtime::double_to_half_bits(0.1) : runtime::double_to_bfloat16_bits(0.1);
    for (size_t k = 0; k < 15; ++k) {
      CAPTURE(k);
      float p = to_f(to_bits(to_f(a[k]) * to_f(b[k])));
      CHECK(c[k] == to_bits(p + float(1.0 / 3.0)));
      CHECK(d[k] == to_bits(to_f(to_bits(to_f(a[k]) * to_f(b[k]))) - to_f(tenth)));
    }
    CHECK(std::isnan(to_f(c[15])));
    CHECK(std::isnan(to_f(d[15])));
  }
}

TEST_CASE("llvm: every math intrinsic matches libm (float32 and float64)") {
  std::vector<float> xs = {-3.7f, -1.0f, -0.5f, -0.0f, 0.25f, 0.5f, 1.0f, 1.5f, 2.5f, 3.5f, 10.0f, 88.0f, 1e-3f, 0.7853982f, 2.0f, 100.5f};
  const int n = int(xs.size());
  for (auto& info : kIntrinsics) {
    for (int bits : {32, 64}) {
      std::string name(info.name);
      CAPTURE(name);
      CAPTURE(bits);
      DataType t = DataType::float_(bits);
      Buffer X = make_buffer("X", t, {ci64(n)}), Y = make_buffer("Y", t, {ci64(n)});
      Var i("i");
      std::vector<Expr> args;
      Expr x = buffer_load(X, {i});
      if (info.arity == 1) args = {x};
      if (info.arity == 2) args = {x, float_imm(1.25, t)};
      if (info.arity == 3) args = {x, float_imm(1.0 / 3.0, t), float_imm(0.1, t)};
      PrimFunc f = make_prim_func("m", {X, Y}, loop(i, n, buffer_store(Y, call(t, name, args), {i})));
      Tensor tx = Tensor::empty({n}, t), ty = Tensor::zeros({n}, t);
      for (int k = 0; k < n; ++k) {
        if (bits == 32) tx.data_as<float>()[k] = xs[size_t(k)];
        else tx.data_as<double>()[k] = double(xs[size_t(k)]) * 1.0000001;
      }
      build_llvm(f)["main"](tx, ty);
      for (int k = 0; k < n; ++k) {
        CAPTURE(k);
        if (bits == 32) {
          float v = tx.data_as<float>()[k], got = ty.data_as<float>()[k], want = 0;
          if (name == "exp") want = std::exp(v);
          else if (name == "log") want = std::log(v);
          else if (name == "exp2") want = std::exp2(v);
          else if (name == "log2") want = std::log2(v);
          else if (name == "log10") want = std::log10(v);
          else if (name == "sqrt") want = std::sqrt(v);
          else if (name == "rsqrt") want = 1.0f / std::sqrt(v);
          else if (name == "sin") want = std::sin(v);
          else if (name == "cos") want = std::cos(v);
          else if (name == "tan") want = std::tan(v);
          else if (name == "tanh") want = std::tanh(v);
          else if (name == "sigmoid") want = 1.0f / (1.0f + std::exp(-v));
          else if (name == "erf") want = std::erf(v);
          else if (name == "floor") want = std::floor(v);
          else if (name == "ceil") want = std::ceil(v);
          else if (name == "trunc") want = std::trunc(v);
          else if (name == "round") want = std::nearbyint(v);
          else if (name == "fabs" || name == "abs") want = std::fabs(v);
          else if (name == "pow") want = std::pow(v, 1.25f);
          else if (name == "fma") want = std::fma(v, float(1.0 / 3.0), 0.1f);
          else FAIL("untested intrinsic");
          CHECK((std::memcmp(&got, &want, 4) == 0 || (std::isnan(got) && std::isnan(want))));
        } else {
          double v = tx.data_as<double>()[k], got = ty.data_as<double>()[k], want = 0;
          if (name == "exp") want = std::exp(v);
          else if (name == "log") want = std::log(v);
          else if (name == "exp2") want = std::exp2(v);
          else if (name == "log2") want = std::log2(v);
          else if (name == "log10") want = std::log10(v);
          else if (name == "sqrt") want = std::sqrt(v);
          else if (name == "rsqrt") want = 1.0 / std::sqrt(v);
          else if (name == "sin") want = std::sin(v);
          else if (name == "cos") want = std::cos(v);
          else if (name == "tan") want = std::tan(v);
          else if (name == "tanh") want = std::tanh(v);
          else if (name == "sigmoid") want = 1.0 / (1.0 + std::exp(-v));
          else if (name == "erf") want = std::erf(v);
          else if (name == "floor") want = std::floor(v);
          else if (name == "ceil") want = std::ceil(v);
          else if (name == "trunc") want = std::trunc(v);
          else if (name == "round") want = std::nearbyint(v);
          else if (name == "fabs" || name == "abs") want = std::fabs(v);
          else if (name == "pow") want = std::pow(v, 1.25);
          else if (name == "fma") want = std::fma(v, 1.0 / 3.0, 0.1);
          else FAIL("untested intrinsic");
          CHECK((std::memcmp(&got, &want, 8) == 0 || (std::isnan(got) && std::isnan(want))));
        }
      }
    }
  }
}

TEST_CASE("llvm: float division kinds, NaN-losing min/max, comparisons and bool logic match the interpreter") {
  const int n = 8;
  Buffer A = make_buffer("A", kF32, {ci64(n)}), B = make_buffer("B", kF32, {ci64(n)});
  Buffer O = make_buffer("O", kF32, {ci64(n * 5)}), L = make_buffer("L", DataType::boolean(), {ci64(n * 4)});
  Var i("i");
  Expr a = buffer_load(A, {i}), b = buffer_load(B, {i});
  auto at = [&](int k) { return i * 5 + k; };
  auto lat = [&](int k) { return i * 4 + k; };
  Stmt body = loop(i, n, seq({
      buffer_store(O, truncmod(a, b), {at(0)}),
      buffer_store(O, floordiv(a, b), {at(1)}),
      buffer_store(O, floormod(a, b), {at(2)}),
      buffer_store(O, ir::min(a, b), {at(3)}),
      buffer_store(O, ir::max(a, b), {at(4)}),
      buffer_store(L, ne(a, b), {lat(0)}),
      buffer_store(L, lt(a, b) || eq(a, b), {lat(1)}),
      buffer_store(L, !(ge(a, b)) && gt(b, cf32(0)), {lat(2)}),
      buffer_store(L, buffer_load(L, {lat(0)}) && !buffer_load(L, {lat(1)}), {lat(3)}),
  }));
  PrimFunc f = make_prim_func("fl", {A, B, O, L}, body);
  float nan = std::numeric_limits<float>::quiet_NaN();
  // (min/max of +0 and -0 may return either zero under IEEE minNum/maxNum, so no such pair here.)
  std::vector<float> av = {7.5f, -7.5f, 7.5f, -7.5f, nan, 1.0f, 0.0f, -0.0f}, bv = {2.0f, 2.0f, -2.0f, -2.0f, 3.0f, nan, -1.0f, 5.0f};
  auto out = run_both(f, {make_tensor(av), make_tensor(bv), Tensor::zeros({n * 5}, kF32), Tensor::zeros({n * 4}, DataType::boolean())});
  auto o = values_of<float>(out[2]);
  CHECK(o[0] == std::fmod(7.5f, 2.0f));
  CHECK(o[5 + 1] == -4.0f);   // floor(-3.75)
  CHECK(o[10 + 2] == -0.5f);  // 7.5 - floor(-3.75) * -2
  CHECK(o[4 * 5 + 3] == 3.0f);  // min(NaN, 3) = 3
  CHECK(o[5 * 5 + 4] == 1.0f);  // max(1, NaN) = 1
  auto l = values_of<uint8_t>(out[3]);
  CHECK(l[4 * 4 + 0] == 1);  // NaN != 3
  CHECK(l[4 * 4 + 1] == 0);
  for (auto v : l) CHECK(v <= 1);  // bools are stored as 0/1
}

TEST_CASE("llvm: integer abs wraps at the most negative value") {
  Buffer A = make_buffer("A", kI32, {ci64(4)}), B = make_buffer("B", kI32, {ci64(4)});
  Var i("i");
  PrimFunc f = make_prim_func("iabs", {A, B}, loop(i, 4, buffer_store(B, call(kI32, "abs", {buffer_load(A, {i})}), {i})));
  auto out = run_both(f, {make_tensor(std::vector<int32_t>{-5, 5, 0, INT32_MIN}), Tensor::zeros({4}, kI32)});
  CHECK(values_of<int32_t>(out[1]) == std::vector<int32_t>{5, 5, 0, INT32_MIN});
}

TEST_CASE("llvm: lazy if_then_else never evaluates the untaken branch") {
  const int n = 64;
  Buffer A = make_buffer("A", kF32, {ci64(n)}), B = make_buffer("B", kF32, {ci64(n + 8)});
  Var i("i");
  // B[i] = i in [4, n + 4) ? A[i - 4] : -1, where the untaken branch reads ~8 GB out of bounds.
  Expr in_range = (i >= ci64(4)) && (i < ci64(n + 4));
  Expr oob = buffer_load(A, {i - ci64(4) + ci64(int64_t(1) << 31) * (cast(kI64, !in_range))});
  Stmt s = loop(i, n + 8, buffer_store(B, call(kF32, "if_then_else", {in_range, oob, cf32(-1)}), {i}));
  // The vector form: each lane decides for itself.
  Buffer C = make_buffer("C", kF32, {ci64(n + 8)});
  Var v("v");
  Expr idx = ramp(v * 8, ci64(1), 8);
  Expr lanes_in = (idx >= broadcast(ci64(4), 8)) && (idx < broadcast(ci64(n + 4), 8));
  Expr vload = buffer_load(A, {idx - broadcast(ci64(4), 8) + broadcast(ci64(int64_t(1) << 31), 8) * cast(DataType::int_(64, 8), !lanes_in)});
  Stmt vs = loop(v, (n + 8) / 8, buffer_store(C, call(DataType::float_(32, 8), "if_then_else", {lanes_in, vload, broadcast(cf32(-1), 8)}), {idx}));
  PrimFunc f = make_prim_func("pad", {A, B, C}, seq({s, vs}));
  std::vector<float> a(n);
  for (int k = 0; k < n; ++k) a[size_t(k)] = float(k) * 0.5f;
  Tensor tb = Tensor::zeros({n + 8}, kF32), tc = Tensor::zeros({n + 8}, kF32);
  build_llvm(f)["main"](make_tensor(a), tb, tc);
  for (int k = 0; k < n + 8; ++k) {
    float want = (k >= 4 && k < n + 4) ? a[size_t(k - 4)] : -1.0f;
    CHECK(tb.data_as<float>()[k] == want);
    CHECK(tc.data_as<float>()[k] == want);
  }
}

TEST_CASE("llvm: parallel loop over 10^5 elements captures buffers, scalars and shape vars") {
  Var n("n");
  Buffer A = make_buffer("A", kF32, {n}), B = make_buffer("B", kF32, {n});
  Var alpha("alpha", kF32), i("i"), r("r"), j("j");
  // Parallel outer loop over rows of 100, inner vectorized, plus a parallel loop with a local Let.
  Stmt body = for_loop(i, ci64(0), floordiv(n, ci64(100)), ForKind::Parallel,
                       loop(j, 100, buffer_store(B, buffer_load(A, {i * 100 + j}) * alpha + cast(kF32, i), {i * 100 + j}),
                            ForKind::Vectorized));
  Buffer Cnt = make_buffer("Cnt", kI32, {n});
  Var t("t", kI32);
  Stmt body2 = for_loop(r, ci64(0), n, ForKind::Parallel,
                        let_stmt(t, cast(kI32, r) * int_imm(3, kI32), buffer_store(Cnt, t + int_imm(1, kI32), {r})));
  PrimFunc f = make_prim_func("par", {A, B, Cnt}, seq({body, body2}), {alpha});
  const int N = 100000;
  std::vector<float> a(N);
  for (int k = 0; k < N; ++k) a[size_t(k)] = float(k % 1000) * 0.001f;
  Tensor tb = Tensor::zeros({N}, kF32), tcnt = Tensor::zeros({N}, kI32);
  auto mod = build_llvm(f);
  mod["main"](make_tensor(a), tb, tcnt, 2.5);
  int bad = 0;
  for (int k = 0; k < N; ++k) {
    bad += tb.data_as<float>()[k] != a[size_t(k)] * 2.5f + float(k / 100);
    bad += tcnt.data_as<int32_t>()[k] != k * 3 + 1;
  }
  CHECK(bad == 0);
  run_both(f, {make_tensor(a), Tensor::zeros({N}, kF32), Tensor::zeros({N}, kI32), 2.5});
}

TEST_CASE("llvm: Allocate on the stack (small) and on the heap (large or symbolic)") {
  for (int64_t size : {int64_t(16), int64_t(1) << 20}) {
    CAPTURE(size);
    Buffer A = make_buffer("A", kF32, {ci64(size)}), B = make_buffer("B", kF32, {ci64(size)});
    Buffer T = make_buffer("T", kF32, {ci64(size)}, "global");
    Buffer M = make_buffer("M", DataType::boolean(), {ci64(size)}, "local");
    Var i("i"), j("j");
    Stmt body = allocate(T, allocate(M, seq({
        loop(i, size, seq({buffer_store(T, buffer_load(A, {i}) * cf32(2.0), {i}), buffer_store(M, buffer_load(A, {i}) > cf32(0), {i})})),
        loop(j, size, buffer_store(B, select(buffer_load(M, {j}), buffer_load(T, {ci64(size - 1) - j}) + cf32(1.0), cf32(-7)), {j})),
    })));
    PrimFunc f = make_prim_func("alloc", {A, B}, body);
    std::vector<float> a(static_cast<size_t>(size));
    for (int64_t k = 0; k < size; ++k) a[size_t(k)] = float(k % 7) - 2.0f;
    Tensor tb = Tensor::zeros({size}, kF32);
    build_llvm(f)["main"](make_tensor(a), tb);
    int bad = 0;
    for (int64_t k = 0; k < size; ++k)
      bad += tb.data_as<float>()[k] != (a[size_t(k)] > 0 ? a[size_t(size - 1 - k)] * 2.0f + 1.0f : -7.0f);
    CHECK(bad == 0);
  }
  // Symbolic size: always on the heap.
  Var n("n");
  Buffer A = make_buffer("A", kF32, {n}), B = make_buffer("B", kF32, {n}), T = make_buffer("T", kF32, {n});
  Var i("i"), j("j");
  PrimFunc f = make_prim_func("dyn", {A, B}, allocate(T, seq({for_loop(i, ci64(0), n, ForKind::Serial, buffer_store(T, buffer_load(A, {i}) + cf32(1), {i})),
                                                               for_loop(j, ci64(0), n, ForKind::Serial, buffer_store(B, buffer_load(T, {j}) * cf32(3), {j}))})));
  auto out = run_both(f, {make_tensor(std::vector<float>{1, 2, 3, 4, 5}), Tensor::zeros({5}, kF32)});
  CHECK(values_of<float>(out[1]) == std::vector<float>{6, 9, 12, 15, 18});
}

TEST_CASE("llvm: a temporary that cannot be allocated is an error, not a crash") {
  Buffer A = make_buffer("A", kF32, {ci64(4)});
  Var sz("sz"), p("p");
  Buffer T = make_buffer("T", kF32, {sz});
  Stmt use_t = seq({buffer_store(T, cf32(1), {ci64(0)}), buffer_store(A, buffer_load(T, {ci64(0)}), {ci64(0)})});
  // At the top level, and inside a parallel loop (the code travels back through kiln_parallel_for).
  PrimFunc top = make_prim_func("top", {A}, allocate(T, use_t), {sz});
  PrimFunc par = make_prim_func("par", {A}, for_loop(p, ci64(0), ci64(4), ForKind::Parallel, allocate(T, use_t)), {sz});
  for (const PrimFunc& f : {top, par}) {
    auto mod = build_llvm(f);
    Tensor a = Tensor::zeros({4}, kF32);
    mod["main"](a, 8);
    CHECK(a.data_as<float>()[0] == 1.0f);
    for (int64_t bad : {int64_t(1) << 62, int64_t(-5)})
      CHECK(error_of([&] { mod["main"](a, bad); }).find("could not allocate a temporary buffer") != std::string::npos);
  }
}

TEST_CASE("llvm: symbolic shape variables and scalar params through the ABI") {
  Var n("n"), m("m", kI32);
  Buffer A = make_buffer("A", kF32, {n, ci64(3)}), Af = make_buffer("A", kF32, {n * 3});
  // Lowered code uses the flattened buffer with the same data var.
  auto af = std::make_shared<BufferNode>(*Af.get());
  af->data = A->data;
  Af = Buffer(std::shared_ptr<const BufferNode>(af));
  Buffer O = make_buffer("O", kI64, {ci64(2)});
  Var i("i"), s("s", DataType::float_(64));
  Stmt body = seq({buffer_store(O, n, {ci64(0)}), buffer_store(O, cast(kI64, m) * ci64(10), {ci64(1)}),
                   for_loop(i, ci64(0), n * 3, ForKind::Serial, buffer_store(Af, buffer_load(Af, {i}) + cast(kF32, s), {i}))});
  PrimFunc f = make_prim_func("shape", {A, O}, body, {m, s});
  auto mod = build_llvm(f);
  for (int64_t rows : {1, 7, 37}) {
    Tensor a = Tensor::zeros({rows, 3}, kF32), o = Tensor::zeros({2}, kI64);
    mod["main"](a, o, 4, 0.5);
    CHECK(o.data_as<int64_t>()[0] == rows);
    CHECK(o.data_as<int64_t>()[1] == 40);
    CHECK(a.data_as<float>()[rows * 3 - 1] == 0.5f);
  }
  // Wrong arguments are reported by bind_arguments, before any generated code runs.
  Tensor bad = Tensor::zeros({4, 2}, kF32), o = Tensor::zeros({2}, kI64);
  CHECK(error_of([&] { mod["main"](bad, o, 4, 0.5); }).find("'A'") != std::string::npos);
  CHECK(error_of([&] { mod["main"](bad, o); }).find("argument") != std::string::npos);
}

TEST_CASE("llvm: casts among all dtypes agree with the interpreter") {
  std::vector<DataType> types = {DataType::boolean(), DataType::int_(8), DataType::int_(16), kI32, kI64, DataType::uint(8),
                                 DataType::uint(16), DataType::uint(32), DataType::uint(64), DataType::float_(16),
                                 DataType::bfloat16(), kF32, DataType::float_(64)};
  std::vector<double> vals = {0.0, 1.0, -1.0, 2.5, -2.5, 300.7, -300.7, 70000.4, 1e10, -1e10, 0.1, 65504.0, 1e20, -0.0};
  const int n = int(vals.size());
  Buffer S = make_buffer("S", DataType::float_(64), {ci64(n)});
  for (DataType mid : types) {
    for (DataType to : types) {
      Buffer O = make_buffer("O", to, {ci64(n)});
      Var i("i");
      PrimFunc f = make_prim_func("cast", {S, O}, loop(i, n, buffer_store(O, cast(to, cast(mid, buffer_load(S, {i}))), {i})));
      Tensor s = make_tensor(vals);
      CAPTURE(mid.str());
      CAPTURE(to.str());
      run_both(f, {s, Tensor::zeros({n}, to)});
    }
  }
}

TEST_CASE("llvm: target options and errors") {
  Buffer A = make_buffer("A", DataType::float_(16), {ci64(8)}), B = make_buffer("B", DataType::float_(16), {ci64(8)});
  Var i("i");
  Expr w = cast(kF32, buffer_load(A, {i}));
  PrimFunc f = make_prim_func("h", {A, B}, loop(i, 8, buffer_store(B, cast(DataType::float_(16), w * w + cf32(0.1)), {i})));
  std::vector<uint16_t> a(8);
  for (int k = 0; k < 8; ++k) a[size_t(k)] = runtime::float_to_half_bits(float(k) * 1.37f - 3.0f);
  // Without F16C the half conversions are libcalls that resolve to kiln's own functions.
  for (const char* target : {"llvm", "llvm -mcpu=x86-64", "llvm -mcpu=native -mattr=-f16c", "llvm -opt-level=0"}) {
    CAPTURE(target);
    Tensor tb = Tensor::zeros({8}, DataType::float_(16));
    backend::llvm::compile(IRModule::from_prim_func(f, "main"), Target(target))["main"](tensor_of_bits(a, DataType::float_(16)), tb);
    auto got = values_of<uint16_t>(tb);
    for (int k = 0; k < 8; ++k) {
      float x = runtime::half_bits_to_float(a[size_t(k)]);
      CHECK(got[size_t(k)] == runtime::float_to_half_bits(x * x + 0.1f));
    }
  }
  CHECK(error_of([&] { build_llvm(f, "llvm -mcpu=pentium9000"); }).find("does not know the CPU 'pentium9000'") != std::string::npos);
  CHECK(error_of([&] { build_llvm(f, "llvm -mattr=+warpdrive"); }).find("feature 'warpdrive'") != std::string::npos);

  Buffer C = make_buffer("C", kF32, {ci64(8)});
  Var t("tx");
  PrimFunc gpu = make_prim_func("gpu", {C}, for_loop(t, ci64(0), ci64(8), ForKind::ThreadBinding, buffer_store(C, cf32(1), {t}), "threadIdx.x"));
  CHECK(error_of([&] { build_llvm(gpu); }).find("needs a GPU target") != std::string::npos);
  PrimFunc unknown = make_prim_func("u", {C}, loop(i, 8, buffer_store(C, call(kF32, "frobnicate", {cf32(1)}), {i})));
  CHECK(error_of([&] { build_llvm(unknown); }).find("unknown function 'frobnicate'") != std::string::npos);
  Var free_var("k");
  PrimFunc unbound = make_prim_func("ub", {C}, buffer_store(C, cf32(1), {free_var}));
  CHECK(error_of([&] { build_llvm(unbound); }).find("variable 'k'") != std::string::npos);
  auto mod = build_llvm(f);
  CHECK(error_of([&] { mod["nope"]; }).find("has no function named 'nope'") != std::string::npos);
}

TEST_CASE("llvm: registered with kiln::build, several functions per module") {
  CHECK(kiln::has_backend("llvm"));
  Buffer A = make_buffer("A", kF32, {ci64(4)});
  Var i("i");
  IRModule m;
  m.add("inc", make_prim_func("inc", {A}, loop(i, 4, buffer_store(A, buffer_load(A, {i}) + cf32(1), {i}))));
  m.add("dbl", make_prim_func("dbl", {A}, loop(i, 4, buffer_store(A, buffer_load(A, {i}) * cf32(2), {i}))));
  auto mod = kiln::build(m, Target("llvm"));
  CHECK(mod.function_names() == std::vector<std::string>{"dbl", "inc"});
  Tensor a = make_tensor(std::vector<float>{1, 2, 3, 4});
  mod["inc"](a);
  mod["dbl"](a);
  CHECK(values_of<float>(a) == std::vector<float>{4, 6, 8, 10});
  CHECK(mod["inc"].jit_time_ms() > 0);

  // KILN_DUMP_LLVM=dir writes each function's IR before and after optimization.
  auto dir = std::filesystem::temp_directory_path() / ("kiln_llvm_dump_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ::setenv("KILN_DUMP_LLVM", dir.c_str(), 1);
  backend::llvm::compile(m, Target("llvm"));
  ::unsetenv("KILN_DUMP_LLVM");
  std::ifstream dumped(dir / "inc.ll");
  std::string text((std::istreambuf_iterator<char>(dumped)), std::istreambuf_iterator<char>());
  CHECK(text.find("define") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "dbl.unopt.ll"));
  std::filesystem::remove_all(dir);
}

// A function that adds `k` to each of the 16 elements of A (k differs per module, so a mix-up of
// code between modules shows).
PrimFunc add_const_func(int k) {
  Buffer A = make_buffer("A", kF32, {ci64(16)});
  Var i("i");
  return make_prim_func("add" + std::to_string(k), {A},
                        loop(i, 16, buffer_store(A, buffer_load(A, {i}) + cf32(double(k)), {i})));
}

TEST_CASE("llvm: modules share one JIT; a function outlives its module; dropped modules free their code") {
  auto f = [] {
    auto mod = build_llvm(add_const_func(7));
    return mod["main"];  // the module handle dies here; the function keeps its code alive
  }();
  for (int k = 0; k < 40; ++k) {  // many short-lived modules, each one's JITDylib removed on drop
    Tensor a = Tensor::zeros({16}, kF32);
    build_llvm(add_const_func(k))["main"](a);
    CHECK(values_of<float>(a) == std::vector<float>(16, float(k)));
  }
  Tensor a = Tensor::zeros({16}, kF32);
  f(a);
  CHECK(values_of<float>(a) == std::vector<float>(16, 7.0f));
  // Different spellings of the same machine, and a different CPU, in one process.
  Tensor b = Tensor::zeros({16}, kF32);
  build_llvm(add_const_func(1), "llvm -mcpu=native")["main"](b);
  build_llvm(add_const_func(2), "llvm -mcpu=x86-64")["main"](b);
  build_llvm(add_const_func(3), "llvm -opt-level=1")["main"](b);
  CHECK(values_of<float>(b) == std::vector<float>(16, 6.0f));
}

TEST_CASE("llvm: building modules from several threads at once") {
  constexpr int kThreads = 4, kModules = 12;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &failures] {
      try {
        std::vector<std::pair<runtime::Module, int>> keep;
        for (int j = 0; j < kModules; ++j) {
          int k = t * 100 + j;
          IRModule m;
          m.add("main", add_const_func(k));
          m.add("twice", add_const_func(2 * k));
          auto mod = kiln::build(m, Target(t % 2 ? "llvm" : "llvm -mcpu=native"));
          Tensor a = Tensor::zeros({16}, kF32);
          mod["main"](a);
          mod["twice"](a);
          if (values_of<float>(a) != std::vector<float>(16, float(3 * k)))
            failures[size_t(t)] = "wrong result in module " + std::to_string(k);
          if (j % 3 == 0) keep.emplace_back(mod, k);  // some modules die while other threads compile
        }
        for (auto& [mod, k] : keep) {
          Tensor a = Tensor::zeros({16}, kF32);
          mod["main"](a);
          if (values_of<float>(a) != std::vector<float>(16, float(k))) failures[size_t(t)] = "a kept module changed";
        }
      } catch (const std::exception& e) {
        failures[size_t(t)] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK_MESSAGE(failures[size_t(t)].empty(), "thread ", t, ": ", failures[size_t(t)]);
}
