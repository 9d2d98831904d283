// kiln/tir/schedule/primitives/rolling_buffer.hpp: rolling_buffer.
//
// After compute_at put a producer under a loop of its consumer, consecutive iterations of that loop
// often need overlapping windows of the producer's buffer (a 3-tap stencil reads rows i..i+2). A
// rolling buffer keeps only the window: the buffer shrinks to the window's size along that axis,
// every access to it is taken modulo that size, and the producer computes only the rows the window
// gains each iteration (all of them on the first one).
#pragma once
#include <string>
#include <vector>

#include "kiln/tir/schedule/primitives/compute_location.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir::schedule_detail {
namespace location_detail {

namespace detail {

// Replaces `old` by `fresh` everywhere (allocations, accesses, regions); the rolling axis of every
// index is taken modulo the window.
class RollingRewriter : public ir::StmtExprMutator {
 public:
  RollingRewriter(ir::Buffer old, ir::Buffer fresh, size_t axis, int64_t window)
      : old_(std::move(old)), fresh_(std::move(fresh)), axis_(axis), window_(window) {}
  using ir::StmtExprMutator::mutate;

  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    ir::Expr m = ir::StmtExprMutator::mutate_buffer_load(e);
    auto* n = m.as<ir::BufferLoadNode>();
    if (!n->buffer.same_as(old_)) return m;
    return ir::buffer_load(fresh_, wrap(n->indices));
  }
  ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
    ir::Stmt m = ir::StmtExprMutator::mutate_buffer_store(s);
    auto* n = m.as<ir::BufferStoreNode>();
    if (!n->buffer.same_as(old_)) return m;
    return ir::buffer_store(fresh_, n->value, wrap(n->indices));
  }
  ir::Stmt mutate_block(const ir::Stmt& s) override {
    ir::Stmt m = ir::StmtExprMutator::mutate_block(s);
    auto* n = m.as<ir::BlockNode>();
    bool touches = has_buffer(n->reads, old_) || has_buffer(n->writes, old_);
    for (auto& a : n->alloc_buffers) touches |= a.same_as(old_);
    if (!touches) return m;
    ir::BlockNode copy = *n;
    for (auto& a : copy.alloc_buffers)
      if (a.same_as(old_)) a = fresh_;
    regions(copy.reads);
    regions(copy.writes);
    return ir::make_block(std::move(copy));
  }

 private:
  ir::Buffer old_, fresh_;
  size_t axis_;
  int64_t window_;

  std::vector<ir::Expr> wrap(std::vector<ir::Expr> idx) const {
    idx[axis_] = ir::floormod(idx[axis_], ir::make_const(idx[axis_].dtype(), double(window_)));
    return idx;
  }
  void regions(std::vector<ir::BufferRegion>& rs) const {
    for (auto& r : rs) {
      if (!r.buffer.same_as(old_)) continue;
      r.buffer = fresh_;
      ir::Range& rg = r.region[axis_];
      if (ir::is_const_int(arith::simplify(rg.extent), 1)) rg.min = ir::floormod(rg.min, ir::make_const(rg.min.dtype(), double(window_)));
      else rg = {ir::make_const(rg.min.dtype(), 0), ir::make_const(rg.extent.dtype(), double(window_))};
    }
  }
};

}  // namespace detail

