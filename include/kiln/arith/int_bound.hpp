// kiln/arith/int_bound.hpp: constant lower and upper bounds of integer expressions.
//
// The bound is sound for the value the program computes, wrapping included: a node whose exact
// result could leave its type's range gets the whole range of the type (for int64: infinite).
// Infinite int64 bounds of unbounded variables are assumed not to overflow when combined, as
// index arithmetic on symbolic sizes is assumed not to (like TVM does).
#pragma once
#include <cstdint>
#include <unordered_map>

#include "kiln/arith/const_fold.hpp"
#include "kiln/ir/functor.hpp"

namespace kiln::arith {

// Each variable ranges over [min, min + extent).
using DomMap = std::unordered_map<ir::Var, ir::Range, ir::RefHash, ir::RefEq>;

struct ConstIntBound {
  int64_t min_value, max_value;  // inclusive
  static constexpr int64_t kPosInf = INT64_MAX, kNegInf = INT64_MIN;
  bool is_const() const { return min_value == max_value && min_value != kPosInf && min_value != kNegInf; }
};

namespace detail {

__extension__ typedef __int128 i128;
constexpr i128 kInf = i128(1) << 100;

struct Bound {
  i128 lo, hi;
};
inline bool is_inf(i128 v) { return v >= kInf / 2 || v <= -kInf / 2; }
inline i128 clamp_inf(i128 v) { return v >= kInf / 2 ? kInf : (v <= -kInf / 2 ? -kInf : v); }

// The values a type can hold (int64 and uint64 as infinite: their bounds come out as kPosInf/kNegInf).
inline Bound type_range(DataType t) {
  if (t.is_bool()) return {0, 1};
  if (t.is_int() && t.bits < 64) return {-(i128(1) << (t.bits - 1)), (i128(1) << (t.bits - 1)) - 1};
  if (t.is_uint() && t.bits < 64) return {0, (i128(1) << t.bits) - 1};
  if (t.is_uint()) return {0, kInf};
  return {-kInf, kInf};
}
inline i128 type_max_finite(DataType t) {
  if (t.is_uint()) return t.bits >= 64 ? i128(UINT64_MAX) : (i128(1) << t.bits) - 1;
  if (t.is_bool()) return 1;
  return (i128(1) << (t.bits - 1)) - 1;
}
inline i128 type_min_finite(DataType t) {
  if (t.is_uint() || t.is_bool()) return 0;
  return -(i128(1) << (t.bits - 1));
}
// The exact range r of a node of type t, or the whole type when it could wrap.
inline Bound fit(Bound r, DataType t) {
  r.lo = clamp_inf(r.lo);
  r.hi = clamp_inf(r.hi);
  if (!t.is_integer() && !t.is_bool()) return type_range(t);
  bool wraps = (!is_inf(r.lo) && r.lo < type_min_finite(t)) || (!is_inf(r.hi) && r.hi > type_max_finite(t));
  if (wraps) return type_range(t);
  Bound tr = type_range(t);
  if (r.lo < tr.lo) r.lo = tr.lo;
  if (r.hi > tr.hi) r.hi = tr.hi;
  return r;
}
inline i128 mul_inf(i128 a, i128 b) {
  if (a == 0 || b == 0) return 0;
  if (is_inf(a) || is_inf(b)) return ((a < 0) != (b < 0)) ? -kInf : kInf;
  return a * b;
}
inline i128 div_floor(i128 a, i128 b) {  // b != 0
  if (is_inf(b)) return (a >= 0) == (b > 0) ? 0 : (a == 0 ? 0 : -1);
  if (is_inf(a)) return ((a < 0) != (b < 0)) ? -kInf : kInf;
  i128 q = a / b, r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}
inline i128 div_trunc(i128 a, i128 b) {
  if (is_inf(b)) return 0;
  if (is_inf(a)) return ((a < 0) != (b < 0)) ? -kInf : kInf;
  return a / b;
}
inline Bound hull4(i128 a, i128 b, i128 c, i128 d) {
  return {std::min(std::min(a, b), std::min(c, d)), std::max(std::max(a, b), std::max(c, d))};
}

class BoundAnalyzer {
 public:
  explicit BoundAnalyzer(const DomMap& dom) : dom_(dom) {}

