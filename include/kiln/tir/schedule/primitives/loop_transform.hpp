// kiln/tir/schedule/primitives/loop_transform.hpp: split, fuse, reorder and add_unit_loop.
//
// Each rewrites one loop nest of a PrimFunc and returns the new function. Loops are replaced by
// new ones whose variables are combined back into the old variable (split: i = io * 8 + ii;
// fuse: i = floordiv(f, n), j = floormod(f, n)), substituted into the block bindings under
// them, which stay affine and are simplified with the new loops' domains.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "kiln/tir/schedule/state.hpp"

namespace kiln::tir::schedule_detail {

inline std::string loop_name(const ir::Stmt& loop) { return "'" + loop.as<ir::ForNode>()->loop_var.name() + "'"; }

// "'i0' (around block 'C')": loop names repeat across blocks, the blocks tell them apart.
inline std::string loop_with_blocks(const ir::Stmt& loop) {
  std::string blocks;
  for (auto& b : child_blocks(loop)) blocks += (blocks.empty() ? "'" : ", '") + block_of(b)->name + "'";
  return loop_name(loop) + (blocks.empty() ? "" : " (around block " + blocks + ")");
}

// True when every statement under s that does something sits inside a block: a predicate added
// to the blocks then covers all the work.
inline bool all_work_in_blocks(const ir::Stmt& s) {
  bool ok = true;
  std::function<void(const ir::Stmt&)> go = [&](const ir::Stmt& x) {
    if (!x.defined() || x.as<ir::BlockRealizeNode>()) return;
    if (auto* l = x.as<ir::ForNode>()) return go(l->body);
    if (auto* q = x.as<ir::SeqStmtNode>()) {
      for (auto& y : q->seq) go(y);
      return;
    }
    ok = false;
  };
  go(s);
  return ok;
}

struct SplitResult {
  ir::PrimFunc func;
  std::vector<ir::Var> loops;
};

inline SplitResult split(const ir::PrimFunc& f, const ir::Var& loop_var, const std::vector<std::optional<int64_t>>& factors) {
  Located loc = find_loop(f, loop_var);
  auto* loop = loc.stmt.as<ir::ForNode>();
  std::string where = "split: loop '" + loop_var.name() + "'";
  if (factors.size() < 2)
    user_error(where, ": needs at least 2 factors, got ", factors.size(), "; e.g. s.split(loop, {std::nullopt, 8})");
  int inferred = -1;
  int64_t known = 1;
  for (size_t k = 0; k < factors.size(); ++k) {
    if (!factors[k]) {
      if (inferred >= 0)
        user_error(where, ": factors ", inferred, " and ", k, " are both std::nullopt; at most one factor can be ",
                   "inferred from the extent, give the others as positive integers");
      inferred = int(k);
      continue;
    }
    if (*factors[k] < 1) user_error(where, ": factor ", k, " is ", *factors[k], "; factors must be positive integers");
    known *= *factors[k];
  }
  DataType t = loop_var.dtype();
  ir::Expr extent = arith::simplify(loop->extent);
  std::optional<int64_t> cext = ir::const_int(extent);
  std::vector<ir::Expr> extents;
  bool exact;
  if (inferred >= 0) {
    for (auto& x : factors) extents.push_back(x ? ir::int_imm(*x, t) : ir::Expr());
    extents[size_t(inferred)] = arith::simplify(ir::floordiv(extent + (known - 1), ir::int_imm(known, t)));
    exact = known == 1 || (cext && *cext % known == 0);
  } else {
    if (!cext)
      user_error(where, " has the symbolic extent ", ir::to_text(extent), ", so the product of the factors (", known,
                 ") cannot be checked against it; make one factor std::nullopt to infer it from the extent");
    if (known < *cext)
      user_error(where, ": the product of the factors is ", known, ", smaller than the loop's extent ", *cext,
                 ", so iterations would be lost; use factors whose product is at least ", *cext,
                 " or make one factor std::nullopt to infer it");
    for (auto& x : factors) extents.push_back(ir::int_imm(*x, t));
    exact = known == *cext;
  }
  if (!exact && !all_work_in_blocks(loop->body))
    user_error(where, ": the factors do not divide the extent ", ir::to_text(extent),
               ", which needs a block predicate, but the loop body has statements outside blocks; use factors that ",
               "divide the extent");
  std::vector<ir::Var> vars;
  for (size_t k = 0; k < factors.size(); ++k) vars.push_back(loop_var.copy_with_suffix("_" + std::to_string(k)));
  // i = ((v0 * e1 + v1) * e2 + v2) ... + min
  ir::Expr fused = vars[0];
  for (size_t k = 1; k < vars.size(); ++k) fused = fused * extents[k] + vars[k];
  ir::Expr value = ir::is_const_int(loop->min, 0) ? fused : fused + loop->min;
  ir::VarMap sub{{loop_var.get(), value}};
  ir::Stmt body = ir::substitute(loop->body, sub);
  if (!exact) body = add_predicate(body, ir::lt(fused, extent));
  for (size_t k = vars.size(); k-- > 0;) body = ir::for_loop(vars[k], ir::int_imm(0, t), extents[k], ir::ForKind::Serial, body);
  body = simplify_bindings(body, loc.ancestors);
  return {replace(f, loc.stmt, body), vars};
}

// loops[k+1] must be the whole body of loops[k].
inline ir::PrimFunc fuse(const ir::PrimFunc& f, const std::vector<ir::Var>& loop_vars, ir::Var* fused_out) {
  KILN_USER_CHECK(!loop_vars.empty(), "fuse: needs at least one loop");
  std::vector<Located> locs;
  for (auto& v : loop_vars) locs.push_back(find_loop(f, v));
  for (size_t k = 0; k + 1 < locs.size(); ++k) {
    auto* outer = locs[k].stmt.as<ir::ForNode>();
    if (!outer->body.same_as(locs[k + 1].stmt)) {
      std::string what = "is not the whole body of loop " + loop_name(locs[k].stmt);
      if (locs[k + 1].ancestors.empty() || !locs[k + 1].ancestors.back().same_as(locs[k].stmt))
        what = "is not directly nested inside loop " + loop_name(locs[k].stmt);
      user_error("fuse: loop ", loop_name(locs[k + 1].stmt), " ", what,
                 "; fuse takes consecutive, perfectly nested loops, outermost first, with nothing else between them");
    }
  }
  DataType t = loop_vars[0].dtype();
  std::vector<ir::Expr> extents;
  for (size_t k = 0; k < locs.size(); ++k) {
    auto* l = locs[k].stmt.as<ir::ForNode>();
    for (size_t o = 0; o < k; ++o)
      if (ir::uses_var(l->extent, loop_vars[o].get()) || ir::uses_var(l->min, loop_vars[o].get()))
        user_error("fuse: the extent of loop ", loop_name(locs[k].stmt), " depends on the outer loop ",
                   loop_name(locs[o].stmt), ", so the fused iteration space is not a rectangle");
    extents.push_back(l->extent);
  }
  std::string name;
  for (auto& v : loop_vars) name += v.name() + "_";
  ir::Var fused(name + "fused", t);
  ir::VarMap sub;
  ir::Expr stride = ir::int_imm(1, t);
  for (size_t k = locs.size(); k-- > 0;) {
    auto* l = locs[k].stmt.as<ir::ForNode>();
    ir::Expr v = stride.as<ir::IntImmNode>() && ir::is_const_int(stride, 1) ? ir::Expr(fused) : ir::floordiv(fused, stride);
    if (k > 0) v = ir::floormod(v, extents[k]);
    if (!ir::is_const_int(l->min, 0)) v = v + l->min;
    sub[loop_vars[k].get()] = v;
    stride = arith::simplify(stride * extents[k]);
  }
  ir::Stmt body = ir::substitute(locs.back().stmt.as<ir::ForNode>()->body, sub);
  body = ir::for_loop(fused, ir::int_imm(0, t), stride, ir::ForKind::Serial, body);
  body = simplify_bindings(body, locs[0].ancestors);
  if (fused_out) *fused_out = fused;
  return replace(f, locs[0].stmt, body);
}

inline ir::PrimFunc reorder(const ir::PrimFunc& f, const std::vector<ir::Var>& loop_vars) {
  KILN_USER_CHECK(!loop_vars.empty(), "reorder: needs at least one loop");
  std::vector<Located> locs;
  for (size_t k = 0; k < loop_vars.size(); ++k) {
    for (size_t o = 0; o < k; ++o)
      if (loop_vars[o].same_as(loop_vars[k])) user_error("reorder: loop '", loop_vars[k].name(), "' is given twice");
    locs.push_back(find_loop(f, loop_vars[k]));
  }
  // The outermost of the given loops: the one with the fewest ancestors.
  size_t top = 0;
  for (size_t k = 1; k < locs.size(); ++k)
    if (locs[k].ancestors.size() < locs[top].ancestors.size()) top = k;
  // Walk the chain of single-child loops down from it until every given loop is met.
  std::vector<ir::Stmt> chain;
  size_t met = 0;
  ir::Stmt cur = locs[top].stmt;
  while (true) {
    auto* l = cur.as<ir::ForNode>();
    if (!l) break;
    chain.push_back(cur);
    for (auto& v : loop_vars) met += l->loop_var.same_as(v);
    if (met == loop_vars.size()) break;
    cur = l->body;
  }
  if (met != loop_vars.size()) {
    std::string missing;
    size_t n_missing = 0;
    for (auto& loc : locs) {
      bool in = false;
      for (auto& c : chain) in |= c.same_as(loc.stmt);
      if (!in) missing += (n_missing++ ? ", " : "") + loop_with_blocks(loc.stmt);
    }
    user_error("reorder: loop", n_missing > 1 ? "s " : " ", missing, n_missing > 1 ? " are" : " is",
               " not in the perfect loop nest below loop ", loop_with_blocks(locs[top].stmt), " (",
               loop_names(chain), "); reorder takes loops of one perfect loop nest (each loop's body is the next ",
               "loop, no blocks or other statements between them), such as the loops of one block from get_loops");
  }
  // Positions of the given loops in the chain receive them in the requested order.
  std::vector<ir::Stmt> order = chain;
  size_t next = 0;
  for (auto& c : order) {
    bool given = false;
    for (auto& v : loop_vars) given |= c.as<ir::ForNode>()->loop_var.same_as(v);
    if (given) c = locs[next++].stmt;
  }
  // A loop that feeds both a spatial and a reduction iteration variable of one block (a fuse of
  // both kinds) must keep its place: moved, the updates of one output element no longer start at
  // the first reduction iteration, where the block's init runs.
  for (size_t k = 0; k < order.size(); ++k) {
    if (order[k].same_as(chain[k])) continue;
    const ir::Var& v = order[k].as<ir::ForNode>()->loop_var;
    walk(chain[0], [&](const ir::Stmt& s, const std::vector<ir::Stmt>&) {
      auto* r = s.as<ir::BlockRealizeNode>();
      if (!r) return;
      const ir::IterVar *spatial = nullptr, *other = nullptr;
      for (size_t i = 0; i < r->iter_values.size(); ++i) {
        if (!ir::uses_var(r->iter_values[i], v.get())) continue;
        (r->block->iter_vars[i].kind == ir::IterKind::DataPar ? spatial : other) = &r->block->iter_vars[i];
      }
      if (spatial && other)
        user_error("reorder: loop '", v.name(), "' feeds both the spatial iteration variable '", spatial->var.name(),
                   "' and the ", ir::iter_kind_name(other->kind), " iteration variable '", other->var.name(),
                   "' of block '", r->block->name, "'; moving it would interleave the updates of different output ",
                   "elements with their init. Reorder loops that feed one kind only (split the fused loop's parts ",
                   "apart before fusing, or fuse spatial and reduction loops separately)");
    });
  }
  for (size_t k = 0; k < order.size(); ++k) {
    auto* l = order[k].as<ir::ForNode>();
    for (size_t o = k + 1; o < order.size(); ++o) {
      const ir::VarNode* inner = order[o].as<ir::ForNode>()->loop_var.get();
      if (ir::uses_var(l->extent, inner) || ir::uses_var(l->min, inner))
        user_error("reorder: the extent of loop ", loop_name(order[k]), " depends on loop ", loop_name(order[o]),
                   ", which the new order would put inside it");
    }
  }
  ir::Stmt body = chain.back().as<ir::ForNode>()->body;
  for (size_t k = order.size(); k-- > 0;) {
    auto* l = order[k].as<ir::ForNode>();
    body = ir::for_loop(l->loop_var, l->min, l->extent, l->for_kind, body, l->thread_tag, l->annotations);
  }
  return replace(f, chain[0], body);
}

// A loop of extent 1 around `target` (a loop or a BlockRealize).
inline ir::PrimFunc add_unit_loop(const ir::PrimFunc& f, const ir::Stmt& target, const ir::Var& v) {
  return replace(f, target, ir::for_loop(v, ir::int_imm(0, v.dtype()), ir::int_imm(1, v.dtype()), ir::ForKind::Serial, target));
}

}  // namespace kiln::tir::schedule_detail
