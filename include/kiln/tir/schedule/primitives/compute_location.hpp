// kiln/tir/schedule/primitives/compute_location.hpp: compute_at, reverse_compute_at, compute_inline and
// reverse_compute_inline.
//
// compute_at moves a producer block under a loop of its consumers, inside new loops that cover only
// the region of its output the consumers under that loop read in one iteration of it;
// reverse_compute_at moves a consumer under a loop of its producers, covering what they wrote in one
// iteration. Both analyse the blocks of one scope (the block around them) in program order: a block
// may only move where every value it reads and every reader of what it writes stays the same.
// compute_inline substitutes a one-store block into its readers; reverse_compute_inline merges a
// one-store consumer into its producer.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "kiln/arith/interval.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir::schedule_detail {

// The analyses and rewrites behind the primitives, in their own namespace: other primitive files
// have helpers of the same names in schedule_detail.
namespace location_detail {

// ---- blocks, scopes and buffers ---------------------------------------------------------------

// The Block statement around a statement (the scope it lives in); undefined at the top.
inline ir::Stmt scope_block_of(const std::vector<ir::Stmt>& ancestors) {
  for (size_t i = ancestors.size(); i-- > 0;)
    if (ancestors[i].as<ir::BlockNode>()) return ancestors[i];
  return {};
}
inline std::string block_name_of(const ir::Stmt& scope_block) {
  auto* b = scope_block.as<ir::BlockNode>();
  return b ? "'" + b->name + "'" : "(none)";
}

inline bool has_buffer(const std::vector<ir::BufferRegion>& rs, const ir::Buffer& b) {
  for (auto& r : rs)
    if (r.buffer.same_as(b)) return true;
  return false;
}
// True when a block of `rs` names a buffer of `bs`.
inline bool shares_buffer(const std::vector<ir::BufferRegion>& rs, const std::vector<ir::BufferRegion>& bs) {
  for (auto& b : bs)
    if (has_buffer(rs, b.buffer)) return true;
  return false;
}
// The first buffer of `bs` that `rs` also names ("" when none).
inline std::string shared_buffer_name(const std::vector<ir::BufferRegion>& rs, const std::vector<ir::BufferRegion>& bs) {
  for (auto& b : bs)
    if (has_buffer(rs, b.buffer)) return b.buffer->name;
  return "";
}

inline bool is_param_buffer(const ir::PrimFunc& f, const ir::Buffer& b) {
  for (auto& p : f->param_buffers)
    if (p.same_as(b)) return true;
  return false;
}

inline std::string quoted_blocks(const std::vector<ir::Stmt>& realizes) {
  std::string s;
  for (auto& r : realizes) s += (s.empty() ? "'" : ", '") + block_of(r)->name + "'";
  return s.empty() ? "(none)" : s;
}

inline bool is_ancestor(const std::vector<ir::Stmt>& ancestors, const ir::Stmt& s) {
  for (auto& a : ancestors)
    if (a.same_as(s)) return true;
  return false;
}

// The domains of the loops among `stmts`.
inline arith::DomMap loop_domains(const std::vector<ir::Stmt>& stmts) {
  arith::DomMap dom;
  for (auto& a : stmts)
    if (auto* l = a.as<ir::ForNode>()) dom[l->loop_var] = ir::Range{l->min, l->extent};
  return dom;
}

// The loops between `loop` (excluded) and a statement whose ancestors are given, as intervals.
inline arith::IntervalMap loops_below(const std::vector<ir::Stmt>& ancestors, const ir::Stmt& loop) {
  arith::IntervalMap m;
  bool below = !loop.defined();
  for (auto& a : ancestors) {
    if (a.same_as(loop)) {
      below = true;
      continue;
    }
    if (auto* l = a.as<ir::ForNode>(); l && below)
      m[l->loop_var] = {l->min, arith::simplify(l->min + l->extent - 1)};
  }
  return m;
}

inline ir::VarMap binding_map(const ir::BlockRealizeNode& r) {
  ir::VarMap m;
  for (size_t i = 0; i < r.iter_values.size(); ++i) m[r.block->iter_vars[i].var.get()] = r.iter_values[i];
  return m;
}

// Bindings made of loop variables, constants, + - and * by constants, floordiv / floormod by
// positive constants: the form whose image an interval analysis bounds exactly.
inline bool is_quasi_affine(const ir::Expr& e) {
  switch (e.kind()) {
    case ir::ExprKind::Var: case ir::ExprKind::IntImm: return true;
    case ir::ExprKind::Cast: return is_quasi_affine(e.as<ir::CastNode>()->value);
    case ir::ExprKind::Binary: {
      auto* n = e.as<ir::BinaryNode>();
      switch (n->op) {
        case ir::BinaryOp::Add: case ir::BinaryOp::Sub: return is_quasi_affine(n->a) && is_quasi_affine(n->b);
        case ir::BinaryOp::Mul:
          return (ir::const_int(n->b) && is_quasi_affine(n->a)) || (ir::const_int(n->a) && is_quasi_affine(n->b));
        case ir::BinaryOp::FloorDiv: case ir::BinaryOp::FloorMod: {
          auto c = ir::const_int(n->b);
          return c && *c > 0 && is_quasi_affine(n->a);
        }
        default: return false;
      }
    }
    default: return false;
  }
}

inline bool uses_any_var(const ir::Expr& e, const std::vector<ir::Var>& vars) {
  for (auto& v : vars)
    if (ir::uses_var(e, v.get())) return true;
  return false;
}

inline std::vector<ir::Expr> conjuncts(const ir::Expr& e) {
  if (auto* b = e.as<ir::BinaryNode>(); b && b->op == ir::BinaryOp::And) {
    auto l = conjuncts(b->a), r = conjuncts(b->b);
    l.insert(l.end(), r.begin(), r.end());
    return l;
  }
  return {e};
}

// True when the predicate of a BlockRealize only says that the bindings stay inside the iteration
// domains (what split adds): a block moved elsewhere with in-domain bindings loses nothing.
inline bool predicate_implied_by_domains(const ir::BlockRealizeNode& r) {
  if (ir::is_const_int(r.predicate, 1)) return true;
  for (auto& c : conjuncts(r.predicate)) {
    auto* b = c.as<ir::BinaryNode>();
    if (!b || !ir::is_comparison(b->op) || b->op == ir::BinaryOp::EQ || b->op == ir::BinaryOp::NE) return false;
    bool implied = false;
    for (size_t i = 0; i < r.iter_values.size() && !implied; ++i) {
      const ir::IterVar& iv = r.block->iter_vars[i];
      if (!r.iter_values[i].dtype().is_integer() || r.iter_values[i].dtype() != b->a.dtype()) continue;
      // c with the binding replaced by the iteration variable: v + d (op) rhs or lhs (op) v + d.
      for (int side = 0; side < 2 && !implied; ++side) {
        const ir::Expr& x = side == 0 ? b->a : b->b;
        const ir::Expr& other = side == 0 ? b->b : b->a;
        ir::Expr d = arith::simplify(x - r.iter_values[i]);
        if (!ir::const_int(d)) continue;
        ir::Var v = iv.var;
        ir::Expr moved = arith::simplify(ir::Expr(v) + d);
        ir::Expr cond = side == 0 ? ir::binary(b->op, moved, other) : ir::binary(b->op, other, moved);
        arith::DomMap dom{{v, iv.dom}};
        implied = cond.dtype().is_bool() && arith::can_prove(cond, dom);
      }
    }
    if (!implied) return false;
  }
  return true;
}

// Removes the statement `target` and every loop left empty by its removal.
namespace detail {
class StmtRemover : public ir::StmtExprMutator {
 public:
  explicit StmtRemover(const ir::StmtNode* t) : target_(t) {}
  using ir::StmtExprMutator::mutate;
  ir::Expr mutate(const ir::Expr& e) override { return e; }
  ir::Stmt mutate(const ir::Stmt& s) override {
    if (!s.defined()) return s;
    if (s.get() == target_) return ir::Stmt();
    switch (s.kind()) {
      case ir::StmtKind::For: {
        auto* n = s.as<ir::ForNode>();
        ir::Stmt b = mutate(n->body);
        if (!b.defined()) return b;
        return b.same_as(n->body) ? s : ir::for_loop(n->loop_var, n->min, n->extent, n->for_kind, b, n->thread_tag, n->annotations);
      }
      case ir::StmtKind::Seq: {
        auto* n = s.as<ir::SeqStmtNode>();
        std::vector<ir::Stmt> out;
        bool changed = false;
        for (auto& x : n->seq) {
          ir::Stmt y = mutate(x);
          changed |= !y.same_as(x);
          if (y.defined()) out.push_back(y);
        }
        if (!changed) return s;
        return out.empty() ? ir::Stmt() : ir::seq(std::move(out));
      }
      case ir::StmtKind::LetStmt: {
        auto* n = s.as<ir::LetStmtNode>();
        ir::Stmt b = mutate(n->body);
        if (!b.defined()) return b;
        return b.same_as(n->body) ? s : ir::let_stmt(n->var, n->value, b);
      }
      case ir::StmtKind::IfThenElse: {
        auto* n = s.as<ir::IfThenElseNode>();
        ir::Stmt t = mutate(n->then_case), e = mutate(n->else_case);
        if (t.same_as(n->then_case) && e.same_as(n->else_case)) return s;
        if (!t.defined() && !e.defined()) return ir::Stmt();
        return ir::if_then_else(n->cond, t.defined() ? t : ir::evaluate(ir::int_imm(0, DataType::int_(32))), e);
      }
      case ir::StmtKind::Block: {
        auto* n = s.as<ir::BlockNode>();
        ir::Stmt b = mutate(n->body);
        if (b.same_as(n->body)) return s;
        ir::BlockNode copy = *n;
        copy.body = b.defined() ? b : ir::evaluate(ir::int_imm(0, DataType::int_(32)));
        return ir::make_block(std::move(copy));
      }
      default: return ir::StmtExprMutator::mutate(s);
    }
  }
  ir::Stmt mutate_allocate(const ir::Stmt& s) override {
    auto* n = s.as<ir::AllocateNode>();
    ir::Stmt b = mutate(n->body);
    if (!b.defined()) return b;
    return b.same_as(n->body) ? s : ir::allocate(n->buffer, b);
  }

