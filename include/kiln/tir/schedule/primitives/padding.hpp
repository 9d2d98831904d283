// kiln/tir/schedule/primitives/padding.hpp: pad_einsum and decompose_padding.
//
// pad_einsum pads the iteration domain of an einsum-like block (every buffer indexed by iteration
// variables directly, as in matmul) up to multiples of given factors: inputs are copied into
// zero-padded buffers by new blocks before it, the block computes over the padded domain into a
// padded output, and a block after it copies the valid part back. decompose_padding splits a
// padding block `P[v] = if_then_else(in_bounds, A[...], c)` into a block filling P with c and a
// block copying only where in_bounds holds.
#pragma once
#include <string>
#include <vector>

#include "kiln/tir/schedule/primitives/layout.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir::schedule_detail::layout_impl {

// ---- pad_einsum -------------------------------------------------------------------------------

// How an einsum block uses its buffers: per buffer the iteration variable of each dimension.
struct EinsumAccess {
  ir::Buffer buffer;
  std::vector<size_t> dims;  // iteration variable index per dimension
};

inline ir::PrimFunc pad_einsum(const ir::PrimFunc& f, const Located& loc, const std::vector<int64_t>& padding) {
  auto* r = loc.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode* b = r->block.get();
  std::string where = "pad_einsum: block '" + b->name + "'";
  if (padding.size() != b->iter_vars.size())
    user_error(where, " has ", b->iter_vars.size(), " iteration variables but ", padding.size(),
               " padding factors were given; give one factor per iteration variable (1: no padding)");
  for (size_t i = 0; i < padding.size(); ++i)
    if (padding[i] < 1) user_error(where, ": padding factor ", i, " is ", padding[i], "; factors must be positive");
  OwnLoops own = own_loops("pad_einsum", loc);
  std::vector<int64_t> extent, padded;
  for (size_t i = 0; i < b->iter_vars.size(); ++i) {
    auto e = ir::const_int(arith::simplify(b->iter_vars[i].dom.extent));
    if (!e)
      user_error(where, ": iteration variable '", b->iter_vars[i].var.name(), "' has the symbolic extent ",
                 ir::to_text(b->iter_vars[i].dom.extent), "; pad_einsum needs constant extents");
    extent.push_back(*e);
    padded.push_back((*e + padding[i] - 1) / padding[i] * padding[i]);
  }
  auto* store = b->body.as<ir::BufferStoreNode>();
  if (!store)
    user_error(where, " is not einsum-like: its body is not a single store (", ir::to_text(b->body), ")");
  // Every index of every access must be an iteration variable.
  auto iter_index = [&](const ir::Expr& e) -> size_t {
    for (size_t i = 0; i < b->iter_vars.size(); ++i)
      if (e.same_as(b->iter_vars[i].var)) return i;
    return b->iter_vars.size();
  };
  std::vector<EinsumAccess> accesses;  // the output first
  auto note = [&](const ir::Buffer& buf, const std::vector<ir::Expr>& idx) {
    EinsumAccess a{buf, {}};
    for (auto& e : idx) {
      size_t i = iter_index(e);
      if (i == b->iter_vars.size())
        user_error(where, " is not einsum-like: buffer '", buf->name, "' is indexed by ", ir::to_text(e),
                   ", which is not one of the block's iteration variables; pad_einsum needs every index to be an ",
                   "iteration variable, as in C[i, j] += A[i, k] * B[k, j]");
      a.dims.push_back(i);
    }
    for (auto& o : accesses)
      if (o.buffer.same_as(buf)) {
        if (o.dims != a.dims)
          user_error(where, " is not einsum-like: buffer '", buf->name, "' is accessed at two different index tuples");
        return;
      }
    accesses.push_back(a);
  };
  note(store->buffer, store->indices);
  for (size_t i = 0; i < b->iter_vars.size(); ++i) {
    bool in_output = false;
    for (size_t d : accesses[0].dims) in_output |= d == i;
    if (b->iter_vars[i].kind == ir::IterKind::DataPar && !in_output)
      user_error(where, ": the spatial iteration variable '", b->iter_vars[i].var.name(),
                 "' does not index the output, so its iterations would overwrite each other; not einsum-like");
  }
  struct Loads : ir::StmtExprVisitor {
    std::function<void(const ir::BufferLoadNode&)> f;
    std::string bad;
    void visit_buffer_load(const ir::BufferLoadNode& n) override { f(n); }
    void visit(const ir::Expr& e) override {
      if (auto* x = e.as<ir::BinaryNode>(); x && x->a.dtype().is_integer() &&
          (x->op == ir::BinaryOp::Div || x->op == ir::BinaryOp::Mod || x->op == ir::BinaryOp::FloorDiv ||
           x->op == ir::BinaryOp::FloorMod))
        bad = ir::to_text(e);
      ir::StmtExprVisitor::visit(e);
    }
    using ir::StmtExprVisitor::visit;
  } loads;
  bool output_read = false;
  loads.f = [&](const ir::BufferLoadNode& n) {
    output_read |= n.buffer.same_as(store->buffer);
    note(n.buffer, n.indices);
  };
  loads.visit(b->body);
  loads.visit(b->init);
  if (!loads.bad.empty())
    user_error(where, " divides integers (", loads.bad, "); on the zero padding that would divide by zero");
  if (b->init.defined()) {
    auto* is = b->init.as<ir::BufferStoreNode>();
    if (!is || !is->buffer.same_as(store->buffer))
      user_error(where, ": its init is not a single store to '", store->buffer->name, "'; not einsum-like");
  }
  // Padding a reduction axis is only exact when padded points add zero: C = C + (x * y * ...)
  // with a factor that reads a zero-padded input along that axis.
  for (size_t i = 0; i < b->iter_vars.size(); ++i) {
    if (b->iter_vars[i].kind == ir::IterKind::DataPar || padded[i] == extent[i]) continue;
    std::string var = "'" + b->iter_vars[i].var.name() + "'";
    auto* add = store->value.as<ir::BinaryNode>();
    auto is_self = [&](const ir::Expr& e) {
      auto* l = e.as<ir::BufferLoadNode>();
      return l && l->buffer.same_as(store->buffer);
    };
    ir::Expr rest = add && add->op == ir::BinaryOp::Add ? (is_self(add->a) ? add->b : is_self(add->b) ? add->a : ir::Expr())
                                                        : ir::Expr();
    bool zero = false;
    std::function<void(const ir::Expr&)> factors = [&](const ir::Expr& e) {
      if (auto* c = e.as<ir::CastNode>()) return factors(c->value);
      if (auto* m = e.as<ir::BinaryNode>(); m && m->op == ir::BinaryOp::Mul) {
        factors(m->a);
        factors(m->b);
        return;
      }
      if (auto* l = e.as<ir::BufferLoadNode>(); l && !l->buffer.same_as(store->buffer))
        for (auto& x : l->indices) zero |= x.same_as(b->iter_vars[i].var);
    };
    if (rest.defined()) factors(rest);
    bool zero_init = b->init.defined() && ir::is_const_int(b->init.as<ir::BufferStoreNode>()->value, 0);
    if (auto* fi = b->init.defined() ? b->init.as<ir::BufferStoreNode>()->value.as<ir::FloatImmNode>() : nullptr)
      zero_init = fi->value == 0;
    if (!rest.defined() || !zero || !zero_init)
      user_error(where, ": padding the reduction variable ", var, " from ", extent[i], " to ", padded[i],
                 " is only exact for a sum of products (C = C + A * B, init 0) with a factor read along ", var,
                 ", where the zero padding adds nothing; this block's update is ", ir::to_text(store->value));
  }
  bool any = false;
  for (size_t i = 0; i < extent.size(); ++i) any |= padded[i] != extent[i];
  if (!any) return f;

  // New buffers for the accesses with a padded dimension.
  size_t scope_at = scope_index(loc);
  const ir::BlockNode* scope = loc.ancestors[scope_at].as<ir::BlockNode>();
  std::vector<ir::Buffer> news;
  std::unordered_map<const ir::BufferNode*, ir::Buffer> repl;
  std::vector<ir::Stmt> before, after;
  std::vector<std::string> used_names;
  auto block_name = [&](const std::string& base) {
    std::string n = unused_block_name(f, base);
    for (int k = 1; std::find(used_names.begin(), used_names.end(), n) != used_names.end(); ++k)
      n = unused_block_name(f, base + "_" + std::to_string(k));
    used_names.push_back(n);
    return n;
  };
  for (size_t a = 0; a < accesses.size(); ++a) {
    const EinsumAccess& acc = accesses[a];
    bool pads = false;
    std::vector<ir::Expr> shape, valid;
    for (size_t d : acc.dims) {
      pads |= padded[d] != extent[d];
      shape.push_back(ir::int_imm(padded[d]));
      valid.push_back(ir::int_imm(extent[d]));
    }
    if (!pads) continue;
    ir::Buffer src = acc.buffer;
    ir::Buffer nb = ir::make_buffer(src->name + "_pad", src->dtype, shape, src->scope);
    news.push_back(nb);
    repl[src.get()] = nb;
    if (a == 0) {  // the output: copy the valid part back after the block
      NestSpec spec;
      spec.block_name = block_name(src->name + "_unpad");
      spec.extents = valid;
      spec.body = [&](const std::vector<ir::Var>& v) {
        std::vector<ir::Expr> idx(v.begin(), v.end());
        return ir::buffer_store(src, ir::buffer_load(nb, idx), idx);
      };
      spec.reads = [&](const std::vector<ir::Var>& v) {
        return std::vector<ir::BufferRegion>{point_region(nb, std::vector<ir::Expr>(v.begin(), v.end()))};
      };
      spec.writes = [&](const std::vector<ir::Var>& v) {
        return std::vector<ir::BufferRegion>{point_region(src, std::vector<ir::Expr>(v.begin(), v.end()))};
      };
      after.push_back(make_nest(spec));
    }
    // An input, or an output the block accumulates into without an init: copy it into a
    // zero-padded buffer before the block.
    if (a > 0 || (output_read && !b->init.defined())) {
      NestSpec spec;
      spec.block_name = block_name(src->name + "_pad");
      spec.extents = shape;
      spec.body = [&](const std::vector<ir::Var>& v) {
        std::vector<ir::Expr> idx(v.begin(), v.end());
        ir::Expr in;
        for (size_t d = 0; d < v.size(); ++d)
          if (!ir::is_const_int(shape[d], *ir::const_int(valid[d]))) in = and_pred(in, ir::lt(v[d], valid[d]));
        ir::Expr value = ir::call(src->dtype, "if_then_else", {in, ir::buffer_load(src, idx), ir::make_const(src->dtype, 0)});
        return ir::buffer_store(nb, value, idx);
      };
      spec.reads = [&](const std::vector<ir::Var>& v) {
        return std::vector<ir::BufferRegion>{point_region(src, std::vector<ir::Expr>(v.begin(), v.end()))};
      };
      spec.writes = [&](const std::vector<ir::Var>& v) {
        return std::vector<ir::BufferRegion>{point_region(nb, std::vector<ir::Expr>(v.begin(), v.end()))};
      };
      before.push_back(make_nest(spec));
    }
  }
  // The block over the padded domain, on the padded buffers.
  class Swap : public ir::StmtExprMutator {
   public:
    explicit Swap(const std::unordered_map<const ir::BufferNode*, ir::Buffer>& m) : m_(m) {}
    using ir::StmtExprMutator::mutate;
    ir::Expr mutate_buffer_load(const ir::Expr& e) override {
      auto* n = e.as<ir::BufferLoadNode>();
      auto it = m_.find(n->buffer.get());
      return it == m_.end() ? e : ir::buffer_load(it->second, n->indices);
    }
    ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
      auto* n = s.as<ir::BufferStoreNode>();
      ir::Expr v = mutate(n->value);
      auto it = m_.find(n->buffer.get());
      return ir::buffer_store(it == m_.end() ? n->buffer : it->second, v, n->indices);
    }
    void regions(std::vector<ir::BufferRegion>& rs) {
      for (auto& x : rs)
        if (auto it = m_.find(x.buffer.get()); it != m_.end()) x.buffer = it->second;
    }

   private:
    const std::unordered_map<const ir::BufferNode*, ir::Buffer>& m_;
  } swap(repl);
  ir::BlockNode nb = *b;
  for (size_t i = 0; i < nb.iter_vars.size(); ++i) nb.iter_vars[i].dom = ir::Range{ir::int_imm(0), ir::int_imm(padded[i])};
  nb.body = swap.mutate(b->body);
  nb.init = swap.mutate(b->init);
  swap.regions(nb.reads);
  swap.regions(nb.writes);
  ir::Stmt s = ir::block_realize(r->iter_values, r->predicate, ir::make_block(std::move(nb)));
  for (size_t k = own.loops.size(); k-- > 0;) {
    auto* l = own.loops[k].as<ir::ForNode>();
    s = ir::for_loop(l->loop_var, l->min, ir::int_imm(padded[own.iter_of_loop[k]], l->extent.dtype()), l->for_kind, s,
                     l->thread_tag, l->annotations);
  }
  std::vector<ir::Stmt> all = before;
  all.push_back(s);
  all.insert(all.end(), after.begin(), after.end());
  ir::PrimFunc out = replace(f, own.loops.empty() ? loc.stmt : own.loops[0], ir::seq(all));
  return add_allocs(out, scope->name, news);
}

