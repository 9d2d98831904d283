// kiln/tir/transform/convert_blocks_to_loops.hpp: TensorIR blocks -> plain loop nests.
//
// Each BlockRealize becomes its block's body with the iteration variables replaced by their
// bindings. A reduction block's `init` runs first, guarded by "every reduce iteration value is
// at its domain's minimum" (the first reduction step of that output element); a non-trivial
// predicate becomes an IfThenElse around the whole block; the block's alloc_buffers become
// Allocate statements around it. reads/writes and block annotations have served their purpose
// (scheduling) and are dropped; loop annotations stay. The root block simply disappears.
#pragma once
#include "kiln/ir/ir.hpp"

namespace kiln::tir {
namespace detail {

// `e` in type `t`: integer constants are rebuilt, anything else cast (a no-op when types agree).
inline ir::Expr with_int_type(const ir::Expr& e, DataType t) {
  if (e.dtype() == t) return e;
  if (auto* i = ir::as_int_imm(e); i && t.is_scalar()) return ir::int_imm(i->value, t);
  return ir::cast(t, e);
}

class BlockToLoops : public ir::StmtExprMutator {
 public:
  using ir::StmtExprMutator::mutate;

  ir::Stmt mutate_block_realize(const ir::Stmt& s) override {
    auto* r = s.as<ir::BlockRealizeNode>();
    KILN_USER_CHECK(r->block.defined(), "a BlockRealize has no block");
    return lower_block(*r->block.get(), mutate_all(r->iter_values).first, mutate(r->predicate));
  }
  // A Block outside any BlockRealize (a hand-built root) is legal only without iteration variables.
  ir::Stmt mutate_block(const ir::Stmt& s) override { return lower_block(*s.as<ir::BlockNode>(), {}, ir::Expr()); }

 private:
  ir::Stmt lower_block(const ir::BlockNode& b, const std::vector<ir::Expr>& values, const ir::Expr& predicate) {
    if (values.size() != b.iter_vars.size())
      user_error("block '", b.name, "' has ", b.iter_vars.size(), " iteration variables but ", values.size(),
                 " bindings; every iteration variable needs exactly one value in the BlockRealize");
    ir::VarMap bind;
    std::vector<ir::Expr> typed_values;
    for (size_t i = 0; i < values.size(); ++i) {
      const ir::IterVar& iv = b.iter_vars[i];
      KILN_USER_CHECK(values[i].dtype().is_integer() && iv.var.dtype().is_integer(), "block '", b.name,
                      "': iteration variable '", iv.var.name(), "' must be bound to an integer, got ",
                      values[i].dtype().str());
      typed_values.push_back(with_int_type(values[i], iv.var.dtype()));
      bind[iv.var.get()] = typed_values.back();
    }
    // Inner blocks first: their bindings may mention this block's iteration variables, which the
    // substitution below then replaces as well.
    ir::Stmt body = ir::substitute(mutate(b.body), bind);
    if (b.init.defined()) {
      ir::Stmt init = ir::substitute(mutate(b.init), bind);
      ir::Expr first;  // undefined = no reduce variable, the init runs every time
      for (size_t i = 0; i < b.iter_vars.size(); ++i) {
        const ir::IterVar& iv = b.iter_vars[i];
        if (iv.kind != ir::IterKind::CommReduce) continue;
        ir::Expr lo = with_int_type(ir::substitute(mutate(iv.dom.min), bind), iv.var.dtype());
        ir::Expr at_min = ir::eq(typed_values[i], lo);
        first = first.defined() ? ir::logical_and(first, at_min) : at_min;
      }
      body = ir::seq({first.defined() ? ir::if_then_else(first, init) : init, body});
    }
    for (size_t i = b.alloc_buffers.size(); i-- > 0;) body = ir::allocate(b.alloc_buffers[i], body);
    if (predicate.defined() && !ir::is_const_int(predicate, 1)) body = ir::if_then_else(predicate, body);
    return body;
  }
};

}  // namespace detail

inline ir::Stmt convert_blocks_to_loops(const ir::Stmt& s) { return detail::BlockToLoops().mutate(s); }
inline ir::PrimFunc convert_blocks_to_loops(const ir::PrimFunc& f) {
  return ir::with_body(f, convert_blocks_to_loops(f->body));
}

}  // namespace kiln::tir
