// kiln/te/create_prim_func.hpp: from tensor expressions to a PrimFunc in TensorIR form.
//
//   root block (intermediate tensors in its alloc_buffers)
//     for each compute stage, in dependency order:
//       for i0 in [0, e0): ... for k in [0, ek):          (spatial loops outside, reduction inside)
//         block "<stage name>" (spatial then reduce iter vars, bound to the loop vars)
//           reads / writes regions, init = identity store (reductions), body = the store
//
// The arguments become the parameters in the order given; every placeholder a result depends on
// must be among them. Symbolic sizes (te::var) are not parameters: they are bound from the shapes
// of the tensors passed at call time.
#pragma once
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/arith/region.hpp"
#include "kiln/ir/functor.hpp"
#include "kiln/te/compute.hpp"
#include "kiln/te/tensor.hpp"

namespace kiln::te {

namespace detail {

// The regions a block body reads: for now the full extent [0, shape) of each buffer loaded, in
// order of first load. (To be replaced by the exact regions from arith::infer_region.)
inline std::vector<ir::BufferRegion> read_regions(const ir::Stmt& body, const std::vector<ir::IterVar>& iter_vars) {
  // Like TensorIR, a block's regions describe one block instance: the iteration variables are
  // fixed symbols, so A[vi, vk] reads the single element (vi, vk), and A[vi] + A[vi + 1] reads
  // [vi, vi + 2). An index that itself loads from a tensor (gather) reads the whole dimension.
  (void)iter_vars;
  struct Loads : ir::StmtExprVisitor {
    std::vector<ir::Buffer> buffers;
    std::vector<std::vector<std::vector<ir::Expr>>> accesses;  // per buffer, each access's indices
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
    bool found = false;
    struct Finder : ir::StmtExprVisitor {
      bool* found;
      void visit_buffer_load(const ir::BufferLoadNode&) override { *found = true; }
    } f;
    f.found = &found;
    f.visit(e);
    return found;
  };
  std::vector<ir::BufferRegion> out;
  for (size_t k = 0; k < loads.buffers.size(); ++k) {
    const ir::Buffer& b = loads.buffers[k];
    ir::BufferRegion r{b, {}};
    for (size_t d = 0; d < b->shape.size(); ++d) {
      bool gather = false;
      for (auto& idx : loads.accesses[k]) gather = gather || loads_memory(idx[d]);
      std::vector<std::vector<ir::Expr>> dim_accesses;
      for (auto& idx : loads.accesses[k]) dim_accesses.push_back({idx[d]});
      std::optional<ir::Range> exact;
      if (!gather) {
        try {
          exact = arith::infer_region(dim_accesses, {}).at(0);
        } catch (const UserError&) {  // no symbolic bound: fall back to the whole dimension
        }
      }
      r.region.push_back(exact ? *exact : ir::Range{ir::int_imm(0), b->shape[d]});
    }
    out.push_back(std::move(r));
  }
  return out;
}

// Hands out names not used before: "x", then "x_1", "x_2", ...
class NameSupply {
 public:
  void reserve(const std::string& n) { used_.insert(n); }
  std::string fresh(const std::string& hint) {
    std::string n = hint;
    for (int k = 1; used_.count(n); ++k) n = hint + "_" + std::to_string(k);
    used_.insert(n);
    return n;
  }

 private:
  std::set<std::string> used_;
};

// Rewrites a stage's expression: TE variables to block iteration variables, tensor buffers to the
// function's buffers.
class StageRewriter : public ir::StmtExprMutator {
 public:
  StageRewriter(const ir::VarMap& vars, const std::unordered_map<const ir::BufferNode*, ir::Buffer>& buffers)
      : vars_(vars), buffers_(buffers) {}
  ir::Expr mutate_var(const ir::Expr& e) override {
    auto it = vars_.find(static_cast<const ir::VarNode*>(e.get()));
    return it == vars_.end() ? e : it->second;
  }
  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    auto* n = e.as<ir::BufferLoadNode>();
    auto [idx, changed] = mutate_all(n->indices);
    auto it = buffers_.find(n->buffer.get());
    KILN_ICHECK(it != buffers_.end(), "tensor '", n->buffer->name, "' has no buffer in the function");
    if (!changed && it->second.same_as(n->buffer)) return e;
    return ir::buffer_load(it->second, std::move(idx));
  }