 private:
  const ir::StmtNode* target_;
};
}  // namespace detail

inline ir::PrimFunc remove_stmt(const ir::PrimFunc& f, const ir::Stmt& target) {
  return ir::with_body(f, detail::StmtRemover(target.get()).mutate(f->body));
}

// The per-dimension bounds (inclusive) of a block's access region as the loops in `relax` range over
// their domains; bounds the analysis cannot find are left undefined.
inline std::vector<arith::IntervalSet> relaxed_region(const ir::BufferRegion& r, const ir::BlockRealizeNode& realize,
                                                      const arith::IntervalMap& relax) {
  ir::VarMap bind = binding_map(realize);
  std::vector<arith::IntervalSet> out;
  for (auto& rg : r.region) {
    ir::Expr lo = ir::substitute(rg.min, bind);
    ir::Expr hi = ir::substitute(arith::simplify(rg.min + rg.extent - 1), bind);
    out.push_back({arith::eval_interval(lo, relax).min, arith::eval_interval(hi, relax).max});
  }
  return out;
}

// Hull of two inclusive intervals (undefined bounds stay undefined).
inline arith::IntervalSet hull(const arith::IntervalSet& a, const arith::IntervalSet& b, const arith::DomMap& dom) {
  auto pick = [&](const ir::Expr& x, const ir::Expr& y, bool lower) -> ir::Expr {
    if (!x.defined() || !y.defined()) return {};
    if (arith::detail::same_expr(x, y)) return x;
    if (arith::can_prove(lower ? ir::le(x, y) : ir::ge(x, y), dom)) return x;
    if (arith::can_prove(lower ? ir::le(y, x) : ir::ge(y, x), dom)) return y;
    return arith::simplify(lower ? ir::min(x, y) : ir::max(x, y), dom);
  };
  return {pick(a.min, b.min, true), pick(a.max, b.max, false)};
}

// `v + c` with c free of `vars`: the offset c, or nothing.
inline std::optional<ir::Expr> offset_from(const ir::Expr& index, const ir::Var& v, const std::vector<ir::Var>& vars) {
  if (!index.dtype().is_scalar() || index.dtype() != v.dtype()) return std::nullopt;
  ir::Expr c = arith::simplify(index - ir::Expr(v));
  if (uses_any_var(c, vars)) return std::nullopt;
  return c;
}

// ---- compute_at / reverse_compute_at --------------------------------------------------------------

struct ComputeAtRequest {
  std::string block;
  ir::Var loop;
  bool preserve_unit_loops = false;
  bool reverse = false;
};

inline std::vector<ir::Var> compute_at_candidates(const ir::PrimFunc& f, const std::string& block_name, bool reverse);

namespace detail {

class ComputeAt {
 public:
  ComputeAt(const ir::PrimFunc& f, ComputeAtRequest q, bool list_candidates)
      : f_(f), q_(std::move(q)), list_(list_candidates), prim_(q_.reverse ? "reverse_compute_at" : "compute_at") {}

