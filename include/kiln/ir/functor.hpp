// kiln/ir/functor.hpp: visitors and mutators over the IR.
//
// A pass subclasses StmtExprMutator in an anonymous namespace, overrides the node kinds it cares
// about, and is exposed as a free function. Mutators rebuild a node only when a child changed.
#pragma once
#include <unordered_map>

#include "kiln/ir/op.hpp"

namespace kiln::ir {

class ExprVisitor {
 public:
  virtual ~ExprVisitor() = default;
  virtual void visit(const Expr& e) {
    if (!e.defined()) return;
    switch (e.kind()) {
      case ExprKind::Var: return visit_var(*e.as<VarNode>(), e);
      case ExprKind::IntImm: case ExprKind::FloatImm: case ExprKind::StringImm: return;
      case ExprKind::Binary: { auto* n = e.as<BinaryNode>(); visit(n->a); visit(n->b); return; }
      case ExprKind::Not: return visit(e.as<NotNode>()->a);
      case ExprKind::Select: { auto* n = e.as<SelectNode>(); visit(n->cond); visit(n->true_value); visit(n->false_value); return; }
      case ExprKind::Cast: return visit(e.as<CastNode>()->value);
      case ExprKind::Call: for (auto& a : e.as<CallNode>()->args) visit(a); return;
      case ExprKind::BufferLoad: return visit_buffer_load(*e.as<BufferLoadNode>());
      case ExprKind::Ramp: { auto* n = e.as<RampNode>(); visit(n->base); visit(n->stride); return; }
      case ExprKind::Broadcast: return visit(e.as<BroadcastNode>()->value);
      case ExprKind::Let: { auto* n = e.as<LetNode>(); visit(n->value); visit(n->body); return; }
      case ExprKind::Reduce: {
        auto* n = e.as<ReduceNode>();
        for (auto& ax : n->axes) { visit(ax.dom.min); visit(ax.dom.extent); }
        visit(n->source); visit(n->condition); return;
      }
    }
  }
  virtual void visit_var(const VarNode&, const Expr&) {}
  virtual void visit_buffer_load(const BufferLoadNode& n) { for (auto& i : n.indices) visit(i); }
};

class ExprMutator {
 public:
  virtual ~ExprMutator() = default;
  virtual Expr mutate(const Expr& e) {
    if (!e.defined()) return e;
    switch (e.kind()) {
      case ExprKind::Var: return mutate_var(e);
      case ExprKind::IntImm: case ExprKind::FloatImm: case ExprKind::StringImm: return e;
      case ExprKind::Binary: {
        auto* n = e.as<BinaryNode>();
        Expr a = mutate(n->a), b = mutate(n->b);
        return a.same_as(n->a) && b.same_as(n->b) ? e : binary(n->op, a, b);
      }
      case ExprKind::Not: {
        auto* n = e.as<NotNode>();
        Expr a = mutate(n->a);
        return a.same_as(n->a) ? e : logical_not(a);
      }
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        Expr c = mutate(n->cond), t = mutate(n->true_value), f = mutate(n->false_value);
        return c.same_as(n->cond) && t.same_as(n->true_value) && f.same_as(n->false_value) ? e : select(c, t, f);
      }
      case ExprKind::Cast: {
        auto* n = e.as<CastNode>();
        Expr v = mutate(n->value);
        return v.same_as(n->value) ? e : cast(n->dtype, v);
      }
      case ExprKind::Call: {
        auto* n = e.as<CallNode>();
        auto [args, changed] = mutate_all(n->args);
        return changed ? call(n->dtype, n->op, std::move(args)) : e;
      }
      case ExprKind::BufferLoad: return mutate_buffer_load(e);
      case ExprKind::Ramp: {
        auto* n = e.as<RampNode>();
        Expr b = mutate(n->base), s = mutate(n->stride);
        return b.same_as(n->base) && s.same_as(n->stride) ? e : ramp(b, s, n->lanes);
      }
      case ExprKind::Broadcast: {
        auto* n = e.as<BroadcastNode>();
        Expr v = mutate(n->value);
        return v.same_as(n->value) ? e : broadcast(v, n->lanes);
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        Expr v = mutate(n->value), b = mutate(n->body);
        return v.same_as(n->value) && b.same_as(n->body) ? e : let(n->var, v, b);
      }
      case ExprKind::Reduce: {
        auto* n = e.as<ReduceNode>();
        Expr s = mutate(n->source), c = mutate(n->condition);
        return s.same_as(n->source) && c.same_as(n->condition) ? e : reduce(n->op, s, n->axes, c);
      }
    }
    return e;
  }
  virtual Expr mutate_var(const Expr& e) { return e; }
  virtual Expr mutate_buffer_load(const Expr& e) {
    auto* n = e.as<BufferLoadNode>();
    auto [idx, changed] = mutate_all(n->indices);
    return changed ? buffer_load(n->buffer, std::move(idx)) : e;
  }

