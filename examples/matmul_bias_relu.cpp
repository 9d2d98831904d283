// kiln's main example: C = relu(A @ B + bias), written with the typed DSL, JIT-compiled in
// process through LLVM, checked against the reference interpreter, and timed.
//
// The row count m is symbolic: one compiled kernel serves every m. It is checked against the
// interpreter at a small m (the interpreter is slow by design: it is the oracle), then timed at
// a large one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include <kiln/backend/llvm.hpp>
#include <kiln/kiln.hpp>

using namespace kiln;
using runtime::Tensor;

static Tensor random_matrix(std::vector<int64_t> shape, std::mt19937& rng) {
  Tensor t = Tensor::empty(std::move(shape), DataType::float_(32));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = dist(rng);
  return t;
}

int main() {
  const int64_t N = 256, K = 256;

  // 1. The computation, typed: A(i, k) is an Expr<f32>; mixing it with an integer index without a
  //    cast would not compile.
  auto m = te::var("m");
  auto A = te::placeholder<f32>({m, K}, "A");
  auto B = te::placeholder<f32>({K, N}, "B");
  auto bias = te::placeholder<f32>({N}, "bias");
  auto k = te::reduce_axis(K, "k");
  auto matmul = te::compute({m, N}, [&](te::Index i, te::Index j) { return te::sum(A(i, k) * B(k, j), k); }, "matmul");
  auto C = te::compute({m, N}, [&](te::Index i, te::Index j) {
    return te::max(matmul(i, j) + bias(j), te::Expr<f32>(0.0));
  }, "C");
  ir::PrimFunc func = te::create_prim_func({A, B, bias, C});

  // 2. JIT-compile for this CPU.
  runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(func), Target("llvm -mcpu=native"));
  std::printf("JIT-compiled 'main' for %s in %.1f ms\n", Target("llvm -mcpu=native").str().c_str(), mod.jit_time_ms());

  // 3. Check against the reference interpreter at a small m.
  std::mt19937 rng(42);
  const int64_t m_check = 48;
  Tensor a = random_matrix({m_check, K}, rng), b = random_matrix({K, N}, rng), bi = random_matrix({N}, rng);
  Tensor c_jit = Tensor::zeros({m_check, N}, DataType::float_(32));
  Tensor c_ref = Tensor::zeros({m_check, N}, DataType::float_(32));
  mod["main"](a, b, bi, c_jit);
  tir::interpret(func, {a, b, bi, c_ref});
  double max_err = 0;
  for (int64_t i = 0; i < c_ref.numel(); ++i)
    max_err = std::max<double>(max_err, std::fabs(c_ref.data_as<float>()[i] - c_jit.data_as<float>()[i]));
  std::printf("checked m=%lld against the reference interpreter: max abs error %.3g -> %s\n", (long long)m_check,
              max_err, max_err <= 1e-4 ? "OK" : "MISMATCH");

  // 4. Time it at a larger m with the same compiled kernel (median of repeated runs).
  const int64_t m_time = 512;
  Tensor a2 = random_matrix({m_time, K}, rng), c2 = Tensor::zeros({m_time, N}, DataType::float_(32));
  std::vector<double> secs;
  for (int rep = 0; rep < 15; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    mod["main"](a2, b, bi, c2);
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  double median = secs[secs.size() / 2];
  double gflops = 2.0 * double(m_time) * double(N) * double(K) / median / 1e9;
  std::printf("m=%lld n=%lld k=%lld: median %.3f ms, %.2f GFLOP/s (unscheduled loop nest, 1 thread)\n",
              (long long)m_time, (long long)N, (long long)K, median * 1e3, gflops);
  return max_err <= 1e-4 ? 0 : 1;
}