  ir::PrimFunc run() {
    Located me = find_block(f_, q_.block);
    Located loop = find_loop(f_, q_.loop);
    KILN_ICHECK(me.found() && loop.found(), prim_, ": block or loop not found");
    loop_ = loop.stmt;
    where_ = std::string(prim_) + ": cannot compute block '" + q_.block + "' at loop " + loop_with_blocks(loop.stmt);
    const ir::BlockRealizeNode* realize = me.stmt.as<ir::BlockRealizeNode>();
    const ir::BlockNode* block = realize->block.get();

    // Where: the same scope, not an ancestor, not already under the loop.
    ir::Stmt scope = scope_block_of(me.ancestors);
    if (is_ancestor(loop.ancestors, ir::Stmt(realize->block)))
      fail_at("the loop is inside the block itself");
    if (!scope_block_of(loop.ancestors).same_as(scope))
      fail_at("the block is in the scope of block " + block_name_of(scope) + " but the loop is in the scope of block " +
              block_name_of(scope_block_of(loop.ancestors)) + "; a block moves only within its own scope");
    if (is_ancestor(me.ancestors, loop.stmt)) fail_at("the block is already under this loop");

    // What: a complete block or a reduction block with affine bindings and a plain predicate.
    check_block(*realize, scope);

    // The blocks of the scope in program order; the block's neighbours under and around the loop.
    std::vector<ir::Stmt> siblings = child_blocks(scope);
    size_t mine = index_of(siblings, me.stmt);
    std::vector<bool> under(siblings.size());
    std::vector<Located> locs;
    for (size_t k = 0; k < siblings.size(); ++k) {
      locs.push_back(find_block(f_, block_of(siblings[k])->name));
      under[k] = is_ancestor(locs[k].ancestors, loop.stmt);
    }
    size_t first_under = siblings.size(), last_under = 0;
    for (size_t k = 0; k < siblings.size(); ++k)
      if (under[k]) {
        first_under = std::min(first_under, k);
        last_under = k;
      }
    if (first_under == siblings.size()) fail_at("no block is under the loop");

    std::vector<ir::Stmt> subtrees = loop_subtrees(loop.stmt);
    size_t insert_at = 0;
    // The blocks whose regions decide the new domain: the consumers (compute_at) or producers
    // (reverse_compute_at) of the block under the loop.
    std::vector<size_t> deciders;
    if (!q_.reverse) {
      std::vector<ir::Stmt> outside;
      for (size_t k = 0; k < siblings.size(); ++k) {
        if (k == mine || !shares_buffer(block_of(siblings[k])->reads, block->writes)) continue;
        if (under[k]) deciders.push_back(k);
        else outside.push_back(siblings[k]);
      }
      if (deciders.empty() && outside.empty())
        fail_at("no block reads what it writes, so there is nowhere to compute it for; remove it, or leave it at the root");
      if (!outside.empty())
        fail_at("its consumer" + std::string(outside.size() > 1 ? "s " : " ") + quoted_blocks(outside) +
                (outside.size() > 1 ? " are" : " is") + " not under the loop; every block that reads '" +
                shared_buffer_name(block_of(outside[0])->reads, block->writes) + "' must be under it");
      if (mine > first_under)
        fail_at("the block runs after the loop, so its consumers under the loop would run before it");
      insert_at = subtrees.size();
      for (size_t j = 0; j < subtrees.size() && insert_at == subtrees.size(); ++j)
        for (size_t k : deciders)
          if (contains(subtrees[j], siblings[k])) insert_at = j;
      // Nothing between the old and the new place may write what the block reads: it would read
      // other values.
      for (size_t k = mine + 1; k <= last_under; ++k) {
        const ir::BlockNode* o = block_of(siblings[k]);
        std::string b = shared_buffer_name(o->writes, block->reads);
        if (!b.empty())
          fail_pipeline("block '" + o->name + "' writes '" + b + "', which '" + q_.block + "' reads, and runs " +
                        (under[k] ? "under the loop" : "between the block and the loop") +
                        "; moving the block past it would read other values");
      }
    } else {
      std::vector<ir::Stmt> after;
      for (size_t k = 0; k < siblings.size(); ++k) {
        if (k == mine || !shares_buffer(block_of(siblings[k])->writes, block->reads)) continue;
        if (under[k]) deciders.push_back(k);
        else if (k > last_under && k < mine) after.push_back(siblings[k]);
      }
      if (mine < last_under) fail_at("the block runs before the loop, so it would read what its producers under the loop have not written yet");
      if (deciders.empty())
        fail_at("none of its producers (blocks writing what it reads) is under the loop");
      if (!after.empty())
        fail_pipeline("its producer" + std::string(after.size() > 1 ? "s " : " ") + quoted_blocks(after) +
                      (after.size() > 1 ? " run" : " runs") + " between the loop and the block, so under the loop it would read what " +
                      (after.size() > 1 ? "they have" : "it has") + " not written yet");
      for (size_t j = 0; j < subtrees.size(); ++j)
        for (size_t k : deciders)
          if (contains(subtrees[j], siblings[k])) insert_at = j + 1;
      for (size_t k = first_under; k < mine; ++k) {
        const ir::BlockNode* o = block_of(siblings[k]);
        std::string b = shared_buffer_name(o->reads, block->writes);
        if (b.empty()) b = shared_buffer_name(o->writes, block->writes);
        if (!b.empty())
          fail_pipeline("block '" + o->name + "' also uses '" + b + "', which '" + q_.block +
                        "' writes, and runs before it; moving the block would change what it sees");
      }
      check_producer_reductions(siblings, deciders, loop);
    }

    // The region: what the deciders under the loop read (or write) in one iteration of it.
    arith::DomMap outer = loop_domains(loop.ancestors);
    auto* l = loop.stmt.as<ir::ForNode>();
    outer[l->loop_var] = ir::Range{l->min, l->extent};
    std::vector<ir::BufferRegion> dep_buffers = q_.reverse ? block->reads : block->writes;
    std::vector<std::pair<ir::Buffer, std::vector<arith::IntervalSet>>> regions;
    for (size_t k : deciders) {
      const ir::BlockRealizeNode* r = siblings[k].as<ir::BlockRealizeNode>();
      arith::IntervalMap relax = loops_below(locs[k].ancestors, loop.stmt);
      for (auto& acc : q_.reverse ? r->block->writes : r->block->reads) {
        if (!has_buffer(dep_buffers, acc.buffer)) continue;
        auto box = relaxed_region(acc, *r, relax);
        bool merged = false;
        for (auto& [b, reg] : regions)
          if (b.same_as(acc.buffer)) {
            for (size_t d = 0; d < reg.size(); ++d) reg[d] = hull(reg[d], box[d], outer);
            merged = true;
          }
        if (!merged) regions.push_back({acc.buffer, box});
      }
    }
    std::vector<std::optional<arith::IntervalSet>> doms = q_.reverse ? consumer_domains(*block, regions, outer)
                                                                     : producer_domains(*block, regions, outer);
    ir::Stmt nest = build_nest(*realize, doms, outer);
    check_parallel_reduction(*block, doms, loop, outer);

    std::vector<ir::Stmt> anc = loop.ancestors;
    anc.push_back(loop.stmt);
    nest = simplify_bindings(nest, anc);
    ir::PrimFunc g = remove_stmt(f_, me.stmt);
    Located again = find_loop(g, q_.loop);
    std::vector<ir::Stmt> parts = loop_subtrees(again.stmt);
    parts.insert(parts.begin() + std::ptrdiff_t(insert_at), nest);
    auto* nl = again.stmt.as<ir::ForNode>();
    ir::Stmt body = ir::seq(parts);
    return replace(g, again.stmt, ir::for_loop(nl->loop_var, nl->min, nl->extent, nl->for_kind, body, nl->thread_tag, nl->annotations));
  }

 private:
  const ir::PrimFunc& f_;
  ComputeAtRequest q_;
  bool list_;
  const char* prim_;
  std::string where_;
  ir::Stmt loop_;

  [[noreturn]] void fail(const std::string& why) { user_error(where_, ": ", why); }
  // A refusal about the place: says where the block can go instead.
  [[noreturn]] void fail_at(const std::string& why) {
    if (!list_) user_error(where_, ": ", why);
    std::vector<ir::Var> ok = compute_at_candidates(f_, q_.block, q_.reverse);
    std::string legal;
    for (auto& v : ok) legal += (legal.empty() ? "" : ", ") + loop_with_blocks(find_loop(f_, v).stmt);
    if (ok.empty())
      user_error(where_, ": ", why, ". There is no loop where ", prim_, " of '", q_.block,
                 "' is legal; leave it where it is (LoopRV::root())");
    user_error(where_, ": ", why, ". ", prim_, " of '", q_.block, "' is legal at loop", ok.size() > 1 ? "s " : " ", legal,
               ", or at LoopRV::root() to leave it where it is");
  }
  [[noreturn]] void fail_pipeline(const std::string& why) { fail_at(why); }

  static size_t index_of(const std::vector<ir::Stmt>& v, const ir::Stmt& s) {
    for (size_t k = 0; k < v.size(); ++k)
      if (v[k].same_as(s)) return k;
    return v.size();
  }
  static bool contains(const ir::Stmt& tree, const ir::Stmt& target) {
    bool found = false;
    walk(tree, [&](const ir::Stmt& s, const std::vector<ir::Stmt>&) { found |= s.same_as(target); });
    return found;
  }
  static std::vector<ir::Stmt> loop_subtrees(const ir::Stmt& loop) {
    const ir::Stmt& b = loop.as<ir::ForNode>()->body;
    if (auto* q = b.as<ir::SeqStmtNode>()) return q->seq;
    return {b};
  }

