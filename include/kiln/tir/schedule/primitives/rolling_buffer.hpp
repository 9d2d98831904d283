// kiln/tir/schedule/primitives/rolling_buffer.hpp: rolling_buffer.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline void Schedule::rolling_buffer(const BlockRV&, int64_t) { user_error("rolling_buffer: not built yet"); }

}  // namespace kiln::tir