 private:
  const ir::VarMap& vars_;
  const std::unordered_map<const ir::BufferNode*, ir::Buffer>& buffers_;
};

inline void collect_vars(const ir::Expr& e, std::vector<ir::Var>& out) {
  ir::for_each_var(e, [&](const ir::VarNode& n, const ir::Expr& v) {
    if (v.dtype().is_handle()) return;
    for (auto& x : out)
      if (x.get() == &n) return;
    out.push_back(ir::Var(std::static_pointer_cast<const ir::VarNode>(v.ptr())));
  });
}

struct Graph {
  std::vector<TensorPtr> order;  // every tensor reached, producers before consumers
  std::unordered_set<const TensorNode*> in_args;
};

inline void visit_tensor(const TensorPtr& t, Graph& g, std::unordered_set<const TensorNode*>& done,
                         const std::string& arg_names) {
  if (done.count(t.get())) return;
  done.insert(t.get());
  for (auto& in : t->inputs) {
    if (!in->is_compute() && !g.in_args.count(in.get()))
      user_error("te::create_prim_func: placeholder '", in->name, "' is read by '", t->name,
                 "' but is not in the argument list (", arg_names, "); pass every input tensor to create_prim_func");
    visit_tensor(in, g, done, arg_names);
  }
  g.order.push_back(t);
}

// One compute stage as a loop nest around its block.
inline ir::Stmt lower_stage(const TensorNode& t, const ir::Buffer& out,
                            const std::unordered_map<const ir::BufferNode*, ir::Buffer>& buffers,
                            const std::vector<ir::Var>& shape_vars, NameSupply& block_names) {
  NameSupply names;
  for (auto& v : shape_vars) names.reserve(v.name());
  auto* red = t.body.as<ir::ReduceNode>();

  std::vector<ir::IterVar> iter_vars;
  std::vector<ir::Var> loop_vars;
  std::vector<ir::Expr> loop_extents, values, out_index;
  ir::VarMap vars;
  auto add_axis = [&](const ir::Var& te_var, ir::Range dom, ir::IterKind kind) {
    ir::Var loop(names.fresh(te_var.name())), iv(names.fresh("v_" + te_var.name()));
    loop_vars.push_back(loop);
    loop_extents.push_back(dom.extent);
    // Loops start at 0; an axis over [min, min + extent) is bound to loop + min.
    values.push_back(ir::is_const_int(dom.min, 0) ? ir::Expr(loop) : ir::add(loop, dom.min));
    iter_vars.push_back(ir::IterVar{iv, dom, kind, {}});
    vars[te_var.get()] = iv;
  };
  for (size_t d = 0; d < t.axes.size(); ++d) {
    add_axis(t.axes[d], ir::Range{ir::int_imm(0), out->shape[d]}, ir::IterKind::DataPar);
    out_index.push_back(iter_vars.back().var);
  }
  if (red)
    for (auto& ax : red->axes) add_axis(ax.var, ax.dom, ir::IterKind::CommReduce);

  StageRewriter rw(vars, buffers);
  // Everything left free after the rewrite must be a symbolic size bound by the arguments.
  auto check_free = [&](const ir::Expr& e) {
    std::vector<ir::Var> free;
    collect_vars(e, free);
    for (auto& v : free) {
      bool ok = false;
      for (auto& s : shape_vars) ok |= s.same_as(v);
      for (auto& iv : iter_vars) ok |= iv.var.same_as(v);
      if (!ok)
        user_error("te::create_prim_func: stage '", t.name, "' uses variable '", v.name(), "', which is neither one ",
                   "of its own axes, a reduce axis it reduces over, nor a symbolic size (te::var) in the shape of an ",
                   "argument; a reduce axis must be passed to the reduction (te::sum(expr, axis)) that uses it");
    }
  };

  ir::BlockNode block;
  ir::Stmt body;
  if (red) {
    ir::Expr source = rw.mutate(red->source);
    check_free(source);
    ir::Expr acc = ir::buffer_load(out, out_index);
    body = ir::buffer_store(out, ir::reduce_combine(red->op, acc, source), out_index);
    if (red->condition.defined()) {
      ir::Expr cond = rw.mutate(red->condition);
      check_free(cond);
      body = ir::if_then_else(cond, body);
    }
    block.init = ir::buffer_store(out, ir::reduce_identity(red->op, out->dtype), out_index);
  } else {
    ir::Expr value = rw.mutate(t.body);
    check_free(value);
    body = ir::buffer_store(out, value, out_index);
  }
  for (auto& iv : iter_vars) {
    check_free(iv.dom.min);
    check_free(iv.dom.extent);
  }
  block.name = block_names.fresh(t.name);
  block.reads = read_regions(body, iter_vars);
  ir::BufferRegion write{out, {}};
  for (auto& i : out_index) write.region.push_back(ir::Range{i, ir::int_imm(1)});
  block.writes = {std::move(write)};
  block.iter_vars = iter_vars;
  block.body = body;
  ir::Stmt s = ir::block_realize(values, ir::bool_imm(true), ir::make_block(std::move(block)));
  for (size_t l = loop_vars.size(); l-- > 0;)
    s = ir::for_loop(loop_vars[l], ir::int_imm(0), loop_extents[l], ir::ForKind::Serial, s);
  return s;
}

}  // namespace detail