  void check_block(const ir::BlockRealizeNode& r, const ir::Stmt& scope) {
    const ir::BlockNode& b = *r.block.get();
    if (!q_.reverse)
      for (auto& w : b.writes)
        if (is_param_buffer(f_, w.buffer))
          fail("it writes the function parameter '" + w.buffer->name +
               "' (it is an output block); compute_at moves blocks whose results other blocks read. Move its "
               "consumers instead, or its producers to it with reverse_compute_at / compute_at");
    bool reduction = false;
    for (auto& iv : b.iter_vars) {
      if (iv.kind == ir::IterKind::CommReduce) reduction = true;
      else if (iv.kind != ir::IterKind::DataPar)
        fail("its iteration variable '" + iv.var.name() + "' is " + ir::iter_kind_name(iv.kind) +
             "; only complete blocks (all spatial) and reduction blocks can move");
    }
    for (size_t i = 0; i < r.iter_values.size(); ++i)
      if (!is_quasi_affine(r.iter_values[i]))
        fail("its binding '" + b.iter_vars[i].var.name() + " = " + ir::to_text(r.iter_values[i]) +
             "' is not affine in the loops around it (only + - * by constants, floordiv and floormod by constants)");
    if (!reduction && shares_buffer(b.reads, b.writes))
      fail("it reads '" + shared_buffer_name(b.reads, b.writes) +
           "', which it also writes, without being a reduction block; only complete blocks and reduction blocks can move");
    if (reduction && !b.init.defined())
      fail("it has reduction iteration variables but no init; only complete blocks and reduction blocks can move");
    if (!predicate_implied_by_domains(r))
      fail("its predicate " + ir::to_text(r.predicate) +
           " says more than that its bindings stay in their domains, and would be lost in the new loops");
    // The only writer of what it writes: otherwise moving it reorders the writes.
    for (auto& s : child_blocks(scope)) {
      const ir::BlockNode* o = block_of(s);
      if (o == &b) continue;
      std::string shared = shared_buffer_name(o->writes, b.writes);
      if (!shared.empty())
        fail("block '" + o->name + "' also writes '" + shared + "'; a block moves only when it is the only writer of " +
             "its buffers in its scope");
    }
  }

  // reverse_compute_at under a loop that splits a producer's reduction would read partial sums.
  void check_producer_reductions(const std::vector<ir::Stmt>& siblings, const std::vector<size_t>& producers,
                                 const Located& loop) {
    // The loops of this scope from the top down to the loop itself.
    std::vector<ir::Var> outer_vars;
    for (auto& a : loop.ancestors) {
      if (a.as<ir::BlockNode>()) outer_vars.clear();
      if (auto* l = a.as<ir::ForNode>()) outer_vars.push_back(l->loop_var);
    }
    outer_vars.push_back(loop.stmt.as<ir::ForNode>()->loop_var);
    for (size_t k : producers) {
      auto* r = siblings[k].as<ir::BlockRealizeNode>();
      for (size_t i = 0; i < r->iter_values.size(); ++i) {
        const ir::IterVar& iv = r->block->iter_vars[i];
        if (iv.kind == ir::IterKind::DataPar) continue;
        for (auto& v : outer_vars)
          if (ir::uses_var(r->iter_values[i], v.get()))
            fail_at("loop '" + v.name() + "' feeds the reduction variable '" + iv.var.name() + "' of its producer '" +
                    r->block->name + "', so under it the block would read partial results");
      }
    }
  }

  // compute_at: each iteration variable of the producer covers the part of its domain whose writes
  // the consumers read. Variables the writes do not pin down keep their whole domain.
  std::vector<std::optional<arith::IntervalSet>> producer_domains(
      const ir::BlockNode& b, const std::vector<std::pair<ir::Buffer, std::vector<arith::IntervalSet>>>& regions,
      const arith::DomMap& outer) {
    std::vector<ir::Var> vars;
    for (auto& iv : b.iter_vars) vars.push_back(iv.var);
    std::vector<std::optional<arith::IntervalSet>> out(vars.size());
    std::vector<bool> full(vars.size(), false);
    for (auto& w : b.writes) {
      const std::vector<arith::IntervalSet>* need = nullptr;
      for (auto& [buf, reg] : regions)
        if (buf.same_as(w.buffer)) need = &reg;
      if (!need) continue;  // nobody under the loop reads this one
      std::vector<std::optional<arith::IntervalSet>> mine(vars.size());
      for (size_t d = 0; d < w.region.size(); ++d) {
        const ir::Expr& idx = w.region[d].min;
        if (!uses_any_var(idx, vars)) continue;
        arith::IntervalSet dim = (*need)[d];
        if (!dim.min.defined()) dim.min = ir::make_const(idx.dtype(), 0);
        if (!dim.max.defined()) dim.max = arith::simplify(w.buffer->shape[d] - 1);
        bool matched = false;
        if (ir::is_const_int(w.region[d].extent, 1))
          for (size_t i = 0; i < vars.size() && !matched; ++i) {
            auto c = offset_from(idx, vars[i], vars);
            if (!c) continue;
            matched = true;
            arith::IntervalSet s{arith::simplify(dim.min - *c, outer), arith::simplify(dim.max - *c, outer)};
            if (!mine[i]) mine[i] = s;
            else mine[i] = arith::IntervalSet{arith::simplify(ir::max(mine[i]->min, s.min), outer),
                                              arith::simplify(ir::min(mine[i]->max, s.max), outer)};
          }
        if (!matched)  // some other index form: its variables cover their whole domains
          for (size_t i = 0; i < vars.size(); ++i)
            if (ir::uses_var(idx, vars[i].get())) full[i] = true;
      }
      for (size_t i = 0; i < vars.size(); ++i) {
        if (!mine[i]) {
          full[i] = true;
          continue;
        }
        out[i] = out[i] ? hull(*out[i], *mine[i], outer) : *mine[i];
      }
    }
    for (size_t i = 0; i < vars.size(); ++i)
      if (full[i]) out[i] = std::nullopt;
    return out;
  }

  // reverse_compute_at: each iteration variable of the consumer covers the instances whose reads
  // the producers under the loop wrote in one iteration.
  std::vector<std::optional<arith::IntervalSet>> consumer_domains(
      const ir::BlockNode& b, const std::vector<std::pair<ir::Buffer, std::vector<arith::IntervalSet>>>& regions,
      const arith::DomMap& outer) {
    std::vector<ir::Var> vars;
    for (auto& iv : b.iter_vars) vars.push_back(iv.var);
    std::vector<std::optional<arith::IntervalSet>> out(vars.size());
    for (auto& rd : b.reads) {
      const std::vector<arith::IntervalSet>* made = nullptr;
      for (auto& [buf, reg] : regions)
        if (buf.same_as(rd.buffer)) made = &reg;
      if (!made) continue;
      for (size_t d = 0; d < rd.region.size(); ++d) {
        const ir::Expr& idx = rd.region[d].min;
        if (!uses_any_var(idx, vars)) continue;
        if (!ir::is_const_int(arith::simplify(rd.region[d].extent), 1))
          fail("it reads a window of '" + rd.buffer->name + "' (extent " + ir::to_text(rd.region[d].extent) +
               " in dimension " + std::to_string(d) + ") per instance, so no set of its instances reads exactly what " +
               "one iteration of the loop produces");
        const arith::IntervalSet& dim = (*made)[d];
        if (!dim.min.defined() || !dim.max.defined())
          fail("the region of '" + rd.buffer->name + "' written under the loop cannot be bounded in dimension " +
               std::to_string(d));
        bool matched = false;
        for (size_t i = 0; i < vars.size() && !matched; ++i) {
          auto c = offset_from(idx, vars[i], vars);
          if (!c) continue;
          matched = true;
          if (b.iter_vars[i].kind != ir::IterKind::DataPar)
            fail("its reduction variable '" + vars[i].name() + "' reads '" + rd.buffer->name +
                 "' along what the loop splits, so its reduction would be split across the loop");
          arith::IntervalSet s{arith::simplify(dim.min - *c, outer), arith::simplify(dim.max - *c, outer)};
          if (out[i] && !(arith::detail::same_expr(out[i]->min, s.min) && arith::detail::same_expr(out[i]->max, s.max)))
            fail("its reads of what the loop produces pin '" + vars[i].name() +
                 "' to different ranges, so some of its instances would never run");
          out[i] = s;
        }
        if (!matched)
          fail("it reads '" + rd.buffer->name + "' at index " + ir::to_text(idx) + " in dimension " + std::to_string(d) +
               ", which is not one iteration variable plus an offset; its instances for one iteration of the loop "
               "cannot be told apart");
      }
    }
    return out;
  }

