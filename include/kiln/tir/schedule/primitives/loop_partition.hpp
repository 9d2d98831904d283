// kiln/tir/schedule/primitives/loop_partition.hpp: merge and loop_partition.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline LoopRV Schedule::merge(const std::vector<LoopRV>&) { user_error("merge: not built yet"); }
inline std::vector<LoopRV> Schedule::loop_partition(const LoopRV&, const std::vector<std::optional<int64_t>>&) { user_error("loop_partition: not built yet"); }

}  // namespace kiln::tir
