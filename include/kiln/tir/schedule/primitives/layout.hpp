// kiln/tir/schedule/primitives/layout.hpp: transform_layout and transform_block_layout.
//
// transform_layout gives a buffer a new shape through a tir::IndexMap and rewrites every access
// to it in the function: A[e...] becomes A'[map(e...)], and the blocks' read/write regions follow.
// A buffer that is a function parameter changes the function's calling layout: the caller then
// passes the tensor in the new shape. transform_block_layout remaps a block's iteration space: new
// loops over the mapped domain, the block's bindings the inverse map of the new loop variables.
// The helpers shared with padding.hpp (building loop nests, placing new blocks) live here too.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "kiln/arith/region.hpp"
#include "kiln/tir/index_map.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir::schedule_detail::layout_impl {

// ---- helpers shared by the layout and padding primitives ------------------------------------------

// `base`, or base_1, base_2, ... : the first name no block of f has.
inline std::string unused_block_name(const ir::PrimFunc& f, const std::string& base) {
  auto taken = [&](const std::string& n) { return find_block(f, n).found(); };
  if (!taken(base)) return base;
  for (int k = 1;; ++k)
    if (!taken(base + "_" + std::to_string(k))) return base + "_" + std::to_string(k);
}

// The index of the nearest block around a located statement (its scope) in loc.ancestors.
inline size_t scope_index(const Located& loc) {
  for (size_t i = loc.ancestors.size(); i-- > 0;)
    if (loc.ancestors[i].as<ir::BlockNode>()) return i;
  internal_error("a block outside the root block");
}

// The statement of the scope's body (one entry of its statement list) that holds loc.stmt.
inline ir::Stmt top_in_scope(const Located& loc) {
  for (size_t i = scope_index(loc) + 1; i < loc.ancestors.size(); ++i)
    if (!loc.ancestors[i].as<ir::SeqStmtNode>()) return loc.ancestors[i];
  return loc.stmt;
}

// f with `s` placed right before (or after) `anchor`.
inline ir::PrimFunc insert_next_to(const ir::PrimFunc& f, const ir::Stmt& anchor, const ir::Stmt& s, bool after) {
  return replace(f, anchor, after ? ir::seq({anchor, s}) : ir::seq({s, anchor}));
}

// f with `bufs` added to the alloc_buffers of the block named `scope`.
inline ir::PrimFunc add_allocs(const ir::PrimFunc& f, const std::string& scope, const std::vector<ir::Buffer>& bufs) {
  Located loc = find_block(f, scope);
  auto* r = loc.stmt.as<ir::BlockRealizeNode>();
  ir::BlockNode b = *r->block.get();
  b.alloc_buffers.insert(b.alloc_buffers.end(), bufs.begin(), bufs.end());
  return replace(f, loc.stmt, ir::block_realize(r->iter_values, r->predicate, ir::make_block(std::move(b))));
}

// A loop nest over the box [0, extents) with one spatial block inside; body(vars) builds the
// block's body from its iteration variables, predicate(loop vars) its predicate (undefined: none).
struct NestSpec {
  std::string block_name;
  std::vector<ir::Expr> extents;
  std::function<ir::Stmt(const std::vector<ir::Var>&)> body;
  std::function<ir::Expr(const std::vector<ir::Var>&)> predicate;
  std::function<std::vector<ir::BufferRegion>(const std::vector<ir::Var>&)> reads, writes;
};
inline ir::Stmt make_nest(const NestSpec& spec) {
  std::vector<ir::Var> loops, vars;
  ir::BlockNode b;
  b.name = spec.block_name;
  for (size_t d = 0; d < spec.extents.size(); ++d) {
    loops.emplace_back("ax" + std::to_string(d), DataType::int_(64));
    vars.emplace_back("v_ax" + std::to_string(d), DataType::int_(64));
    b.iter_vars.push_back(ir::IterVar{vars.back(), ir::Range{ir::int_imm(0), spec.extents[d]}, ir::IterKind::DataPar, {}});
  }
  b.body = spec.body(vars);
  if (spec.reads) b.reads = spec.reads(vars);
  if (spec.writes) b.writes = spec.writes(vars);
  ir::Expr pred = spec.predicate ? spec.predicate(loops) : ir::Expr();
  ir::Stmt s = ir::block_realize(std::vector<ir::Expr>(loops.begin(), loops.end()), pred, ir::make_block(std::move(b)));
  for (size_t d = spec.extents.size(); d-- > 0;)
    s = ir::for_loop(loops[d], ir::int_imm(0), spec.extents[d], ir::ForKind::Serial, s);
  return s;
}

