// kiln/arith/expr_order.hpp: a total order on expressions, used to put the terms of canonical
// sums in a deterministic order and to recognise equal subexpressions.
#pragma once
#include <cstring>

#include "kiln/ir/op.hpp"

namespace kiln::arith::detail {

inline int compare_dtype(DataType a, DataType b) {
  if (a.code != b.code) return a.code < b.code ? -1 : 1;
  if (a.bits != b.bits) return a.bits < b.bits ? -1 : 1;
  if (a.lanes != b.lanes) return a.lanes < b.lanes ? -1 : 1;
  return 0;
}
template <typename T>
int compare_value(const T& a, const T& b) { return a < b ? -1 : (b < a ? 1 : 0); }

// Structural order: kind, type, then fields. Variables are ordered by name, and two distinct
// variables with the same name by creation order (VarNode::serial), so that a replayed schedule
// orders its terms the same way.
inline int compare_expr(const ir::Expr& a, const ir::Expr& b) {
  using namespace ir;
  if (a.same_as(b)) return 0;
  if (!a.defined() || !b.defined()) return a.defined() ? 1 : -1;
  if (a.kind() != b.kind()) return a.kind() < b.kind() ? -1 : 1;
  if (int c = compare_dtype(a.dtype(), b.dtype())) return c;
  auto all = [](const std::vector<Expr>& x, const std::vector<Expr>& y) {
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    for (size_t i = 0; i < x.size(); ++i)
      if (int c = compare_expr(x[i], y[i])) return c;
    return 0;
  };
  switch (a.kind()) {
    case ExprKind::Var: {
      if (int c = a.as<VarNode>()->name.compare(b.as<VarNode>()->name)) return c < 0 ? -1 : 1;
      return a.as<VarNode>()->serial < b.as<VarNode>()->serial ? -1 : 1;
    }
    case ExprKind::IntImm: return compare_value(a.as<IntImmNode>()->value, b.as<IntImmNode>()->value);
    case ExprKind::FloatImm: {
      double x = a.as<FloatImmNode>()->value, y = b.as<FloatImmNode>()->value;
      uint64_t bx, by;
      std::memcpy(&bx, &x, 8);
      std::memcpy(&by, &y, 8);
      return compare_value(bx, by);  // by bits: NaN equals itself, -0 differs from 0
    }
    case ExprKind::StringImm: return compare_value(a.as<StringImmNode>()->value, b.as<StringImmNode>()->value);
    case ExprKind::Binary: {
      auto *x = a.as<BinaryNode>(), *y = b.as<BinaryNode>();
      if (x->op != y->op) return x->op < y->op ? -1 : 1;
      if (int c = compare_expr(x->a, y->a)) return c;
      return compare_expr(x->b, y->b);
    }
    case ExprKind::Not: return compare_expr(a.as<NotNode>()->a, b.as<NotNode>()->a);
    case ExprKind::Select: {
      auto *x = a.as<SelectNode>(), *y = b.as<SelectNode>();
      return all({x->cond, x->true_value, x->false_value}, {y->cond, y->true_value, y->false_value});
    }
    case ExprKind::Cast: return compare_expr(a.as<CastNode>()->value, b.as<CastNode>()->value);
    case ExprKind::Call: {
      auto *x = a.as<CallNode>(), *y = b.as<CallNode>();
      if (int c = x->op.compare(y->op)) return c < 0 ? -1 : 1;
      return all(x->args, y->args);
    }
    case ExprKind::BufferLoad: {
      auto *x = a.as<BufferLoadNode>(), *y = b.as<BufferLoadNode>();
      if (!x->buffer.same_as(y->buffer)) {
        if (int c = x->buffer->name.compare(y->buffer->name)) return c < 0 ? -1 : 1;
        return std::less<const void*>()(x->buffer.get(), y->buffer.get()) ? -1 : 1;
      }
      return all(x->indices, y->indices);
    }
    case ExprKind::Ramp: {
      auto *x = a.as<RampNode>(), *y = b.as<RampNode>();
      return all({x->base, x->stride}, {y->base, y->stride});
    }
    case ExprKind::Broadcast: return compare_expr(a.as<BroadcastNode>()->value, b.as<BroadcastNode>()->value);
    case ExprKind::Let: {
      auto *x = a.as<LetNode>(), *y = b.as<LetNode>();
      return all({x->var, x->value, x->body}, {y->var, y->value, y->body});
    }
    case ExprKind::Reduce: break;  // compared by identity: reductions are never merged
  }
  return std::less<const void*>()(a.get(), b.get()) ? -1 : 1;
}
inline bool same_expr(const ir::Expr& a, const ir::Expr& b) { return compare_expr(a, b) == 0; }

}  // namespace kiln::arith::detail