  // reverse_compute_at must still run every instance of the consumer: over all iterations of the
  // loops around the new place, the ranges of each iteration variable must reach both ends of its
  // domain (a consumer that also reads other buffers, like concat, would otherwise lose instances).
  // Between the ends the ranges follow the producers' contiguous writes, so they leave no gap.
  void check_covers_domain(const ir::IterVar& iv, const ir::Expr& lo, const ir::Expr& hi, const arith::DomMap& outer) {
    arith::IntervalMap im;
    for (auto& [v, rg] : outer) im[v] = arith::IntervalSet{rg.min, arith::simplify(rg.min + rg.extent - 1)};
    arith::IntervalSet lo_all = arith::eval_interval(lo, im), hi_all = arith::eval_interval(hi, im);
    ir::Expr dlo = iv.dom.min, dhi = arith::simplify(iv.dom.min + iv.dom.extent - 1);
    bool covered = lo_all.min.defined() && hi_all.max.defined() && arith::can_prove(ir::le(lo_all.min, dlo)) &&
                   arith::can_prove(ir::ge(hi_all.max, dhi));
    if (!covered)
      fail("over all iterations of the loop, the producers under it feed only [" +
           (lo_all.min.defined() ? ir::to_text(lo_all.min) : std::string("?")) + ", " +
           (hi_all.max.defined() ? ir::to_text(hi_all.max) : std::string("?")) + "] of its iteration variable '" +
           iv.var.name() + "', whose domain is [" + ir::to_text(dlo) + ", " + ir::to_text(dhi) +
           "]; the other instances would never run. Move it under a loop whose producers cover its whole domain, "
           "or leave it at the root");
  }

  // The new loops (one per iteration variable, outermost first) and the block under them.
  ir::Stmt build_nest(const ir::BlockRealizeNode& r, const std::vector<std::optional<arith::IntervalSet>>& doms,
                      const arith::DomMap& outer) {
    const ir::BlockNode& b = *r.block.get();
    std::vector<ir::Var> outer_vars;
    for (auto& [v, rg] : outer) outer_vars.push_back(v);
    std::vector<ir::Expr> values;
    std::vector<std::pair<ir::Var, ir::Expr>> loops;
    ir::Expr pred = ir::bool_imm(true);
    for (size_t i = 0; i < b.iter_vars.size(); ++i) {
      const ir::IterVar& iv = b.iter_vars[i];
      DataType t = iv.var.dtype();
      ir::Expr dlo = iv.dom.min, dhi = arith::simplify(iv.dom.min + iv.dom.extent - 1);
      ir::Expr lo = dlo, hi = dhi;
      bool check_lo = false, check_hi = false, check_region = false;
      if (doms[i] && q_.reverse) check_covers_domain(iv, ir::cast(t, doms[i]->min), ir::cast(t, doms[i]->max), outer);
      if (doms[i]) {
        ir::Expr nlo = ir::cast(t, doms[i]->min), nhi = ir::cast(t, doms[i]->max);
        if (arith::can_prove(ir::ge(nlo, dlo), outer)) lo = nlo;
        else if (!arith::can_prove(ir::le(nlo, dlo), outer)) lo = nlo, check_lo = true;
        if (arith::can_prove(ir::le(nhi, dhi), outer)) hi = nhi;
        else if (!arith::can_prove(ir::ge(nhi, dhi), outer)) hi = nhi, check_hi = true;
      }
      lo = arith::simplify(lo, outer);
      ir::Expr extent = arith::simplify(hi - lo + 1, outer);
      if (uses_any_var(extent, outer_vars)) {
        arith::ConstIntBound cb = arith::const_int_bound(extent, outer);
        if (cb.max_value == arith::ConstIntBound::kPosInf)
          fail("the region of iteration variable '" + iv.var.name() + "' needed per iteration, [" + ir::to_text(lo) +
               ", " + ir::to_text(hi) + "], has no constant size");
        extent = ir::make_const(t, double(cb.max_value));
        check_region = true;
      }
      if (auto c = ir::const_int(extent); c && *c <= 0)
        fail("no instance of the block is needed under the loop (iteration variable '" + iv.var.name() + "' is empty)");
      ir::Expr value = lo;
      if (!ir::is_const_int(extent, 1) || q_.preserve_unit_loops) {
        ir::Var ax("ax" + std::to_string(loops.size()), t);
        loops.push_back({ax, extent});
        value = ir::is_const_int(lo, 0) ? ir::Expr(ax) : lo + ir::Expr(ax);
      }
      // Instances outside the block's domain must not run, whatever the region analysis gave (a
      // consumer under a non-dividing split reads past the domain where its predicate is false).
      ir::Expr last = arith::simplify(lo + extent - 1, outer);
      if (!check_lo && !arith::can_prove(ir::ge(lo, dlo), outer)) check_lo = true;
      if (!check_hi && !arith::can_prove(ir::le(last, dhi), outer)) check_hi = true;
      if (check_lo) pred = and_pred(pred, ir::ge(value, dlo));
      if (check_hi) pred = and_pred(pred, ir::lt(value, arith::simplify(iv.dom.min + iv.dom.extent)));
      if (check_region && !hi.same_as(dhi)) pred = and_pred(pred, ir::le(value, hi));
      values.push_back(value);
    }
    ir::Stmt s = ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(values, arith::simplify(pred, outer), r.block));
    for (size_t k = loops.size(); k-- > 0;)
      s = ir::for_loop(loops[k].first, ir::make_const(loops[k].first.dtype(), 0), loops[k].second, ir::ForKind::Serial, s);
    return s;
  }

  // A reduction recomputed in overlapping parts by parallel iterations would race on its output.
  void check_parallel_reduction(const ir::BlockNode& b, const std::vector<std::optional<arith::IntervalSet>>& doms,
                                const Located& loop, const arith::DomMap& outer) {
    bool reduction = false;
    for (auto& iv : b.iter_vars) reduction |= iv.kind == ir::IterKind::CommReduce;
    if (!reduction || q_.reverse) return;
    std::vector<ir::Stmt> loops = loop.ancestors;
    loops.push_back(loop.stmt);
    for (auto& a : loops) {
      auto* l = a.as<ir::ForNode>();
      if (!l || l->for_kind == ir::ForKind::Serial || l->for_kind == ir::ForKind::Unrolled) continue;
      bool disjoint = false;
      for (size_t i = 0; i < doms.size() && !disjoint; ++i) {
        if (!doms[i] || b.iter_vars[i].kind != ir::IterKind::DataPar) continue;
        ir::Expr next_lo = ir::substitute(doms[i]->min, ir::VarMap{{l->loop_var.get(), l->loop_var + 1}});
        disjoint = arith::can_prove(ir::lt(doms[i]->max, next_lo), outer);
      }
      if (!disjoint)
        fail("loop '" + l->loop_var.name() + "' around it is " + ir::for_kind_name(l->for_kind) +
             " and its iterations would recompute overlapping parts of the reduction at the same time");
    }
  }
};

}  // namespace detail

inline ir::PrimFunc compute_at(const ir::PrimFunc& f, const ComputeAtRequest& q, bool list_candidates = true) {
  return detail::ComputeAt(f, q, list_candidates).run();
}

