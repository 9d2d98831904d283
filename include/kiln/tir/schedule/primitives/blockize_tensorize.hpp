// kiln/tir/schedule/primitives/blockize_tensorize.hpp: blockize and tensorize.
//
// blockize(loop) turns the loops from `loop` down and the one block under them into a block
// "<name>_o" around them. Each iteration variable v of the block is split along its binding,
// v = vo * E + vi, where vi is the part the loops under `loop` iterate (a dense range [0, E)) and
// vo the part the loops outside do: the outer block iterates vo, the inner block vi. A reduction
// block's init moves to the outer block (as a block "<name>_init" over the inner spatial
// variables), so the inner block is a pure update, which is what tensor intrinsics describe.
//
// tensorize(block, intrin) replaces the body of a block made that way by the intrinsic's
// implementation, after checking that the body computes exactly the intrinsic's description
// (kiln/tir/tensor_intrin.hpp) on a tile of the real buffers. tensorize(loop, intrin) blockizes
// first.
#pragma once
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "kiln/arith/region.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/schedule/schedule.hpp"
#include "kiln/tir/tensor_intrin.hpp"

namespace kiln::tir::schedule_detail {
// Own namespace: helper names (unique_block_name, ...) must not collide with other primitive files.
namespace blockize_tensorize_detail {

// sum(coef * var) + constant, an integer expression of + - and * by constants.
struct AffineForm {
  std::vector<std::pair<ir::Var, int64_t>> terms;
  int64_t constant = 0;
  void add(const ir::Var& v, int64_t c) {
    for (auto& t : terms)
      if (t.first.same_as(v)) {
        t.second += c;
        return;
      }
    terms.push_back({v, c});
  }
};

inline std::optional<AffineForm> affine_form(const ir::Expr& e) {
  AffineForm out;
  if (auto* i = ir::as_int_imm(e)) {
    out.constant = i->value;
    return out;
  }
  if (e.as<ir::VarNode>()) {
    out.add(ir::Var(std::static_pointer_cast<const ir::VarNode>(e.ptr())), 1);
    return out;
  }
  if (auto* c = e.as<ir::CastNode>()) {
    // Widening integer casts keep the value.
    if (c->dtype.is_integer() && c->value.dtype().is_integer() && c->dtype.bits >= c->value.dtype().bits &&
        c->value.dtype().is_int())
      return affine_form(c->value);
    return std::nullopt;
  }
  auto* b = e.as<ir::BinaryNode>();
  if (!b || !e.dtype().is_integer()) return std::nullopt;
  auto x = affine_form(b->a), y = affine_form(b->b);
  if (!x || !y) return std::nullopt;
  auto scaled = [](AffineForm f, int64_t k) {
    for (auto& t : f.terms) t.second *= k;
    f.constant *= k;
    return f;
  };
  switch (b->op) {
    case ir::BinaryOp::Add:
    case ir::BinaryOp::Sub: {
      int64_t sign = b->op == ir::BinaryOp::Add ? 1 : -1;
      for (auto& t : y->terms) x->add(t.first, sign * t.second);
      x->constant += sign * y->constant;
      return x;
    }
    case ir::BinaryOp::Mul:
      if (x->terms.empty()) return scaled(*y, x->constant);
      if (y->terms.empty()) return scaled(*x, y->constant);
      return std::nullopt;
    default: return std::nullopt;
  }
}

// True when s uses the variable v.
inline bool stmt_uses_var(const ir::Stmt& s, const ir::VarNode* v) {
  struct U : ir::StmtExprVisitor {
    const ir::VarNode* v;
    bool found = false;
    void visit_var(const ir::VarNode& n, const ir::Expr&) override { found |= &n == v; }
  } u;
  u.v = v;
  u.visit(s);
  return u.found;
}

inline std::string unique_block_name(const ir::PrimFunc& f, const std::string& base) {
  if (!find_block(f, base).found()) return base;
  for (int k = 1;; ++k)
    if (!find_block(f, base + "_" + std::to_string(k)).found()) return base + "_" + std::to_string(k);
}

struct BlockizeResult {
  ir::PrimFunc func;
  std::string block;  // the new outer block
};

inline BlockizeResult blockize(const ir::PrimFunc& f, const ir::Var& loop_var, bool preserve_unit_iters) {
  Located loc = find_loop(f, loop_var);
  std::string where = "blockize: loop '" + loop_var.name() + "'";
  auto blocks = child_blocks(loc.stmt);
  if (blocks.size() != 1) {
    std::string names;
    for (auto& b : blocks) names += (names.empty() ? "'" : ", '") + block_of(b)->name + "'";
    user_error(where, " has ", blocks.size(), " blocks under it", blocks.empty() ? "" : " (" + names + ")",
               "; blockize needs exactly one block under the loop; blockize a loop inside one block's nest, e.g. ",
               "one returned by get_loops of that block");
  }
  // The perfect nest from the loop down to the block.
  std::vector<const ir::ForNode*> loops;
  ir::Stmt cur = loc.stmt;
  while (auto* l = cur.as<ir::ForNode>()) {
    loops.push_back(l);
    cur = l->body;
  }
  auto* realize = cur.as<ir::BlockRealizeNode>();
  if (!realize)
    user_error(where, ": the loops under it do not nest perfectly around block '", block_of(blocks[0])->name,
               "' (there is a statement between them); blockize needs a perfect loop nest around one block");
  const ir::BlockNode* blk = realize->block.get();
  std::string bname = "'" + blk->name + "'";
  if (!ir::is_const_int(realize->predicate, 1))
    user_error(where, ": block ", bname, " has the predicate ", ir::to_text(realize->predicate),
               " (a split that does not divide the extent); blockize needs a block without predicate: use split ",
               "factors that divide the loop extents");
  std::unordered_map<const ir::VarNode*, const ir::ForNode*> inner_loops;
  for (auto* l : loops) {
    auto mn = ir::const_int(l->min), ext = ir::const_int(l->extent);
    if (!mn || !ext)
      user_error(where, ": loop '", l->loop_var.name(), "' under it has a non-constant range; blockize needs ",
                 "constant extents inside the new block");
    inner_loops[l->loop_var.get()] = l;
  }

  // Split every binding into its outer and inner parts.
  ir::BlockNode outer, inner = *blk;
  std::vector<ir::Expr> outer_values, inner_values;
  inner.iter_vars.clear();
  inner.init = ir::Stmt();
  ir::VarMap sub;                  // original iteration variable -> vo * E + vi
  arith::DomMap inner_dom;         // inner iteration variables
  std::vector<std::pair<ir::IterVar, ir::Expr>> init_iters;  // spatial inner variables, with their value in sub
  for (size_t k = 0; k < blk->iter_vars.size(); ++k) {
    const ir::IterVar& iv = blk->iter_vars[k];
    const ir::Expr& value = realize->iter_values[k];
    DataType t = iv.var.dtype();
    auto form = affine_form(value);
    if (!form)
      user_error(where, ": block ", bname, " binds '", iv.var.name(), "' to ", ir::to_text(value),
                 ", which is not affine (a sum of loop variables times constants); blockize cannot split it into ",
                 "outer and inner parts");
    // Inner part: a mixed-radix combination of the inner loops covering [0, E) densely.
    std::vector<std::pair<int64_t, const ir::ForNode*>> in_terms;
    ir::Expr outer_part = ir::Expr();
    ir::Expr inner_part = ir::Expr();
    int64_t constant = form->constant;
    for (auto& [v, c] : form->terms) {
      if (c == 0) continue;
      auto it = inner_loops.find(v.get());
      if (it == inner_loops.end()) {
        ir::Expr term = c == 1 ? ir::Expr(v) : ir::mul(v, ir::int_imm(c, v.dtype()));
        outer_part = outer_part.defined() ? ir::add(outer_part, term) : term;
        continue;
      }
      constant += c * *ir::const_int(it->second->min);
      in_terms.push_back({c, it->second});
    }
    std::sort(in_terms.begin(), in_terms.end(), [](auto& a, auto& b) { return a.first < b.first; });
    int64_t E = 1;
    for (auto& [c, l] : in_terms) {
      int64_t ext = *ir::const_int(l->extent);
      if (ext == 1) continue;
      if (c != E)
        user_error(where, ": block ", bname, " binds '", iv.var.name(), "' to ", ir::to_text(value),
                   ", where the loops under '", loop_var.name(), "' do not cover a dense range (loop '",
                   l->loop_var.name(), "' has stride ", c, ", expected ", E, "); blockize needs v = outer * E + inner ",
                   "with the inner loops iterating [0, E)");
      E *= ext;
    }
    for (auto& [c, l] : in_terms) {
      ir::Expr lv = l->loop_var;
      if (!ir::is_const_int(l->min, 0)) lv = ir::sub(lv, l->min);
      ir::Expr term = c == 1 ? lv : ir::mul(lv, ir::int_imm(c, lv.dtype()));
      inner_part = inner_part.defined() ? ir::add(inner_part, term) : term;
    }
    // Outer iteration: v's domain divided by E.
    auto dmin = ir::const_int(iv.dom.min), dext = ir::const_int(iv.dom.extent);
    if (E > 1) {
      if (!dmin || !dext || *dmin % E != 0 || *dext % E != 0 || constant % E != 0)
        user_error(where, ": block ", bname, "'s iteration variable '", iv.var.name(), "' has the domain [",
                   ir::to_text(iv.dom.min), ", ", ir::to_text(iv.dom.min), " + ", ir::to_text(iv.dom.extent),
                   ") and offset ", constant, ", not divisible by the extent ", E,
                   " the inner loops cover; blockize needs divisible bindings");
      for (auto& [v, c] : form->terms)
        if (!inner_loops.count(v.get()) && c % E != 0)
          user_error(where, ": block ", bname, " binds '", iv.var.name(), "' to ", ir::to_text(value),
                     ", whose outer loop '", v.name(), "' has stride ", c, ", not a multiple of the inner extent ", E,
                     "; blockize needs divisible bindings");
    }
    ir::Expr ovalue;  // the outer binding: (outer part + constant) / E
    {
      AffineForm of;
      for (auto& [v, c] : form->terms)
        if (!inner_loops.count(v.get()) && c != 0) of.add(v, c / E);
      ir::Expr e = ir::int_imm(constant / E, t);
      for (auto& [v, c] : of.terms) e = ir::add(e, c == 1 ? ir::Expr(v) : ir::mul(v, ir::int_imm(c, v.dtype())));
      ovalue = arith::simplify(e);
    }
    ir::Range odom = E == 1 ? iv.dom : ir::Range{ir::int_imm(*dmin / E, t), ir::int_imm(*dext / E, t)};
    bool outer_unit = ir::is_const_int(odom.extent, 1);
    ir::Expr vo_expr, vi_expr;
    if (outer_unit && !preserve_unit_iters) {
      vo_expr = odom.min;
    } else {
      ir::IterVar ov{iv.var.copy_with_suffix("_o"), odom, iv.kind, iv.thread_tag};
      outer.iter_vars.push_back(ov);
      outer_values.push_back(ovalue);
      vo_expr = ov.var;
    }
    if (E == 1 && !preserve_unit_iters) {
      vi_expr = ir::int_imm(0, t);
    } else {
      ir::IterVar ivi{iv.var.copy_with_suffix("_i"), ir::Range{ir::int_imm(0, t), ir::int_imm(E, t)}, iv.kind, iv.thread_tag};
      inner.iter_vars.push_back(ivi);
      inner_values.push_back(inner_part.defined() ? arith::simplify(inner_part) : ir::int_imm(0, t));
      inner_dom[ivi.var] = ivi.dom;
      vi_expr = ivi.var;
      if (E > 1 && iv.kind == ir::IterKind::DataPar) init_iters.push_back({ivi, inner_values.back()});
    }
    ir::Expr full = E == 1 ? vo_expr : ir::add(ir::mul(vo_expr, ir::int_imm(E, t)), vi_expr);
    if (E == 1 && !ir::is_const_int(vi_expr, 0)) full = ir::add(vo_expr, vi_expr);
    sub[iv.var.get()] = arith::simplify(full);
  }

  // The inner block: the same computation on vo * E + vi.
  inner.body = ir::substitute(blk->body, sub);
  auto subst_regions = [&](std::vector<ir::BufferRegion> rs, const ir::VarMap& m) {
    for (auto& r : rs)
      for (auto& rg : r.region) rg = {arith::simplify(ir::substitute(rg.min, m)), arith::simplify(ir::substitute(rg.extent, m))};
    return rs;
  };
  inner.reads = subst_regions(blk->reads, sub);
  inner.writes = subst_regions(blk->writes, sub);
  // The outer block's regions: the inner ones relaxed over the inner iteration variables.
  auto relax = [&](const std::vector<ir::BufferRegion>& rs) {
    std::vector<ir::BufferRegion> out;
    for (auto& r : rs) {
      std::vector<ir::Expr> lo, hi;
      for (auto& rg : r.region) {
        lo.push_back(rg.min);
        hi.push_back(arith::simplify(ir::sub(ir::add(rg.min, rg.extent), ir::make_const(rg.min.dtype(), 1))));
      }
      out.push_back({r.buffer, arith::infer_region({lo, hi}, inner_dom)});
    }
    return out;
  };
  outer.reads = relax(inner.reads);
  outer.writes = relax(inner.writes);

  ir::Stmt inner_realize = ir::block_realize(inner_values, ir::bool_imm(true), ir::make_block(std::move(inner)));
  ir::Stmt nest = inner_realize;
  for (size_t k = loops.size(); k-- > 0;) {
    auto* l = loops[k];
    nest = ir::for_loop(l->loop_var, l->min, l->extent, l->for_kind, nest, l->thread_tag, l->annotations);
  }

  // The init moves out: a block over the inner spatial variables, inside the outer block's init.
  if (blk->init.defined()) {
    ir::VarMap isub = sub;
    std::vector<ir::Var> init_loops;
    ir::BlockNode ib;
    ib.name = unique_block_name(f, blk->name + "_init");
    std::vector<ir::Expr> ivalues;
    ir::VarMap to_init;
    // Inner variables the init does not iterate (unit or reduction ones) are 0 there.
    for (auto& kv : inner_dom) to_init[kv.first.get()] = kv.second.min;
    for (auto& [ivi, e] : init_iters) {
      ir::IterVar nv{ivi.var.copy_with_suffix("_init"), ivi.dom, ir::IterKind::DataPar, ""};
      auto* bound = e.as<ir::VarNode>();  // name the init loop after the inner loop it mirrors
      ir::Var lv(bound ? bound->name + "_init" : ivi.var.name() + "_l", ivi.var.dtype());
      ib.iter_vars.push_back(nv);
      ivalues.push_back(lv);
      init_loops.push_back(lv);
      to_init[ivi.var.get()] = nv.var;
    }
    // Reduction variables have no value in the init: it must not use them.
    for (auto& iv : blk->iter_vars)
      if (iv.kind != ir::IterKind::DataPar && stmt_uses_var(blk->init, iv.var.get()))
        user_error(where, ": the init of block ", bname, " uses the reduction variable '", iv.var.name(),
                   "'; blockize cannot move it out");
    for (auto& kv : isub) kv.second = arith::simplify(ir::substitute(kv.second, to_init));
    ib.body = ir::substitute(blk->init, isub);
    ib.writes = subst_regions(blk->writes, isub);
    ir::Stmt init = ir::block_realize(ivalues, ir::bool_imm(true), ir::make_block(std::move(ib)));
    for (size_t k = init_loops.size(); k-- > 0;) {
      const ir::IterVar& iv = init_iters[k].first;
      init = ir::for_loop(init_loops[k], ir::int_imm(0, iv.var.dtype()), iv.dom.extent, ir::ForKind::Serial, init);
    }
    outer.init = init;
  }
  outer.name = unique_block_name(f, blk->name + "_o");
  outer.body = nest;
  std::string oname = outer.name;
  ir::Stmt outer_realize = ir::block_realize(outer_values, ir::bool_imm(true), ir::make_block(std::move(outer)));
  outer_realize = simplify_bindings(outer_realize, loc.ancestors);
  return {replace(f, loc.stmt, outer_realize), oname};
}

// ---- tensorize ---------------------------------------------------------------------------------

inline void check_intrin_name(const std::string& name) {
  if (!has_tensor_intrin(name))
    user_error("tensorize: no tensor intrinsic named '", name, "'; registered: ", tensor_intrin_names(),
               " (the x86 ones are registered by #include <kiln/tir/intrin/x86.hpp>)");
}

// Matches the real tile's body against the intrinsic's description, binding desc buffers to real
// buffers with a base offset per dimension.
class TileMatcher {
 public:
  TileMatcher(const intrin_detail::Tile& desc, const intrin_detail::Tile& real) : real_(real) {
    for (size_t k = 0; k < desc.iters.size(); ++k) iters_[desc.iters[k].var.get()] = real.iters[k].var;
  }
  std::string why;
  std::unordered_map<const ir::BufferNode*, ir::Buffer> buffers;       // desc -> real
  std::unordered_map<const ir::BufferNode*, std::vector<ir::Expr>> bases;  // desc -> real-rank base

