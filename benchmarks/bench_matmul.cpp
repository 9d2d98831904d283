// SGEMM C = A @ B (row-major fp32), 1 thread: kiln's JIT-compiled kernel next to Eigen and OpenBLAS,
// all measured in this run. Prints GFLOP/s (median of repeated runs) and kiln's ratio to each peer.
// kiln runs the default (unscheduled) loop nest until schedules land; the ratio is the gap to close.
//   build/benchmarks/bench_matmul [sizes...]      e.g. bench_matmul 256 512
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include <kiln/backend/llvm.hpp>
#include <kiln/kiln.hpp>
#if KILN_BENCH_EIGEN
#include <Eigen/Core>
#endif
#if KILN_BENCH_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

using namespace kiln;
using runtime::Tensor;

static double median_seconds(const std::function<void()>& run, int reps) {
  run();  // warm up (and page in)
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {256, 512};
#if KILN_BENCH_OPENBLAS
  openblas_set_num_threads(1);
#endif
  runtime::ThreadPool::global().set_num_threads(1);
  std::printf("%-6s %12s %12s %12s   %s\n", "n", "kiln GF/s", "Eigen GF/s", "OpenBLAS", "kiln / best peer");
  for (int64_t n : sizes) {
    auto A = te::placeholder<f32>({n, n}, "A");
    auto B = te::placeholder<f32>({n, n}, "B");
    auto k = te::reduce_axis(n, "k");
    auto C = te::compute({n, n}, [&](te::Index i, te::Index j) { return te::sum(A(i, k) * B(k, j), k); }, "C");
    runtime::Module mod = kiln::build(ir::IRModule::from_prim_func(te::create_prim_func({A, B, C})), Target("llvm"));
    Tensor a = Tensor::empty({n, n}, DataType::float_(32)), b = Tensor::empty({n, n}, DataType::float_(32));
    Tensor c = Tensor::zeros({n, n}, DataType::float_(32));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1, 1);
    for (int64_t i = 0; i < n * n; ++i) a.data_as<float>()[i] = dist(rng), b.data_as<float>()[i] = dist(rng);
    const double flop = 2.0 * double(n) * double(n) * double(n);
    const int reps = n <= 256 ? 15 : 5;
    double kiln_gf = flop / median_seconds([&] { mod["main"](a, b, c); }, reps) / 1e9;
    double best = 0, eigen_gf = 0, blas_gf = 0;
#if KILN_BENCH_EIGEN
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<RowMat> ea(a.data_as<float>(), n, n), eb(b.data_as<float>(), n, n);
    RowMat ec(n, n);
    Eigen::setNbThreads(1);
    eigen_gf = flop / median_seconds([&] { ec.noalias() = ea * eb; }, reps) / 1e9;
    best = std::max(best, eigen_gf);
#endif
#if KILN_BENCH_OPENBLAS
    std::vector<float> oc(size_t(n * n));
    blas_gf = flop / median_seconds([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(n), int(n), 1.0f, a.data_as<float>(), int(n),
                  b.data_as<float>(), int(n), 0.0f, oc.data(), int(n));
    }, reps) / 1e9;
    best = std::max(best, blas_gf);
#endif
    std::printf("%-6lld %12.2f %12.2f %12.2f   %.3fx  (kiln JIT %.1f ms)\n", (long long)n, kiln_gf, eigen_gf, blas_gf,
                best > 0 ? kiln_gf / best : 0.0, mod.jit_time_ms());
  }
  std::printf("(1 thread; kiln runs the unscheduled default loop nest; peers not built report 0)\n");
  return 0;
}
