// kiln/tir/schedule/primitives/layout.hpp: transform_layout, transform_block_layout.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"
#include "kiln/tir/index_map.hpp"

namespace kiln::tir {

inline void Schedule::transform_layout(const BlockRV&, BufferIndexType, int64_t, const IndexMap&, std::optional<double>) { user_error("transform_layout: not built yet"); }
inline void Schedule::transform_block_layout(const BlockRV&, const IndexMap&) { user_error("transform_block_layout: not built yet"); }

}  // namespace kiln::tir