// ---- decompose_padding ------------------------------------------------------------------------

struct DecomposeResult {
  ir::PrimFunc func;
  std::string fill_block;
};

inline DecomposeResult decompose_padding(const ir::PrimFunc& f, const Located& loc, const ir::Var& loop_var) {
  auto* r = loc.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode* b = r->block.get();
  std::string where = "decompose_padding: block '" + b->name + "'";
  auto* store = b->body.as<ir::BufferStoreNode>();
  auto* call = store ? store->value.as<ir::CallNode>() : nullptr;
  auto* sel = store ? store->value.as<ir::SelectNode>() : nullptr;
  ir::Expr cond, value, pad;
  if (call && call->op == "if_then_else" && call->args.size() == 3) cond = call->args[0], value = call->args[1], pad = call->args[2];
  else if (sel) cond = sel->cond, value = sel->true_value, pad = sel->false_value;
  if (!cond.defined() || !(pad.as<ir::IntImmNode>() || pad.as<ir::FloatImmNode>()) || b->init.defined())
    user_error(where, " is not a padding block: its body must be one store P[...] = if_then_else(in_bounds, value, ",
               "constant) (as te writes padding), but it is ", ir::to_text(b->body));
  for (auto& iv : b->iter_vars)
    if (iv.kind != ir::IterKind::DataPar)
      user_error(where, " has the ", ir::iter_kind_name(iv.kind), " iteration variable '", iv.var.name(),
                 "'; a padding block is spatial only");
  // The loop must be around the block, inside its scope.
  size_t scope_at = scope_index(loc), at = loc.ancestors.size();
  for (size_t i = scope_at + 1; i < loc.ancestors.size(); ++i)
    if (auto* l = loc.ancestors[i].as<ir::ForNode>(); l && l->loop_var.same_as(loop_var)) at = i;
  if (at == loc.ancestors.size())
    user_error(where, ": loop ", loop_with_blocks(find_loop(f, loop_var).stmt), " is not one of its loops; the fill block goes right before ",
               "the given loop, which must be one of ", loop_names(enclosing_loops(loc.ancestors)));
  for (size_t i = at; i < loc.ancestors.size(); ++i)
    if (!loc.ancestors[i].as<ir::ForNode>() && !loc.ancestors[i].as<ir::SeqStmtNode>())
      user_error(where, ": between loop '", loop_var.name(), "' and the block there is a statement other than loops (",
                 ir::to_text(loc.ancestors[i]).substr(0, 60), "...); decompose_padding copies plain loop nests only");
  // The fill block: the same loops (new variables), storing the constant at the same places.
  ir::VarMap sub;
  std::vector<const ir::ForNode*> path;
  for (size_t i = at; i < loc.ancestors.size(); ++i)
    if (auto* l = loc.ancestors[i].as<ir::ForNode>()) {
      path.push_back(l);
      sub[l->loop_var.get()] = ir::Var(l->loop_var.name(), l->loop_var.dtype());
    }
  ir::BlockNode fill;
  fill.name = unused_block_name(f, b->name + "_pad_const");
  std::string fill_name = fill.name;
  ir::VarMap iv_sub;
  for (auto& iv : b->iter_vars) {
    ir::Var nv(iv.var.name(), iv.var.dtype());
    iv_sub[iv.var.get()] = nv;
    fill.iter_vars.push_back(ir::IterVar{nv, iv.dom, iv.kind, iv.thread_tag});
  }
  std::vector<ir::Expr> idx;
  for (auto& e : store->indices) idx.push_back(ir::substitute(e, iv_sub));
  fill.body = ir::buffer_store(store->buffer, pad.dtype() == store->buffer->dtype ? pad : ir::cast(store->buffer->dtype, pad), idx);
  for (auto& w : b->writes) {
    ir::BufferRegion nw{w.buffer, {}};
    for (auto& rg : w.region) nw.region.push_back(ir::Range{ir::substitute(rg.min, iv_sub), ir::substitute(rg.extent, iv_sub)});
    fill.writes.push_back(nw);
  }
  std::vector<ir::Expr> binds;
  for (auto& v : r->iter_values) binds.push_back(ir::substitute(v, sub));
  ir::Stmt fill_nest = ir::block_realize(binds, ir::substitute(r->predicate, sub), ir::make_block(std::move(fill)));
  for (size_t k = path.size(); k-- > 0;) {
    const ir::ForNode* l = path[k];
    fill_nest = ir::for_loop(ir::Var(std::static_pointer_cast<const ir::VarNode>(sub[l->loop_var.get()].ptr())),
                             ir::substitute(l->min, sub), ir::substitute(l->extent, sub), l->for_kind, fill_nest,
                             l->thread_tag, l->annotations);
  }
  // The copy block: only where in_bounds holds (the condition in terms of the loops).
  ir::VarMap bind;
  for (size_t i = 0; i < b->iter_vars.size(); ++i) bind[b->iter_vars[i].var.get()] = r->iter_values[i];
  ir::BlockNode copy = *b;
  copy.body = ir::buffer_store(store->buffer, value, store->indices);
  arith::DomMap dom;
  for (auto& a : loc.ancestors)
    if (auto* l = a.as<ir::ForNode>()) dom[l->loop_var] = ir::Range{l->min, l->extent};
  ir::Expr pred = arith::simplify(and_pred(r->predicate, ir::substitute(cond, bind)), dom);
  ir::Stmt copy_realize = ir::block_realize(r->iter_values, pred, ir::make_block(std::move(copy)));
  const ir::Stmt& loop = loc.ancestors[at];
  ir::Stmt new_loop = detail::Replacer(loc.stmt.get(), copy_realize).mutate(loop);
  return {replace(f, loop, ir::seq({fill_nest, new_loop})), fill_name};
}

}  // namespace kiln::tir::schedule_detail::layout_impl

