// kiln/tir/transform/verify_lowered.hpp: checks that a PrimFunc is in the lowered form backends
// consume, so that a lowering bug is reported here, by name, rather than as a miscompile.
//
// Lowered form: no Block, BlockRealize or Reduce; every load/store is a 1-D access to a compact
// buffer with offset 0 and an integer index; every variable used is defined (a param, a symbolic
// size from a param buffer, a loop, let or Allocate); no float16/bfloat16 arithmetic.
// A violation is a kiln bug (the passes before produce this form), hence InternalError.
#pragma once
#include <unordered_map>

#include "kiln/ir/ir.hpp"
#include "kiln/tir/transform/legalize_narrow_floats.hpp"

namespace kiln::tir {
namespace detail {

class LoweredVerifier : public ir::StmtExprVisitor {
 public:
  explicit LoweredVerifier(const ir::PrimFunc& f) : func_(f->name) {
    for (auto& p : f->params) define(p);
    for (auto& b : f->param_buffers) {
      if (!b.defined()) continue;
      auto define_all = [&](const ir::Expr& e) { ir::for_each_var(e, [&](const ir::VarNode&, const ir::Expr& v) { define(v); }); };
      for (auto& d : b->shape) define_all(d);
      for (auto& s : b->strides) define_all(s);
      define_all(b->elem_offset);
    }
  }

  void visit(const ir::Expr& e) override {
    if (!e.defined()) return;
    switch (e.kind()) {
      case ir::ExprKind::Reduce: fail("a Reduce expression remains; reductions must have become blocks and loops");
      case ir::ExprKind::Binary: {
        auto* n = e.as<ir::BinaryNode>();
        if (is_narrow_float(n->a.dtype()))
          fail("float16/bfloat16 arithmetic remains ('", ir::binary_op_name(n->op), "' on ", n->a.dtype().str(),
               "); legalize_narrow_floats must have widened it to float32");
        break;
      }
      case ir::ExprKind::Call: {
        auto* n = e.as<ir::CallNode>();
        bool narrow = is_narrow_float(n->dtype);
        for (auto& a : n->args) narrow |= is_narrow_float(a.dtype());
        if (ir::find_intrinsic(n->op) && narrow)
          fail("float16/bfloat16 math call '", n->op, "' remains; legalize_narrow_floats must have widened it");
        break;
      }
      case ir::ExprKind::Let: {
        auto* n = e.as<ir::LetNode>();
        visit(n->value);
        define(n->var);
        visit(n->body);
        undefine(n->var);
        return;
      }
      default: break;
    }
    ir::ExprVisitor::visit(e);
  }

  void visit(const ir::Stmt& s) override {
    if (!s.defined()) return;
    switch (s.kind()) {
      case ir::StmtKind::Block: fail("block '", s.as<ir::BlockNode>()->name, "' remains");
      case ir::StmtKind::BlockRealize:
        fail("a BlockRealize of block '", s.as<ir::BlockRealizeNode>()->block->name, "' remains");
      case ir::StmtKind::LetStmt: {
        auto* n = s.as<ir::LetStmtNode>();
        visit(n->value);
        define(n->var);
        visit(n->body);
        undefine(n->var);
        return;
      }
      default: return ir::StmtExprVisitor::visit(s);
    }
  }

  void visit_for(const ir::ForNode& n) override {
    visit(n.min);
    visit(n.extent);
    define(n.loop_var);
    visit(n.body);
    undefine(n.loop_var);
  }
  void visit_allocate(const ir::AllocateNode& n) override {
    for (auto& d : n.buffer->shape) visit(d);
    check_flat(*n.buffer.get(), "allocated");
    define(n.buffer->data);
    visit(n.body);
    undefine(n.buffer->data);
  }
  void visit_buffer_load(const ir::BufferLoadNode& n) override {
    check_access(n.buffer, n.indices, "load from");
    ir::ExprVisitor::visit_buffer_load(n);
  }
  void visit_buffer_store(const ir::BufferStoreNode& n) override {
    check_access(n.buffer, n.indices, "store to");
    ir::StmtExprVisitor::visit_buffer_store(n);
  }
  void visit_var(const ir::VarNode& n, const ir::Expr&) override {
    if (!defined_.count(&n))
      fail("variable '", n.name, "' is used but not defined here (not a parameter, a symbolic size of a parameter "
           "buffer, or a variable of an enclosing loop, let or allocation)");
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(Args&&... args) {
    internal_error("verify_lowered('", func_, "'): ", std::forward<Args>(args)...);
  }
  void define(const ir::Expr& v) { ++defined_[static_cast<const ir::VarNode*>(v.get())]; }
  void undefine(const ir::Expr& v) {
    auto it = defined_.find(static_cast<const ir::VarNode*>(v.get()));
    if (it != defined_.end() && --it->second == 0) defined_.erase(it);
  }
  void check_flat(const ir::BufferNode& b, const char* what) {
    if (b.shape.size() != 1)
      fail(what, " buffer '", b.name, "' has ", b.shape.size(), " dimensions; lowered buffers are 1-D");
    if (!b.strides.empty() || !ir::is_const_int(b.elem_offset, 0))
      fail(what, " buffer '", b.name, "' has strides or a non-zero elem_offset; lowered buffers are compact");
  }
  void check_access(const ir::Buffer& b, const std::vector<ir::Expr>& indices, const char* what) {
    if (indices.size() != 1)
      fail(what, " buffer '", b->name, "' uses ", indices.size(), " indices; lowered accesses are 1-D");
    check_flat(*b.get(), "accessed");
    if (!indices[0].dtype().is_integer())
      fail(what, " buffer '", b->name, "' has a ", indices[0].dtype().str(), " index; indices must be integers");
    if (!defined_.count(b->data.get()))
      fail(what, " buffer '", b->name, "': its data variable '", b->data.name(),
           "' is neither a parameter nor allocated by an enclosing Allocate");
  }

  std::string func_;
  std::unordered_map<const ir::VarNode*, int> defined_;
};

}  // namespace detail

// Throws InternalError naming the first problem; returns f unchanged so it can sit in a pass list.
inline ir::PrimFunc verify_lowered(const ir::PrimFunc& f) {
  detail::LoweredVerifier(f).visit(f->body);
  return f;
}

}  // namespace kiln::tir
