// kiln/tir/schedule/random.hpp: the random state of a schedule's sampling primitives.
//
// A small generator with fully specified output (splitmix64), so a seed samples the same
// schedule on every platform and standard library: the distributions below are written out here
// instead of using <random>'s, whose results are implementation-defined. The whole state is one
// uint64_t, which a Schedule carries and copies with itself.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "kiln/error.hpp"

namespace kiln::tir {

class RandomEngine {
 public:
  // Works on `state` in place: the schedule owns the state, an engine is a view of it.
  explicit RandomEngine(uint64_t& state) : state_(state) {}

  // The state for a seed; -1 draws a nondeterministic one from std::random_device.
  static uint64_t state_of_seed(int64_t seed) {
    if (seed == -1) {
      std::random_device rd;
      return (uint64_t(rd()) << 32) ^ uint64_t(rd());
    }
    // Mixed, so that neighbouring seeds start far apart.
    return mix(uint64_t(seed) ^ 0x5851f42d4c957f2dULL);
  }

  // The next 64 random bits (splitmix64).
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }

  // A seed for an independent child stream (non-negative, so never the -1 of "nondeterministic").
  // The child's state is derived through a different mix than this stream's outputs, so the two
  // streams do not overlap in practice.
  int64_t fork() { return int64_t(mix(next() ^ 0xd1b54a32d192ed03ULL) >> 1); }

  // Uniform in [lo, hi); needs lo < hi. Rejection sampling, so no value is favoured.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    KILN_ICHECK(lo < hi, "RandomEngine::uniform_int: empty range [", lo, ", ", hi, ")");
    uint64_t range = uint64_t(hi) - uint64_t(lo);
    uint64_t limit = UINT64_MAX - UINT64_MAX % range;  // accept draws below the last whole multiple of range
    uint64_t x = next();
    while (x >= limit) x = next();
    return int64_t(uint64_t(lo) + x % range);
  }

  // Uniform in [0, 1), with 53 random bits.
  double uniform_real() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

  // An index drawn with probability weights[i] / sum(weights). The weights must be non-negative
  // with a positive sum (callers check user input; this is an internal precondition).
  size_t discrete(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    KILN_ICHECK(total > 0, "RandomEngine::discrete: the weights sum to ", total);
    double x = uniform_real() * total, acc = 0;
    size_t last = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (weights[i] <= 0) continue;
      acc += weights[i];
      last = i;
      if (x < acc) return i;
    }
    return last;  // rounding left x at the very top: the last index with weight
  }

 private:
  uint64_t& state_;

  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

}  // namespace kiln::tir
