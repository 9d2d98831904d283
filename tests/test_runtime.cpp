// Tests of the runtime: Tensor, the thread pool, device APIs, DLPack, Eigen views, Module/Function
// and kiln::build's backend registry.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "error_testing.hpp"
#include "kiln/build.hpp"
#include "kiln/ir/ir.hpp"
#include "kiln/runtime/device_api.hpp"
#include "kiln/runtime/dlpack.hpp"
#if __has_include(<Eigen/Core>)  // Meson adds Eigen when it finds it
#define KILN_TEST_EIGEN 1
#include "kiln/runtime/eigen.hpp"
#endif
#include "kiln/runtime/module.hpp"
#include "kiln/runtime/tensor.hpp"
#include "kiln/runtime/thread_pool.hpp"
#include "kiln/target.hpp"

using namespace kiln;
using runtime::Tensor;

namespace {
using kiln::testing::contains;
using kiln::testing::error_of;
}  // namespace

// ---- Tensor ------------------------------------------------------------------------------------

TEST_CASE("tensor: empty, zeros, view, at") {
  Tensor t = Tensor::zeros({2, 3}, DataType::float_(32));
  CHECK(t.defined());
  CHECK(t.ndim() == 2);
  CHECK(t.numel() == 6);
  CHECK(t.nbytes() == 24);
  CHECK(t.strides() == std::vector<int64_t>{3, 1});
  CHECK(t.is_contiguous());
  CHECK(t.owns_memory());
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % Tensor::kAlignment == 0);
  CHECK(t.at<float>({1, 2}) == 0.0f);
  t.at<float>({1, 2}) = 5.0f;
  CHECK(t.data_as<float>()[5] == 5.0f);

  float buf[6] = {0, 1, 2, 3, 4, 5};
  Tensor v = Tensor::view(buf, {3, 2}, DataType::float_(32), {1, 3});  // a transposed view
  CHECK_FALSE(v.is_contiguous());
  CHECK_FALSE(v.owns_memory());
  CHECK(v.at<float>({2, 1}) == 5.0f);
  CHECK(v.at<float>({1, 0}) == 1.0f);

  CHECK(!Tensor().defined());
  CHECK(contains(error_of([&] { (void)t.at<float>({2, 0}); }), "index 2 out of range for dimension 0 of size 2"));
  CHECK(contains(error_of([&] { (void)t.at<float>({0}); }), "Tensor::at with 1 indices on a 2-d tensor"));
  CHECK(contains(error_of([] { (void)Tensor::empty({2, -1}, DataType::int_(8)); }), "negative dimension"));
  CHECK(contains(error_of([] { (void)Tensor::empty({2}, DataType::int_(8), runtime::Device::cuda()); }),
                 "only CPU memory"));
}

// ---- thread pool -------------------------------------------------------------------------------

TEST_CASE("thread pool: sums over 10^6 elements with several thread counts") {
  const int64_t n = 1000000;
  std::vector<int64_t> data(static_cast<size_t>(n));
  std::iota(data.begin(), data.end(), int64_t(0));
  const int64_t expected = n * (n - 1) / 2;
  for (int threads : {1, 2, 3, 4, 7}) {
    runtime::ThreadPool pool(threads);
    CHECK(pool.num_threads() == threads);
    std::mutex mutex;
    std::map<int64_t, int64_t> chunks;  // begin -> end
    std::atomic<int64_t> total{0};
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
      int64_t s = 0;
      for (int64_t i = begin; i < end; ++i) s += data[size_t(i)];
      total += s;
      std::lock_guard<std::mutex> lock(mutex);
      chunks[begin] = end;
    });
    CHECK(total.load() == expected);
    // Static chunking: one contiguous chunk per thread, sizes differing by at most one.
    CHECK(chunks.size() == size_t(threads));
    int64_t next = 0, smallest = n, largest = 0;
    for (auto [b, e] : chunks) {
      CHECK(b == next);
      next = e;
      smallest = std::min(smallest, e - b);
      largest = std::max(largest, e - b);
    }
    CHECK(next == n);
    CHECK(largest - smallest <= 1);
    // The same pool is reusable many times.
    for (int rep = 0; rep < 50; ++rep) {
      std::atomic<int64_t> total{0};
      pool.parallel_for(1000, [&](int64_t b, int64_t e) {
        int64_t s = 0;
        for (int64_t i = b; i < e; ++i) s += i;
        total += s;
      });
      REQUIRE(total.load() == 999 * 1000 / 2);
    }
  }
}

