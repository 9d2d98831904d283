// kiln/tir/schedule/primitives/sampling.hpp: seed, fork_seed, sample_perfect_tile, sample_categorical, sample_compute_location, split by sampled factors.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline void Schedule::seed(int64_t) { user_error("seed: not built yet"); }
inline int64_t Schedule::fork_seed() { user_error("fork_seed: not built yet"); }
inline std::vector<ExprRV> Schedule::sample_perfect_tile(const LoopRV&, int64_t, int64_t, std::optional<std::vector<int64_t>>) { user_error("sample_perfect_tile: not built yet"); }
inline ExprRV Schedule::sample_categorical(const std::vector<int64_t>&, const std::vector<double>&, std::optional<int64_t>) { user_error("sample_categorical: not built yet"); }
inline LoopRV Schedule::sample_compute_location(const BlockRV&, std::optional<int64_t>) { user_error("sample_compute_location: not built yet"); }
inline std::vector<LoopRV> Schedule::split_sampled(const LoopRV&, const std::vector<ExprRV>&) { user_error("split: not built yet"); }

}  // namespace kiln::tir
