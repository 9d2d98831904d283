// kiln/te/reduce.hpp: reduction axes and the reductions sum, prod, max and min.
//
// A reduction is the whole result of a compute function (as in TVM): `sum(A(i, k) * B(k, j), k)`.
// An optional condition selects the elements that take part: `sum(A(i, k), {k}, k <= i)`.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include "kiln/te/expr.hpp"
#include "kiln/te/tensor.hpp"

namespace kiln::te {

// A reduction axis is an Index (usable in index arithmetic) that ranges over [min, min + extent).
class ReduceAxis : public Index {
 public:
  explicit ReduceAxis(ir::IterVar iv) : Index(iv.var), iv_(std::move(iv)) {}
  const ir::IterVar& iter_var() const { return iv_; }
  const std::string& name() const { return iv_.var.name(); }

 private:
  ir::IterVar iv_;
};

// An axis over [0, extent), or over [min, min + extent).
inline ReduceAxis reduce_axis(Dim min, Dim extent, std::string name) {
  KILN_USER_CHECK(!name.empty(), "te::reduce_axis needs a non-empty name");
  if (auto c = ir::const_int(extent.value); c && *c < 0)
    user_error("te: reduce axis '", name, "' has extent ", *c, "; extents must be >= 0");
  ir::IterVar iv{ir::Var(std::move(name)), ir::Range{min.value, extent.value}, ir::IterKind::CommReduce, {}};
  return ReduceAxis(std::move(iv));
}
inline ReduceAxis reduce_axis(Dim extent, std::string name = "k") {
  return reduce_axis(Dim(0), std::move(extent), std::move(name));
}

namespace detail {
template <typename T>
Expr<T> make_reduce(ir::ReduceOp op, const Expr<T>& source, const std::vector<ReduceAxis>& axes,
                    const Expr<bool>* where) {
  static_assert(!std::is_same_v<T, bool>, "te: cannot reduce bool expressions; use te::cast<T>(...) first");
  KILN_USER_CHECK(!axes.empty(), "te::", ir::reduce_op_name(op), " needs at least one reduce axis");
  std::vector<ir::IterVar> ivs;
  for (auto& a : axes) {
    for (auto& seen : ivs)
      KILN_USER_CHECK(!seen.var.same_as(a.iter_var().var), "te::", ir::reduce_op_name(op), ": reduce axis '", a.name(),
                      "' is listed twice");
    ivs.push_back(a.iter_var());
  }
  ir::Expr cond = where ? where->node() : ir::Expr();
  return Expr<T>(ir::reduce(op, source.node(), std::move(ivs), std::move(cond)));
}
}  // namespace detail

// Each reduction takes one axis, a braced list {k1, k2} or a vector of axes, and optionally a
// condition. The ReduceAxis overloads are more specialized than the element-wise max/min of
// expr.hpp, so te::max(e, k) reduces over k as in TVM.
#define KILN_TE_REDUCTION(NAME, OP)                                                                 \
  template <detail::TeExpr X>                                                                       \
  Expr<detail::elem_t<X>> NAME(const X& src, const ReduceAxis& axis) {                              \
    return detail::make_reduce<detail::elem_t<X>>(ir::ReduceOp::OP, src, {axis}, nullptr);          \
  }                                                                                                 \
  template <detail::TeExpr X>                                                                       \
  Expr<detail::elem_t<X>> NAME(const X& src, std::initializer_list<ReduceAxis> axes) {              \
    return detail::make_reduce<detail::elem_t<X>>(ir::ReduceOp::OP, src, axes, nullptr);            \
  }                                                                                                 \
  template <detail::TeExpr X>                                                                       \
  Expr<detail::elem_t<X>> NAME(const X& src, const std::vector<ReduceAxis>& axes) {                 \
    return detail::make_reduce<detail::elem_t<X>>(ir::ReduceOp::OP, src, axes, nullptr);            \
  }                                                                                                 \
  template <detail::TeExpr X>                                                                       \
  Expr<detail::elem_t<X>> NAME(const X& src, const ReduceAxis& axis, const Expr<bool>& where) {     \
    return detail::make_reduce<detail::elem_t<X>>(ir::ReduceOp::OP, src, {axis}, &where);           \
  }                                                                                                 \
  template <detail::TeExpr X>                                                                       \
  Expr<detail::elem_t<X>> NAME(const X& src, std::initializer_list<ReduceAxis> axes,                \
                               const Expr<bool>& where) {                                           \
    return detail::make_reduce<detail::elem_t<X>>(ir::ReduceOp::OP, src, axes, &where);             \
  }                                                                                                 \
  template <detail::TeExpr X>                                                                       \
  Expr<detail::elem_t<X>> NAME(const X& src, const std::vector<ReduceAxis>& axes,                   \
                               const Expr<bool>& where) {                                           \
    return detail::make_reduce<detail::elem_t<X>>(ir::ReduceOp::OP, src, axes, &where);             \
  }

// Reductions with identities 0 (sum), 1 (prod), -inf / lowest (max), +inf / highest (min).
KILN_TE_REDUCTION(sum, Sum)
KILN_TE_REDUCTION(prod, Prod)
KILN_TE_REDUCTION(max, Max)
KILN_TE_REDUCTION(min, Min)
#undef KILN_TE_REDUCTION

}  // namespace kiln::te