namespace kiln::tir {

inline void Schedule::pad_einsum(const BlockRV& block, const std::vector<int64_t>& padding) {
  auto loc = locate(block, "pad_einsum");
  func_ = schedule_detail::layout_impl::pad_einsum(func_, loc, padding);
  std::vector<TraceValue> ins{TraceValue::block(block.id)};
  for (int64_t p : padding) ins.push_back(TraceValue::integer(p));
  record("pad_einsum", ins, {});
}

inline BlockRV Schedule::decompose_padding(const BlockRV& block, const LoopRV& loop) {
  auto loc = locate(block, "decompose_padding");
  ir::Var v = loop_var(loop, "decompose_padding");
  auto res = schedule_detail::layout_impl::decompose_padding(func_, loc, v);
  func_ = res.func;
  BlockRV out = new_block(res.fill_block);
  record("decompose_padding", {TraceValue::block(block.id), TraceValue::loop(loop.id)}, {TraceValue::block(out.id)});
  return out;
}

inline const bool registered_padding = [] {
  register_instruction("pad_einsum",
                       {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                          std::vector<int64_t> padding;
                          for (size_t j = 1; j < in.size(); ++j) padding.push_back(in.integer(j));
                          s.pad_einsum(in.block(0), padding);
                          return {};
                        },
                        [](const Instruction& in) {
                          std::string p;
                          for (size_t j = 1; j < in.inputs.size(); ++j) p += (j > 1 ? ", " : "") + trace_detail::cpp_value(in.inputs[j]);
                          return "s.pad_einsum(" + trace_detail::cpp_value(in.inputs[0]) + ", {" + p + "});\n";
                        }});
  register_instruction("decompose_padding", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                                               return {s.decompose_padding(in.block(0), in.loop(1)).id};
                                             },
                                             nullptr});
  return true;
}();

}  // namespace kiln::tir
