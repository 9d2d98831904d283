// kiln/arith/interval.hpp: symbolic intervals of integer expressions.
//
// eval_interval bounds an expression by expressions over the variables that are not in the map:
// with i in [0, n - 1], 2*i + 1 lies in [1, n*2 - 1]. Bounds are inclusive; an undefined bound
// means unbounded on that side.
#pragma once
#include <unordered_map>

#include "kiln/arith/simplify.hpp"

namespace kiln::arith {

struct IntervalSet {
  ir::Expr min, max;  // inclusive; undefined = unbounded
  bool is_point() const { return min.defined() && max.defined() && detail::same_expr(min, max); }
};
using IntervalMap = std::unordered_map<ir::Var, IntervalSet, ir::RefHash, ir::RefEq>;

namespace detail {

class IntervalEvaluator {
 public:
  explicit IntervalEvaluator(const IntervalMap& m) : map_(m) {}

  IntervalSet eval(const ir::Expr& e) {
    using namespace ir;
    if (!mentions_mapped(e)) return {e, e};
    DataType t = e.dtype();
    if (!t.is_scalar() || !t.is_integer()) return {};
    switch (e.kind()) {
      case ExprKind::Var: {
        auto it = map_.find(Var(std::static_pointer_cast<const VarNode>(e.ptr())));
        return it->second;
      }
      case ExprKind::Binary: return binary(*e.as<BinaryNode>());
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        return hull(eval(n->true_value), eval(n->false_value));
      }
      case ExprKind::Call: {
        auto* n = e.as<CallNode>();
        if (n->op == "if_then_else" && n->args.size() == 3) return hull(eval(n->args[1]), eval(n->args[2]));
        return {};
      }
      default: return {};
    }
  }

 private:
  const IntervalMap& map_;

  bool mentions_mapped(const ir::Expr& e) {
    bool found = false;
    ir::for_each_var(e, [&](const ir::VarNode&, const ir::Expr& v) {
      found = found || map_.count(ir::Var(std::static_pointer_cast<const ir::VarNode>(v.ptr())));
    });
    return found;
  }
  static ir::Expr both(ir::Expr a, ir::Expr b, ir::Expr (*f)(ir::Expr, ir::Expr)) {
    return a.defined() && b.defined() ? f(std::move(a), std::move(b)) : ir::Expr();
  }
  // min of two lower bounds is unbounded if either is; min of two upper bounds is the other if one is.
  static ir::Expr tighter(ir::Expr a, ir::Expr b, ir::Expr (*f)(ir::Expr, ir::Expr)) {
    if (!a.defined()) return b;
    if (!b.defined()) return a;
    return f(std::move(a), std::move(b));
  }
  static IntervalSet hull(const IntervalSet& a, const IntervalSet& b) {
    return {both(a.min, b.min, ir::min), both(a.max, b.max, ir::max)};
  }
  static IntervalSet scale(const IntervalSet& a, const ir::Expr& c, int64_t v) {
    if (v == 0) return {c, c};
    IntervalSet r{both(a.min, c, ir::mul), both(a.max, c, ir::mul)};
    if (v < 0) std::swap(r.min, r.max);
    return r;
  }

  IntervalSet binary(const ir::BinaryNode& n) {
    using ir::BinaryOp;
    IntervalSet a = eval(n.a), b = eval(n.b);
    auto cb = ir::const_int(n.b), ca = ir::const_int(n.a);
    bool uint = n.a.dtype().is_uint();  // unsigned sums may wrap below zero: only points are safe
    switch (n.op) {
      case BinaryOp::Add:
        if (uint) break;
        return {both(a.min, b.min, ir::add), both(a.max, b.max, ir::add)};
      case BinaryOp::Sub:
        if (uint) break;
        return {both(a.min, b.max, ir::sub), both(a.max, b.min, ir::sub)};
      case BinaryOp::Mul:
        if (uint) break;
        if (cb) return scale(a, n.b, *cb);
        if (ca) return scale(b, n.a, *ca);
        break;
      case BinaryOp::FloorDiv:
        if (cb && *cb > 0) return {both(a.min, n.b, ir::floordiv), both(a.max, n.b, ir::floordiv)};
        if (cb && *cb < 0) return {both(a.max, n.b, ir::floordiv), both(a.min, n.b, ir::floordiv)};
        break;
      case BinaryOp::FloorMod:
        if (cb && *cb > 0) return {ir::make_const(n.b.dtype(), 0), ir::sub(n.b, ir::make_const(n.b.dtype(), 1))};
        break;
      case BinaryOp::Min: return {both(a.min, b.min, ir::min), tighter(a.max, b.max, ir::min)};
      case BinaryOp::Max: return {tighter(a.min, b.min, ir::max), both(a.max, b.max, ir::max)};
      default: break;
    }
    if (a.is_point() && b.is_point()) {
      ir::Expr p = ir::binary(n.op, a.min, b.min);
      return {p, p};
    }
    return {};
  }
};

}  // namespace detail

// Inclusive symbolic bounds of e as each variable of dom_map ranges over its interval; variables
// not in the map are fixed symbols. Both bounds are simplified.
inline IntervalSet eval_interval(const ir::Expr& e, const IntervalMap& dom_map) {
  KILN_ICHECK(e.defined(), "eval_interval of an undefined expression");
  IntervalSet r = detail::IntervalEvaluator(dom_map).eval(e);
  return {simplify(r.min), simplify(r.max)};
}

}  // namespace kiln::arith
