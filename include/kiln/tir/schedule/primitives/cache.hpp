// kiln/tir/schedule/primitives/cache.hpp: cache_read, cache_write, cache_inplace, reindex, set_scope, storage_align.
// PLACEHOLDER until the primitive lands: every member refuses.
#pragma once
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

inline BlockRV Schedule::cache_read(const BlockRV&, int64_t, const std::string&) { user_error("cache_read: not built yet"); }
inline BlockRV Schedule::cache_write(const BlockRV&, int64_t, const std::string&) { user_error("cache_write: not built yet"); }
inline std::vector<BlockRV> Schedule::cache_inplace(const BlockRV&, int64_t, const std::string&) { user_error("cache_inplace: not built yet"); }
inline BlockRV Schedule::reindex(const BlockRV&, BufferIndexType, int64_t) { user_error("reindex: not built yet"); }
inline void Schedule::set_scope(const BlockRV&, int64_t, const std::string&) { user_error("set_scope: not built yet"); }
inline void Schedule::storage_align(const BlockRV&, int64_t, int64_t, int64_t, int64_t) { user_error("storage_align: not built yet"); }

}  // namespace kiln::tir
