// kiln/arith/simplify.hpp: the expression and statement simplifier.
//
// Integer expressions of + - and * by constants are kept in a canonical form: a sum of
// coefficient * term plus a constant, terms in a fixed order, like terms combined. Integer + - *
// wrap modulo 2^bits, which is a ring, so that form never changes a value. Rules whose proof
// needs "no wraparound" (floordiv/floormod splitting, comparisons by differences) check it with
// const_int_bound for types narrower than 64 bits; int64 index arithmetic is assumed not to
// overflow. Floats are only folded when every operand is a constant (x*0 and x-x are not 0 for
// NaN and infinity).
#pragma once
#include <algorithm>

#include "kiln/arith/const_fold.hpp"
#include "kiln/arith/expr_order.hpp"
#include "kiln/arith/int_bound.hpp"

namespace kiln::arith {

namespace detail {

inline int64_t wadd(int64_t a, int64_t b, int bits) { return sign_wrap(int64_t(uint64_t(a) + uint64_t(b)), bits); }
inline int64_t wmul(int64_t a, int64_t b, int bits) { return sign_wrap(int64_t(uint64_t(a) * uint64_t(b)), bits); }
inline int64_t floor_div64(int64_t a, int64_t b) {  // b > 0
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// sum(coefficient * term) + c, coefficients and c kept as signed values of the type's width.
struct Linear {
  std::vector<std::pair<ir::Expr, int64_t>> terms;
  int64_t c = 0;
};

class Simplifier {
 public:
  explicit Simplifier(const DomMap& dom) : bounds_(dom) {}

  // Memoized by node (see BoundAnalyzer::get).
  ir::Expr run(const ir::Expr& e) {
    if (!e.defined()) return e;
    if (auto it = memo_.find(e.get()); it != memo_.end()) return it->second.second;
    ir::Expr r = run_uncached(e);
    memo_.emplace(e.get(), std::make_pair(e, r));
    return r;
  }

 private:
  BoundAnalyzer bounds_;
  std::unordered_map<const ir::ExprNode*, std::pair<ir::Expr, ir::Expr>> memo_;

  ir::Expr run_uncached(const ir::Expr& e) {
    using namespace ir;
    switch (e.kind()) {
      case ExprKind::Var: {
        if (e.dtype().is_scalar() && e.dtype().is_integer()) {  // a variable whose domain is one value
          Bound b = bounds_.get(e);
          if (b.lo == b.hi && !is_inf(b.lo)) return make_int(int64_t(b.lo), e.dtype());
        }
        return e;
      }
      case ExprKind::IntImm: case ExprKind::FloatImm: case ExprKind::StringImm: return e;
      case ExprKind::Binary: {
        auto* n = e.as<BinaryNode>();
        Expr a = run(n->a), b = run(n->b);
        Expr r = rewrite(n->op, a, b);
        if (r.defined()) return r;
        return a.same_as(n->a) && b.same_as(n->b) ? e : binary(n->op, a, b);
      }
      case ExprKind::Not: {
        auto* n = e.as<NotNode>();
        Expr a = run(n->a);
        if (Expr f = fold_not(a); f.defined()) return f;
        if (auto* m = a.as<NotNode>()) return m->a;
        if (auto* c = a.as<BinaryNode>(); c && is_comparison(c->op) && c->a.dtype().is_scalar()) {
          // !(a < b) is a >= b for integers; for floats only == and != invert (NaN compares false).
          bool exact = !c->a.dtype().is_float() || c->op == BinaryOp::EQ || c->op == BinaryOp::NE;
          if (exact) return binary(inverse(c->op), c->a, c->b);
        }
        return a.same_as(n->a) ? e : logical_not(a);
      }
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        Expr c = run(n->cond), t = run(n->true_value), f = run(n->false_value);
        if (auto* ci = as_int_imm(c)) return ci->value ? t : f;
        if (same_expr(t, f)) return t;
        if (c.same_as(n->cond) && t.same_as(n->true_value) && f.same_as(n->false_value)) return e;
        return select(c, t, f);
      }
      case ExprKind::Cast: {
        auto* n = e.as<CastNode>();
        Expr v = run(n->value);
        if (Expr f = fold_cast(n->dtype, v); f.defined()) return f;
        return v.same_as(n->value) ? e : cast(n->dtype, v);
      }
      case ExprKind::Call: {
        auto* n = e.as<CallNode>();
        std::vector<Expr> args;
        bool changed = false;
        for (auto& x : n->args) {
          args.push_back(run(x));
          changed |= !args.back().same_as(x);
        }
        if (n->op == "if_then_else" && args.size() == 3)  // lazy: only the taken branch remains
          if (auto* ci = as_int_imm(args[0])) return ci->value ? args[1] : args[2];
        return changed ? call(n->dtype, n->op, std::move(args)) : e;
      }
      case ExprKind::BufferLoad: {
        auto* n = e.as<BufferLoadNode>();
        std::vector<Expr> idx;
        bool changed = false;
        for (auto& x : n->indices) {
          idx.push_back(run(x));
          changed |= !idx.back().same_as(x);
        }
        return changed ? buffer_load(n->buffer, std::move(idx)) : e;
      }
      case ExprKind::Ramp: {
        auto* n = e.as<RampNode>();
        Expr b = run(n->base), s = run(n->stride);
        return b.same_as(n->base) && s.same_as(n->stride) ? e : ramp(b, s, n->lanes);
      }
      case ExprKind::Broadcast: {
        auto* n = e.as<BroadcastNode>();
        Expr v = run(n->value);
        return v.same_as(n->value) ? e : broadcast(v, n->lanes);
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        Expr v = run(n->value), b = run(n->body);
        return v.same_as(n->value) && b.same_as(n->body) ? e : let(n->var, v, b);
      }
      case ExprKind::Reduce: {
        auto* n = e.as<ReduceNode>();
        Expr s = run(n->source), c = run(n->condition);
        return s.same_as(n->source) && c.same_as(n->condition) ? e : reduce(n->op, s, n->axes, c);
      }
    }
    return e;
  }

  static ir::BinaryOp inverse(ir::BinaryOp op) {
    using ir::BinaryOp;
    switch (op) {
      case BinaryOp::EQ: return BinaryOp::NE;
      case BinaryOp::NE: return BinaryOp::EQ;
      case BinaryOp::LT: return BinaryOp::GE;
      case BinaryOp::LE: return BinaryOp::GT;
      case BinaryOp::GT: return BinaryOp::LE;
      case BinaryOp::GE: return BinaryOp::LT;
      default: return op;
    }
  }

  // ---- rules ----------------------------------------------------------------------------------
  // The simplified a op b (a and b already simplified), or undefined when nothing applies.
  ir::Expr rewrite(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    using ir::BinaryOp;
    if (ir::Expr f = fold_binary(op, a, b); f.defined()) return f;
    DataType t = a.dtype();
    if (!t.is_scalar() || !(t.is_integer() || t.is_bool())) return {};
    ir::Expr r;
    if (t.is_bool()) {
      r = rewrite_bool(op, a, b);
    } else {
      switch (op) {
        case BinaryOp::Add: case BinaryOp::Sub: case BinaryOp::Mul: r = rewrite_linear(op, a, b); break;
        case BinaryOp::FloorDiv: r = rewrite_floordiv(a, b); break;
        case BinaryOp::FloorMod: r = rewrite_floormod(a, b); break;
        case BinaryOp::Div: case BinaryOp::Mod: r = rewrite_trunc(op, a, b); break;
        case BinaryOp::Min: case BinaryOp::Max: r = rewrite_minmax(op, a, b); break;
        default: r = rewrite_compare(op, a, b); break;
      }
    }
    // Whatever is left: if its bounds pin it to one value, that value.
    ir::Expr out = r.defined() ? r : ir::binary(op, a, b);
    if (!ir::as_int_imm(out)) {
      Bound bd = bounds_.get(out);
      if (bd.lo == bd.hi && !is_inf(bd.lo)) return make_int(int64_t(bd.lo), out.dtype());
    }
    return out;
  }

  ir::Expr rewrite_bool(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    using ir::BinaryOp;
    auto* ca = ir::as_int_imm(a);
    auto* cb = ir::as_int_imm(b);
    if (op == BinaryOp::And) {
      if ((ca && !ca->value) || (cb && !cb->value)) return ir::bool_imm(false);
      if (ca) return b;
      if (cb || same_expr(a, b)) return a;
    } else if (op == BinaryOp::Or) {
      if ((ca && ca->value) || (cb && cb->value)) return ir::bool_imm(true);
      if (ca) return b;
      if (cb || same_expr(a, b)) return a;
    } else if (op == BinaryOp::EQ || op == BinaryOp::NE) {
      if (same_expr(a, b)) return ir::bool_imm(op == BinaryOp::EQ);
    }
    return {};
  }

  // -- canonical sums
  void add_linear(const ir::Expr& e, int64_t k, Linear& out) {
    int bits = e.dtype().bits;
    if (auto* i = ir::as_int_imm(e)) {
      out.c = wadd(out.c, wmul(sign_wrap(i->value, bits), k, bits), bits);
      return;
    }
    if (auto* n = e.as<ir::BinaryNode>()) {
      if (n->op == ir::BinaryOp::Add) return add_linear(n->a, k, out), add_linear(n->b, k, out);
      if (n->op == ir::BinaryOp::Sub) return add_linear(n->a, k, out), add_linear(n->b, wmul(k, -1, bits), out);
      if (n->op == ir::BinaryOp::Mul) {
        if (auto* c = ir::as_int_imm(n->b)) return add_linear(n->a, wmul(k, sign_wrap(c->value, bits), bits), out);
        if (auto* c = ir::as_int_imm(n->a)) return add_linear(n->b, wmul(k, sign_wrap(c->value, bits), bits), out);
      }
    }
    out.terms.emplace_back(e, k);
  }
  Linear to_linear(const ir::Expr& e) {
    Linear r;
    add_linear(e, 1, r);
    return r;
  }
  static Linear combine(const Linear& a, const Linear& b, int64_t kb, int bits) {
    Linear r = a;
    for (auto& [e, k] : b.terms) r.terms.emplace_back(e, wmul(k, kb, bits));
    r.c = wadd(r.c, wmul(b.c, kb, bits), bits);
    return r;
  }
  static Linear scale(const Linear& a, int64_t s, int bits) {
    Linear r;
    for (auto& [e, k] : a.terms) r.terms.emplace_back(e, wmul(k, s, bits));
    r.c = wmul(a.c, s, bits);
    return r;
  }
  // Sorts terms, combines like ones and drops zero coefficients.
  static void normalize(Linear& r, int bits) {
    std::sort(r.terms.begin(), r.terms.end(),
              [](const auto& x, const auto& y) { return compare_expr(x.first, y.first) < 0; });
    std::vector<std::pair<ir::Expr, int64_t>> out;
    for (auto& [e, k] : r.terms) {
      if (!out.empty() && same_expr(out.back().first, e)) out.back().second = wadd(out.back().second, k, bits);
      else out.emplace_back(e, k);
    }
    std::erase_if(out, [](const auto& p) { return p.second == 0; });
    r.terms = std::move(out);
  }
  // (x floordiv c) * (k*c) + (x floormod c) * k -> x * k: exact over the integers, so also modulo 2^bits.
  bool merge_div_mod(Linear& r, int bits) {
    for (size_t i = 0; i < r.terms.size(); ++i) {
      auto* m = r.terms[i].first.as<ir::BinaryNode>();
      if (!m || m->op != ir::BinaryOp::FloorMod || !ir::as_int_imm(m->b)) continue;
      int64_t c = ir::as_int_imm(m->b)->value, k = r.terms[i].second;
      for (size_t j = 0; j < r.terms.size(); ++j) {
        auto* d = r.terms[j].first.as<ir::BinaryNode>();
        if (!d || d->op != ir::BinaryOp::FloorDiv || !ir::is_const_int(d->b, c) || !same_expr(d->a, m->a)) continue;
        if (r.terms[j].second != wmul(k, c, bits)) continue;
        ir::Expr x = m->a;
        r.terms.erase(r.terms.begin() + std::max(i, j));
        r.terms.erase(r.terms.begin() + std::min(i, j));
        add_linear(x, k, r);
        normalize(r, bits);
        return true;
      }
    }
    return false;
  }
  ir::Expr from_linear(Linear r, DataType t) {
    int bits = t.bits;
    normalize(r, bits);
    while (merge_div_mod(r, bits)) {
    }
    auto times = [&](const ir::Expr& e, int64_t k) { return k == 1 ? e : ir::mul(e, make_int(k, t)); };
    ir::Expr res;
    for (auto& [e, k] : r.terms)
      if (k > 0) res = res.defined() ? ir::add(res, times(e, k)) : times(e, k);
    bool constant_first = !res.defined() && r.c > 0 && !r.terms.empty();  // 11 - n rather than n*-1 + 11
    if (constant_first) res = make_int(r.c, t);
    for (auto& [e, k] : r.terms) {
      if (k > 0) continue;
      if (!res.defined()) res = times(e, k);
      else if (wmul(k, -1, bits) == k) res = ir::add(res, times(e, k));  // -k wraps to k: keep the sign exact
      else res = ir::sub(res, times(e, wmul(k, -1, bits)));
    }
    if (!res.defined()) return make_int(r.c, t);
    if (constant_first) return res;
    if (r.c > 0) return ir::add(res, make_int(r.c, t));
    if (r.c < 0 && wmul(r.c, -1, bits) == r.c) return ir::add(res, make_int(r.c, t));
    if (r.c < 0) return ir::sub(res, make_int(wmul(r.c, -1, bits), t));
    return res;
  }
  ir::Expr rewrite_linear(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    DataType t = a.dtype();
    int bits = t.bits;
    if (op == ir::BinaryOp::Mul) {
      Linear la = to_linear(a), lb = to_linear(b);
      if (la.terms.empty()) return from_linear(scale(lb, la.c, bits), t);
      if (lb.terms.empty()) return from_linear(scale(la, lb.c, bits), t);
      // A product of two non-constants stays one term, operands in canonical order.
      return compare_expr(a, b) <= 0 ? ir::mul(a, b) : ir::mul(b, a);
    }
    return from_linear(combine(to_linear(a), to_linear(b), op == ir::BinaryOp::Add ? 1 : -1, bits), t);
  }

  // -- wraparound checks
  // True when e's value is its exact integer value (no node of its sum wrapped). A wrap anywhere
  // in a sum makes the bound of the whole sum the entire type, so a narrower bound proves none did.
  bool exact(const ir::Expr& e) {
    DataType t = e.dtype();
    if (t.is_int() && t.bits == 64) return true;  // assumed for index arithmetic
    Bound b = bounds_.get(e), r = type_range(t);
    return !(b.lo <= r.lo && b.hi >= r.hi);
  }
  // True when a - b computed in the type equals the exact difference of the values.
  bool difference_exact(const ir::Expr& a, const ir::Expr& b) {
    DataType t = a.dtype();
    if (t.is_int() && t.bits == 64) return true;
    Bound ba = bounds_.get(a), bb = bounds_.get(b);
    if (is_inf(ba.lo) || is_inf(ba.hi) || is_inf(bb.lo) || is_inf(bb.hi)) return false;
    return ba.lo - bb.hi >= type_min_finite(t) && ba.hi - bb.lo <= type_max_finite(t);
  }
  // Bound of a - b (exact difference, or nullopt when it cannot be trusted).
  std::optional<Bound> difference_bound(const ir::Expr& a, const ir::Expr& b) {
    if (!difference_exact(a, b)) return std::nullopt;
    Bound ba = bounds_.get(a), bb = bounds_.get(b);
    Bound direct{clamp_inf(ba.lo - bb.hi), clamp_inf(ba.hi - bb.lo)};
    DataType t = a.dtype();
    ir::Expr d = from_linear(combine(to_linear(a), to_linear(b), -1, t.bits), t);
    Bound bd = bounds_.get(d);
    if (t.is_uint()) return direct;  // d wraps for negative differences; only the direct bound holds
    return Bound{std::max(direct.lo, bd.lo), std::min(direct.hi, bd.hi)};
  }

  // -- division
  // e read as sum(k * term) + c with exact integer arithmetic: e's value when no node of e wraps.
  // (The wrapped reading of to_linear can differ: x - INT32_MIN is x + 2^31, not x + INT32_MIN.)
  static bool exact_linear(const ir::Expr& e, i128 k, Linear& out) {
    auto fits = [](i128 v) { return v >= i128(INT64_MIN) && v <= i128(INT64_MAX); };
    if (auto* i = ir::as_int_imm(e)) {
      i128 v = i128(out.c) + k * i128(i->value);
      if (!fits(v)) return false;
      out.c = int64_t(v);
      return true;
    }
    if (auto* n = e.as<ir::BinaryNode>()) {
      if (n->op == ir::BinaryOp::Add) return exact_linear(n->a, k, out) && exact_linear(n->b, k, out);
      if (n->op == ir::BinaryOp::Sub) return exact_linear(n->a, k, out) && exact_linear(n->b, -k, out);
      if (n->op == ir::BinaryOp::Mul) {
        auto* ca = ir::as_int_imm(n->a);
        auto* cb = ir::as_int_imm(n->b);
        if (cb || ca) {
          i128 kk = k * i128(cb ? cb->value : ca->value);
          return fits(kk) && exact_linear(cb ? n->a : n->b, kk, out);
        }
      }
    }
    if (!fits(k)) return false;
    out.terms.emplace_back(e, int64_t(k));
    return true;
  }
  // Splits a = c*x + y, exactly over the integers when a does not wrap: every coefficient of y is
  // not divisible by c and y's constant is in [0, c). Only for signed types, whose canonical
  // sums print each coefficient as its exact signed value.
  bool split(const ir::Expr& a, int64_t c, Linear& x, Linear& y) {
    Linear la;
    if (!a.dtype().is_int() || !exact_linear(a, 1, la)) return false;
    std::sort(la.terms.begin(), la.terms.end(),
              [](const auto& p, const auto& q) { return compare_expr(p.first, q.first) < 0; });
    Bound range = type_range(a.dtype());
    auto in_range = [&](int64_t v) { return is_inf(range.lo) || (v >= range.lo && v <= range.hi); };
    if (!in_range(la.c)) return false;
    for (size_t i = 0; i < la.terms.size(); ++i)  // y must print as exactly these coefficients
      if (!in_range(la.terms[i].second) || (i > 0 && same_expr(la.terms[i - 1].first, la.terms[i].first))) return false;
    for (auto& [e, k] : la.terms) {
      if (k % c == 0) x.terms.emplace_back(e, k / c);
      else y.terms.emplace_back(e, k);
    }
    x.c = floor_div64(la.c, c);
    y.c = la.c - x.c * c;
    return true;
  }
  static bool is_positive_const(const ir::Expr& b, int64_t& c) {
    auto* cb = ir::as_int_imm(b);
    if (!cb || cb->value <= 0) return false;
    c = cb->value;
    return true;
  }
  ir::Expr rewrite_floordiv(const ir::Expr& a, const ir::Expr& b) {
    DataType t = a.dtype();
    int64_t c;
    if (!is_positive_const(b, c)) return {};
    if (c == 1) return a;
    // (x floordiv c1) floordiv c2 -> x floordiv (c1*c2)
    if (auto* n = a.as<ir::BinaryNode>(); n && n->op == ir::BinaryOp::FloorDiv) {
      int64_t c1;
      if (is_positive_const(n->b, c1) && i128(c1) * c <= type_max_finite(t)) {
        ir::Expr inner = make_int(c1 * c, t);
        ir::Expr r = rewrite_floordiv(n->a, inner);
        return r.defined() ? r : ir::floordiv(n->a, inner);
      }
    }
    if (exact(a)) {
      Linear x, y;
      if (!split(a, c, x, y)) return {};
      ir::Expr ye = from_linear(y, t);
      Bound yb = bounds_.get(ye);
      if (!is_inf(yb.lo) && !is_inf(yb.hi) && exact(ye)) {
        i128 q_lo = div_floor(yb.lo, c), q_hi = div_floor(yb.hi, c);
        if (q_lo == q_hi) {  // floor(y / c) is one value
          x.c = wadd(x.c, int64_t(q_lo), t.bits);
          return from_linear(x, t);
        }
      }
      if ((!x.terms.empty() || x.c != 0) && exact(ye)) {
        add_linear(rewrite(ir::BinaryOp::FloorDiv, ye, b), 1, x);
        return from_linear(x, t);
      }
    }
    return {};
  }
  ir::Expr rewrite_floormod(const ir::Expr& a, const ir::Expr& b) {
    DataType t = a.dtype();
    int64_t c;
    if (!is_positive_const(b, c)) return {};
    if (c == 1) return make_int(0, t);
    // (x floormod c1) floormod c2 -> x floormod c2 when c2 divides c1
    if (auto* n = a.as<ir::BinaryNode>(); n && n->op == ir::BinaryOp::FloorMod) {
      int64_t c1;
      if (is_positive_const(n->b, c1) && c1 % c == 0) {
        ir::Expr r = rewrite_floormod(n->a, b);
        return r.defined() ? r : ir::floormod(n->a, b);
      }
    }
    if (exact(a)) {
      Linear x, y;
      if (!split(a, c, x, y)) return {};
      ir::Expr ye = from_linear(y, t);
      Bound yb = bounds_.get(ye);
      if (!is_inf(yb.lo) && !is_inf(yb.hi) && exact(ye)) {
        i128 q_lo = div_floor(yb.lo, c), q_hi = div_floor(yb.hi, c);
        if (q_lo == q_hi) {  // y - q*c is already in [0, c)
          y.c = wadd(y.c, wmul(int64_t(q_lo), -c, t.bits), t.bits);
          return from_linear(y, t);
        }
      }
      if ((!x.terms.empty() || x.c != 0) && exact(ye)) return rewrite(ir::BinaryOp::FloorMod, ye, b);
    }
    Bound ba = bounds_.get(a);  // also for types split does not handle
    if (ba.lo >= 0 && ba.hi < c) return a;
    return {};
  }
  // Truncating division equals flooring division when both operands are non-negative.
  ir::Expr rewrite_trunc(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    bool is_div = op == ir::BinaryOp::Div;
    if (ir::is_const_int(b, 1)) return is_div ? a : make_int(0, a.dtype());
    Bound ba = bounds_.get(a), bb = bounds_.get(b);
    if (ba.lo >= 0 && bb.lo > 0) {
      ir::Expr r = is_div ? rewrite_floordiv(a, b) : rewrite_floormod(a, b);
      return r.defined() ? r : (is_div ? ir::floordiv(a, b) : ir::floormod(a, b));
    }
    return {};
  }

  // -- min, max, comparisons
  bool prove_le(const ir::Expr& a, const ir::Expr& b) {
    Bound ba = bounds_.get(a), bb = bounds_.get(b);
    if (ba.hi <= bb.lo && !(is_inf(ba.hi) && is_inf(bb.lo))) return true;
    auto d = difference_bound(a, b);
    return d && d->hi <= 0 && !is_inf(d->hi);
  }
  ir::Expr rewrite_minmax(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    bool is_min = op == ir::BinaryOp::Min;
    if (same_expr(a, b)) return a;
    if (prove_le(a, b)) return is_min ? a : b;
    if (prove_le(b, a)) return is_min ? b : a;
    return {};
  }
  ir::Expr rewrite_compare(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    using ir::BinaryOp;
    DataType t = a.dtype();
    if (op == BinaryOp::EQ || op == BinaryOp::NE) {
      // a == b exactly when a - b == 0 modulo 2^bits: no wraparound condition needed.
      ir::Expr d = from_linear(combine(to_linear(a), to_linear(b), -1, t.bits), t);
      Bound bd = bounds_.get(d);
      if (bd.lo == 0 && bd.hi == 0) return ir::bool_imm(op == BinaryOp::EQ);
      if (bd.lo > 0 || bd.hi < 0) return ir::bool_imm(op == BinaryOp::NE);
      return {};
    }
    auto d = difference_bound(a, b);
    if (!d) return {};
    auto known = [&](bool yes, bool no) { return yes ? ir::bool_imm(true) : (no ? ir::bool_imm(false) : ir::Expr()); };
    bool lo_fin = !is_inf(d->lo), hi_fin = !is_inf(d->hi);
    switch (op) {
      case BinaryOp::LT: return known(hi_fin && d->hi < 0, lo_fin && d->lo >= 0);
      case BinaryOp::LE: return known(hi_fin && d->hi <= 0, lo_fin && d->lo > 0);
      case BinaryOp::GT: return known(lo_fin && d->lo > 0, hi_fin && d->hi <= 0);
      case BinaryOp::GE: return known(lo_fin && d->lo >= 0, hi_fin && d->hi < 0);
      default: return {};
    }
  }
};

// Simplifies every expression of a statement with the domains of the loops and blocks around it.
class StmtSimplifier : public ir::StmtExprMutator {
 public:
  using ir::StmtExprMutator::mutate;
  ir::Expr mutate(const ir::Expr& e) override { return e.defined() ? Simplifier(dom_).run(e) : e; }

