// kiln/tir/transform/check_vectorized_loops.hpp: a vectorized loop must have a constant extent,
// since its extent becomes the vector width every backend emits. Checked before lowering so the
// user hears about it in terms of their schedule.
#pragma once
#include <optional>

#include "kiln/ir/ir.hpp"

namespace kiln::tir {
namespace detail {

// The value of an integer expression built only from constants (e.g. an extent a schedule wrote
// as 16 / 4 before any simplification), or nullopt.
inline std::optional<int64_t> fold_const_int(const ir::Expr& e) {
  if (!e.defined() || !e.dtype().is_integer() || !e.dtype().is_scalar()) return std::nullopt;
  if (auto* i = e.as<ir::IntImmNode>()) return i->value;
  if (auto* c = e.as<ir::CastNode>()) return c->value.dtype().is_integer() ? fold_const_int(c->value) : std::nullopt;
  auto* b = e.as<ir::BinaryNode>();
  if (!b) return std::nullopt;
  auto x = fold_const_int(b->a), y = fold_const_int(b->b);
  if (!x || !y) return std::nullopt;
  switch (b->op) {
    case ir::BinaryOp::Add: return int64_t(uint64_t(*x) + uint64_t(*y));
    case ir::BinaryOp::Sub: return int64_t(uint64_t(*x) - uint64_t(*y));
    case ir::BinaryOp::Mul: return int64_t(uint64_t(*x) * uint64_t(*y));
    case ir::BinaryOp::Min: return std::min(*x, *y);
    case ir::BinaryOp::Max: return std::max(*x, *y);
    case ir::BinaryOp::FloorDiv:
      if (*y == 0 || (*x == INT64_MIN && *y == -1)) return std::nullopt;
      return *x / *y - ((*x % *y != 0) && ((*x < 0) != (*y < 0)));
    default: return std::nullopt;
  }
}

// A short description of an expression for messages (the printer is a separate module).
inline std::string describe_extent(const ir::Expr& e) {
  if (auto* v = e.as<ir::VarNode>()) return "'" + v->name + "'";
  std::string vars;
  ir::for_each_var(e, [&](const ir::VarNode& v, const ir::Expr&) {
    if (vars.find("'" + v.name + "'") == std::string::npos) vars += (vars.empty() ? "'" : ", '") + v.name + "'";
  });
  return vars.empty() ? "a non-constant expression" : "an expression of " + vars;
}

class VectorizedLoopChecker : public ir::StmtExprVisitor {
 public:
  explicit VectorizedLoopChecker(std::string func) : func_(std::move(func)) {}
  void visit_for(const ir::ForNode& n) override {
    if (n.for_kind == ir::ForKind::Vectorized) {
      auto extent = fold_const_int(n.extent);
      if (!extent)
        user_error("in function '", func_, "': loop '", n.loop_var.name(), "' is vectorized but its extent is ",
                   describe_extent(n.extent), ", not a constant; the vector width must be known when compiling. ",
                   "Split the loop by a constant factor first and vectorize the inner loop, e.g. "
                   "s.vectorize(s.split(loop, {std::nullopt, 8})[1])");
      if (*extent <= 0)
        user_error("in function '", func_, "': loop '", n.loop_var.name(), "' is vectorized with extent ", *extent,
                   "; a vectorized loop needs a positive extent");
    }
    ir::StmtExprVisitor::visit_for(n);
  }

 private:
  std::string func_;
};

}  // namespace detail

// UserError if a vectorized loop's extent is not a positive constant. Returns f unchanged.
inline ir::PrimFunc check_vectorized_loops(const ir::PrimFunc& f) {
  detail::VectorizedLoopChecker(f->name).visit(f->body);
  return f;
}

}  // namespace kiln::tir
