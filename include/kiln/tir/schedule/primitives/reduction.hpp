// kiln/tir/schedule/primitives/reduction.hpp: decompose_reduction, rfactor.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline BlockRV Schedule::decompose_reduction(const BlockRV&, const LoopRV&) { user_error("decompose_reduction: not built yet"); }
inline BlockRV Schedule::rfactor(const LoopRV&, int64_t) { user_error("rfactor: not built yet"); }

}  // namespace kiln::tir