// One point region buf[idx...].
inline ir::BufferRegion point_region(const ir::Buffer& buf, const std::vector<ir::Expr>& idx) {
  ir::BufferRegion r{buf, {}};
  for (auto& e : idx) r.region.push_back(ir::Range{e, ir::int_imm(1, e.dtype())});
  return r;
}

// The block's loops (between it and its scope), checked to be its own: a perfect nest, each loop
// bound directly to one of its iteration variables, nothing else under or above them in the scope.
struct OwnLoops {
  std::vector<ir::Stmt> loops;
  std::vector<size_t> iter_of_loop;  // loops[k] binds iter_vars[iter_of_loop[k]]
};
inline OwnLoops own_loops(const char* prim, const Located& loc) {
  auto* r = loc.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode* b = r->block.get();
  std::string where = std::string(prim) + ": block '" + b->name + "'";
  OwnLoops out;
  out.loops = enclosing_loops(loc.ancestors);
  if (!ir::is_const_int(r->predicate, 1))
    user_error(where, " has the predicate ", ir::to_text(r->predicate), " (from a split by a non-dividing factor?); ",
               prim, " needs a block that runs at every point of its loops");
  for (size_t k = 0; k + 1 < out.loops.size(); ++k)
    if (!out.loops[k].as<ir::ForNode>()->body.same_as(out.loops[k + 1]))
      user_error(where, ": its loops ", loop_names(out.loops), " are not a perfect nest (loop ", loop_name(out.loops[k]),
                 " holds more than the next loop); ", prim, " needs a block whose loops hold only it");
  if (!out.loops.empty() && !out.loops.back().as<ir::ForNode>()->body.same_as(loc.stmt))
    user_error(where, ": the innermost loop ", loop_name(out.loops.back()), " holds more than the block; ", prim,
               " needs a block whose loops hold only it");
  for (size_t i = 0; i < b->iter_vars.size(); ++i) {
    const ir::IterVar& iv = b->iter_vars[i];
    if (!ir::is_const_int(iv.dom.min, 0))
      user_error(where, ": iteration variable '", iv.var.name(), "' starts at ", ir::to_text(iv.dom.min), ", not 0");
  }
  std::vector<bool> bound(b->iter_vars.size(), false);
  for (auto& l : out.loops) {
    auto* f = l.as<ir::ForNode>();
    size_t found = b->iter_vars.size();
    for (size_t i = 0; i < r->iter_values.size(); ++i)
      if (r->iter_values[i].same_as(f->loop_var)) found = i;
    if (found == b->iter_vars.size())
      user_error(where, " has non-trivial bindings or sits under loops that are not its own: loop ", loop_name(l),
                 " is not the binding of one of its iteration variables (the bindings are ",
                 [&] {
                   std::string s;
                   for (auto& v : r->iter_values) s += (s.empty() ? "" : ", ") + ir::to_text(v);
                   return s;
                 }(),
                 "); ", prim, " needs each loop around the block to be one iteration variable, as te::compute makes them");
    if (!ir::is_const_int(f->min, 0) || !arith::can_prove(ir::eq(f->extent, b->iter_vars[found].dom.extent)))
      user_error(where, ": loop ", loop_name(l), " does not cover the domain of '", b->iter_vars[found].var.name(),
                 "' exactly");
    if (f->for_kind != ir::ForKind::Serial || !f->annotations.empty())
      user_error(where, ": loop ", loop_name(l), " is ", ir::for_kind_name(f->for_kind),
                 f->annotations.empty() ? "" : " and annotated", "; ", prim,
                 " replaces the block's loops by new serial ones, so set loop kinds and annotations after it");
    bound[found] = true;
    out.iter_of_loop.push_back(found);
  }
  for (size_t i = 0; i < bound.size(); ++i)
    if (!bound[i]) {
      if (!ir::is_const_int(b->iter_vars[i].dom.extent, 1) || !ir::is_const_int(r->iter_values[i], 0))
        user_error(where, ": iteration variable '", b->iter_vars[i].var.name(), "' is bound to ",
                   ir::to_text(r->iter_values[i]), ", not to a loop of its own; ", prim,
                   " needs each iteration variable bound to one loop (trivial bindings)");
    }
  return out;
}