inline ir::PrimFunc rolling_buffer(const ir::PrimFunc& f, const std::string& name, int64_t write_index) {
  Located me = find_block(f, name);
  auto* r = me.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode& b = *r->block.get();
  std::string where = "rolling_buffer: block '" + name + "'";
  auto fail = [&](const std::string& why) { user_error(where, ": ", why); };
  if (write_index < 0 || size_t(write_index) >= b.writes.size()) {
    std::string ws;
    for (auto& w : b.writes) ws += (ws.empty() ? "'" : ", '") + w.buffer->name + "'";
    fail("write buffer index " + std::to_string(write_index) + " is out of range; it writes " +
         std::to_string(b.writes.size()) + " buffer" + (b.writes.size() == 1 ? "" : "s") + " (" + ws + ")");
  }
  const ir::BufferRegion& wr = b.writes[size_t(write_index)];
  const ir::Buffer& buf = wr.buffer;
  where += ", buffer '" + buf->name + "'";
  if (is_param_buffer(f, buf)) fail("it is a function parameter; only an intermediate buffer can roll");
  std::vector<ir::Stmt> own_loops = enclosing_loops(me.ancestors);
  if (own_loops.empty()) fail("the block is not under any loop; compute_at it under a loop of its consumer first");

  // The consumers of the same scope, after the producer; the loop around all of them.
  ir::Stmt scope = scope_block_of(me.ancestors);
  std::vector<ir::Stmt> siblings = child_blocks(scope);
  std::vector<Located> consumers;
  bool after = false;
  for (auto& s : siblings) {
    const ir::BlockNode* o = block_of(s);
    if (o == &b) {
      after = true;
      continue;
    }
    if (has_buffer(o->writes, buf)) fail("block '" + o->name + "' also writes it; only a buffer with one writer can roll");
    if (!has_buffer(o->reads, buf)) continue;
    if (!after) fail("block '" + o->name + "' reads it before the producer runs");
    consumers.push_back(find_block(f, o->name));
  }
  if (consumers.empty()) fail("no block reads it");
  ir::Stmt lca;
  for (size_t k = 0; k < me.ancestors.size(); ++k) {
    bool common = true;
    for (auto& c : consumers) common = common && k < c.ancestors.size() && c.ancestors[k].same_as(me.ancestors[k]);
    if (!common) break;
    if (me.ancestors[k].as<ir::ForNode>()) lca = me.ancestors[k];
  }
  if (!lca.as<ir::ForNode>())
    fail("the producer and its consumers " + quoted_blocks([&] {
           std::vector<ir::Stmt> v;
           for (auto& c : consumers) v.push_back(c.stmt);
           return v;
         }()) +
         " share no loop; compute_at the producer under a loop of its consumer first");

  // The window: the region written in one iteration of the innermost shared loop.
  arith::IntervalMap relax = loops_below(me.ancestors, lca);
  std::vector<arith::IntervalSet> box = relaxed_region(wr, *r, relax);
  std::vector<ir::Stmt> outer_loops;  // the producer's loops down to the shared one
  for (auto& l : own_loops) {
    outer_loops.push_back(l);
    if (l.same_as(lca)) break;
  }
  arith::DomMap dom = loop_domains(me.ancestors);
  struct Choice {
    size_t axis = 0;
    size_t loop = 0;
    int64_t stride = 0, window = 0;
  };
  std::optional<Choice> pick;
  std::string seen;
  for (size_t li = 0; li < outer_loops.size() && !pick; ++li) {
    auto* l = outer_loops[li].as<ir::ForNode>();
    for (size_t d = 0; d < box.size() && !pick; ++d) {
      if (!box[d].min.defined() || !box[d].max.defined() || !ir::uses_var(box[d].min, l->loop_var.get())) continue;
      ir::Expr lo = box[d].min;
      auto ext = ir::const_int(arith::simplify(box[d].max - lo + 1));
      ir::Expr next = ir::substitute(lo, ir::VarMap{{l->loop_var.get(), ir::Expr(l->loop_var) + 1}});
      auto stride = ir::const_int(arith::simplify(next - lo));
      ir::Expr rest = stride ? arith::simplify(lo - ir::Expr(l->loop_var) * *stride) : ir::Expr();
      bool inner_free = rest.defined() && !ir::uses_var(rest, l->loop_var.get());
      for (size_t lj = li + 1; lj < outer_loops.size() && inner_free; ++lj)
        inner_free = !ir::uses_var(rest, outer_loops[lj].as<ir::ForNode>()->loop_var.get());
      seen += std::string(seen.empty() ? "" : "; ") + "dimension " + std::to_string(d) + " starts at " + ir::to_text(lo) +
              (ext ? " with extent " + std::to_string(*ext) : " with a non-constant extent");
      if (!ext || !stride || *stride <= 0 || !inner_free || *ext - *stride <= 0) continue;
      pick = Choice{d, li, *stride, *ext};
    }
  }
  if (!pick)
    fail("no dimension of its region per iteration of loop '" + lca.as<ir::ForNode>()->loop_var.name() +
         "' slides with an enclosing loop by a constant stride smaller than the window (" +
         (seen.empty() ? std::string("no dimension depends on the loops around it") : seen) +
         "); a rolling buffer needs windows that overlap from one iteration to the next");
  auto* roll = outer_loops[pick->loop].as<ir::ForNode>();
  if (roll->for_kind != ir::ForKind::Serial && roll->for_kind != ir::ForKind::Unrolled)
    fail("the rolling loop '" + roll->loop_var.name() + "' is " + ir::for_kind_name(roll->for_kind) +
         "; its iterations must run in order, one after the other");
  int64_t overlap = pick->window - pick->stride;
  ir::Expr lo = box[pick->axis].min;
  ir::Expr hi = arith::simplify(lo + (pick->window - 1));
  // Its rows per iteration: lo + u for one loop u below the shared loop running over the window.
  ir::Expr index = arith::simplify(ir::substitute(wr.region[pick->axis].min, binding_map(*r)), dom);
  ir::Expr offset = arith::simplify(index - lo, dom);
  auto* u = offset.as<ir::VarNode>();
  const ir::ForNode* inner = nullptr;
  for (auto& [v, iv] : relax)
    if (v.get() == u)
      for (auto& a : me.ancestors)
        if (auto* l = a.as<ir::ForNode>(); l && l->loop_var.get() == u) inner = l;
  if (!inner || !ir::is_const_int(inner->min, 0) || !ir::is_const_int(arith::simplify(inner->extent), pick->window) ||
      !ir::is_const_int(arith::simplify(wr.region[pick->axis].extent), 1))
    fail("it writes row " + ir::to_text(index) + " of dimension " + std::to_string(pick->axis) +
         ", not one row per iteration of a loop over the window [" + ir::to_text(lo) + ", " + ir::to_text(hi) +
         "]; compute_at the producer so it covers the window with one loop");
  // The consumers read inside the window.
  arith::DomMap outer = loop_domains(outer_loops);
  for (auto& c : consumers) {
    auto* cr = c.stmt.as<ir::BlockRealizeNode>();
    arith::IntervalMap crelax = loops_below(c.ancestors, lca);
    for (auto& rd : cr->block->reads) {
      if (!rd.buffer.same_as(buf)) continue;
      auto cbox = relaxed_region(rd, *cr, crelax);
      const arith::IntervalSet& s = cbox[pick->axis];
      if (!s.min.defined() || !s.max.defined() || !arith::can_prove(ir::ge(s.min, lo), outer) ||
          !arith::can_prove(ir::le(s.max, hi), outer))
        fail("block '" + cr->block->name + "' reads rows [" + (s.min.defined() ? ir::to_text(s.min) : "?") + ", " +
             (s.max.defined() ? ir::to_text(s.max) : "?") + "] of dimension " + std::to_string(pick->axis) +
             ", outside the window [" + ir::to_text(lo) + ", " + ir::to_text(hi) + "] the producer keeps");
    }
  }

  // The buffer shrinks along the axis; the producer computes only the rows the window gains.
  auto node = std::make_shared<ir::BufferNode>(*buf.get());
  node->shape[pick->axis] = ir::make_const(node->shape[pick->axis].dtype(), double(pick->window));
  ir::Buffer fresh(std::shared_ptr<const ir::BufferNode>(std::move(node)));
  ir::Expr gained = ir::logical_or(ir::eq(roll->loop_var, roll->min), ir::ge(offset, ir::make_const(offset.dtype(), double(overlap))));
  ir::BlockNode nb = b;
  auto pos = wr.region[pick->axis].min.as<ir::VarNode>();
  for (auto& iv : nb.iter_vars)  // its rows depend on earlier iterations now: not data-parallel
    if (iv.var.get() == pos) iv.kind = ir::IterKind::Opaque;
  ir::Stmt realize = ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(
      r->iter_values, arith::simplify(and_pred(r->predicate, gained), dom), ir::make_block(std::move(nb))));
  ir::PrimFunc g = replace(f, me.stmt, realize);
  return ir::with_body(g, detail::RollingRewriter(buf, fresh, pick->axis, pick->window).mutate(g->body));
}

}  // namespace location_detail

inline ir::PrimFunc rolling_buffer(const ir::PrimFunc& f, const std::string& block, int64_t write_buffer_index) {
  return location_detail::rolling_buffer(f, block, write_buffer_index);
}

}  // namespace kiln::tir::schedule_detail

namespace kiln::tir {

inline void Schedule::rolling_buffer(const BlockRV& block, int64_t write_buffer_index) {
  func_ = schedule_detail::rolling_buffer(func_, schedule_detail::block_of(locate(block, "rolling_buffer").stmt)->name,
                                          write_buffer_index);
  record("rolling_buffer", {TraceValue::block(block.id), TraceValue::integer(write_buffer_index)}, {});
}

inline const bool registered_rolling_buffer = [] {
  register_instruction("rolling_buffer", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                            s.rolling_buffer(in.block(0), in.integer(1));
                                            return {};
                                          },
                                          nullptr});
  return true;
}();

}  // namespace kiln::tir
