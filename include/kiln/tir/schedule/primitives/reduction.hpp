// kiln/tir/schedule/primitives/reduction.hpp: decompose_reduction and rfactor.
//
// A reduction block (te::sum, prod, max, min) has an init, run when every reduction iteration
// variable is at the start of its domain, and an update `C[i] = C[i] op x`.
//   decompose_reduction(block, loop) moves the init into its own block "<name>_init", in copies of
//     the spatial loops at and below `loop`, placed right before `loop`; the update keeps the name.
//   rfactor(loop, axis) turns the reduction loop `loop` into a spatial dimension of a new buffer
//     "<buffer>_rf": a block "<name>_rf" computes partial results per value of `loop` (so that
//     loop may run in parallel), and the original block then reduces over them.
// Both follow TVM's rules (src/tir/schedule/primitive/reduction.cc) and refuse what would change
// the results.
#pragma once
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/arith/region.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir::schedule_detail {
namespace reduction_impl {

inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

// `hint`, or hint_1, hint_2, ... when a block of the function already has that name.
inline std::string fresh_block_name(const ir::PrimFunc& f, const std::string& hint) {
  std::set<std::string> used;
  for (auto& b : all_blocks(f)) used.insert(block_of(b.stmt)->name);
  std::string n = hint;
  for (int k = 1; used.count(n); ++k) n = hint + "_" + std::to_string(k);
  return n;
}

inline std::string fresh_buffer_name(const ir::PrimFunc& f, const std::string& hint) {
  std::set<std::string> used;
  for (auto& b : f->param_buffers)
    if (b.defined()) used.insert(b->name);
  for (auto& b : all_blocks(f))
    for (auto& a : block_of(b.stmt)->alloc_buffers) used.insert(a->name);
  std::string n = hint;
  for (int k = 1; used.count(n); ++k) n = hint + "_" + std::to_string(k);
  return n;
}

inline std::vector<ir::Expr> conjuncts(const ir::Expr& e) {
  if (auto* b = e.as<ir::BinaryNode>(); b && b->op == ir::BinaryOp::And) {
    auto l = conjuncts(b->a), r = conjuncts(b->b);
    l.insert(l.end(), r.begin(), r.end());
    return l;
  }
  return {e};
}

inline bool uses_any(const ir::Expr& e, const std::unordered_set<const ir::VarNode*>& vars) {
  bool found = false;
  ir::for_each_var(e, [&](const ir::VarNode& n, const ir::Expr&) { found |= vars.count(&n) != 0; });
  return found;
}

inline arith::DomMap loop_domains(const std::vector<ir::Stmt>& stmts) {
  arith::DomMap dom;
  for (auto& s : stmts)
    if (auto* l = s.as<ir::ForNode>()) dom[l->loop_var] = ir::Range{l->min, l->extent};
  return dom;
}

// What a statement reads, one region per buffer covering its loads (the block's iteration
// variables are fixed symbols, as in te::create_prim_func).
inline std::vector<ir::BufferRegion> read_regions_of(const ir::Stmt& s) {
  struct Loads : ir::StmtExprVisitor {
    std::vector<ir::Buffer> buffers;
    std::vector<std::vector<std::vector<ir::Expr>>> accesses;
    void visit_buffer_load(const ir::BufferLoadNode& n) override {
      size_t k = 0;
      while (k < buffers.size() && !buffers[k].same_as(n.buffer)) ++k;
      if (k == buffers.size()) {
        buffers.push_back(n.buffer);
        accesses.emplace_back();
      }
      accesses[k].push_back(n.indices);
      ir::StmtExprVisitor::visit_buffer_load(n);
    }
  } loads;
  loads.visit(s);
  std::vector<ir::BufferRegion> out;
  for (size_t k = 0; k < loads.buffers.size(); ++k) {
    ir::BufferRegion r{loads.buffers[k], {}};
    try {
      r.region = arith::infer_region(loads.accesses[k], {});
    } catch (const UserError&) {  // no symbolic bound: the whole buffer
      r.region.clear();
      for (auto& e : loads.buffers[k]->shape) r.region.push_back(ir::Range{ir::int_imm(0, e.dtype()), e});
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline std::vector<ir::BufferRegion> substitute_regions(const std::vector<ir::BufferRegion>& rs, const ir::VarMap& m) {
  std::vector<ir::BufferRegion> out = rs;
  for (auto& r : out)
    for (auto& rg : r.region) rg = ir::Range{ir::substitute(rg.min, m), ir::substitute(rg.extent, m)};
  return out;
}

inline std::string iter_var_names(const ir::BlockNode& b, ir::IterKind kind) {
  std::string s;
  for (auto& iv : b.iter_vars)
    if (iv.kind == kind) s += (s.empty() ? "" : ", ") + quoted(iv.var.name());
  return s;
}

// TVM's "reduction block": an init, only spatial and reduction iteration variables (at least one
// of the latter), and neither the init nor the written region depends on a reduction variable.
inline void check_reduction_block(const char* prim, const ir::BlockNode& b) {
  std::string where = std::string(prim) + ": block '" + b.name + "'";
  if (!b.init.defined())
    user_error(where, " is not a reduction block: it has no init statement (", prim,
               " applies to blocks made by te::sum, te::prod, te::max or te::min, or that have an init)");
  std::unordered_set<const ir::VarNode*> reduce;
  for (auto& iv : b.iter_vars) {
    if (iv.kind == ir::IterKind::CommReduce) reduce.insert(iv.var.get());
    else if (iv.kind != ir::IterKind::DataPar)
      user_error(where, " has the ", ir::iter_kind_name(iv.kind), " iteration variable '", iv.var.name(),
                 "'; a reduction block may have only spatial and reduction iteration variables");
  }
  if (reduce.empty())
    user_error(where, " has an init but no reduction iteration variable, so it is not a reduction block");
  for (auto& w : b.writes)
    for (auto& rg : w.region)
      if (uses_any(rg.min, reduce) || uses_any(rg.extent, reduce))
        user_error(where, " writes buffer '", w.buffer->name, "' at an index that depends on a reduction variable (",
                   iter_var_names(b, ir::IterKind::CommReduce), "), so it is not a reduction block");
  bool init_uses = false;
  walk(b.init, [&](const ir::Stmt& s, const std::vector<ir::Stmt>&) {
    struct V : ir::StmtExprVisitor {
      const std::unordered_set<const ir::VarNode*>* vars;
      bool* hit;
      void visit_var(const ir::VarNode& n, const ir::Expr&) override { *hit |= vars->count(&n) != 0; }
    } v;
    v.vars = &reduce;
    v.hit = &init_uses;
    if (s.as<ir::BufferStoreNode>()) v.visit(s);
  });
  if (init_uses) user_error(where, ": its init depends on a reduction iteration variable, so it is not a reduction block");
}

}  // namespace reduction_impl

struct ReductionBlockResult {
  ir::PrimFunc func;
  std::string block;  // the name of the block the primitive created
};

inline ReductionBlockResult decompose_reduction(const ir::PrimFunc& f, const std::string& block_name, const ir::Var& loop_var) {
  Located blk = find_block(f, block_name);
  auto* realize = blk.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode& b = *realize->block.get();
  std::vector<ir::Stmt> loops = enclosing_loops(blk.ancestors);
  size_t pos = loops.size();
  for (size_t k = 0; k < loops.size(); ++k)
    if (loops[k].as<ir::ForNode>()->loop_var.same_as(loop_var)) pos = k;
  if (pos == loops.size())
    user_error("decompose_reduction: loop '", loop_var.name(), "' is not around block '", b.name,
               "'; the loop must be one of the block's loops (", loop_names(loops), ")");
  reduction_impl::check_reduction_block("decompose_reduction", b);
  // The loop must be at or above every loop that feeds a reduction variable: the init has to
  // run before the first reduction step of each output element.
  size_t first_reduce = loops.size();
  for (size_t i = 0; i < b.iter_vars.size(); ++i) {
    if (b.iter_vars[i].kind != ir::IterKind::CommReduce) continue;
    for (size_t k = 0; k < loops.size(); ++k)
      if (ir::uses_var(realize->iter_values[i], loops[k].as<ir::ForNode>()->loop_var.get())) first_reduce = std::min(first_reduce, k);
  }
  if (pos > first_reduce) {
    std::vector<ir::Stmt> legal(loops.begin(), loops.begin() + long(first_reduce) + 1);
    user_error("decompose_reduction: loop '", loop_var.name(), "' is inside the reduction loop ",
               loop_name(loops[first_reduce]), " of block '", b.name,
               "', so the init would run again at every step of that loop; the loop must be at or above the ",
               "outermost reduction loop: one of ", loop_names(legal));
  }
  // A loop that feeds no iteration variable but repeats the reduction re-runs the original init
  // each time; an init moved above it would run once.
  size_t last_reduce = 0;
  for (size_t i = 0; i < b.iter_vars.size(); ++i)
    for (size_t k = 0; k < loops.size(); ++k)
      if (b.iter_vars[i].kind == ir::IterKind::CommReduce &&
          ir::uses_var(realize->iter_values[i], loops[k].as<ir::ForNode>()->loop_var.get()))
        last_reduce = std::max(last_reduce, k);
  for (size_t k = pos; k < last_reduce; ++k) {
    auto* l = loops[k].as<ir::ForNode>();
    bool bound = false;
    for (auto& v : realize->iter_values) bound |= ir::uses_var(v, l->loop_var.get());
    if (!bound && !ir::is_const_int(arith::simplify(l->extent), 1))
      user_error("decompose_reduction: loop '", l->loop_var.name(), "' feeds no iteration variable of block '", b.name,
                 "' but repeats its reduction (extent ", ir::to_text(l->extent), "), re-running the init each time; ",
                 "an init moved above it would run once. Decompose at a loop inside it");
  }

  // The init block: the spatial iteration variables (fresh copies) with their bindings.
  ir::BlockNode init;
  init.name = reduction_impl::fresh_block_name(f, b.name + "_init");
  init.annotations = b.annotations;
  std::vector<ir::Expr> values;
  ir::VarMap iv_map;
  for (size_t i = 0; i < b.iter_vars.size(); ++i) {
    const ir::IterVar& iv = b.iter_vars[i];
    if (iv.kind != ir::IterKind::DataPar) continue;
    ir::IterVar nv{iv.var.copy_with_suffix(""), iv.dom, iv.kind, iv.thread_tag};
    iv_map[iv.var.get()] = nv.var;
    init.iter_vars.push_back(nv);
    values.push_back(realize->iter_values[i]);
  }
  init.body = ir::substitute(b.init, iv_map);
  init.writes = reduction_impl::substitute_regions(b.writes, iv_map);
  init.reads = reduction_impl::read_regions_of(init.body);
  // Loops at and below `loop` that feed the init's bindings are copied ("<name>_init"); the
  // others (reduction loops) are left out, and the predicate is taken at their first iteration,
  // where the update's first step (and so the original init) runs.
  std::vector<size_t> chosen;
  ir::VarMap loop_map, at_first;
  std::unordered_set<const ir::VarNode*> discarded;
  for (size_t k = pos; k < loops.size(); ++k) {
    auto* l = loops[k].as<ir::ForNode>();
    bool used = false;
    for (auto& v : values) used |= ir::uses_var(v, l->loop_var.get());
    if (used) {
      chosen.push_back(k);
      loop_map[l->loop_var.get()] = l->loop_var.copy_with_suffix("_init");
    } else {
      at_first[l->loop_var.get()] = l->min;
      discarded.insert(l->loop_var.get());
    }
  }
  arith::DomMap dom = reduction_impl::loop_domains(blk.ancestors);
  for (auto* d : discarded)
    for (auto it = dom.begin(); it != dom.end(); ++it)
      if (it->first.get() == d) {
        dom.erase(it);
        break;
      }
  // The original init ran only where every reduction variable is at its domain's minimum (a block
  // left by loop_partition may start its reduction past it: then its init never ran).
  ir::Expr pred = realize->predicate;
  for (size_t i = 0; i < b.iter_vars.size(); ++i)
    if (b.iter_vars[i].kind == ir::IterKind::CommReduce)
      pred = and_pred(pred, ir::eq(realize->iter_values[i], ir::cast(realize->iter_values[i].dtype(), b.iter_vars[i].dom.min)));
  pred = arith::simplify(ir::substitute(pred, at_first), dom);
  for (auto& v : values) v = ir::substitute(v, loop_map);
  std::string init_name = init.name;
  ir::Stmt init_stmt = ir::block_realize(values, ir::substitute(pred, loop_map), ir::make_block(std::move(init)));
  for (size_t c = chosen.size(); c-- > 0;) {
    auto* l = loops[chosen[c]].as<ir::ForNode>();
    if (reduction_impl::uses_any(l->min, discarded) || reduction_impl::uses_any(l->extent, discarded))
      user_error("decompose_reduction: the extent of loop '", l->loop_var.name(), "' depends on a reduction loop, so ",
                 "the spatial loops cannot be copied for the init block");
    init_stmt = ir::for_loop(ir::Var(std::static_pointer_cast<const ir::VarNode>(loop_map[l->loop_var.get()].ptr())),
                             ir::substitute(l->min, loop_map), ir::substitute(l->extent, loop_map), l->for_kind, init_stmt,
                             l->thread_tag);
  }

  // The update block keeps its name (so handles to it stay valid) and reads what it writes.
  ir::BlockNode upd = b;
  upd.init = ir::Stmt();
  std::vector<ir::BufferRegion> reads;
  for (auto& w : b.writes) {
    bool read = false;
    for (auto& r : b.reads) read |= r.buffer.same_as(w.buffer);
    if (!read) reads.push_back(w);
  }
  reads.insert(reads.end(), b.reads.begin(), b.reads.end());
  upd.reads = std::move(reads);
  ir::Stmt new_realize(std::make_shared<const ir::BlockRealizeNode>(realize->iter_values, realize->predicate,
                                                                    ir::make_block(std::move(upd))));
  ir::Stmt new_loop = detail::Replacer(blk.stmt.get(), new_realize).mutate(loops[pos]);
  return {replace(f, loops[pos], ir::seq({init_stmt, new_loop})), init_name};
}

namespace reduction_impl {

// The parts of a reduction update `C[idx] = C[idx] op rhs` (optionally under `if cond`).
struct Reducer {
  ir::ReduceOp op;
  const ir::BufferStoreNode* store;
  ir::Expr rhs;   // the value combined into C
  ir::Expr cond;  // undefined: always
};

inline bool loads_buffer(const ir::Expr& e, const ir::Buffer& buf) {
  struct V : ir::ExprVisitor {
    const ir::BufferNode* b;
    bool hit = false;
    void visit_buffer_load(const ir::BufferLoadNode& n) override {
      hit |= n.buffer.get() == b;
      ir::ExprVisitor::visit_buffer_load(n);
    }
  } v;
  v.b = buf.get();
  v.visit(e);
  return v.hit;
}

inline bool same_indices(const std::vector<ir::Expr>& a, const std::vector<ir::Expr>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!ir::structural_equal(a[i], b[i])) return false;
  return true;
}

inline Reducer match_reducer(const ir::BlockNode& b) {
  std::string where = "rfactor: block '" + b.name + "'";
  const char* known = "rfactor knows the reductions sum (C[i] = C[i] + x), prod (C[i] = C[i] * x), "
                      "min (C[i] = min(C[i], x)) and max (C[i] = max(C[i], x)), as te::sum/prod/min/max write them";
  if (b.writes.size() != 1)
    user_error(where, " writes ", b.writes.size(), " buffers; rfactor needs a reduction block that writes exactly one");
  Reducer r{};
  ir::Stmt body = b.body;
  if (auto* ite = body.as<ir::IfThenElseNode>(); ite && !ite->else_case.defined()) {
    r.cond = ite->cond;
    body = ite->then_case;
  }
  r.store = body.as<ir::BufferStoreNode>();
  if (!r.store)
    user_error(where, ": its body is not a single store `C[i] = C[i] op x` (optionally under an if); ", known);
  if (!r.store->buffer.same_as(b.writes[0].buffer))
    user_error(where, " stores to '", r.store->buffer->name, "' but declares that it writes '", b.writes[0].buffer->name, "'");
  auto* bin = r.store->value.as<ir::BinaryNode>();
  bool ok = bin != nullptr;
  if (ok) {
    switch (bin->op) {
      case ir::BinaryOp::Add: r.op = ir::ReduceOp::Sum; break;
      case ir::BinaryOp::Mul: r.op = ir::ReduceOp::Prod; break;
      case ir::BinaryOp::Min: r.op = ir::ReduceOp::Min; break;
      case ir::BinaryOp::Max: r.op = ir::ReduceOp::Max; break;
      default: ok = false;
    }
  }
  if (!ok) user_error(where, ": the update `", ir::to_text(r.store->value), "` is not a recognized reduction; ", known);
  auto is_acc = [&](const ir::Expr& e) {
    auto* l = e.as<ir::BufferLoadNode>();
    return l && l->buffer.same_as(r.store->buffer) && same_indices(l->indices, r.store->indices);
  };
  if (is_acc(bin->a)) r.rhs = bin->b;
  else if (is_acc(bin->b)) r.rhs = bin->a;
  else
    user_error(where, ": the update `", ir::to_text(r.store->value), "` does not combine the stored element ",
               r.store->buffer->name, "[...] with a value; ", known);
  if (loads_buffer(r.rhs, r.store->buffer) || (r.cond.defined() && loads_buffer(r.cond, r.store->buffer)))
    user_error(where, ": the value combined into '", r.store->buffer->name, "' also reads '", r.store->buffer->name,
               "', so the partial results cannot be computed separately");
  auto* init = b.init.as<ir::BufferStoreNode>();
  if (!init || !init->buffer.same_as(r.store->buffer) || !same_indices(init->indices, r.store->indices))
    user_error(where, ": its init is not a single store to the element the update writes");
  return r;
}

// Whether `c` holding at some iteration implies it holds with every variable of `vars` at the
// start of its loop: true for `a < b` (or <=) where `a` grows with each of them and `b` does not
// use them (the predicates split makes).
inline bool holds_at_loop_start(const ir::Expr& c, const std::unordered_set<const ir::VarNode*>& vars,
                                const std::vector<ir::Stmt>& loops) {
  if (!uses_any(c, vars)) return true;
  auto* bin = c.as<ir::BinaryNode>();
  if (!bin) return false;
  ir::Expr grows, bound;
  if (bin->op == ir::BinaryOp::LT || bin->op == ir::BinaryOp::LE) grows = bin->a, bound = bin->b;
  else if (bin->op == ir::BinaryOp::GT || bin->op == ir::BinaryOp::GE) grows = bin->b, bound = bin->a;
  else return false;
  if (uses_any(bound, vars) || !grows.dtype().is_integer()) return false;
  for (auto& s : loops) {
    auto* l = s.as<ir::ForNode>();
    if (!vars.count(l->loop_var.get()) || !ir::uses_var(grows, l->loop_var.get())) continue;
    ir::Expr next = ir::substitute(grows, ir::VarMap{{l->loop_var.get(), l->loop_var + 1}});
    auto step = ir::const_int(arith::simplify(next - grows));
    if (!step || *step < 0) return false;
  }
  return true;
}

}  // namespace reduction_impl

inline ReductionBlockResult rfactor(const ir::PrimFunc& f, const ir::Var& rf_var, int64_t factor_axis) {
  Located lp = find_loop(f, rf_var);
  auto* rf_loop = lp.stmt.as<ir::ForNode>();
  std::string where = "rfactor: loop '" + rf_var.name() + "'";
  auto kids = child_blocks(lp.stmt);
  if (kids.size() != 1) {
    std::string names;
    for (auto& k : kids) names += (names.empty() ? "" : ", ") + reduction_impl::quoted(block_of(k)->name);
    user_error(where, " has ", kids.size(), " blocks under it", kids.empty() ? "" : " (" + names + ")",
               "; rfactor needs a loop around exactly one reduction block");
  }
  Located blk = find_block(f, block_of(kids[0])->name);
  auto* realize = blk.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode& b = *realize->block.get();
  reduction_impl::check_reduction_block("rfactor", b);
  if (rf_loop->for_kind != ir::ForKind::Serial)
    user_error(where, " is ", ir::for_kind_name(rf_loop->for_kind), "; rfactor needs a serial loop (make the ",
               "loop of the new block parallel afterwards)");
  std::vector<ir::Stmt> loops = enclosing_loops(blk.ancestors);

  // Which loops feed spatial and which feed reduction iteration variables.
  std::unordered_set<const ir::VarNode*> spatial_loops, reduce_loops;
  for (size_t i = 0; i < b.iter_vars.size(); ++i)
    for (auto& l : loops) {
      const ir::VarNode* v = l.as<ir::ForNode>()->loop_var.get();
      if (!ir::uses_var(realize->iter_values[i], v)) continue;
      (b.iter_vars[i].kind == ir::IterKind::DataPar ? spatial_loops : reduce_loops).insert(v);
    }
  auto feeding = [&](const ir::VarNode* v, ir::IterKind kind) {
    std::string s;
    for (size_t i = 0; i < b.iter_vars.size(); ++i)
      if (b.iter_vars[i].kind == kind && ir::uses_var(realize->iter_values[i], v))
        s += (s.empty() ? "" : ", ") + reduction_impl::quoted(b.iter_vars[i].var.name());
    return s;
  };
  std::vector<ir::Stmt> reduction_loop_list;
  for (auto& l : loops)
    if (reduce_loops.count(l.as<ir::ForNode>()->loop_var.get()) && !spatial_loops.count(l.as<ir::ForNode>()->loop_var.get()))
      reduction_loop_list.push_back(l);
  if (spatial_loops.count(rf_var.get()))
    user_error(where, " feeds the spatial iteration variable(s) ", feeding(rf_var.get(), ir::IterKind::DataPar), " of block '",
               b.name, "'; rfactor needs a loop that feeds only reduction variables: one of ", loop_names(reduction_loop_list));
  if (!reduce_loops.count(rf_var.get()))
    user_error(where, " is not a reduction loop of block '", b.name, "': it feeds no reduction iteration variable; ",
               "the reduction loops are ", loop_names(reduction_loop_list));
  for (auto& l : loops) {
    const ir::VarNode* v = l.as<ir::ForNode>()->loop_var.get();
    if (spatial_loops.count(v) && reduce_loops.count(v))
      user_error("rfactor: loop ", loop_name(l), " feeds both the spatial variable(s) ", feeding(v, ir::IterKind::DataPar),
                 " and the reduction variable(s) ", feeding(v, ir::IterKind::CommReduce), " of block '", b.name,
                 "'; rfactor cannot separate them (split the fused loop back, or rfactor before fusing)");
  }
  // The partial results are computed in a copy of the loop nest placed before it, so the block
  // must be the first work under the outermost loop, and the reduction loops (left out of the
  // write-back nest) must contain nothing else.
  if (!child_blocks(loops[0])[0].same_as(blk.stmt))
    user_error("rfactor: block '", block_of(child_blocks(loops[0])[0])->name, "' runs before block '", b.name,
               "' under their common outermost loop ", loop_name(loops[0]),
               "; rfactor moves the partial reduction in front of that loop, so the reduction block must come first in it");
  bool met_reduction = false;
  for (auto& l : loops) {
    auto* n = l.as<ir::ForNode>();
    if (reduce_loops.count(n->loop_var.get())) {
      if (!met_reduction && (child_blocks(l).size() != 1 || !all_work_in_blocks(n->body)))
        user_error("rfactor: the reduction loop ", loop_name(l), " of block '", b.name,
                   "' contains other work besides the block; rfactor needs reduction loops around the block alone");
      met_reduction = true;
    } else if (!spatial_loops.count(n->loop_var.get()) && met_reduction && !ir::is_const_int(arith::simplify(n->extent), 1))
      user_error("rfactor: loop ", loop_name(l), " feeds no iteration variable of block '", b.name,
                 "' but repeats it inside a reduction loop; remove it (or give it extent 1) before rfactor");
  }
  for (auto& l : loops)
    if (ir::uses_var(rf_loop->extent, l.as<ir::ForNode>()->loop_var.get()) ||
        ir::uses_var(rf_loop->min, l.as<ir::ForNode>()->loop_var.get()))
      user_error(where, ": its extent ", ir::to_text(rf_loop->extent), " depends on loop ", loop_name(l),
                 ", so it cannot be the size of the new buffer's dimension");

  reduction_impl::Reducer red = reduction_impl::match_reducer(b);
  const ir::Buffer& out = red.store->buffer;
  int64_t ndim = int64_t(out->shape.size());
  if (factor_axis < -(ndim + 1) || factor_axis > ndim)
    user_error(where, ": factor_axis ", factor_axis, " is out of range; buffer '", out->name, "' has ", ndim,
               " dimension(s), so the new dimension goes at a position in [0, ", ndim, "] (or [", -(ndim + 1),
               ", -1] counting from the end)");
  if (factor_axis < 0) factor_axis += ndim + 1;

  // Loops feeding reduction variables, except the rfactor loop, are reduced inside the rfactor
  // block and left out of the write-back nest. Their start must be where a slice begins.
  std::unordered_set<const ir::VarNode*> dropped;
  for (auto* v : reduce_loops)
    if (v != rf_var.get()) dropped.insert(v);
  for (auto& c : reduction_impl::conjuncts(realize->predicate))
    if (!reduction_impl::holds_at_loop_start(c, dropped, loops))
      user_error("rfactor: the predicate of block '", b.name, "' (", ir::to_text(realize->predicate),
                 ") restricts the reduction loops in a way rfactor cannot split into per-'", rf_var.name(),
                 "' slices; it handles predicates like `i0 * 8 + i1 < n` that split makes");

  DataType idx_t = rf_var.dtype();
  std::vector<ir::Expr> rf_shape = out->shape;
  rf_shape.insert(rf_shape.begin() + factor_axis, rf_loop->extent);
  ir::Buffer rf_buf = ir::make_buffer(reduction_impl::fresh_buffer_name(f, out->name + "_rf"), out->dtype, rf_shape, out->scope);

  // ---- the rfactor block: partial results per value of the rfactor loop ----------------------
  ir::BlockNode rf;
  rf.name = reduction_impl::fresh_block_name(f, b.name + "_rf");
  rf.annotations = b.annotations;
  std::vector<ir::Expr> rf_values;
  ir::IterVar extra{ir::Var("v_" + rf_var.name(), idx_t), ir::Range{rf_loop->min, rf_loop->extent}, ir::IterKind::DataPar, {}};
  rf.iter_vars.push_back(extra);
  rf_values.push_back(rf_var);
  ir::VarMap loop_to_iv{{rf_var.get(), extra.var}}, var_map;
  for (size_t i = 0; i < b.iter_vars.size(); ++i) {
    const ir::IterVar& iv = b.iter_vars[i];
    const ir::Expr& binding = realize->iter_values[i];
    if (iv.kind == ir::IterKind::DataPar || !ir::uses_var(binding, rf_var.get())) {
      ir::IterVar nv{iv.var.copy_with_suffix(""), iv.dom, iv.kind, iv.thread_tag};
      var_map[iv.var.get()] = nv.var;
      rf.iter_vars.push_back(nv);
      rf_values.push_back(binding);
      continue;
    }
    // A reduction variable fed by the rfactor loop: one reduction variable per loop it uses.
    for (auto& l : loops) {
      auto* n = l.as<ir::ForNode>();
      if (!ir::uses_var(binding, n->loop_var.get()) || loop_to_iv.count(n->loop_var.get())) continue;
      ir::IterVar nv{ir::Var("v_" + n->loop_var.name(), n->loop_var.dtype()), ir::Range{n->min, n->extent},
                     ir::IterKind::CommReduce, {}};
      loop_to_iv[n->loop_var.get()] = nv.var;
      rf.iter_vars.push_back(nv);
      rf_values.push_back(n->loop_var);
    }
    var_map[iv.var.get()] = ir::substitute(binding, loop_to_iv);
  }
  auto with_rf_index = [&](std::vector<ir::Expr> idx, const ir::Expr& v) {
    ir::Expr i = ir::is_const_int(rf_loop->min, 0) ? v : arith::simplify(v - rf_loop->min);
    idx.insert(idx.begin() + factor_axis, i);
    return idx;
  };
  std::vector<ir::Expr> out_idx = red.store->indices;
  std::vector<ir::Expr> rf_idx = with_rf_index(out_idx, extra.var);
  for (auto& e : rf_idx) e = ir::substitute(e, var_map);
  ir::Stmt rf_body = ir::buffer_store(rf_buf, ir::reduce_combine(red.op, ir::buffer_load(rf_buf, rf_idx), ir::substitute(red.rhs, var_map)),
                                      rf_idx);
  if (red.cond.defined()) rf_body = ir::if_then_else(ir::substitute(red.cond, var_map), rf_body);
  rf.body = rf_body;
  rf.init = ir::buffer_store(rf_buf, ir::reduce_identity(red.op, out->dtype), rf_idx);
  auto to_rf_region = [&](const ir::BufferRegion& r) {
    ir::BufferRegion n{rf_buf, r.region};
    n.region.insert(n.region.begin() + factor_axis, ir::Range{rf_idx[size_t(factor_axis)], ir::int_imm(1, idx_t)});
    return n;
  };
  for (auto& r : reduction_impl::substitute_regions(b.reads, var_map)) rf.reads.push_back(r.buffer.same_as(out) ? to_rf_region(r) : r);
  for (auto& r : reduction_impl::substitute_regions(b.writes, var_map)) rf.writes.push_back(to_rf_region(r));
  // A copy of the loop nest (fresh variables, same names) around it.
  ir::VarMap new_loops;
  for (auto& l : loops) new_loops[l.as<ir::ForNode>()->loop_var.get()] = l.as<ir::ForNode>()->loop_var.copy_with_suffix("");
  for (auto& v : rf_values) v = ir::substitute(v, new_loops);
  ir::Stmt rf_nest = ir::block_realize(rf_values, ir::substitute(realize->predicate, new_loops), ir::make_block(std::move(rf)));
  for (size_t k = loops.size(); k-- > 0;) {
    auto* l = loops[k].as<ir::ForNode>();
    rf_nest = ir::for_loop(ir::Var(std::static_pointer_cast<const ir::VarNode>(new_loops[l->loop_var.get()].ptr())),
                           ir::substitute(l->min, new_loops), ir::substitute(l->extent, new_loops), l->for_kind, rf_nest,
                           l->thread_tag, l->annotations);
  }

  // ---- the write-back block: the original block reducing over the partial results -------------
  ir::BlockNode wb;
  wb.name = b.name;
  wb.annotations = b.annotations;
  std::vector<ir::Expr> wb_values;
  ir::VarMap wb_map;
  for (size_t i = 0; i < b.iter_vars.size(); ++i) {
    const ir::IterVar& iv = b.iter_vars[i];
    if (iv.kind != ir::IterKind::DataPar) continue;
    ir::IterVar nv{iv.var.copy_with_suffix(""), iv.dom, iv.kind, iv.thread_tag};
    wb_map[iv.var.get()] = nv.var;
    wb.iter_vars.push_back(nv);
    wb_values.push_back(realize->iter_values[i]);
  }
  ir::IterVar wb_red{ir::Var("v_" + rf_var.name(), idx_t), ir::Range{rf_loop->min, rf_loop->extent}, ir::IterKind::CommReduce, {}};
  wb.iter_vars.push_back(wb_red);
  wb_values.push_back(rf_var);
  std::vector<ir::Expr> wb_idx = out_idx;
  for (auto& e : wb_idx) e = ir::substitute(e, wb_map);
  std::vector<ir::Expr> wb_rf_idx = with_rf_index(wb_idx, wb_red.var);
  wb.body = ir::buffer_store(out, ir::reduce_combine(red.op, ir::buffer_load(out, wb_idx), ir::buffer_load(rf_buf, wb_rf_idx)), wb_idx);
  wb.init = ir::substitute(b.init, wb_map);
  wb.reads = reduction_impl::read_regions_of(ir::seq({wb.body, wb.init}));
  wb.writes = reduction_impl::substitute_regions(b.writes, wb_map);
  ir::VarMap at_start;
  for (auto& l : loops)
    if (dropped.count(l.as<ir::ForNode>()->loop_var.get())) at_start[l.as<ir::ForNode>()->loop_var.get()] = l.as<ir::ForNode>()->min;
  arith::DomMap dom = reduction_impl::loop_domains(blk.ancestors);
  for (auto* d : dropped)
    for (auto it = dom.begin(); it != dom.end(); ++it)
      if (it->first.get() == d) {
        dom.erase(it);
        break;
      }
  ir::Expr wb_pred = arith::simplify(ir::substitute(realize->predicate, at_start), dom);
  ir::Stmt wb_realize = ir::block_realize(wb_values, wb_pred, ir::make_block(std::move(wb)));

  // The original nest without the dropped loops, the block replaced by the write-back block.
  class WriteBack : public ir::StmtExprMutator {
   public:
    WriteBack(const std::unordered_set<const ir::VarNode*>& d, const ir::StmtNode* old, ir::Stmt repl)
        : dropped_(d), old_(old), repl_(std::move(repl)) {}
    using ir::StmtExprMutator::mutate;
    ir::Expr mutate(const ir::Expr& e) override { return e; }
    ir::Stmt mutate_for(const ir::Stmt& s) override {
      auto* n = s.as<ir::ForNode>();
      if (dropped_.count(n->loop_var.get())) return mutate(n->body);
      return ir::StmtExprMutator::mutate_for(s);
    }
    ir::Stmt mutate_block_realize(const ir::Stmt& s) override { return s.get() == old_ ? repl_ : s; }

   private:
    const std::unordered_set<const ir::VarNode*>& dropped_;
    const ir::StmtNode* old_;
    ir::Stmt repl_;
  };
  ir::Stmt wb_nest = WriteBack(dropped, blk.stmt.get(), wb_realize).mutate(loops[0]);

  // Both nests replace the old one; the scope block allocates the new buffer.
  ir::Stmt scope;
  for (size_t i = blk.ancestors.size(); i-- > 0 && !scope.defined();)
    if (blk.ancestors[i].as<ir::BlockNode>()) scope = blk.ancestors[i];
  KILN_ICHECK(scope.defined(), "rfactor: block '", b.name, "' has no block around it");
  ir::BlockNode scope_block = *scope.as<ir::BlockNode>();
  scope_block.body = detail::Replacer(loops[0].get(), ir::seq({rf_nest, wb_nest})).mutate(scope_block.body);
  scope_block.alloc_buffers.push_back(rf_buf);
  std::string rf_name = block_of(child_blocks(rf_nest)[0])->name;
  return {replace(f, scope, ir::Stmt(ir::make_block(std::move(scope_block)))), rf_name};
}

}  // namespace kiln::tir::schedule_detail

namespace kiln::tir {

inline BlockRV Schedule::decompose_reduction(const BlockRV& block, const LoopRV& loop) {
  std::string name = schedule_detail::block_of(locate(block, "decompose_reduction").stmt)->name;
  ir::Var v = loop_var(loop, "decompose_reduction");
  auto r = schedule_detail::decompose_reduction(func_, name, v);
  func_ = r.func;
  BlockRV out = new_block(r.block);
  record("decompose_reduction", {TraceValue::block(block.id), TraceValue::loop(loop.id)}, {TraceValue::block(out.id)});
  return out;
}

inline BlockRV Schedule::rfactor(const LoopRV& loop, int64_t factor_axis) {
  ir::Var v = loop_var(loop, "rfactor");
  auto r = schedule_detail::rfactor(func_, v, factor_axis);
  func_ = r.func;
  BlockRV out = new_block(r.block);
  record("rfactor", {TraceValue::loop(loop.id), TraceValue::integer(factor_axis)}, {TraceValue::block(out.id)});
  return out;
}

inline const bool registered_reduction = [] {
  register_instruction("decompose_reduction", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                                 return {s.decompose_reduction(in.block(0), in.loop(1)).id};
                                               },
                                               nullptr});
  register_instruction("rfactor", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                     return {s.rfactor(in.loop(0), in.integer(1)).id};
                                   },
                                   nullptr});
  return true;
}();

}  // namespace kiln::tir