  bool stmt(const ir::Stmt& d, const ir::Stmt& r) {
    if (d.kind() != r.kind()) return fail("expression", "the statement " + ir::to_text(r) + " is not of the form " + ir::to_text(d));
    switch (d.kind()) {
      case ir::StmtKind::BufferStore: {
        auto *a = d.as<ir::BufferStoreNode>(), *b = r.as<ir::BufferStoreNode>();
        return access(a->buffer, a->indices, b->buffer, b->indices) && expr(a->value, b->value);
      }
      case ir::StmtKind::Seq: {
        auto *a = d.as<ir::SeqStmtNode>(), *b = r.as<ir::SeqStmtNode>();
        if (a->seq.size() != b->seq.size()) return fail("expression", "the block has " + std::to_string(b->seq.size()) +
                                                                         " statements, the description " + std::to_string(a->seq.size()));
        for (size_t k = 0; k < a->seq.size(); ++k)
          if (!stmt(a->seq[k], b->seq[k])) return false;
        return true;
      }
      default: return fail("expression", "the statement " + ir::to_text(r) + " is not a buffer store");
    }
  }

  bool expr(const ir::Expr& d, const ir::Expr& r) {
    if (d.kind() != r.kind() || d.dtype() != r.dtype()) {
      if (d.dtype() != r.dtype() && d.kind() == r.kind())
        return fail("dtype", ir::to_text(r) + " has dtype " + r.dtype().str() + " where the description's " +
                                 ir::to_text(d) + " has " + d.dtype().str());
      return fail("expression", ir::to_text(r) + " is not of the form " + ir::to_text(d));
    }
    auto differ = [&] { return fail("expression", ir::to_text(r) + " is not of the form " + ir::to_text(d)); };
    switch (d.kind()) {
      case ir::ExprKind::Var: {
        auto it = iters_.find(static_cast<const ir::VarNode*>(d.get()));
        ir::Expr want = it == iters_.end() ? d : it->second;
        return want.same_as(r) ? true : differ();
      }
      case ir::ExprKind::IntImm: return d.as<ir::IntImmNode>()->value == r.as<ir::IntImmNode>()->value ? true : differ();
      case ir::ExprKind::FloatImm: return d.as<ir::FloatImmNode>()->value == r.as<ir::FloatImmNode>()->value ? true : differ();
      case ir::ExprKind::StringImm: return d.as<ir::StringImmNode>()->value == r.as<ir::StringImmNode>()->value ? true : differ();
      case ir::ExprKind::Binary: {
        auto *a = d.as<ir::BinaryNode>(), *b = r.as<ir::BinaryNode>();
        if (a->op != b->op) return differ();
        return expr(a->a, b->a) && expr(a->b, b->b);
      }
      case ir::ExprKind::Not: return expr(d.as<ir::NotNode>()->a, r.as<ir::NotNode>()->a);
      case ir::ExprKind::Select: {
        auto *a = d.as<ir::SelectNode>(), *b = r.as<ir::SelectNode>();
        return expr(a->cond, b->cond) && expr(a->true_value, b->true_value) && expr(a->false_value, b->false_value);
      }
      case ir::ExprKind::Cast: return expr(d.as<ir::CastNode>()->value, r.as<ir::CastNode>()->value);
      case ir::ExprKind::Call: {
        auto *a = d.as<ir::CallNode>(), *b = r.as<ir::CallNode>();
        if (a->op != b->op || a->args.size() != b->args.size()) return differ();
        for (size_t k = 0; k < a->args.size(); ++k)
          if (!expr(a->args[k], b->args[k])) return false;
        return true;
      }
      case ir::ExprKind::BufferLoad: {
        auto *a = d.as<ir::BufferLoadNode>(), *b = r.as<ir::BufferLoadNode>();
        return access(a->buffer, a->indices, b->buffer, b->indices);
      }
      default: return differ();
    }
  }