// ---- transform_layout -------------------------------------------------------------------------

// Rewrites every access to `old` (loads, stores, regions, allocations) to `repl` through `map`.
class LayoutRewriter : public ir::StmtExprMutator {
 public:
  LayoutRewriter(ir::Buffer old, ir::Buffer repl, const IndexMap& map) : old_(std::move(old)), new_(std::move(repl)), map_(map) {}
  using ir::StmtExprMutator::mutate;
  std::vector<std::pair<std::string, std::vector<ir::Range>>> wide_regions;  // (block, mapped region) of non-point regions

  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    auto* n = e.as<ir::BufferLoadNode>();
    check_view(n->buffer);
    auto [idx, changed] = mutate_all(n->indices);
    if (!n->buffer.same_as(old_)) return changed ? ir::buffer_load(n->buffer, std::move(idx)) : e;
    return ir::buffer_load(new_, map_indices(idx));
  }
  ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
    auto* n = s.as<ir::BufferStoreNode>();
    ir::Expr v = mutate(n->value);
    check_view(n->buffer);
    auto [idx, changed] = mutate_all(n->indices);
    if (!n->buffer.same_as(old_)) {
      if (!changed && v.same_as(n->value)) return s;
      return ir::Stmt(std::make_shared<const ir::BufferStoreNode>(n->buffer, v, std::move(idx)));
    }
    return ir::buffer_store(new_, v, map_indices(idx));
  }
  ir::Stmt mutate_for(const ir::Stmt& s) override {
    auto* n = s.as<ir::ForNode>();
    dom_[n->loop_var] = ir::Range{n->min, n->extent};
    return ir::StmtExprMutator::mutate_for(s);
  }
  ir::Stmt mutate_allocate(const ir::Stmt& s) override {
    if (s.as<ir::AllocateNode>()->buffer.same_as(old_)) internal_error("transform_layout of an Allocate buffer");
    return ir::StmtExprMutator::mutate_allocate(s);
  }
  ir::Stmt mutate_block(const ir::Stmt& s) override {
    auto* n = s.as<ir::BlockNode>();
    for (auto& iv : n->iter_vars) dom_[iv.var] = iv.dom;
    ir::BlockNode copy = *n;
    bool changed = false;
    for (auto* list : {&copy.reads, &copy.writes})
      for (auto& r : *list)
        if (r.buffer.same_as(old_)) {
          r = ir::BufferRegion{new_, map_region(r.region, n->name)};
          changed = true;
        }
    for (auto& b : copy.alloc_buffers)
      if (b.same_as(old_)) {
        b = new_;
        changed = true;
      }
    copy.init = mutate(n->init);
    copy.body = mutate(n->body);
    changed |= !copy.init.same_as(n->init) || !copy.body.same_as(n->body);
    return changed ? ir::Stmt(ir::make_block(std::move(copy))) : s;
  }

 private:
  ir::Buffer old_, new_;
  const IndexMap& map_;
  arith::DomMap dom_;

  // Another buffer over the same memory (a view) would keep the old layout.
  void check_view(const ir::Buffer& b) const {
    if (!b.same_as(old_) && b->data.same_as(old_->data))
      user_error("transform_layout: buffer '", b->name, "' is a view of the memory of buffer '", old_->name,
                 "', whose layout would change under it; transform the layout before making views of it");
  }

  std::vector<ir::Expr> map_indices(const std::vector<ir::Expr>& idx) {
    for (auto& i : idx)
      if (i.dtype() != DataType::int_(64))
        user_error("transform_layout: buffer '", old_->name, "' is accessed with the index ", ir::to_text(i), " of type ",
                   i.dtype().str(), "; index maps apply to scalar int64 indices (transform layouts before vectorizing)");
    return map_.apply(idx, dom_);
  }
  std::vector<ir::Range> map_region(const std::vector<ir::Range>& region, const std::string& block) {
    bool point = true;
    std::vector<ir::Expr> mins;
    for (auto& r : region) {
      point &= ir::is_const_int(r.extent, 1);
      mins.push_back(r.min);
    }
    std::vector<ir::Range> out;
    if (point) {
      for (auto& e : map_indices(mins)) out.push_back(ir::Range{e, ir::int_imm(1)});
      return out;
    }
    // A box: bound the map over fresh variables ranging over it.
    arith::DomMap dom = dom_;
    std::vector<ir::Expr> xs;
    for (size_t d = 0; d < region.size(); ++d) {
      ir::Var x("x" + std::to_string(d), DataType::int_(64));
      dom[x] = region[d];
      xs.push_back(x);
    }
    out = arith::infer_region({map_.apply(xs, dom)}, dom);
    wide_regions.emplace_back(block, out);
    return out;
  }
};

