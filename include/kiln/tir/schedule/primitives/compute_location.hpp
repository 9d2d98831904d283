// kiln/tir/schedule/primitives/compute_location.hpp: compute_at, reverse_compute_at, compute_inline, reverse_compute_inline.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline void Schedule::compute_at(const BlockRV&, const LoopRV&, bool) { user_error("compute_at: not built yet"); }
inline void Schedule::reverse_compute_at(const BlockRV&, const LoopRV&, bool) { user_error("reverse_compute_at: not built yet"); }
inline void Schedule::compute_inline(const BlockRV&) { user_error("compute_inline: not built yet"); }
inline void Schedule::reverse_compute_inline(const BlockRV&) { user_error("reverse_compute_inline: not built yet"); }

}  // namespace kiln::tir