 private:
  const intrin_detail::Tile& real_;
  std::unordered_map<const ir::VarNode*, ir::Expr> iters_;  // desc iteration variable -> real one

  bool fail(const char* part, const std::string& what) {
    if (why.empty()) why = std::string(part) + " mismatch: " + what;
    return false;
  }
  bool uses_inner(const ir::Expr& e) const {
    bool found = false;
    ir::for_each_var(e, [&](const ir::VarNode& n, const ir::Expr&) { found |= real_.inner_vars.count(&n) != 0; });
    return found;
  }

  bool access(const ir::Buffer& d, const std::vector<ir::Expr>& di, const ir::Buffer& r, const std::vector<ir::Expr>& ri) {
    std::string rtext = r->name + "[" + join(ri) + "]", dtext = d->name + "[" + join(di) + "]";
    if (d->dtype != r->dtype)
      return fail("dtype", "buffer '" + r->name + "' has dtype " + r->dtype.str() + " where the description's '" + d->name +
                               "' has " + d->dtype.str());
    auto it = buffers.find(d.get());
    if (it != buffers.end() && !it->second.same_as(r))
      return fail("buffer access pattern", "the description's buffer '" + d->name + "' stands for both '" +
                                               it->second->name + "' and '" + r->name + "'");
    if (ri.size() < di.size())
      return fail("buffer access pattern", "access " + rtext + " has fewer dimensions than the description's " + dtext);
    size_t lead = ri.size() - di.size();
    std::vector<ir::Expr> base;
    for (size_t k = 0; k < ri.size(); ++k) {
      ir::Expr b;
      if (k < lead) {
        b = arith::simplify(ri[k]);
      } else {
        ir::Expr dk = ir::substitute(di[k - lead], iters_);
        if (dk.dtype() != ri[k].dtype()) dk = ir::cast(ri[k].dtype(), dk);
        b = arith::simplify(ir::sub(ri[k], dk));
      }
      if (uses_inner(b))
        return fail("buffer access pattern",
                    "access " + rtext + " is not the description's " + dtext + " shifted by an offset that stays fixed " +
                        "over the tile (dimension " + std::to_string(k) + " leaves " + ir::to_text(b) + ")");
      base.push_back(b);
    }
    auto bt = bases.find(d.get());
    if (bt != bases.end()) {
      for (size_t k = 0; k < base.size(); ++k) {
        ir::Expr diff = arith::simplify(ir::sub(bt->second[k], base[k]));
        if (!ir::is_const_int(diff, 0))
          return fail("buffer access pattern", "the accesses of '" + r->name + "' start at different tile offsets (" +
                                                   ir::to_text(bt->second[k]) + " and " + ir::to_text(base[k]) +
                                                   " in dimension " + std::to_string(k) + ")");
      }
    }
    buffers[d.get()] = r;
    bases[d.get()] = base;
    return true;
  }
  static std::string join(const std::vector<ir::Expr>& v) {
    std::string s;
    for (size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + ir::to_text(v[k]);
    return s;
  }
};

// base + idx, keeping Ramp/Broadcast forms, in base's type.
inline ir::Expr offset_index(const ir::Expr& base, const ir::Expr& idx) {
  DataType t = base.dtype();
  std::function<ir::Expr(const ir::Expr&)> conv = [&](const ir::Expr& e) -> ir::Expr {
    if (e.dtype().element_of() == t) return e;
    if (auto* i = ir::as_int_imm(e)) return ir::int_imm(i->value, t);
    if (auto* r = e.as<ir::RampNode>()) return ir::ramp(conv(r->base), conv(r->stride), r->lanes);
    if (auto* b = e.as<ir::BroadcastNode>()) return ir::broadcast(conv(b->value), b->lanes);
    return ir::cast(t.with_lanes(e.dtype().lanes), e);
  };
  ir::Expr i = conv(idx);
  if (ir::is_const_int(base, 0)) return i;
  if (auto* r = i.as<ir::RampNode>()) return ir::ramp(arith::simplify(ir::add(base, r->base)), r->stride, r->lanes);
  if (auto* b = i.as<ir::BroadcastNode>()) return ir::broadcast(arith::simplify(ir::add(base, b->value)), b->lanes);
  if (i.dtype().lanes > 1) return ir::add(ir::broadcast(base, i.dtype().lanes), i);
  return arith::simplify(ir::add(base, i));
}

// impl's body with its parameter buffers replaced by the real buffers at their tile offsets, and
// fresh variables for its loops and lets (impl may be inserted many times in one function).
class ImplBinder : public ir::StmtExprMutator {
 public:
  std::unordered_map<const ir::BufferNode*, std::pair<ir::Buffer, std::vector<ir::Expr>>> bind;  // impl param -> (real, base)
  using ir::StmtExprMutator::mutate;