inline ir::Buffer with_shape(const ir::Buffer& b, std::vector<ir::Expr> shape) {
  auto n = std::make_shared<ir::BufferNode>(*b.get());
  n->shape = std::move(shape);
  return ir::Buffer(std::shared_ptr<const ir::BufferNode>(std::move(n)));
}

// The buffer a block's read or write `index` names; refuses an index out of range.
inline ir::Buffer block_buffer(const char* prim, const ir::BlockNode* b, bool write, int64_t index) {
  const auto& list = write ? b->writes : b->reads;
  if (index < 0 || size_t(index) >= list.size()) {
    std::string names;
    for (size_t k = 0; k < list.size(); ++k) names += (k ? ", " : "") + std::to_string(k) + ": '" + list[k].buffer->name + "'";
    user_error(prim, ": block '", b->name, "' has ", list.size(), " ", write ? "write" : "read", " buffer",
               list.size() == 1 ? "" : "s", " (", names.empty() ? "none" : names, "); ", write ? "write" : "read",
               " buffer index ", index, " is out of range");
  }
  return list[size_t(index)].buffer;
}

inline ir::PrimFunc transform_layout(const ir::PrimFunc& f, const Located& loc, bool write, int64_t index,
                                     const IndexMap& map, std::optional<double> pad_value) {
  const ir::BlockNode* blk = block_of(loc.stmt);
  ir::Buffer buf = block_buffer("transform_layout", blk, write, index);
  std::string where = "transform_layout: buffer '" + buf->name + "' (" + (write ? "write " : "read ") +
                      std::to_string(index) + " of block '" + blk->name + "')";
  KILN_USER_CHECK(map.defined(), where, ": the index map is empty");
  if (map.num_inputs() != buf->shape.size())
    user_error(where, " has ", buf->shape.size(), " dimensions but the index map ", map.to_text(), " takes ",
               map.num_inputs(), " indices");
  if (!buf->strides.empty() || !ir::is_const_int(buf->elem_offset, 0))
    user_error(where, " has explicit strides or an element offset (it is a view); only compact buffers can change layout");
  // Where the buffer is defined: a parameter, or a block's alloc_buffers.
  bool is_param = false, allocated = false;
  for (auto& p : f->param_buffers) is_param |= p.same_as(buf);
  for (auto& b : all_blocks(f))
    for (auto& a : block_of(b.stmt)->alloc_buffers) allocated |= a.same_as(buf);
  if (!is_param && !allocated)
    user_error(where, " is neither a parameter of the function nor allocated by a block; only those can change layout");
  std::vector<ir::Expr> shape;
  IndexMap::Inverse inv;
  try {
    shape = map.map_shape(buf->shape);
    inv = map.non_surjective_inverse(buf->shape);
  } catch (const UserError& e) {
    user_error(where, ": ", e.what());
  }
  bool padded = !ir::is_const_int(inv.padding, 0);
  // The buffer's data pointer is shared by the old and new buffer (a parameter's handle stays).
  ir::Buffer nb = with_shape(buf, shape);
  LayoutRewriter rw(buf, nb, map);
  ir::Stmt body = rw.mutate(f->body);
  // Without a pad value, the padding holds garbage: refuse when a block declares it reads it.
  if (padded && !pad_value)
    for (auto& [block, region] : rw.wide_regions) {
      ir::VarMap sub;
      arith::DomMap dom;
      for (size_t d = 0; d < region.size(); ++d) {
        ir::Var z("z" + std::to_string(d), DataType::int_(64));
        dom[z] = region[d];
        sub[inv.map.initial_indices()[d].get()] = z;
      }
      if (!arith::can_prove(ir::logical_not(ir::substitute(inv.padding, sub)), dom))
        user_error(where, ": block '", block, "' accesses a region of it that includes the padding the map ",
                   map.to_text(), " adds (where ", ir::to_text(inv.padding),
                   "), whose contents would be undefined; give a pad_value");
    }
  auto node = std::make_shared<ir::PrimFuncNode>(*f.get());
  node->body = body;
  for (size_t k = 0; k < node->param_buffers.size(); ++k)
    if (node->param_buffers[k].same_as(buf)) node->param_buffers[k] = nb;
  ir::PrimFunc out(std::shared_ptr<const ir::PrimFuncNode>(std::move(node)));
  if (!padded || !pad_value) return out;
  // Fill the padding right after the last block that writes the buffer.
  Located last;
  for (auto& b : all_blocks(out))
    for (auto& w : block_of(b.stmt)->writes)
      if (w.buffer.same_as(nb)) last = b;
  if (!last.found())
    user_error(where, ": no block writes it (it is an input of the function), so there is no place to write the pad ",
               "value; the caller passes it in the new shape. Call transform_layout without a pad_value");
  NestSpec spec;
  spec.block_name = unused_block_name(out, buf->name + "_pad");
  spec.extents = shape;
  ir::Expr value = ir::make_const(buf->dtype, *pad_value);
  spec.body = [&](const std::vector<ir::Var>& v) { return ir::buffer_store(nb, value, std::vector<ir::Expr>(v.begin(), v.end())); };
  spec.writes = [&](const std::vector<ir::Var>& v) {
    return std::vector<ir::BufferRegion>{point_region(nb, std::vector<ir::Expr>(v.begin(), v.end()))};
  };
  spec.predicate = [&](const std::vector<ir::Var>& l) {
    ir::VarMap sub;
    for (size_t d = 0; d < l.size(); ++d) sub[inv.map.initial_indices()[d].get()] = l[d];
    return ir::substitute(inv.padding, sub);
  };
  return insert_next_to(out, top_in_scope(last), make_nest(spec), true);
}

