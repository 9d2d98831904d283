// kiln/runtime/thread_pool.hpp: the fork-join pool behind parallel loops.
//
// parallel_for(n, f) splits [0, n) into one contiguous chunk per thread (static chunking: kernels
// are regular, and a fixed split keeps results reproducible), runs chunk 0 on the calling thread
// and the others on the workers, and returns when all are done. A parallel_for issued from inside
// a running one (nested, or from another thread while the pool is busy) runs serially on the
// calling thread: that cannot deadlock and the outer loop already uses every core.
//
// Thread count: KILN_NUM_THREADS if set, else std::thread::hardware_concurrency(); the count
// includes the calling thread. JIT-compiled kernels call kiln_parallel_for (bottom of this file).
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/error.hpp"

namespace kiln::runtime {

class ThreadPool {
 public:
  // The process-wide pool used by kernels. Created on first use.
  static ThreadPool& global() {
    static ThreadPool pool(default_num_threads());
    return pool;
  }

  // `num_threads` threads take part in each loop: the caller plus num_threads - 1 workers.
  explicit ThreadPool(int num_threads) {
    KILN_USER_CHECK(num_threads >= 1, "ThreadPool(", num_threads, "): the thread count must be at least 1");
    start(num_threads);
  }
  ~ThreadPool() { stop(); }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Resizes the pool. Not allowed from inside a parallel_for (the pool is in use).
  void set_num_threads(int n) {
    KILN_USER_CHECK(n >= 1, "ThreadPool::set_num_threads(", n, "): the thread count must be at least 1");
    KILN_USER_CHECK(!in_parallel_region(),
                    "ThreadPool::set_num_threads called from inside a parallel_for; call it between parallel loops");
    std::lock_guard<std::mutex> dispatch(dispatch_mutex_);
    if (n == num_threads_) return;
    stop();
    start(n);
  }

  // Whether the calling thread is running a chunk of some parallel_for.
  static bool in_parallel_region() { return tls_in_parallel(); }

  // The thread count a value of KILN_NUM_THREADS asks for (null or empty: one per hardware thread).
  static int num_threads_from_env(const char* env) {
    if (env && *env) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      KILN_USER_CHECK(*end == '\0' && v >= 1 && v <= 4096, "environment variable KILN_NUM_THREADS='", env,
                      "' is not a thread count; legal: an integer from 1 to 4096, or unset for one thread per core");
      return int(v);
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
  }

  // Calls f(begin, end) on disjoint chunks covering [0, n). n <= 0 does nothing. If tasks throw,
  // the exception of the lowest-numbered failing chunk is rethrown here after every chunk finished.
  template <class F>
  void parallel_for(int64_t n, F&& f) {
    if (n <= 0) return;
    using Fn = std::remove_reference_t<F>;
    Fn* fp = &f;
    auto invoke = [](void* ctx, int64_t begin, int64_t end) { (*static_cast<Fn*>(ctx))(begin, end); };
    int64_t chunks = std::min<int64_t>(n, num_threads_);
    std::unique_lock<std::mutex> dispatch(dispatch_mutex_, std::try_to_lock);
    if (chunks <= 1 || tls_in_parallel() || !dispatch.owns_lock()) {
      RegionGuard guard;
      f(int64_t(0), n);
      return;
    }
    std::vector<std::exception_ptr> errors(static_cast<size_t>(chunks));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = Job{const_cast<void*>(static_cast<const void*>(fp)), invoke, n, chunks, errors.data()};
      remaining_ = int(chunks - 1);
      ++generation_;
    }
    work_cv_.notify_all();
    run_chunk(Job(job_), 0);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return remaining_ == 0; });
      job_ = Job{};
    }
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

 private:
  struct Job {
    void* ctx = nullptr;
    void (*invoke)(void*, int64_t, int64_t) = nullptr;
    int64_t n = 0;
    int64_t chunks = 0;
    std::exception_ptr* errors = nullptr;
  };

  static bool& tls_in_parallel() {
    thread_local bool in_parallel = false;
    return in_parallel;
  }
  struct RegionGuard {
    bool saved = tls_in_parallel();
    RegionGuard() { tls_in_parallel() = true; }
    ~RegionGuard() { tls_in_parallel() = saved; }
  };

  static int default_num_threads() { return num_threads_from_env(std::getenv("KILN_NUM_THREADS")); }

  // Chunk i of n split into `chunks` nearly equal parts (sizes differ by at most one).
  static void run_chunk(const Job& job, int64_t i) {
    int64_t begin = job.n / job.chunks * i + std::min(i, job.n % job.chunks);
    int64_t end = begin + job.n / job.chunks + (i < job.n % job.chunks ? 1 : 0);
    RegionGuard guard;
    try {
      job.invoke(job.ctx, begin, end);
    } catch (...) {
      job.errors[i] = std::current_exception();
    }
  }

  void start(int n) {
    num_threads_ = n;
    stopping_ = false;
    // Workers start from the current generation, so a loop dispatched before they first run is not missed.
    for (int w = 1; w < n; ++w) workers_.emplace_back([this, w, g = generation_] { worker_loop(w, g); });
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void worker_loop(int64_t chunk, uint64_t seen) {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (chunk >= job_.chunks) continue;  // this loop has fewer chunks than threads
        job = job_;
      }
      run_chunk(job, chunk);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--remaining_ == 0) done_cv_.notify_one();
      }
    }
  }

  int num_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;  // one parallel_for at a time; others run serially
  std::mutex mutex_;           // guards job_, generation_, remaining_, stopping_
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  Job job_;
  uint64_t generation_ = 0;
  int remaining_ = 0;
  bool stopping_ = false;
};

// parallel_for on the global pool.
template <class F>
inline void parallel_for(int64_t n, F&& f) {
  ThreadPool::global().parallel_for(n, std::forward<F>(f));
}

}  // namespace kiln::runtime

// The entry point JIT-compiled parallel loops call (the LLVM backend registers its address).
// Runs body(begin, end, env) over chunks of [0, n); returns 0, or the first non-zero code a chunk
// returned (a C++ exception escaping body counts as -1: it must not unwind through JIT frames).
extern "C" inline int32_t kiln_parallel_for(int64_t n, int32_t (*body)(int64_t begin, int64_t end, void* env),
                                            void* env) {
  std::atomic<int32_t> first_error{0};
  try {
    kiln::runtime::ThreadPool::global().parallel_for(n, [&](int64_t begin, int64_t end) {
      int32_t code = body(begin, end, env);
      int32_t expected = 0;
      if (code != 0) first_error.compare_exchange_strong(expected, code);
    });
  } catch (...) {
    int32_t expected = 0;
    first_error.compare_exchange_strong(expected, -1);
  }
  return first_error.load();
}