  ir::Expr mutate_var(const ir::Expr& e) override {
    auto it = fresh_.find(static_cast<const ir::VarNode*>(e.get()));
    return it == fresh_.end() ? e : it->second;
  }
  ir::Expr mutate(const ir::Expr& e) override {
    if (auto* l = e.as<ir::LetNode>()) {
      ir::Var v = l->var.copy_with_suffix("");
      ir::Expr value = mutate(l->value);
      fresh_[l->var.get()] = v;
      return ir::let(v, value, mutate(l->body));
    }
    return ir::StmtExprMutator::mutate(e);
  }
  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    auto* n = e.as<ir::BufferLoadNode>();
    auto idx = mutate_all(n->indices).first;
    auto it = bind.find(n->buffer.get());
    if (it == bind.end()) return ir::buffer_load(n->buffer, idx);
    return ir::buffer_load(it->second.first, shifted(it->second.second, idx));
  }
  ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
    auto* n = s.as<ir::BufferStoreNode>();
    ir::Expr value = mutate(n->value);
    auto idx = mutate_all(n->indices).first;
    auto it = bind.find(n->buffer.get());
    if (it == bind.end()) return ir::buffer_store(n->buffer, value, idx);
    return ir::buffer_store(it->second.first, value, shifted(it->second.second, idx));
  }
  ir::Stmt mutate_for(const ir::Stmt& s) override {
    auto* n = s.as<ir::ForNode>();
    ir::Var v = n->loop_var.copy_with_suffix("");
    fresh_[n->loop_var.get()] = v;
    return ir::for_loop(v, mutate(n->min), mutate(n->extent), n->for_kind, mutate(n->body), n->thread_tag, n->annotations);
  }
  ir::Stmt mutate(const ir::Stmt& s) override {
    if (auto* l = s.as<ir::LetStmtNode>()) {
      ir::Var v = l->var.copy_with_suffix("");
      ir::Expr value = mutate(l->value);
      fresh_[l->var.get()] = v;
      return ir::let_stmt(v, value, mutate(l->body));
    }
    return ir::StmtExprMutator::mutate(s);
  }

