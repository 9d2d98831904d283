// kiln/tir/schedule/primitives/blockize_tensorize.hpp: blockize, tensorize.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline BlockRV Schedule::blockize(const LoopRV&, bool) { user_error("blockize: not built yet"); }
inline void Schedule::tensorize(const LoopRV&, const std::string&, bool) { user_error("tensorize: not built yet"); }
inline void Schedule::tensorize(const BlockRV&, const std::string&, bool) { user_error("tensorize: not built yet"); }

}  // namespace kiln::tir