// The loops of the block's scope where compute_at (reverse: reverse_compute_at) of the block is
// legal, in program order.
inline std::vector<ir::Var> compute_at_candidates(const ir::PrimFunc& f, const std::string& block_name, bool reverse) {
  Located me = find_block(f, block_name);
  if (!me.found()) return {};
  ir::Stmt scope = scope_block_of(me.ancestors);
  std::vector<ir::Var> loops, out;
  walk(f->body, [&](const ir::Stmt& s, const std::vector<ir::Stmt>& anc) {
    if (auto* l = s.as<ir::ForNode>(); l && scope_block_of(anc).same_as(scope) && !is_ancestor(me.ancestors, s))
      loops.push_back(l->loop_var);
  });
  for (auto& v : loops) {
    try {
      compute_at(f, ComputeAtRequest{block_name, v, false, reverse}, false);
      out.push_back(v);
    } catch (const UserError&) {
    }
  }
  return out;
}

// ---- compute_inline / reverse_compute_inline -------------------------------------------------------

// The regions a leaf block body reads, one per buffer in order of first load (like te's blocks):
// the hull of its accesses with the iteration variables as fixed symbols; a dimension indexed
// through another load (a gather), or one the analysis cannot bound, reads its whole extent.
inline std::vector<ir::BufferRegion> leaf_read_regions(const ir::Stmt& body) {
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
  loads.visit(body);
  auto loads_memory = [](const ir::Expr& e) {
    struct F : ir::ExprVisitor {
      bool found = false;
      void visit_buffer_load(const ir::BufferLoadNode&) override { found = true; }
    } v;
    v.visit(e);
    return v.found;
  };
  std::vector<ir::BufferRegion> out;
  for (size_t k = 0; k < loads.buffers.size(); ++k) {
    const ir::Buffer& b = loads.buffers[k];
    ir::BufferRegion r{b, {}};
    for (size_t d = 0; d < b->shape.size(); ++d) {
      std::vector<std::vector<ir::Expr>> dim;
      bool gather = false;
      for (auto& idx : loads.accesses[k]) {
        gather = gather || loads_memory(idx[d]);
        dim.push_back({idx[d]});
      }
      std::optional<ir::Range> exact;
      if (!gather) {
        try {
          exact = arith::infer_region(dim, {}).at(0);
        } catch (const UserError&) {
        }
      }
      r.region.push_back(exact ? *exact : ir::Range{ir::int_imm(0), b->shape[d]});
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The block's body as one BufferStore, or nullptr.
inline const ir::BufferStoreNode* single_store(const ir::BlockNode& b) { return b.body.as<ir::BufferStoreNode>(); }

// Store indices that are distinct iteration variables covering all of them: their positions.
inline std::optional<std::vector<size_t>> iter_var_indices(const std::vector<ir::Expr>& indices, const ir::BlockNode& b) {
  std::vector<size_t> pos;
  for (auto& idx : indices) {
    auto* v = idx.as<ir::VarNode>();
    size_t k = 0;
    while (k < b.iter_vars.size() && b.iter_vars[k].var.get() != v) ++k;
    if (!v || k == b.iter_vars.size()) return std::nullopt;
    for (size_t p : pos)
      if (p == k) return std::nullopt;
    pos.push_back(k);
  }
  if (pos.size() != b.iter_vars.size()) return std::nullopt;
  return pos;
}

// True when some statement of the function still names the buffer.
inline bool buffer_used(const ir::Stmt& s, const ir::Buffer& buf) {
  bool used = false;
  struct V : ir::StmtExprVisitor {
    const ir::Buffer* buf;
    bool* used;
    void visit_buffer_load(const ir::BufferLoadNode& n) override {
      *used |= n.buffer.same_as(*buf);
      ir::StmtExprVisitor::visit_buffer_load(n);
    }
    void visit_buffer_store(const ir::BufferStoreNode& n) override {
      *used |= n.buffer.same_as(*buf);
      ir::StmtExprVisitor::visit_buffer_store(n);
    }
    void visit_block(const ir::BlockNode& n) override {
      *used |= has_buffer(n.reads, *buf) || has_buffer(n.writes, *buf);
      ir::StmtExprVisitor::visit_block(n);
    }
  } v;
  v.buf = &buf;
  v.used = &used;
  v.visit(s);
  return used;
}

// Drops the allocation of `buf` from the block that allocates it.
inline ir::PrimFunc drop_allocation(const ir::PrimFunc& f, const ir::Buffer& buf) {
  ir::PrimFunc g = f;
  for (auto& b : all_blocks(f)) {
    const ir::BlockNode* blk = block_of(b.stmt);
    std::vector<ir::Buffer> keep;
    for (auto& a : blk->alloc_buffers)
      if (!a.same_as(buf)) keep.push_back(a);
    if (keep.size() == blk->alloc_buffers.size()) continue;
    ir::BlockNode copy = *blk;
    copy.alloc_buffers = keep;
    auto* r = b.stmt.as<ir::BlockRealizeNode>();
    g = replace(g, b.stmt, ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(r->iter_values, r->predicate, ir::make_block(std::move(copy)))));
    break;
  }
  return g;
}

// Replaces the loads of `buf` by the producer's value at the load's indices, and the readers'
// T.reads accordingly.
namespace detail {
class InlineRewriter : public ir::StmtExprMutator {
 public:
  InlineRewriter(const ir::Buffer& b, const ir::BlockNode& producer, const ir::Expr& value, std::vector<size_t> pos)
      : buf_(b), producer_(producer), value_(value), pos_(std::move(pos)) {}
  using ir::StmtExprMutator::mutate;
  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    ir::Expr m = ir::StmtExprMutator::mutate_buffer_load(e);
    auto* n = m.as<ir::BufferLoadNode>();
    if (!n->buffer.same_as(buf_)) return m;
    ir::VarMap sub;
    for (size_t d = 0; d < pos_.size(); ++d) sub[producer_.iter_vars[pos_[d]].var.get()] = n->indices[d];
    return ir::substitute(value_, sub);
  }
  ir::Stmt mutate_block(const ir::Stmt& s) override {
    ir::Stmt m = ir::StmtExprMutator::mutate_block(s);
    auto* n = m.as<ir::BlockNode>();
    if (!has_buffer(n->reads, buf_)) return m;
    ir::BlockNode copy = *n;
    if (child_blocks(m).empty()) {
      // A leaf: its reads again from its body, in the old order, new buffers after.
      std::vector<ir::BufferRegion> fresh = leaf_read_regions(copy.body);
      std::vector<ir::BufferRegion> reads;
      for (auto& r : n->reads)
        for (auto& x : fresh)
          if (x.buffer.same_as(r.buffer)) reads.push_back(x);
      for (auto& x : fresh)
        if (!has_buffer(reads, x.buffer)) reads.push_back(x);
      copy.reads = reads;
    } else {
      // Around other blocks: what the producer reads, whole.
      std::vector<ir::BufferRegion> reads;
      for (auto& r : n->reads)
        if (!r.buffer.same_as(buf_)) reads.push_back(r);
      for (auto& r : producer_.reads)
        if (!has_buffer(reads, r.buffer)) {
          ir::BufferRegion whole{r.buffer, {}};
          for (auto& e : r.buffer->shape) whole.region.push_back({ir::make_const(e.dtype(), 0), e});
          reads.push_back(whole);
        }
      copy.reads = reads;
    }
    return ir::make_block(std::move(copy));
  }

 private:
  ir::Buffer buf_;
  const ir::BlockNode& producer_;
  ir::Expr value_;
  std::vector<size_t> pos_;
};
}  // namespace detail

inline ir::PrimFunc compute_inline(const ir::PrimFunc& f, const std::string& name) {
  Located me = find_block(f, name);
  auto* r = me.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode& b = *r->block.get();
  std::string where = "compute_inline: cannot inline block '" + name + "'";
  auto fail = [&](const std::string& why) { user_error(where, ": ", why); };
  if (b.writes.size() != 1) fail("it writes " + std::to_string(b.writes.size()) + " buffers; only a block writing one buffer inlines");
  const ir::Buffer& buf = b.writes[0].buffer;
  if (is_param_buffer(f, buf))
    fail("it writes the function parameter '" + buf->name +
         "' (it is an output block), which must stay in memory; inline its producers into it, or use "
         "reverse_compute_inline on it");
  for (auto& iv : b.iter_vars)
    if (iv.kind != ir::IterKind::DataPar)
      fail(iv.kind == ir::IterKind::CommReduce
               ? "it is a reduction block (iteration variable '" + iv.var.name() + "' is reduce); only a complete block, all spatial, inlines"
               : "its iteration variable '" + iv.var.name() + "' is " + ir::iter_kind_name(iv.kind) + "; only a complete block, all spatial, inlines");
  if (b.init.defined()) fail("it has an init statement; only a block that is one BufferStore inlines");
  if (!child_blocks(me.stmt).empty()) fail("it contains other blocks; only a leaf block that is one BufferStore inlines");
  if (!b.alloc_buffers.empty()) fail("it allocates buffers of its own");
  const ir::BufferStoreNode* st = single_store(b);
  if (!st) fail("its body is not a single BufferStore `" + buf->name + "[v0, v1, ...] = value`");
  if (!st->buffer.same_as(buf)) fail("its store writes '" + st->buffer->name + "', not the buffer it declares writing");
  auto pos = iter_var_indices(st->indices, b);
  if (!pos) {
    std::string idx;
    for (auto& i : st->indices) idx += (idx.empty() ? "" : ", ") + ir::to_text(i);
    fail("its store indices [" + idx + "] are not its iteration variables, each once; only B[v0, v1, ...] = value " +
         "with distinct iteration variables inlines");
  }
  if (buffer_used(ir::evaluate(st->value), buf) || has_buffer(b.reads, buf))
    fail("it reads '" + buf->name + "', the buffer it writes");
  if (!predicate_implied_by_domains(*r)) fail("its predicate " + ir::to_text(r->predicate) + " would be lost");
  // The values it reads must be the same where its consumers run.
  ir::Stmt scope = scope_block_of(me.ancestors);
  std::vector<ir::Stmt> siblings = child_blocks(scope);
  size_t mine = 0, last_reader = 0;
  for (size_t k = 0; k < siblings.size(); ++k) {
    if (siblings[k].same_as(me.stmt)) mine = k;
    if (has_buffer(block_of(siblings[k])->reads, buf)) last_reader = k;
  }
  for (size_t k = 0; k < siblings.size(); ++k) {
    const ir::BlockNode* o = block_of(siblings[k]);
    if (k == mine) continue;
    std::string w = shared_buffer_name(o->writes, {b.writes[0]});
    if (!w.empty()) fail("block '" + o->name + "' also writes '" + w + "'; only the only writer of a buffer inlines");
    if (k > mine && k <= last_reader) {
      std::string x = shared_buffer_name(o->writes, b.reads);
      if (!x.empty())
        fail("block '" + o->name + "' writes '" + x + "', which '" + name + "' reads, before a consumer of '" + buf->name +
             "' runs, so the inlined expression would read other values");
    }
    if (k < mine && has_buffer(o->reads, buf))
      fail("block '" + o->name + "' reads '" + buf->name + "' before '" + name + "' writes it");
  }
  ir::PrimFunc g = remove_stmt(f, me.stmt);
  g = ir::with_body(g, detail::InlineRewriter(buf, b, st->value, *pos).mutate(g->body));
  if (!buffer_used(g->body, buf)) g = drop_allocation(g, buf);
  return g;
}

inline ir::PrimFunc reverse_compute_inline(const ir::PrimFunc& f, const std::string& name) {
  Located me = find_block(f, name);
  auto* r = me.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode& c = *r->block.get();
  std::string where = "reverse_compute_inline: cannot inline block '" + name + "' into its producer";
  auto fail = [&](const std::string& why) { user_error(where, ": ", why); };
  for (auto& iv : c.iter_vars)
    if (iv.kind != ir::IterKind::DataPar)
      fail(iv.kind == ir::IterKind::CommReduce
               ? "it is a reduction block (iteration variable '" + iv.var.name() + "' is reduce); only a complete block, all spatial, inlines"
               : "its iteration variable '" + iv.var.name() + "' is " + ir::iter_kind_name(iv.kind) + "; only a complete block, all spatial, inlines");
  if (c.init.defined() || !child_blocks(me.stmt).empty() || !c.alloc_buffers.empty() || !single_store(c))
    fail("its body is not a single BufferStore; only a block `C[...] = f(B[v0, v1, ...], ...)` inlines");
  if (c.writes.size() != 1) fail("it writes " + std::to_string(c.writes.size()) + " buffers");
  const ir::BufferStoreNode* cst = single_store(c);
  if (!predicate_implied_by_domains(*r)) fail("its predicate " + ir::to_text(r->predicate) + " would be lost");
  // The producer: the one block of the scope before it writing what it reads (intermediate buffers).
  ir::Stmt scope = scope_block_of(me.ancestors);
  std::vector<ir::Stmt> siblings = child_blocks(scope);
  size_t mine = 0;
  for (size_t k = 0; k < siblings.size(); ++k)
    if (siblings[k].same_as(me.stmt)) mine = k;
  std::vector<size_t> producers;
  for (size_t k = 0; k < mine; ++k)
    if (shares_buffer(block_of(siblings[k])->writes, c.reads)) producers.push_back(k);
  std::vector<size_t> candidates;
  for (size_t k : producers)
    for (auto& w : block_of(siblings[k])->writes)
      if (!is_param_buffer(f, w.buffer) && has_buffer(c.reads, w.buffer)) {
        candidates.push_back(k);
        break;
      }
  if (candidates.empty()) fail("no block before it writes an intermediate buffer it reads");
  if (candidates.size() > 1) {
    std::vector<ir::Stmt> ps;
    for (size_t k : candidates) ps.push_back(siblings[k]);
    fail("it reads intermediate buffers of several producers (" + quoted_blocks(ps) + "); it inlines into exactly one");
  }
  size_t pk = candidates[0];
  const ir::Stmt& prealize_stmt = siblings[pk];
  auto* pr = prealize_stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode& p = *pr->block.get();
  std::string pname = "'" + p.name + "'";
  for (auto& iv : p.iter_vars)
    if (iv.kind != ir::IterKind::DataPar)
      fail("its producer " + pname + " is a reduction block; the consumer would run on partial results");
  const ir::BufferStoreNode* pst = single_store(p);
  if (p.init.defined() || !pst || p.writes.size() != 1 || !child_blocks(prealize_stmt).empty())
    fail("its producer " + pname + " is not a single BufferStore");
  const ir::Buffer& buf = pst->buffer;
  auto ppos = iter_var_indices(pst->indices, p);
  if (!ppos) fail("its producer " + pname + " does not store at its iteration variables, each once");
  if (!predicate_implied_by_domains(*pr)) fail("its producer's predicate " + ir::to_text(pr->predicate) + " is not a domain bound");
  // Every load of B in C has the same indices: C's iteration variables, each once.
  std::vector<std::vector<ir::Expr>> loads;
  struct L : ir::ExprVisitor {
    const ir::Buffer* b;
    std::vector<std::vector<ir::Expr>>* out;
    void visit_buffer_load(const ir::BufferLoadNode& n) override {
      if (n.buffer.same_as(*b)) out->push_back(n.indices);
      ir::ExprVisitor::visit_buffer_load(n);
    }
  } lv;
  lv.b = &buf;
  lv.out = &loads;
  lv.visit(cst->value);
  for (auto& i : cst->indices) lv.visit(i);
  if (loads.empty()) fail("it does not load '" + buf->name + "' in its value");
  for (auto& l : loads) {
    std::string idx;
    for (auto& i : l) idx += (idx.empty() ? "" : ", ") + ir::to_text(i);
    bool same = l.size() == loads[0].size();
    for (size_t d = 0; same && d < l.size(); ++d) same = arith::detail::same_expr(l[d], loads[0][d]);
    if (!same || !iter_var_indices(l, c))
      fail("it reads '" + buf->name + "[" + idx + "]'; only reads of '" + buf->name +
           "' at its iteration variables, each once and all alike, inline (other elements would not exist yet)");
  }
  auto cpos = *iter_var_indices(loads[0], c);
  // The producer writes each element C reads exactly once: equal domains, dimension by dimension.
  for (size_t d = 0; d < cpos.size(); ++d) {
    const ir::Range& cd = c.iter_vars[cpos[d]].dom;
    const ir::Range& pd = p.iter_vars[(*ppos)[d]].dom;
    if (!arith::can_prove(ir::eq(cd.min, pd.min)) || !arith::can_prove(ir::eq(cd.extent, pd.extent)))
      fail("it reads '" + buf->name + "' over a different range than " + pname + " writes it in dimension " +
           std::to_string(d));
  }
  // No other reader of B, B is not a parameter; nothing between them touches what C reads or writes.
  if (is_param_buffer(f, buf)) fail("'" + buf->name + "' is a function parameter and must still be written");
  for (size_t k = 0; k < siblings.size(); ++k) {
    const ir::BlockNode* o = block_of(siblings[k]);
    if (k == mine || k == pk) continue;
    if (has_buffer(o->reads, buf))
      fail("block '" + o->name + "' also reads '" + buf->name + "'; the consumer must be its only reader");
    if (has_buffer(o->writes, buf)) fail("block '" + o->name + "' also writes '" + buf->name + "'");
    if (k > pk && k < mine) {
      std::string x = shared_buffer_name(o->writes, c.reads);
      if (x.empty()) x = shared_buffer_name(o->reads, c.writes);
      if (x.empty()) x = shared_buffer_name(o->writes, c.writes);
      if (!x.empty())
        fail("block '" + o->name + "' runs between " + pname + " and '" + name + "' and uses '" + x +
             "', so moving the consumer's work before it changes results");
    }
  }
  if (has_buffer(c.reads, c.writes[0].buffer)) fail("it reads '" + c.writes[0].buffer->name + "', which it writes");
  // C[f(v)] = g(B[v], ...) becomes, at the producer: C[f(w)] = g(value(w), ...).
  ir::VarMap sub;
  for (size_t d = 0; d < cpos.size(); ++d) sub[c.iter_vars[cpos[d]].var.get()] = p.iter_vars[(*ppos)[d]].var;
  struct Repl : ir::StmtExprMutator {
    ir::Buffer b;
    ir::Expr v;
    ir::Expr mutate_buffer_load(const ir::Expr& e) override {
      auto* n = e.as<ir::BufferLoadNode>();
      return n->buffer.same_as(b) ? v : ir::StmtExprMutator::mutate_buffer_load(e);
    }
  } repl;
  repl.b = buf;
  repl.v = pst->value;
  ir::Expr value = repl.mutate(ir::substitute(cst->value, sub));
  std::vector<ir::Expr> idx;
  for (auto& i : cst->indices) idx.push_back(ir::substitute(i, sub));
  ir::BlockNode nb = p;
  nb.body = ir::buffer_store(cst->buffer, value, idx);
  nb.reads = leaf_read_regions(nb.body);
  ir::BufferRegion w{cst->buffer, {}};
  for (auto& rg : c.writes[0].region)
    w.region.push_back({ir::substitute(rg.min, sub), ir::substitute(rg.extent, sub)});
  nb.writes = {w};
  ir::PrimFunc g = remove_stmt(f, me.stmt);
  g = replace(g, prealize_stmt, ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(pr->iter_values, pr->predicate, ir::make_block(std::move(nb)))));
  if (!buffer_used(g->body, buf)) g = drop_allocation(g, buf);
  return g;
}

}  // namespace location_detail

