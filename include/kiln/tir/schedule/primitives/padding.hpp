// kiln/tir/schedule/primitives/padding.hpp: pad_einsum, decompose_padding.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline void Schedule::pad_einsum(const BlockRV&, const std::vector<int64_t>&) { user_error("pad_einsum: not built yet"); }
inline BlockRV Schedule::decompose_padding(const BlockRV&, const LoopRV&) { user_error("decompose_padding: not built yet"); }

}  // namespace kiln::tir
