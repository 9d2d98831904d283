// kiln's main example: C = relu(A @ B + bias), written with the typed DSL, JIT-compiled in
// process through LLVM, checked against the reference interpreter, and timed: first the default
// loop nest, then with a schedule (split, reorder, vectorize, parallel) written as C++.
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

  // 2. A schedule: the same computation, loops rearranged. j is split into 16-wide vectors
  //    innermost (k moves outside them), and rows run in parallel on kiln's thread pool.
  tir::Schedule sched(func);
  auto mm = sched.get_block("matmul");
  auto [i, j, kk] = sched.get_loops<3>(mm);
  auto [jo, ji] = sched.split<2>(j, {std::nullopt, 16});
  sched.reorder({i, jo, kk, ji});
  sched.vectorize(ji);
  sched.parallel(i);
  auto [ci, cj] = sched.get_loops<2>(sched.get_block("C"));
  sched.parallel(ci);
  (void)cj;

  std::mt19937 rng(42);
  const int64_t m_check = 48, m_time = 512;
  Tensor a = random_matrix({m_check, K}, rng), b = random_matrix({K, N}, rng), bi = random_matrix({N}, rng);
  Tensor c_ref = Tensor::zeros({m_check, N}, DataType::float_(32));
  tir::interpret(func, {a, b, bi, c_ref});  // the reference interpreter: the oracle
  Tensor a2 = random_matrix({m_time, K}, rng), c2 = Tensor::zeros({m_time, N}, DataType::float_(32));

  bool all_ok = true;
  for (auto& [label, f] : {std::pair<const char*, ir::PrimFunc>{"default loop nest", func},
                           std::pair<const char*, ir::PrimFunc>{"scheduled", sched.func()}}) {
    // 3. JIT-compile for this CPU.
    runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(f), Target("llvm -mcpu=native"));
    // 4. Check against the reference interpreter at a small m.
    Tensor c_jit = Tensor::zeros({m_check, N}, DataType::float_(32));
    mod["main"](a, b, bi, c_jit);
    double max_err = 0;
    for (int64_t e = 0; e < c_ref.numel(); ++e)
      max_err = std::max<double>(max_err, std::fabs(c_ref.data_as<float>()[e] - c_jit.data_as<float>()[e]));
    bool ok = max_err <= 1e-4;
    all_ok = all_ok && ok;
    // 5. Time it at a larger m with the same compiled kernel (median of repeated runs).
    std::vector<double> secs;
    for (int rep = 0; rep < 15; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      mod["main"](a2, b, bi, c2);
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(secs.begin(), secs.end());
    double median = secs[secs.size() / 2];
    double gflops = 2.0 * double(m_time) * double(N) * double(K) / median / 1e9;
    std::printf("%-18s JIT %5.1f ms | m=%lld vs interpreter: max abs error %.3g %s | m=%lld: %.3f ms, %.2f GFLOP/s\n",
                label, mod.jit_time_ms(), (long long)m_check, max_err, ok ? "OK" : "MISMATCH", (long long)m_time,
                median * 1e3, gflops);
  }
  std::printf("threads: %d; the schedule as C++ (from its trace):\n%s", runtime::ThreadPool::global().num_threads(),
              sched.trace().to_cpp().c_str());
  return all_ok ? 0 : 1;
}