// ---- transform_block_layout -------------------------------------------------------------------

inline ir::PrimFunc transform_block_layout(const ir::PrimFunc& f, const Located& loc, const IndexMap& map) {
  auto* r = loc.stmt.as<ir::BlockRealizeNode>();
  const ir::BlockNode* b = r->block.get();
  std::string where = "transform_block_layout: block '" + b->name + "'";
  KILN_USER_CHECK(map.defined(), where, ": the index map is empty");
  if (map.num_inputs() != b->iter_vars.size())
    user_error(where, " has ", b->iter_vars.size(), " iteration variables but the index map ", map.to_text(), " takes ",
               map.num_inputs(), " indices");
  OwnLoops own = own_loops("transform_block_layout", loc);
  std::vector<ir::Expr> extents;
  for (auto& iv : b->iter_vars) extents.push_back(iv.dom.extent);
  IndexMap inv;
  std::vector<ir::Expr> shape;
  try {
    shape = map.map_shape(extents);
    inv = map.inverse(extents);
  } catch (const UserError& e) {
    user_error(where, ": ", e.what());
  }
  std::vector<ir::Var> loops;
  arith::DomMap dom;
  for (size_t d = 0; d < shape.size(); ++d) {
    loops.emplace_back("ax" + std::to_string(d), DataType::int_(64));
    dom[loops.back()] = ir::Range{ir::int_imm(0), shape[d]};
  }
  std::vector<ir::Expr> bindings = inv.apply(std::vector<ir::Expr>(loops.begin(), loops.end()), dom);
  ir::Stmt s = ir::block_realize(bindings, r->predicate, r->block);
  for (size_t d = shape.size(); d-- > 0;) s = ir::for_loop(loops[d], ir::int_imm(0), shape[d], ir::ForKind::Serial, s);
  return replace(f, own.loops.empty() ? loc.stmt : own.loops[0], s);
}

}  // namespace kiln::tir::schedule_detail::layout_impl