// compute_at (reverse: reverse_compute_at) of block `block` at the loop with variable `loop`.
inline ir::PrimFunc compute_at(const ir::PrimFunc& f, const std::string& block, const ir::Var& loop, bool preserve_unit_loops,
                               bool reverse) {
  return location_detail::compute_at(f, {block, loop, preserve_unit_loops, reverse});
}
// The loops of the block's scope where compute_at (reverse: reverse_compute_at) of the block is
// legal, in program order (LoopRV::root() is legal as well).
inline std::vector<ir::Var> compute_at_candidates(const ir::PrimFunc& f, const std::string& block_name, bool reverse) {
  return location_detail::compute_at_candidates(f, block_name, reverse);
}
inline ir::PrimFunc compute_inline(const ir::PrimFunc& f, const std::string& block) {
  return location_detail::compute_inline(f, block);
}
inline ir::PrimFunc reverse_compute_inline(const ir::PrimFunc& f, const std::string& block) {
  return location_detail::reverse_compute_inline(f, block);
}

}  // namespace kiln::tir::schedule_detail

namespace kiln::tir {

inline void Schedule::compute_at(const BlockRV& block, const LoopRV& loop, bool preserve_unit_loops) {
  std::string name = schedule_detail::block_of(locate(block, "compute_at").stmt)->name;
  TraceValue where = TraceValue::loop(loop.id);
  if (!loop.is_root()) func_ = schedule_detail::compute_at(func_, name, loop_var(loop, "compute_at"), preserve_unit_loops, false);
  record("compute_at", {TraceValue::block(block.id), where, TraceValue::integer(preserve_unit_loops)}, {});
}
inline void Schedule::reverse_compute_at(const BlockRV& block, const LoopRV& loop, bool preserve_unit_loops) {
  std::string name = schedule_detail::block_of(locate(block, "reverse_compute_at").stmt)->name;
  TraceValue where = TraceValue::loop(loop.id);
  if (!loop.is_root())
    func_ = schedule_detail::compute_at(func_, name, loop_var(loop, "reverse_compute_at"), preserve_unit_loops, true);
  record("reverse_compute_at", {TraceValue::block(block.id), where, TraceValue::integer(preserve_unit_loops)}, {});
}
inline void Schedule::compute_inline(const BlockRV& block) {
  func_ = schedule_detail::compute_inline(func_, schedule_detail::block_of(locate(block, "compute_inline").stmt)->name);
  record("compute_inline", {TraceValue::block(block.id)}, {});
}
inline void Schedule::reverse_compute_inline(const BlockRV& block) {
  func_ = schedule_detail::reverse_compute_inline(func_, schedule_detail::block_of(locate(block, "reverse_compute_inline").stmt)->name);
  record("reverse_compute_inline", {TraceValue::block(block.id)}, {});
}

inline const bool registered_compute_location = [] {
  register_instruction("compute_at", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                        s.compute_at(in.block(0), in.loop(1), in.integer(2) != 0);
                                        return {};
                                      },
                                      nullptr});
  register_instruction("reverse_compute_at", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                                s.reverse_compute_at(in.block(0), in.loop(1), in.integer(2) != 0);
                                                return {};
                                              },
                                              nullptr});
  register_instruction("compute_inline", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                            s.compute_inline(in.block(0));
                                            return {};
                                          },
                                          nullptr});
  register_instruction("reverse_compute_inline", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                                    s.reverse_compute_inline(in.block(0));
                                                    return {};
                                                  },
                                                  nullptr});
  return true;
}();

}  // namespace kiln::tir
