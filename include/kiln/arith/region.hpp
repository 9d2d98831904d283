// kiln/arith/region.hpp: the box of buffer elements a set of accesses touches.
#pragma once
#include <string>
#include <vector>

#include "kiln/arith/interval.hpp"

namespace kiln::arith {

// The smallest box (per dimension: min and extent, simplified) covering every index tuple in
// `accesses` as the variables of dom range over their domains; other variables are fixed symbols.
// A bound that cannot be expressed symbolically falls back to a constant one; an index with no
// bound at all is a UserError naming the dimension.
inline std::vector<ir::Range> infer_region(const std::vector<std::vector<ir::Expr>>& accesses, const DomMap& dom) {
  if (accesses.empty()) return {};
  size_t rank = accesses[0].size();
  IntervalMap intervals;
  for (auto& [v, r] : dom) {
    KILN_USER_CHECK(r.min.defined() && r.extent.defined(), "infer_region: the domain of '", v.name(), "' is undefined");
    intervals[v] = {r.min, simplify(ir::sub(ir::add(r.min, r.extent), ir::make_const(r.min.dtype(), 1)))};
  }
  std::vector<ir::Range> out;
  for (size_t d = 0; d < rank; ++d) {
    ir::Expr lo, hi;
    for (size_t k = 0; k < accesses.size(); ++k) {
      KILN_USER_CHECK(accesses[k].size() == rank, "infer_region: access ", k, " has ", accesses[k].size(),
                      " indices but access 0 has ", rank, "; all accesses must be to the same buffer");
      const ir::Expr& idx = accesses[k][d];
      KILN_USER_CHECK(idx.defined() && idx.dtype().is_scalar() && idx.dtype().is_integer(),
                      "infer_region: index ", d, " of access ", k, " is not a scalar integer");
      IntervalSet s = eval_interval(idx, intervals);
      if (!s.min.defined() || !s.max.defined()) {
        ConstIntBound b = const_int_bound(simplify(idx, dom), dom);
        if (!s.min.defined() && b.min_value != ConstIntBound::kNegInf)
          s.min = detail::make_int(b.min_value, idx.dtype());
        if (!s.max.defined() && b.max_value != ConstIntBound::kPosInf)
          s.max = detail::make_int(b.max_value, idx.dtype());
        if (!s.min.defined() || !s.max.defined())
          user_error("infer_region: cannot bound index ", d, " of access ", k,
                     " over the given domains; express it with + - * by constants, floordiv, floormod, min, max");
      }
      lo = lo.defined() ? simplify(ir::min(lo, s.min), dom) : s.min;
      hi = hi.defined() ? simplify(ir::max(hi, s.max), dom) : s.max;
    }
    ir::Expr extent = simplify(ir::add(ir::sub(hi, lo), ir::make_const(hi.dtype(), 1)), dom);
    out.push_back({simplify(lo, dom), extent});
  }
  return out;
}

}  // namespace kiln::arith
