// kiln/tir/schedule/state.hpp: finding blocks and loops in a PrimFunc, and rebuilding it around
// one replaced statement. The schedule is functional: every primitive returns a new PrimFunc, and
// handles find their statement again by a stable identity (a block by its unique name, a loop by
// its loop Var, which a loop rebuilt with a new body keeps).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kiln/arith/simplify.hpp"
#include "kiln/ir/ir.hpp"
#include "kiln/ir/printer.hpp"

namespace kiln::tir::schedule_detail {

// A statement and the statements around it, outermost first.
struct Located {
  ir::Stmt stmt;
  std::vector<ir::Stmt> ancestors;
  bool found() const { return stmt.defined(); }
};

// Calls f(stmt, ancestors) on every statement in pre-order.
inline void walk(const ir::Stmt& s, std::vector<ir::Stmt>& stack,
                 const std::function<void(const ir::Stmt&, const std::vector<ir::Stmt>&)>& f) {
  if (!s.defined()) return;
  f(s, stack);
  stack.push_back(s);
  switch (s.kind()) {
    case ir::StmtKind::For: walk(s.as<ir::ForNode>()->body, stack, f); break;
    case ir::StmtKind::Allocate: walk(s.as<ir::AllocateNode>()->body, stack, f); break;
    case ir::StmtKind::IfThenElse: {
      auto* n = s.as<ir::IfThenElseNode>();
      walk(n->then_case, stack, f);
      walk(n->else_case, stack, f);
      break;
    }
    case ir::StmtKind::Seq:
      for (auto& x : s.as<ir::SeqStmtNode>()->seq) walk(x, stack, f);
      break;
    case ir::StmtKind::LetStmt: walk(s.as<ir::LetStmtNode>()->body, stack, f); break;
    case ir::StmtKind::Block: {
      auto* n = s.as<ir::BlockNode>();
      walk(n->init, stack, f);
      walk(n->body, stack, f);
      break;
    }
    case ir::StmtKind::BlockRealize: walk(ir::Stmt(s.as<ir::BlockRealizeNode>()->block), stack, f); break;
    default: break;
  }
  stack.pop_back();
}

inline void walk(const ir::Stmt& s, const std::function<void(const ir::Stmt&, const std::vector<ir::Stmt>&)>& f) {
  std::vector<ir::Stmt> stack;
  walk(s, stack, f);
}

// The BlockRealize of every block, in program order (the root included).
inline std::vector<Located> all_blocks(const ir::PrimFunc& f) {
  std::vector<Located> out;
  walk(f->body, [&](const ir::Stmt& s, const std::vector<ir::Stmt>& anc) {
    if (s.as<ir::BlockRealizeNode>()) out.push_back({s, anc});
  });
  return out;
}

inline const ir::BlockNode* block_of(const ir::Stmt& realize) { return realize.as<ir::BlockRealizeNode>()->block.get(); }

inline std::string block_names(const ir::PrimFunc& f) {
  std::string s;
  for (auto& b : all_blocks(f)) {
    const std::string& n = block_of(b.stmt)->name;
    if (n != "root") s += (s.empty() ? "" : ", ") + ("'" + n + "'");
  }
  return s.empty() ? "(none)" : s;
}

// Block names are the blocks' identity, so they must be unique within the function.
inline void check_unique_block_names(const ir::PrimFunc& f) {
  std::vector<std::string> seen;
  for (auto& b : all_blocks(f)) {
    const std::string& n = block_of(b.stmt)->name;
    for (auto& s : seen)
      if (s == n)
        user_error("tir::Schedule: the function has two blocks named '", n,
                   "'; a schedule finds blocks by name, so block names must be unique within a function");
    seen.push_back(n);
  }
  // Loops are found by their variable, so no variable may head two loops.
  std::vector<const ir::VarNode*> vars;
  walk(f->body, [&](const ir::Stmt& s, const std::vector<ir::Stmt>&) {
    auto* l = s.as<ir::ForNode>();
    if (!l) return;
    for (auto* v : vars)
      if (v == l->loop_var.get())
        user_error("tir::Schedule: two loops of the function use the same loop variable '", l->loop_var.name(),
                   "'; a schedule finds loops by their variable, so give each loop its own ir::Var");
    vars.push_back(l->loop_var.get());
  });
}

inline Located find_block(const ir::PrimFunc& f, const std::string& name) {
  Located out;
  walk(f->body, [&](const ir::Stmt& s, const std::vector<ir::Stmt>& anc) {
    if (auto* r = s.as<ir::BlockRealizeNode>(); r && r->block->name == name && !out.found()) out = {s, anc};
  });
  return out;
}

inline Located find_loop(const ir::PrimFunc& f, const ir::Var& v) {
  Located out;
  walk(f->body, [&](const ir::Stmt& s, const std::vector<ir::Stmt>& anc) {
    if (auto* l = s.as<ir::ForNode>(); l && l->loop_var.same_as(v)) out = {s, anc};
  });
  return out;
}

// The loops between a statement and the nearest block around it, outermost first.
inline std::vector<ir::Stmt> enclosing_loops(const std::vector<ir::Stmt>& ancestors) {
  std::vector<ir::Stmt> loops;
  for (size_t i = ancestors.size(); i-- > 0;) {
    if (ancestors[i].as<ir::BlockNode>()) break;
    if (ancestors[i].as<ir::ForNode>()) loops.insert(loops.begin(), ancestors[i]);
  }
  return loops;
}

// The blocks directly under s (not inside another block under s), in program order.
inline std::vector<ir::Stmt> child_blocks(const ir::Stmt& s) {
  std::vector<ir::Stmt> out;
  std::function<void(const ir::Stmt&)> go = [&](const ir::Stmt& x) {
    if (!x.defined()) return;
    if (x.as<ir::BlockRealizeNode>()) {
      out.push_back(x);
      return;
    }
    switch (x.kind()) {
      case ir::StmtKind::For: go(x.as<ir::ForNode>()->body); break;
      case ir::StmtKind::Allocate: go(x.as<ir::AllocateNode>()->body); break;
      case ir::StmtKind::IfThenElse: go(x.as<ir::IfThenElseNode>()->then_case); go(x.as<ir::IfThenElseNode>()->else_case); break;
      case ir::StmtKind::Seq: for (auto& y : x.as<ir::SeqStmtNode>()->seq) go(y); break;
      case ir::StmtKind::LetStmt: go(x.as<ir::LetStmtNode>()->body); break;
      case ir::StmtKind::Block: go(x.as<ir::BlockNode>()->init); go(x.as<ir::BlockNode>()->body); break;
      default: break;
    }
  };
  if (auto* r = s.as<ir::BlockRealizeNode>()) go(r->block->body);
  else if (auto* l = s.as<ir::ForNode>()) go(l->body);
  else go(s);
  return out;
}

inline std::string loop_names(const std::vector<ir::Stmt>& loops) {
  std::string s;
  for (auto& l : loops) s += (s.empty() ? "" : ", ") + ("'" + l.as<ir::ForNode>()->loop_var.name() + "'");
  return s.empty() ? "(none)" : s;
}

// Replaces the statement `target` (by identity) with `replacement` everywhere in `root`.
namespace detail {
class Replacer : public ir::StmtExprMutator {
 public:
  Replacer(const ir::StmtNode* t, ir::Stmt r) : target_(t), repl_(std::move(r)) {}
  using ir::StmtExprMutator::mutate;
  ir::Expr mutate(const ir::Expr& e) override { return e; }  // statements only
  ir::Stmt mutate(const ir::Stmt& s) override {
    if (s.get() == target_) return repl_;
    return ir::StmtExprMutator::mutate(s);
  }