namespace kiln::tir {

inline void Schedule::transform_layout(const BlockRV& block, BufferIndexType type, int64_t buffer_index,
                                       const IndexMap& index_map, std::optional<double> pad_value) {
  auto loc = locate(block, "transform_layout");
  bool write = type == BufferIndexType::Write;
  func_ = schedule_detail::layout_impl::transform_layout(func_, loc, write, buffer_index, index_map, pad_value);
  record("transform_layout",
         {TraceValue::block(block.id), TraceValue::integer(write ? 1 : 0), TraceValue::integer(buffer_index),
          TraceValue::str(index_map.to_text()), pad_value ? TraceValue::real(*pad_value) : TraceValue::null()},
         {});
}

inline void Schedule::transform_block_layout(const BlockRV& block, const IndexMap& index_map) {
  auto loc = locate(block, "transform_block_layout");
  func_ = schedule_detail::layout_impl::transform_block_layout(func_, loc, index_map);
  record("transform_block_layout", {TraceValue::block(block.id), TraceValue::str(index_map.to_text())}, {});
}

namespace layout_detail {
inline std::string buffer_index_type_cpp(int64_t write) {
  return write ? "tir::BufferIndexType::Write" : "tir::BufferIndexType::Read";
}
inline IndexMap map_of(const ReplayInputs& in, size_t j) { return IndexMap::from_text(in.str(j)); }
inline std::string map_cpp(const TraceValue& v) { return IndexMap::from_text(v.s).to_cpp(); }
}  // namespace layout_detail

inline const bool registered_layout = [] {
  register_instruction("transform_layout",
                       {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                          std::optional<double> pad;
                          if (!in.is_null(4)) pad = in.real(4);
                          s.transform_layout(in.block(0), in.integer(1) ? BufferIndexType::Write : BufferIndexType::Read,
                                             in.integer(2), layout_detail::map_of(in, 3), pad);
                          return {};
                        },
                        [](const Instruction& in) {
                          using trace_detail::cpp_value;
                          std::string pad = in.inputs[4].kind == TraceValue::Kind::Null ? "" : ", " + cpp_value(in.inputs[4]);
                          return "s.transform_layout(" + cpp_value(in.inputs[0]) + ", " +
                                 layout_detail::buffer_index_type_cpp(in.inputs[1].i) + ", " + cpp_value(in.inputs[2]) +
                                 ", " + layout_detail::map_cpp(in.inputs[3]) + pad + ");\n";
                        }});
  register_instruction("transform_block_layout",
                       {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                          s.transform_block_layout(in.block(0), layout_detail::map_of(in, 1));
                          return {};
                        },
                        [](const Instruction& in) {
                          return "s.transform_block_layout(" + trace_detail::cpp_value(in.inputs[0]) + ", " +
                                 layout_detail::map_cpp(in.inputs[1]) + ");\n";
                        }});
  return true;
}();

}  // namespace kiln::tir