  ir::Stmt mutate(const ir::Stmt& s) override {
    if (!s.defined()) return s;
    if (auto* n = s.as<ir::IfThenElseNode>()) {
      ir::Expr c = mutate(n->cond);
      if (auto* ci = ir::as_int_imm(c)) {
        if (ci->value) return mutate(n->then_case);
        return n->else_case.defined() ? mutate(n->else_case) : no_op();
      }
    }
    if (auto* n = s.as<ir::SeqStmtNode>()) {
      std::vector<ir::Stmt> out;
      bool changed = false;
      for (auto& x : n->seq) {
        ir::Stmt y = mutate(x);
        changed |= !y.same_as(x);
        if (is_no_op(y)) changed = true;
        else out.push_back(y);
      }
      if (!changed) return s;
      return out.empty() ? no_op() : ir::seq(std::move(out));
    }
    return ir::StmtExprMutator::mutate(s);
  }
  ir::Stmt mutate_for(const ir::Stmt& s) override {
    auto* n = s.as<ir::ForNode>();
    ir::Expr mn = mutate(n->min), ext = mutate(n->extent);
    Scope scope(dom_, n->loop_var, {mn, ext});
    ir::Stmt body = mutate(n->body);
    if (mn.same_as(n->min) && ext.same_as(n->extent) && body.same_as(n->body)) return s;
    return ir::for_loop(n->loop_var, mn, ext, n->for_kind, body, n->thread_tag, n->annotations);
  }
  ir::Stmt mutate_block(const ir::Stmt& s) override {
    auto* n = s.as<ir::BlockNode>();
    std::vector<std::unique_ptr<Scope>> scopes;
    for (auto& iv : n->iter_vars) scopes.push_back(std::make_unique<Scope>(dom_, iv.var, iv.dom));
    return ir::StmtExprMutator::mutate_block(s);
  }