 private:
  const ir::StmtNode* target_;
  ir::Stmt repl_;
};

// Simplifies the bindings and predicates of the BlockRealizes under a statement, knowing the
// domains of the loops around them.
class BindingSimplifier : public ir::StmtExprMutator {
 public:
  explicit BindingSimplifier(arith::DomMap dom) : dom_(std::move(dom)) {}
  using ir::StmtExprMutator::mutate;
  ir::Expr mutate(const ir::Expr& e) override { return e; }
  ir::Stmt mutate_for(const ir::Stmt& s) override {
    auto* n = s.as<ir::ForNode>();
    dom_[n->loop_var] = ir::Range{n->min, n->extent};
    return ir::StmtExprMutator::mutate_for(s);
  }
  ir::Stmt mutate_block_realize(const ir::Stmt& s) override {
    auto* n = s.as<ir::BlockRealizeNode>();
    std::vector<ir::Expr> vals;
    bool changed = false;
    for (auto& v : n->iter_values) {
      vals.push_back(arith::simplify(v, dom_));
      changed |= !vals.back().same_as(v);
    }
    ir::Expr pred = arith::simplify(n->predicate, dom_);
    changed |= !pred.same_as(n->predicate);
    ir::Stmt blk = mutate(ir::Stmt(n->block));
    if (!changed && blk.same_as(n->block)) return s;
    return ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(
        std::move(vals), pred, ir::Block(std::static_pointer_cast<const ir::BlockNode>(blk.ptr()))));
  }

 private:
  arith::DomMap dom_;
};
}  // namespace detail

inline ir::PrimFunc replace(const ir::PrimFunc& f, const ir::Stmt& target, const ir::Stmt& replacement) {
  return ir::with_body(f, detail::Replacer(target.get(), replacement).mutate(f->body));
}

// `s` with the block bindings and predicates under it simplified; `ancestors` give the domains
// of the loops around s.
inline ir::Stmt simplify_bindings(const ir::Stmt& s, const std::vector<ir::Stmt>& ancestors) {
  arith::DomMap dom;
  for (auto& a : ancestors)
    if (auto* l = a.as<ir::ForNode>()) dom[l->loop_var] = ir::Range{l->min, l->extent};
  return detail::BindingSimplifier(std::move(dom)).mutate(s);
}

// a && b, dropping a literal true.
inline ir::Expr and_pred(const ir::Expr& a, const ir::Expr& b) {
  if (!a.defined() || ir::is_const_int(a, 1)) return b;
  return ir::logical_and(a, b);
}

// Adds `cond` to the predicate of every BlockRealize under s.
inline ir::Stmt add_predicate(const ir::Stmt& s, const ir::Expr& cond) {
  class P : public ir::StmtExprMutator {
   public:
    explicit P(ir::Expr c) : c_(std::move(c)) {}
    using ir::StmtExprMutator::mutate;
    ir::Expr mutate(const ir::Expr& e) override { return e; }
    ir::Stmt mutate_block_realize(const ir::Stmt& s) override {
      auto* n = s.as<ir::BlockRealizeNode>();
      // Only the outermost blocks: what they do not run, their inner blocks do not either.
      return ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(n->iter_values, and_pred(n->predicate, c_), n->block));
    }

   private:
    ir::Expr c_;
  };
  return P(cond).mutate(s);
}

}  // namespace kiln::tir::schedule_detail