TEST_CASE("thread pool: chunking covers [0, n) exactly once, caller takes a chunk") {
  runtime::ThreadPool pool(4);
  for (int64_t n : {1, 2, 3, 4, 5, 17, 1001}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> on_caller{0};
    auto caller = std::this_thread::get_id();
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      if (std::this_thread::get_id() == caller) ++on_caller;
      for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
    });
    bool all_once = true;
    for (auto& h : hits) all_once = all_once && h.load() == 1;
    CHECK(all_once);
    CHECK(on_caller.load() == 1);
  }
  int calls = 0;
  pool.parallel_for(0, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_for(-5, [&](int64_t, int64_t) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("thread pool: nested parallel_for runs serially and does not deadlock") {
  runtime::ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  std::atomic<int> inner_calls{0};
  pool.parallel_for(6, [&](int64_t b, int64_t e) {
    CHECK(runtime::ThreadPool::in_parallel_region());
    for (int64_t i = b; i < e; ++i) {
      pool.parallel_for(100, [&](int64_t ib, int64_t ie) {
        ++inner_calls;
        CHECK(ib == 0);
        CHECK(ie == 100);
        total += ie - ib;
      });
    }
  });
  CHECK(total.load() == 600);
  CHECK(inner_calls.load() == 6);
  CHECK_FALSE(runtime::ThreadPool::in_parallel_region());
  CHECK(contains(error_of([&] { pool.parallel_for(4, [&](int64_t, int64_t) { pool.set_num_threads(2); }); }),
                 "set_num_threads called from inside a parallel_for"));
}

TEST_CASE("thread pool: concurrent callers from several threads all get correct results") {
  runtime::ThreadPool pool(2);
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep) {
        std::atomic<int64_t> total{0};
        pool.parallel_for(100, [&](int64_t b, int64_t e) { total += e - b; });
        if (total.load() != 100) ++wrong;
      }
    });
  for (auto& t : callers) t.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("thread pool: an exception in a task is rethrown after all tasks finished") {
  runtime::ThreadPool pool(4);
  std::atomic<int> finished{0};
  bool caught = false;
  try {
    pool.parallel_for(4, [&](int64_t b, int64_t) {
      if (b == 1 || b == 3) {
        finished++;
        throw std::runtime_error("task " + std::to_string(b) + " failed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      finished++;
    });
  } catch (const std::runtime_error& e) {
    caught = true;
    CHECK(std::string(e.what()) == "task 1 failed");  // the lowest failing chunk
    CHECK(finished.load() == 4);
  }
  CHECK(caught);
  // The pool still works afterwards.
  std::atomic<int> calls{0};
  pool.parallel_for(8, [&](int64_t, int64_t) { ++calls; });
  CHECK(calls.load() == 4);
}

TEST_CASE("thread pool: global pool, set_num_threads, bad thread counts") {
  auto& g = runtime::ThreadPool::global();
  CHECK(&g == &runtime::ThreadPool::global());
  int before = g.num_threads();
  CHECK(before >= 1);
  g.set_num_threads(3);
  CHECK(g.num_threads() == 3);
  std::atomic<int> calls{0};
  runtime::parallel_for(10, [&](int64_t, int64_t) { ++calls; });
  CHECK(calls.load() == 3);
  g.set_num_threads(before);
  CHECK(contains(error_of([&] { g.set_num_threads(0); }), "the thread count must be at least 1"));
  CHECK(contains(error_of([] { runtime::ThreadPool p(-2); }), "the thread count must be at least 1"));
  CHECK(runtime::ThreadPool::num_threads_from_env("3") == 3);
  CHECK(runtime::ThreadPool::num_threads_from_env(nullptr) >= 1);
  CHECK(runtime::ThreadPool::num_threads_from_env("") >= 1);
  std::string e = error_of([] { (void)runtime::ThreadPool::num_threads_from_env("four"); });
  CHECK(contains(e, "KILN_NUM_THREADS='four' is not a thread count"));
  CHECK(contains(e, "an integer from 1 to 4096"));
  CHECK(contains(error_of([] { (void)runtime::ThreadPool::num_threads_from_env("0"); }), "KILN_NUM_THREADS='0'"));
}

namespace {
int32_t sum_body(int64_t begin, int64_t end, void* env) {
  auto* total = static_cast<std::atomic<int64_t>*>(env);
  for (int64_t i = begin; i < end; ++i) *total += i;
  return 0;
}
int32_t failing_body(int64_t begin, int64_t end, void*) { return (begin <= 7 && 7 < end) ? 42 : 0; }
int32_t throwing_body(int64_t, int64_t, void*) { throw std::runtime_error("escaped"); }
}  // namespace

TEST_CASE("kiln_parallel_for: runs the body and returns the first non-zero code") {
  runtime::ThreadPool::global().set_num_threads(2);
  std::atomic<int64_t> total{0};
  CHECK(kiln_parallel_for(1000, sum_body, &total) == 0);
  CHECK(total.load() == 999 * 1000 / 2);
  CHECK(kiln_parallel_for(10, failing_body, nullptr) == 42);
  CHECK(kiln_parallel_for(0, failing_body, nullptr) == 0);
  CHECK(kiln_parallel_for(10, throwing_body, nullptr) == -1);
  int32_t (*fp)(int64_t, int32_t (*)(int64_t, int64_t, void*), void*) = &kiln_parallel_for;
  CHECK(fp(3, failing_body, nullptr) == 0);
}

// ---- device API ---------------------------------------------------------------------------------

TEST_CASE("device api: cpu registered, others give a clear error") {
  using runtime::DeviceType;
  CHECK(runtime::has_device_api(DeviceType::CPU));
  auto cpu = runtime::device_api(runtime::Device::cpu());
  CHECK(cpu->name() == "cpu");
  void* p = cpu->alloc(runtime::Device::cpu(), 100, 64);
  CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  int src[4] = {1, 2, 3, 4}, dst[4] = {};
  cpu->copy_to_device(src, p, sizeof(src), runtime::Device::cpu());
  cpu->copy_from_device(p, dst, sizeof(dst), runtime::Device::cpu());
  cpu->synchronize(runtime::Device::cpu());
  CHECK(dst[3] == 4);
  cpu->free(runtime::Device::cpu(), p);
  CHECK(contains(error_of([&] { cpu->alloc(runtime::Device::cpu(), 8, 3); }), "alignment 3 is not a power of two"));

  CHECK_FALSE(runtime::has_device_api(DeviceType::CUDA));
  std::string e = error_of([] { runtime::device_api(DeviceType::CUDA); });
  CHECK(contains(e, "no device API for cuda: this build has no CUDA runtime"));
  CHECK(contains(e, "devices available: cpu"));
  CHECK(contains(error_of([] { runtime::device_api(DeviceType::Vulkan); }),
                 "no device API for vulkan: this build has no Vulkan runtime"));
  CHECK(contains(error_of([] { runtime::device_api(DeviceType::Hexagon); }),
                 "no device API for hexagon: this build has no Hexagon runtime"));
  CHECK(contains(error_of([] { runtime::device_api(static_cast<DeviceType>(99)); }), "unknown device type"));
  CHECK(contains(error_of([] { runtime::alloc_tensor({4}, DataType::float_(32), runtime::Device::cuda()); }),
                 "no device API for cuda"));
  CHECK(contains(error_of([] { runtime::register_device_api(DeviceType::Vulkan, nullptr); }), "the DeviceAPI is null"));
}

namespace {
// A fake device whose "device memory" is host memory, counting what the runtime asks of it.
struct FakeHexagonAPI : runtime::DeviceAPI {
  int allocs = 0, frees = 0, to_dev = 0, from_dev = 0;
  std::string name() const override { return "fake-hexagon"; }
  void* alloc(runtime::Device, size_t n, size_t) override {
    ++allocs;
    return std::malloc(std::max<size_t>(n, 1));
  }
  void free(runtime::Device, void* p) override {
    ++frees;
    std::free(p);
  }
  void copy_to_device(const void* s, void* d, size_t n, runtime::Device) override {
    ++to_dev;
    std::memcpy(d, s, n);
  }
  void copy_from_device(const void* s, void* d, size_t n, runtime::Device) override {
    ++from_dev;
    std::memcpy(d, s, n);
  }
  void synchronize(runtime::Device) override {}
};
}  // namespace

TEST_CASE("device api: a registered device allocates and copies tensors through its API") {
  auto fake = std::make_shared<FakeHexagonAPI>();
  runtime::register_device_api(runtime::DeviceType::Hexagon, fake);
  {
    Tensor host = Tensor::empty({3}, DataType::int_(32));
    for (int i = 0; i < 3; ++i) host.data_as<int32_t>()[i] = i + 10;
    Tensor dev = runtime::alloc_tensor({3}, DataType::int_(32), runtime::Device::hexagon());
    CHECK(dev.device() == runtime::Device::hexagon());
    CHECK(fake->allocs == 1);
    runtime::copy_tensor(host, dev);
    Tensor back = Tensor::zeros({3}, DataType::int_(32));
    runtime::copy_tensor(dev, back);
    CHECK(back.data_as<int32_t>()[2] == 12);
    CHECK(fake->to_dev == 1);
    CHECK(fake->from_dev == 1);
    CHECK(contains(error_of([&] { runtime::copy_tensor(host, Tensor::zeros({4}, DataType::int_(32))); }),
                   "copy_tensor: source is int32(3,) but destination is int32(4,)"));
    CHECK(contains(error_of([&] { runtime::copy_tensor(dev, dev); }), "device-to-device copies go through the CPU"));
  }
  CHECK(fake->frees == 1);
  CHECK(runtime::has_device_api(runtime::DeviceType::Hexagon));
}

// ---- DLPack -------------------------------------------------------------------------------------

namespace {
struct Producer {
  std::vector<float> storage;
  std::vector<int64_t> shape, strides;
  int deleted = 0;
};
dlpack::DLManagedTensor* make_managed(Producer& p, bool with_strides) {
  auto* m = new dlpack::DLManagedTensor{};
  m->dl_tensor.data = p.storage.data();
  m->dl_tensor.device.device_type = static_cast<decltype(m->dl_tensor.device.device_type)>(1);
  m->dl_tensor.device.device_id = 0;
  m->dl_tensor.ndim = int32_t(p.shape.size());
  m->dl_tensor.dtype = dlpack::DLDataType{2, 32, 1};
  m->dl_tensor.shape = p.shape.data();
  m->dl_tensor.strides = with_strides ? p.strides.data() : nullptr;
  m->dl_tensor.byte_offset = 0;
  m->manager_ctx = &p;
  m->deleter = [](dlpack::DLManagedTensor* self) {
    static_cast<Producer*>(self->manager_ctx)->deleted++;
    delete self;
  };
  return m;
}
}  // namespace

TEST_CASE("dlpack: struct layout is the C ABI of DLPack") {
  CHECK(sizeof(dlpack::DLDevice) == 8);
  CHECK(sizeof(dlpack::DLDataType) == 4);
  CHECK(offsetof(dlpack::DLTensor, device) == 8);
  CHECK(offsetof(dlpack::DLTensor, ndim) == 16);
  CHECK(offsetof(dlpack::DLTensor, dtype) == 20);
  CHECK(offsetof(dlpack::DLTensor, shape) == 24);
  CHECK(offsetof(dlpack::DLTensor, strides) == 32);
  CHECK(offsetof(dlpack::DLTensor, byte_offset) == 40);
  CHECK(sizeof(dlpack::DLTensor) == 48);
  CHECK(offsetof(dlpack::DLManagedTensor, manager_ctx) == 48);
  CHECK(offsetof(dlpack::DLManagedTensor, deleter) == 56);
}

TEST_CASE("dlpack: import is zero copy, honours strides and byte_offset, calls the deleter once") {
  Producer p;
  p.storage = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  p.shape = {3, 2};
  p.strides = {1, 3};  // column-major 3x2 over the first six floats
  {
    Tensor t = dlpack::from_dlpack(make_managed(p, true));
    CHECK(t.data() == p.storage.data());
    CHECK(t.shape() == std::vector<int64_t>{3, 2});
    CHECK(t.strides() == std::vector<int64_t>{1, 3});
    CHECK(t.dtype() == DataType::float_(32));
    CHECK(t.device() == runtime::Device::cpu());
    CHECK(t.at<float>({2, 1}) == 5.0f);
    Tensor copy = t;  // shares ownership
    t = Tensor();
    CHECK(p.deleted == 0);
    CHECK(copy.at<float>({1, 1}) == 4.0f);
  }
  CHECK(p.deleted == 1);

  // Null strides = compact; byte_offset moves the start.
  p.shape = {2, 2};
  auto* m = make_managed(p, false);
  m->dl_tensor.byte_offset = 4 * sizeof(float);
  {
    Tensor t = dlpack::from_dlpack(m);
    CHECK(t.is_contiguous());
    CHECK(t.at<float>({0, 0}) == 4.0f);
    CHECK(t.at<float>({1, 1}) == 7.0f);
    t.at<float>({0, 1}) = 50.0f;  // writes through to the producer's memory
  }
  CHECK(p.storage[5] == 50.0f);
  CHECK(p.deleted == 2);

  // A borrowed DLTensor: no ownership taken.
  auto* lender = make_managed(p, false);
  Tensor b = dlpack::from_dlpack(lender->dl_tensor);
  CHECK(b.at<float>({1, 0}) == 2.0f);
  CHECK_FALSE(b.owns_memory());
  lender->deleter(lender);
  CHECK(p.deleted == 3);
}

TEST_CASE("dlpack: unsupported dtype or device is a UserError and consumes nothing") {
  Producer p;
  p.storage = {1, 2};
  p.shape = {2};
  auto* m = make_managed(p, false);
  m->dl_tensor.dtype = dlpack::DLDataType{5, 64, 1};  // complex64
  std::string e = error_of([&] { (void)dlpack::from_dlpack(m); });
  CHECK(contains(e, "unsupported dtype (code 5, bits 64, lanes 1)"));
  CHECK(contains(e, "bfloat16"));
  m->dl_tensor.dtype = dlpack::DLDataType{2, 32, 4};
  CHECK(contains(error_of([&] { (void)dlpack::from_dlpack(m); }), "lanes 4"));
  m->dl_tensor.dtype = dlpack::DLDataType{2, 32, 1};
  m->dl_tensor.device.device_type = static_cast<decltype(m->dl_tensor.device.device_type)>(4);  // OpenCL
  e = error_of([&] { (void)dlpack::from_dlpack(m); });
  CHECK(contains(e, "unsupported device type 4"));
  CHECK(contains(e, "cpu (1)"));
  m->dl_tensor.device.device_type = static_cast<decltype(m->dl_tensor.device.device_type)>(1);
  int64_t bad_shape[1] = {-3};
  m->dl_tensor.shape = bad_shape;
  CHECK(contains(error_of([&] { (void)dlpack::from_dlpack(m); }), "negative dimension"));
  CHECK(p.deleted == 0);
  m->deleter(m);
  CHECK(p.deleted == 1);
  CHECK(contains(error_of([] { (void)dlpack::from_dlpack(static_cast<dlpack::DLManagedTensor*>(nullptr)); }),
                 "null DLManagedTensor"));
}

TEST_CASE("dlpack: export shares ownership and round-trips") {
  dlpack::DLManagedTensor* m = nullptr;
  std::weak_ptr<void> memory;
  {
    Tensor t = Tensor::empty({2, 3}, DataType::int_(16));
    for (int i = 0; i < 6; ++i) t.data_as<int16_t>()[i] = int16_t(i * 3);
    memory = t.holder();
    m = dlpack::to_dlpack(t);
    CHECK(m->dl_tensor.data == t.data());
    CHECK(m->dl_tensor.ndim == 2);
    CHECK(m->dl_tensor.shape[1] == 3);
    CHECK(m->dl_tensor.strides[0] == 3);
    CHECK(m->dl_tensor.dtype.code == 0);
    CHECK(m->dl_tensor.dtype.bits == 16);
    CHECK(int(m->dl_tensor.device.device_type) == 1);
  }
  CHECK_FALSE(memory.expired());  // the export keeps the memory alive
  {
    Tensor back = dlpack::from_dlpack(m);  // round trip: takes over the export
    CHECK(back.dtype() == DataType::int_(16));
    CHECK(back.at<int16_t>({1, 2}) == 15);
  }
  CHECK(memory.expired());  // back's deleter ran the export's deleter, which released the tensor

  // Strided and bool tensors keep their strides and a one-byte bool.
  uint8_t flags[4] = {1, 0, 1, 1};
  Tensor strided = Tensor::view(flags, {2, 2}, DataType::boolean(), {1, 2});
  auto* ms = dlpack::to_dlpack(strided);
  CHECK(ms->dl_tensor.dtype.code == 6);
  CHECK(ms->dl_tensor.dtype.bits == 8);
  CHECK(ms->dl_tensor.strides[0] == 1);
  CHECK(ms->dl_tensor.strides[1] == 2);
  Tensor rt = dlpack::from_dlpack(ms);
  CHECK(rt.dtype() == DataType::boolean());
  CHECK(rt.at<uint8_t>({0, 1}) == 1);
  CHECK(rt.at<uint8_t>({1, 0}) == 0);

  CHECK(contains(error_of([] { (void)dlpack::to_dlpack(Tensor()); }), "to_dlpack: the tensor is undefined"));
}

// ---- Eigen ---------------------------------------------------------------------------------------

#ifdef KILN_TEST_EIGEN

TEST_CASE("eigen: matrix views are zero copy, row-major compact, col-major strided") {
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r(2, 3);
  r << 1, 2, 3, 4, 5, 6;
  Tensor tr = eigen::view(r);
  CHECK(tr.data() == r.data());
  CHECK(tr.shape() == std::vector<int64_t>{2, 3});
  CHECK(tr.is_contiguous());
  CHECK(tr.at<float>({1, 0}) == 4.0f);
  tr.at<float>({0, 2}) = 30.0f;
  CHECK(r(0, 2) == 30.0f);

  Eigen::MatrixXd c(2, 3);  // column-major
  c << 1, 2, 3, 4, 5, 6;
  Tensor tc = eigen::view(c);
  CHECK(tc.shape() == std::vector<int64_t>{2, 3});
  CHECK(tc.strides() == std::vector<int64_t>{1, 2});
  CHECK_FALSE(tc.is_contiguous());
  CHECK(tc.dtype() == DataType::float_(64));
  CHECK(tc.at<double>({1, 2}) == 6.0);

  Eigen::VectorXi v(4);
  v << 1, 2, 3, 4;
  Tensor tv = eigen::view(v);
  CHECK(tv.ndim() == 1);
  CHECK(tv.dtype() == DataType::int_(32));
  CHECK(tv.at<int32_t>({3}) == 4);

  // A block of a matrix: strided view into the parent.
  Eigen::Matrix<float, 4, 4, Eigen::RowMajor> big;
  for (int i = 0; i < 16; ++i) big.data()[i] = float(i);
  Tensor tb = eigen::view(big.block(1, 1, 2, 2));
  CHECK(tb.strides() == std::vector<int64_t>{4, 1});
  CHECK(tb.at<float>({1, 1}) == 10.0f);

  // Map and Ref.
  int32_t raw[6] = {0, 1, 2, 3, 4, 5};
  Eigen::Map<Eigen::Matrix<int32_t, 3, 2, Eigen::RowMajor>> map(raw);
  Tensor tm = eigen::view(map);
  CHECK(tm.data() == raw);
  CHECK(tm.at<int32_t>({2, 1}) == 5);
  Eigen::Ref<Eigen::MatrixXd> ref(c);
  CHECK(eigen::view(ref).at<double>({0, 1}) == 2.0);
  const Eigen::MatrixXd& cref = c;
  CHECK(eigen::view(cref).data() == c.data());
}

TEST_CASE("eigen: Tensor module views") {
  Eigen::Tensor<float, 3, Eigen::RowMajor> rt(2, 3, 4);
  rt.setZero();
  rt(1, 2, 3) = 7.0f;
  Tensor a = eigen::view(rt);
  CHECK(a.shape() == std::vector<int64_t>{2, 3, 4});
  CHECK(a.is_contiguous());
  CHECK(a.at<float>({1, 2, 3}) == 7.0f);

  Eigen::Tensor<int64_t, 2> ct(2, 3);  // ColMajor
  ct.setZero();
  ct(1, 0) = 9;
  Tensor b = eigen::view(ct);
  CHECK(b.strides() == std::vector<int64_t>{1, 2});
  CHECK(b.at<int64_t>({1, 0}) == 9);
  b.at<int64_t>({0, 2}) = 11;
  CHECK(ct(0, 2) == 11);

  float raw[6] = {1, 2, 3, 4, 5, 6};
  Eigen::TensorMap<Eigen::Tensor<float, 2, Eigen::RowMajor>> tm(raw, 3, 2);
  Tensor c = eigen::view(tm);
  CHECK(c.data() == raw);
  CHECK(c.at<float>({2, 0}) == 5.0f);
}

TEST_CASE("eigen: as_eigen_matrix maps a tensor without copying, and rejects what it cannot map") {
  Tensor t = Tensor::empty({2, 3}, DataType::float_(32));
  for (int i = 0; i < 6; ++i) t.data_as<float>()[i] = float(i);
  auto m = eigen::as_eigen_matrix<float>(t);
  CHECK(m.data() == t.data_as<float>());
  CHECK(m.rows() == 2);
  CHECK(m.cols() == 3);
  CHECK(m(1, 2) == 5.0f);
  m(0, 1) = 100.0f;
  CHECK(t.at<float>({0, 1}) == 100.0f);
  CHECK(eigen::as_eigen_matrix<float>(Tensor::zeros({4}, DataType::float_(32))).cols() == 1);

  std::string e = error_of([&] { (void)eigen::as_eigen_matrix<double>(t); });
  CHECK(contains(e, "as_eigen_matrix<float64>: the tensor's dtype is float32"));
  e = error_of([] { (void)eigen::as_eigen_matrix<float>(Tensor::zeros({2, 2, 2}, DataType::float_(32))); });
  CHECK(contains(e, "the tensor has rank 3"));
  Eigen::MatrixXf colmajor(2, 3);
  e = error_of([&] { (void)eigen::as_eigen_matrix<float>(eigen::view(colmajor)); });
  CHECK(contains(e, "has strides (1, 2)"));
  CHECK(contains(e, "needs compact row-major strides (3, 1)"));
  CHECK(contains(error_of([] { (void)eigen::as_eigen_matrix<float>(Tensor()); }), "the tensor is undefined"));
}
#endif  // KILN_TEST_EIGEN

// ---- Module / Function -----------------------------------------------------------------------------

namespace {
// A test double of a backend's compiled function: records the arguments it was called with.
struct RecordingFunction : runtime::FunctionNode {
  std::string name_;
  mutable std::vector<runtime::Arg> last_args;
  mutable int calls = 0;
  explicit RecordingFunction(std::string n) : name_(std::move(n)) {}
  const std::string& name() const override { return name_; }
  void call(const std::vector<runtime::Arg>& args) const override {
    ++calls;
    last_args = args;
  }
  double jit_time_ms() const override { return 1.5; }
};
}  // namespace

TEST_CASE("module: function lookup, argument forwarding, errors") {
  auto add = std::make_shared<RecordingFunction>("add");
  auto mul = std::make_shared<RecordingFunction>("mul");
  runtime::Module mod = runtime::make_module({runtime::Function(add), runtime::Function(mul)}, "llvm -mcpu=native", 3.0);
  CHECK(mod.function_names() == std::vector<std::string>{"add", "mul"});
  CHECK(mod.jit_time_ms() == 3.0);
  CHECK(mod.target_str() == "llvm -mcpu=native");
  CHECK(mod.contains("add"));
  CHECK_FALSE(mod.contains("sub"));

  runtime::Function f = mod["add"];
  CHECK(f.defined());
  CHECK(f.name() == "add");
  CHECK(f.jit_time_ms() == 1.5);
  Tensor a = Tensor::zeros({2}, DataType::float_(32));
  const Tensor b = Tensor::zeros({3}, DataType::int_(8));
  int32_t n = 7;
  f(a, b, n, 2.5f, int64_t(-4), 0.25);
  REQUIRE(add->calls == 1);
  REQUIRE(add->last_args.size() == 6);
  CHECK(add->last_args[0].is_tensor());
  CHECK(add->last_args[0].tensor().data() == a.data());
  CHECK(add->last_args[1].tensor().data() == b.data());
  CHECK(std::get<int64_t>(add->last_args[2].value) == 7);
  CHECK(std::get<double>(add->last_args[3].value) == 2.5);
  CHECK(std::get<int64_t>(add->last_args[4].value) == -4);
  CHECK(std::get<double>(add->last_args[5].value) == 0.25);
  CHECK(std::string(add->last_args[2].kind_name()) == "integer");
  f.call({runtime::Arg(a)});
  CHECK(add->calls == 2);
  f();
  CHECK(add->last_args.empty());
  CHECK(mul->calls == 0);

  std::string e = error_of([&] { (void)mod["sub"]; });
  CHECK(contains(e, "module (target 'llvm -mcpu=native') has no function named 'sub'"));
  CHECK(contains(e, "it has: 'add', 'mul'"));
  CHECK(contains(error_of([] { runtime::Function()(1, 2); }), "calling an undefined kiln::runtime::Function"));
  CHECK(contains(error_of([] { (void)runtime::Function().name(); }), "undefined kiln::runtime::Function"));
  CHECK(contains(error_of([] { (void)runtime::Module()["main"]; }), "using an undefined kiln::runtime::Module"));
  CHECK(contains(error_of([] { (void)runtime::make_module({}, "llvm", 0)["main"]; }), "it has: (none)"));
}

// ---- kiln::build and the backend registry -------------------------------------------------------------

namespace {
// A PrimFunc writing A[i] = 1 for i in [0, 4), with the loop of the given kind.
ir::PrimFunc fill_ones(ir::ForKind kind = ir::ForKind::Serial, std::string thread_tag = {}) {
  ir::Buffer a = ir::make_buffer("A", DataType::float_(32), {ir::int_imm(4)});
  ir::Var i("i");
  ir::Stmt body = ir::for_loop(i, ir::int_imm(0), ir::int_imm(4), kind,
                               ir::buffer_store(a, ir::float_imm(1.0), {i}), std::move(thread_tag));
  return ir::make_prim_func("fill", {a}, body);
}
}  // namespace

TEST_CASE("build: no backend registered names the header and the Meson dependency") {
  ir::PrimFunc f = fill_ones();
  std::string e = error_of([&] { (void)kiln::build(f, Target("llvm -mcpu=native")); });
  CHECK(contains(e, "kiln::build for target 'llvm -mcpu=native': no backend registered for kind 'llvm'"));
  CHECK(contains(e, "#include <kiln/backend/llvm.hpp>"));
  CHECK(contains(e, "Meson dependency 'kiln-llvm'"));
  CHECK(contains(e, "-Dllvm=enabled"));
  e = error_of([&] { (void)kiln::build(f, "cuda -arch=sm_80"); });
  CHECK(contains(e, "no backend registered for kind 'cuda'"));
  CHECK(contains(e, "not available in this version of kiln"));
  CHECK(contains(error_of([] { kiln::register_backend("opencl", [](const ir::IRModule&, const Target&) {
                   return runtime::Module();
                 }); }),
                 "register_backend: unknown target kind 'opencl'"));
  CHECK(contains(error_of([] { kiln::register_backend("llvm", nullptr); }), "the backend function is empty"));
  CHECK_FALSE(kiln::has_backend("llvm"));
}

TEST_CASE("build: CPU kinds lower every PrimFunc before the backend; GPU kinds get the module as is") {
  ir::IRModule seen;
  int hexagon_calls = 0;
  kiln::register_backend("hexagon", [&](const ir::IRModule& lowered, const Target& t) {
    ++hexagon_calls;
    seen = lowered;
    CHECK(t.attr("mcpu") == "hexagonv68");
    return runtime::make_module({runtime::Function(std::make_shared<RecordingFunction>("main"))}, t.str(), 0.5);
  });
  CHECK(kiln::has_backend("hexagon"));
  ir::PrimFunc f = fill_ones();
  runtime::Module m = kiln::build(f, Target("hexagon -mcpu=hexagonv68"));
  CHECK(hexagon_calls == 1);
  CHECK(seen.contains("main"));
  CHECK(m.target_str() == "hexagon -mcpu=hexagonv68");
  CHECK(m["main"].defined());

  // check_cpu_compatible runs for CPU kinds: a GPU thread binding is rejected before the backend.
  std::string e = error_of([&] {
    (void)kiln::build(fill_ones(ir::ForKind::ThreadBinding, "threadIdx.x"), Target("hexagon -mcpu=hexagonv68"));
  });
  CHECK(contains(e, "threadIdx.x"));
  CHECK(hexagon_calls == 1);

  ir::PrimFunc passed;
  kiln::register_backend("vulkan", [&](const ir::IRModule& mod, const Target& t) {
    passed = mod.prim_func("main");
    return runtime::make_module({}, t.str(), 0);
  });
  ir::PrimFunc g = fill_ones(ir::ForKind::ThreadBinding, "threadIdx.x");
  (void)kiln::build(g, Target("vulkan"));
  CHECK(passed.same_as(g));
  CHECK(contains(error_of([] { (void)kiln::build(ir::IRModule(), Target("vulkan")); }), "the IRModule has no functions"));
  auto kinds = kiln::registered_backends();
  CHECK(kinds == std::vector<std::string>{"hexagon", "vulkan"});
}