 private:
  DomMap dom_;

  // Binds a variable's domain for the lifetime of the scope (restoring a shadowed one).
  struct Scope {
    DomMap& dom;
    ir::Var var;
    std::optional<ir::Range> saved;
    Scope(DomMap& d, const ir::Var& v, ir::Range r) : dom(d), var(v) {
      if (auto it = dom.find(v); it != dom.end()) saved = it->second;
      dom[v] = std::move(r);
    }
    ~Scope() {
      if (saved) dom[var] = *saved;
      else dom.erase(var);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };
  static ir::Stmt no_op() { return ir::evaluate(ir::int_imm(0, DataType::int_(32))); }
  static bool is_no_op(const ir::Stmt& s) {
    auto* e = s.as<ir::EvaluateNode>();
    return e && ir::as_int_imm(e->value);
  }
};

}  // namespace detail

// The simplified form of e, with each variable of dom ranging over [min, min + extent).
inline ir::Expr simplify(const ir::Expr& e, const DomMap& dom = {}) {
  if (!e.defined()) return e;
  return detail::Simplifier(dom).run(e);
}
// Simplifies every expression of s, knowing loop and block iteration variable domains; removes
// ifs whose condition is provably constant. Loops are never restructured.
inline ir::Stmt simplify(const ir::Stmt& s) { return detail::StmtSimplifier().mutate(s); }
inline ir::PrimFunc simplify(const ir::PrimFunc& f) {
  KILN_USER_CHECK(f.defined(), "simplify: the PrimFunc is undefined");
  return ir::with_body(f, simplify(f->body));
}

// True when cond (a bool expression) holds for every value of the variables in dom; false when
// it does not or when that cannot be shown.
inline bool can_prove(const ir::Expr& cond, const DomMap& dom = {}) {
  KILN_USER_CHECK(cond.defined() && cond.dtype() == DataType::boolean(),
                  "can_prove needs a scalar bool condition, got ", cond.defined() ? cond.dtype().str() : "nothing");
  ir::Expr s = simplify(cond, dom);
  auto* c = ir::as_int_imm(s);
  return c && c->value != 0;
}

}  // namespace kiln::arith