 private:
  std::unordered_map<const ir::VarNode*, ir::Expr> fresh_;
  static std::vector<ir::Expr> shifted(const std::vector<ir::Expr>& base, const std::vector<ir::Expr>& idx) {
    std::vector<ir::Expr> out;
    size_t lead = base.size() - idx.size();
    for (size_t k = 0; k < base.size(); ++k) out.push_back(k < lead ? base[k] : offset_index(base[k], idx[k - lead]));
    return out;
  }
};

inline ir::PrimFunc tensorize(const ir::PrimFunc& f, const std::string& block_name, const TensorIntrin& intrin,
                              const std::string& what) {
  Located loc = find_block(f, block_name);
  const ir::BlockNode* blk = block_of(loc.stmt);
  std::string where = "tensorize: " + what;
  std::string against = " does not match tensor intrinsic '" + intrin.name + "': ";
  intrin_detail::Tile desc, real;
  std::string why;
  bool desc_ok = intrin_detail::analyze_tile(intrin_detail::strip_root(intrin.desc->body), desc, why);
  KILN_ICHECK(desc_ok, "tensor intrinsic '", intrin.name, "' was registered with a bad desc: ", why);
  if (blk->iter_vars.empty() && block_name == "root")
    user_error(where, ": the root block cannot be tensorized; tensorize a loop, or a block made by blockize");
  if (!intrin_detail::analyze_tile(blk->body, real, why))
    user_error(where, against, why, "; tensorize needs a block whose body is a loop nest around one block, such as ",
               "blockize makes (tensorize a loop to blockize it first)");
  if (real.iters.size() != desc.iters.size()) {
    std::string r, d;
    for (size_t k = 0; k < real.iters.size(); ++k) r += (k ? ", " : "") + real.iters[k].var.name() + ":" + std::to_string(real.extents[k]);
    for (size_t k = 0; k < desc.iters.size(); ++k) d += (k ? ", " : "") + desc.iters[k].var.name() + ":" + std::to_string(desc.extents[k]);
    user_error(where, against, "extent mismatch: the tile iterates ", real.iters.size(), " variables of extent > 1 (",
               r.empty() ? "none" : r, "), the intrinsic ", desc.iters.size(), " (", d,
               "); split the loops so that the loops under the tensorized one match the intrinsic's tile");
  }
  for (size_t k = 0; k < real.iters.size(); ++k) {
    if (real.extents[k] != desc.extents[k])
      user_error(where, against, "extent mismatch: iteration variable ", k, " ('", real.iters[k].var.name(), "') has extent ",
                 real.extents[k], " but the intrinsic's ('", desc.iters[k].var.name(), "') has ", desc.extents[k],
                 "; split the loop so its inner part has extent ", desc.extents[k]);
    if (real.iters[k].kind != desc.iters[k].kind)
      user_error(where, against, "iteration kind mismatch: '", real.iters[k].var.name(), "' is ",
                 ir::iter_kind_name(real.iters[k].kind), " but the intrinsic's '", desc.iters[k].var.name(), "' is ",
                 ir::iter_kind_name(desc.iters[k].kind));
  }
  TileMatcher m(desc, real);
  if (!m.stmt(desc.body, real.body)) user_error(where, against, m.why);
  const auto& dp = intrin.desc->param_buffers;
  const auto& ip = intrin.impl->param_buffers;
  ImplBinder binder;
  for (size_t i = 0; i < dp.size(); ++i) {
    auto it = m.buffers.find(dp[i].get());
    KILN_ICHECK(it != m.buffers.end(), "desc parameter '", dp[i]->name, "' of '", intrin.name, "' was not matched");
    binder.bind[ip[i].get()] = {it->second, m.bases.at(dp[i].get())};
  }
  ir::Stmt body = binder.mutate(intrin_detail::strip_root(intrin.impl->body));
  ir::BlockNode nb = *blk;
  nb.body = body;
  ir::Stmt nr = ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(loc.stmt.as<ir::BlockRealizeNode>()->iter_values,
                                                                    loc.stmt.as<ir::BlockRealizeNode>()->predicate,
                                                                    ir::make_block(std::move(nb))));
  return replace(f, loc.stmt, nr);
}

}  // namespace blockize_tensorize_detail
}  // namespace kiln::tir::schedule_detail