// Builds the PrimFunc computing the tensors of `args` (parameters in this order: the inputs it
// reads and the outputs it writes). Intermediate tensors not in `args` become buffers of the root
// block.
inline ir::PrimFunc create_prim_func(const std::vector<TensorRef>& args, std::string name = "main") {
  KILN_USER_CHECK(!args.empty(), "te::create_prim_func needs at least one tensor argument");
  detail::Graph g;
  std::string arg_names;
  for (size_t a = 0; a < args.size(); ++a) {
    auto& t = args[a].ptr();
    KILN_USER_CHECK(t != nullptr, "te::create_prim_func: argument ", a, " is a default-constructed te::Tensor");
    for (size_t b = 0; b < a; ++b)
      if (args[b].ptr() == t)
        user_error("te::create_prim_func: tensor '", t->name, "' is passed twice (arguments ", b, " and ", a,
                   "); pass each tensor once");
    g.in_args.insert(t.get());
    arg_names += (arg_names.empty() ? "" : ", ") + t->name;
  }
  std::unordered_set<const detail::TensorNode*> done;
  for (auto& a : args) detail::visit_tensor(a.ptr(), g, done, arg_names);

  // The function's buffers: parameters keep their tensor's buffer unless a name repeats.
  detail::NameSupply buffer_names;
  std::unordered_map<const ir::BufferNode*, ir::Buffer> buffers;
  auto assign_buffer = [&](const detail::TensorNode& t) {
    std::string n = buffer_names.fresh(t.name);
    const ir::Buffer& b = t.buffer;
    buffers[b.get()] = n == b->name ? b : ir::make_buffer(n, b->dtype, b->shape, b->scope);
  };
  std::vector<ir::Buffer> params;
  for (auto& a : args) {
    assign_buffer(*a.ptr());
    params.push_back(buffers[a.ptr()->buffer.get()]);
  }
  std::vector<ir::Buffer> intermediates;
  for (auto& t : g.order)
    if (!g.in_args.count(t.get())) {
      assign_buffer(*t);
      intermediates.push_back(buffers[t->buffer.get()]);
    }

  // Symbolic sizes: the variables in the parameters' shapes, one name per variable.
  std::vector<ir::Var> shape_vars;
  for (auto& b : params)
    for (auto& e : b->shape) detail::collect_vars(e, shape_vars);
  for (size_t i = 0; i < shape_vars.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (shape_vars[i].name() == shape_vars[j].name())
        user_error("te::create_prim_func: two different symbolic sizes are named '", shape_vars[i].name(),
                   "'; create each size once with te::var and reuse it");
  for (auto& b : intermediates) {
    std::vector<ir::Var> vs;
    for (auto& e : b->shape) detail::collect_vars(e, vs);
    for (auto& v : vs) {
      bool ok = false;
      for (auto& s : shape_vars) ok |= s.same_as(v);
      if (!ok)
        user_error("te::create_prim_func: intermediate tensor '", b->name, "' has symbolic size '", v.name(),
                   "', which is not in the shape of any argument, so it cannot be known at call time");
    }
  }

  detail::NameSupply block_names;
  block_names.reserve("root");
  std::vector<ir::Stmt> stages;
  for (auto& t : g.order)
    if (t->is_compute())
      stages.push_back(detail::lower_stage(*t, buffers[t->buffer.get()], buffers, shape_vars, block_names));
  KILN_USER_CHECK(!stages.empty(), "te::create_prim_func: none of the arguments (", arg_names,
                  ") is computed by te::compute, so there is nothing to compute");

  ir::BlockNode root;
  root.name = "root";
  root.body = ir::seq(std::move(stages));
  root.alloc_buffers = std::move(intermediates);
  ir::Stmt body = ir::block_realize({}, ir::bool_imm(true), ir::make_block(std::move(root)));
  return ir::make_prim_func(std::move(name), std::move(params), std::move(body));
}

}  // namespace kiln::te