 protected:
  std::pair<std::vector<Expr>, bool> mutate_all(const std::vector<Expr>& in) {
    std::vector<Expr> out;
    out.reserve(in.size());
    bool changed = false;
    for (auto& x : in) {
      out.push_back(mutate(x));
      changed |= !out.back().same_as(x);
    }
    return {std::move(out), changed};
  }
};

// Visits statements and every expression inside them.
class StmtExprVisitor : public ExprVisitor {
 public:
  using ExprVisitor::visit;
  virtual void visit(const Stmt& s) {
    if (!s.defined()) return;
    switch (s.kind()) {
      case StmtKind::For: return visit_for(*s.as<ForNode>());
      case StmtKind::BufferStore: return visit_buffer_store(*s.as<BufferStoreNode>());
      case StmtKind::Allocate: return visit_allocate(*s.as<AllocateNode>());
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        visit(n->cond); visit(n->then_case); visit(n->else_case); return;
      }
      case StmtKind::Seq: for (auto& x : s.as<SeqStmtNode>()->seq) visit(x); return;
      case StmtKind::LetStmt: { auto* n = s.as<LetStmtNode>(); visit(n->value); visit(n->body); return; }
      case StmtKind::Evaluate: return visit(s.as<EvaluateNode>()->value);
      case StmtKind::Block: return visit_block(*s.as<BlockNode>());
      case StmtKind::BlockRealize: return visit_block_realize(*s.as<BlockRealizeNode>());
    }
  }
  virtual void visit_for(const ForNode& n) { visit(n.min); visit(n.extent); visit(n.body); }
  virtual void visit_buffer_store(const BufferStoreNode& n) { visit(n.value); for (auto& i : n.indices) visit(i); }
  virtual void visit_allocate(const AllocateNode& n) { visit(n.body); }
  virtual void visit_block(const BlockNode& n) {
    for (auto& iv : n.iter_vars) { visit(iv.dom.min); visit(iv.dom.extent); }
    visit_regions(n.reads); visit_regions(n.writes);
    visit(n.init); visit(n.body);
  }
  virtual void visit_block_realize(const BlockRealizeNode& n) {
    for (auto& v : n.iter_values) visit(v);
    visit(n.predicate);
    visit(Stmt(n.block));
  }

 protected:
  void visit_regions(const std::vector<BufferRegion>& rs) {
    for (auto& r : rs) for (auto& rg : r.region) { visit(rg.min); visit(rg.extent); }
  }
};