namespace kiln::tir {

inline BlockRV Schedule::blockize(const LoopRV& loop, bool preserve_unit_iters) {
  ir::Var v = loop_var(loop, "blockize");
  auto r = schedule_detail::blockize_tensorize_detail::blockize(func_, v, preserve_unit_iters);
  func_ = r.func;
  BlockRV out = new_block(r.block);
  record("blockize", {TraceValue::loop(loop.id), TraceValue::integer(preserve_unit_iters)}, {TraceValue::block(out.id)});
  return out;
}

inline void Schedule::tensorize(const LoopRV& loop, const std::string& intrin, bool preserve_unit_iters) {
  ir::Var v = loop_var(loop, "tensorize");
  schedule_detail::blockize_tensorize_detail::check_intrin_name(intrin);
  const TensorIntrin& ti = get_tensor_intrin(intrin);
  auto b = schedule_detail::blockize_tensorize_detail::blockize(func_, v, preserve_unit_iters);
  func_ = schedule_detail::blockize_tensorize_detail::tensorize(b.func, b.block, ti,
                                                                "loop '" + v.name() + "' (blockized as '" + b.block + "')");
  record("tensorize", {TraceValue::loop(loop.id), TraceValue::str(intrin), TraceValue::integer(preserve_unit_iters)}, {});
}

inline void Schedule::tensorize(const BlockRV& block, const std::string& intrin, bool preserve_unit_iters) {
  const std::string& name = schedule_detail::block_of(locate(block, "tensorize").stmt)->name;
  schedule_detail::blockize_tensorize_detail::check_intrin_name(intrin);
  const TensorIntrin& ti = get_tensor_intrin(intrin);
  func_ = schedule_detail::blockize_tensorize_detail::tensorize(func_, name, ti, "block '" + name + "'");
  record("tensorize", {TraceValue::block(block.id), TraceValue::str(intrin), TraceValue::integer(preserve_unit_iters)}, {});
}

inline const bool registered_blockize_tensorize = [] {
  register_instruction("blockize", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                      return {s.blockize(in.loop(0), in.integer(1) != 0).id};
                                    },
                                    nullptr});
  register_instruction("tensorize", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                       if (in.is_block(0)) s.tensorize(in.block(0), in.str(1), in.integer(2) != 0);
                                       else s.tensorize(in.loop(0), in.str(1), in.integer(2) != 0);
                                       return {};
                                     },
                                     nullptr});
  return true;
}();

}  // namespace kiln::tir