  // Memoized by node, so that expressions sharing subtrees (DAGs) cost their size, not their tree size.
  // Results under a Let or inside a domain depend on context and are not kept.
  Bound get(const ir::Expr& e) {
    if (!lets_.empty() || depth_ > 0) return compute(e);
    if (auto it = memo_.find(e.get()); it != memo_.end()) return it->second.second;
    Bound b = compute(e);
    memo_.emplace(e.get(), std::make_pair(e, b));  // holding e keeps its address from being reused
    return b;
  }

 private:
  Bound compute(const ir::Expr& e) {
    using namespace ir;
    DataType t = e.dtype();
    if (!t.is_scalar() || !(t.is_integer() || t.is_bool())) return type_range(t);
    switch (e.kind()) {
      case ExprKind::IntImm: {
        int64_t v = e.as<IntImmNode>()->value;
        if (t.is_uint() && t.bits == 64 && v < 0) return {i128(uint64_t(v)), i128(uint64_t(v))};
        return {v, v};
      }
      case ExprKind::Var: return var_bound(e);
      case ExprKind::Binary: return binary_bound(*e.as<BinaryNode>());
      case ExprKind::Not: {
        Bound a = get(e.as<NotNode>()->a);
        if (a.lo == a.hi) return {a.lo == 0, a.lo == 0};
        return {0, 1};
      }
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        Bound c = get(n->cond);
        if (c.lo == 1) return get(n->true_value);
        if (c.hi == 0) return get(n->false_value);
        Bound a = get(n->true_value), b = get(n->false_value);
        return {std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
      }
      case ExprKind::Cast: {
        auto* n = e.as<CastNode>();
        DataType s = n->value.dtype();
        if (!(s.is_integer() || s.is_bool())) return type_range(t);
        Bound v = get(n->value);
        if (t.is_bool()) {
          if (v.lo > 0 || v.hi < 0) return {1, 1};
          return v.lo == 0 && v.hi == 0 ? Bound{0, 0} : Bound{0, 1};
        }
        return fit(v, t);  // a value outside t wraps: whole range
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        Bound v = get(n->value);
        auto old = lets_.find(n->var.get());
        bool had = old != lets_.end();
        Bound saved = had ? old->second : Bound{0, 0};
        lets_[n->var.get()] = v;
        Bound r = get(n->body);
        if (had) lets_[n->var.get()] = saved;
        else lets_.erase(n->var.get());
        return r;
      }
      case ExprKind::Call: {
        auto* n = e.as<CallNode>();
        if (n->op == "if_then_else" && n->args.size() == 3) {
          Bound a = get(n->args[1]), b = get(n->args[2]);
          return {std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
        }
        return type_range(t);
      }
      default: return type_range(t);
    }
  }

  const DomMap& dom_;
  std::unordered_map<const ir::VarNode*, Bound> lets_;
  std::unordered_map<const ir::ExprNode*, std::pair<ir::Expr, Bound>> memo_;
  int depth_ = 0;

  Bound var_bound(const ir::Expr& e) {
    DataType t = e.dtype();
    if (auto it = lets_.find(static_cast<const ir::VarNode*>(e.get())); it != lets_.end()) return it->second;
    auto it = dom_.find(ir::Var(std::static_pointer_cast<const ir::VarNode>(e.ptr())));
    if (it == dom_.end() || depth_ > 8 || !it->second.min.defined() || !it->second.extent.defined())
      return type_range(t);
    ++depth_;  // domains may mention other variables (or, wrongly, themselves): stop somewhere
    Bound mn = get(it->second.min), ext = get(it->second.extent);
    --depth_;
    i128 hi = is_inf(mn.hi) || is_inf(ext.hi) ? kInf : mn.hi + std::max<i128>(ext.hi, 1) - 1;
    Bound r{mn.lo, hi};
    Bound tr = type_range(t);
    return {std::max(r.lo, tr.lo), std::min(r.hi, tr.hi)};
  }

  Bound binary_bound(const ir::BinaryNode& n) {
    using ir::BinaryOp;
    DataType t = n.a.dtype();
    Bound a = get(n.a), b = get(n.b);
    switch (n.op) {
      case BinaryOp::Add: return fit({a.lo + b.lo, a.hi + b.hi}, t);
      case BinaryOp::Sub: return fit({a.lo - b.hi, a.hi - b.lo}, t);
      case BinaryOp::Mul:
        return fit(hull4(mul_inf(a.lo, b.lo), mul_inf(a.lo, b.hi), mul_inf(a.hi, b.lo), mul_inf(a.hi, b.hi)), t);
      case BinaryOp::FloorDiv: case BinaryOp::Div: {
        // A zero divisor is a runtime error; for any other the extremes are at the corners.
        if (b.lo <= 0 && b.hi >= 0) return type_range(t);
        auto d = n.op == BinaryOp::FloorDiv ? div_floor : div_trunc;
        return fit(hull4(d(a.lo, b.lo), d(a.lo, b.hi), d(a.hi, b.lo), d(a.hi, b.hi)), t);
      }
      case BinaryOp::FloorMod: {
        if (b.lo > 0) {
          if (a.lo >= 0 && a.hi < b.lo) return a;
          if (!is_inf(a.lo) && !is_inf(a.hi) && !is_inf(b.lo) && b.lo == b.hi &&
              div_floor(a.lo, b.lo) == div_floor(a.hi, b.lo)) {
            i128 q = div_floor(a.lo, b.lo) * b.lo;
            return {a.lo - q, a.hi - q};
          }
          return fit({0, b.hi - 1}, t);
        }
        if (b.hi < 0) return fit({b.lo + 1, 0}, t);
        return type_range(t);
      }
      case BinaryOp::Mod: {
        if (b.lo <= 0 && b.hi >= 0) return type_range(t);
        i128 m = std::max(b.hi, -b.lo);  // the largest |divisor| (0 is not in [b.lo, b.hi])
        Bound r{-(m - 1), m - 1};
        if (a.lo >= 0) r = {0, std::min(r.hi, a.hi)};
        else if (a.hi <= 0) r = {std::max(r.lo, a.lo), 0};
        return fit(r, t);
      }
      case BinaryOp::Min: return {std::min(a.lo, b.lo), std::min(a.hi, b.hi)};
      case BinaryOp::Max: return {std::max(a.lo, b.lo), std::max(a.hi, b.hi)};
      case BinaryOp::EQ:
        if (a.lo == a.hi && b.lo == b.hi && a.lo == b.lo) return {1, 1};
        if (a.hi < b.lo || b.hi < a.lo) return {0, 0};
        return {0, 1};
      case BinaryOp::NE:
        if (a.lo == a.hi && b.lo == b.hi && a.lo == b.lo) return {0, 0};
        if (a.hi < b.lo || b.hi < a.lo) return {1, 1};
        return {0, 1};
      case BinaryOp::LT: return a.hi < b.lo ? Bound{1, 1} : (a.lo >= b.hi ? Bound{0, 0} : Bound{0, 1});
      case BinaryOp::LE: return a.hi <= b.lo ? Bound{1, 1} : (a.lo > b.hi ? Bound{0, 0} : Bound{0, 1});
      case BinaryOp::GT: return a.lo > b.hi ? Bound{1, 1} : (a.hi <= b.lo ? Bound{0, 0} : Bound{0, 1});
      case BinaryOp::GE: return a.lo >= b.hi ? Bound{1, 1} : (a.hi < b.lo ? Bound{0, 0} : Bound{0, 1});
      case BinaryOp::And: return {std::min(a.lo, b.lo), std::min(a.hi, b.hi)};
      case BinaryOp::Or: return {std::max(a.lo, b.lo), std::max(a.hi, b.hi)};
    }
    return type_range(t);
  }
};

inline int64_t to_int64(i128 v) {
  if (v >= kInf / 2 || v > i128(INT64_MAX)) return ConstIntBound::kPosInf;
  if (v <= -kInf / 2 || v < i128(INT64_MIN)) return ConstIntBound::kNegInf;
  return int64_t(v);
}

}  // namespace detail

// Inclusive constant bounds of an integer or bool expression as the variables in dom range over
// their domains (other variables: anything their type holds). kPosInf/kNegInf mean unbounded.
inline ConstIntBound const_int_bound(const ir::Expr& e, const DomMap& dom = {}) {
  KILN_ICHECK(e.defined(), "const_int_bound of an undefined expression");
  detail::Bound b = detail::BoundAnalyzer(dom).get(e);
  return {detail::to_int64(b.lo), detail::to_int64(b.hi)};
}

}  // namespace kiln::arith