// Rebuilds statements and the expressions inside them.
class StmtExprMutator : public ExprMutator {
 public:
  using ExprMutator::mutate;
  virtual Stmt mutate(const Stmt& s) {
    if (!s.defined()) return s;
    switch (s.kind()) {
      case StmtKind::For: return mutate_for(s);
      case StmtKind::BufferStore: return mutate_buffer_store(s);
      case StmtKind::Allocate: return mutate_allocate(s);
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        Expr c = mutate(n->cond);
        Stmt t = mutate(n->then_case), e = mutate(n->else_case);
        return c.same_as(n->cond) && t.same_as(n->then_case) && e.same_as(n->else_case) ? s : if_then_else(c, t, e);
      }
      case StmtKind::Seq: {
        auto* n = s.as<SeqStmtNode>();
        std::vector<Stmt> out;
        bool changed = false;
        for (auto& x : n->seq) {
          out.push_back(mutate(x));
          changed |= !out.back().same_as(x);
        }
        return changed ? seq(std::move(out)) : s;
      }
      case StmtKind::LetStmt: {
        auto* n = s.as<LetStmtNode>();
        Expr v = mutate(n->value);
        Stmt b = mutate(n->body);
        return v.same_as(n->value) && b.same_as(n->body) ? s : let_stmt(n->var, v, b);
      }
      case StmtKind::Evaluate: {
        auto* n = s.as<EvaluateNode>();
        Expr v = mutate(n->value);
        return v.same_as(n->value) ? s : evaluate(v);
      }
      case StmtKind::Block: return mutate_block(s);
      case StmtKind::BlockRealize: return mutate_block_realize(s);
    }
    return s;
  }
  virtual Stmt mutate_for(const Stmt& s) {
    auto* n = s.as<ForNode>();
    Expr mn = mutate(n->min), ext = mutate(n->extent);
    Stmt body = mutate(n->body);
    if (mn.same_as(n->min) && ext.same_as(n->extent) && body.same_as(n->body)) return s;
    return for_loop(n->loop_var, mn, ext, n->for_kind, body, n->thread_tag, n->annotations);
  }
  virtual Stmt mutate_buffer_store(const Stmt& s) {
    auto* n = s.as<BufferStoreNode>();
    Expr v = mutate(n->value);
    auto [idx, changed] = mutate_all(n->indices);
    if (!changed && v.same_as(n->value)) return s;
    return Stmt(std::make_shared<const BufferStoreNode>(n->buffer, v, std::move(idx)));
  }
  virtual Stmt mutate_allocate(const Stmt& s) {
    auto* n = s.as<AllocateNode>();
    Stmt b = mutate(n->body);
    return b.same_as(n->body) ? s : allocate(n->buffer, b);
  }
  virtual Stmt mutate_block(const Stmt& s) {
    auto* n = s.as<BlockNode>();
    bool changed = false;
    BlockNode copy = *n;
    for (auto& iv : copy.iter_vars) {
      Expr mn = mutate(iv.dom.min), ext = mutate(iv.dom.extent);
      changed |= !mn.same_as(iv.dom.min) || !ext.same_as(iv.dom.extent);
      iv.dom = {mn, ext};
    }
    changed |= mutate_regions(copy.reads);
    changed |= mutate_regions(copy.writes);
    copy.init = mutate(n->init);
    copy.body = mutate(n->body);
    changed |= !copy.init.same_as(n->init) || !copy.body.same_as(n->body);
    return changed ? Stmt(make_block(std::move(copy))) : s;
  }
  virtual Stmt mutate_block_realize(const Stmt& s) {
    auto* n = s.as<BlockRealizeNode>();
    auto [vals, changed] = mutate_all(n->iter_values);
    Expr pred = mutate(n->predicate);
    Stmt blk = mutate(Stmt(n->block));
    if (!changed && pred.same_as(n->predicate) && blk.same_as(n->block)) return s;
    KILN_ICHECK(blk.kind() == StmtKind::Block, "a BlockRealize must keep a Block");
    return Stmt(std::make_shared<const BlockRealizeNode>(
        std::move(vals), pred, Block(std::static_pointer_cast<const BlockNode>(blk.ptr()))));
  }

 protected:
  bool mutate_regions(std::vector<BufferRegion>& rs) {
    bool changed = false;
    for (auto& r : rs)
      for (auto& rg : r.region) {
        Expr mn = mutate(rg.min), ext = mutate(rg.extent);
        changed |= !mn.same_as(rg.min) || !ext.same_as(rg.extent);
        rg = {mn, ext};
      }
    return changed;
  }
};

// Replaces variables by expressions.
using VarMap = std::unordered_map<const VarNode*, Expr>;
namespace detail {
class Substituter : public StmtExprMutator {
 public:
  explicit Substituter(const VarMap& m) : map_(m) {}
  Expr mutate_var(const Expr& e) override {
    auto it = map_.find(static_cast<const VarNode*>(e.get()));
    return it == map_.end() ? e : it->second;
  }

 private:
  const VarMap& map_;
};
}  // namespace detail
inline Expr substitute(const Expr& e, const VarMap& m) { return m.empty() ? e : detail::Substituter(m).mutate(e); }
inline Stmt substitute(const Stmt& s, const VarMap& m) { return m.empty() ? s : detail::Substituter(m).mutate(s); }

// Calls f on every variable used in an expression or statement.
template <typename F>
void for_each_var(const Expr& e, F&& f) {
  struct V : ExprVisitor {
    F& f;
    explicit V(F& f_) : f(f_) {}
    void visit_var(const VarNode& n, const Expr& e) override { f(n, e); }
  } v(f);
  v.visit(e);
}
inline bool uses_var(const Expr& e, const VarNode* var) {
  bool found = false;
  for_each_var(e, [&](const VarNode& n, const Expr&) { found |= &n == var; });
  return found;
}

}  // namespace kiln::ir
