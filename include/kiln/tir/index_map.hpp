// kiln/tir/index_map.hpp: PLACEHOLDER for IndexMap (owned by the layout work).
#pragma once

namespace kiln::tir {
class IndexMap {};
}  // namespace kiln::tir
