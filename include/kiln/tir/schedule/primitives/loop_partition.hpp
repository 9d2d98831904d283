// kiln/tir/schedule/primitives/loop_partition.hpp: merge and loop_partition.
//
//   merge(loops) runs sibling loop nests (same parent, same depth, equal extents) as one nest whose
//     innermost merged loop holds their bodies in program order. It refuses when a later nest
//     would then read or overwrite what an earlier one handles at another iteration.
//   loop_partition(loop, sizes) cuts a loop into consecutive loops over [0, s0), [s0, s0 + s1),
//     ...; the work under the loop is copied into each part. The first part keeps the block names
//     and inner loops (existing handles refer to it); the copies in part k get fresh variables
//     and the block names "<name>_k". Block iteration domains do not change, so a reduction
//     partitioned along its reduction loop still initializes once, in the first part.
#pragma once
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "kiln/arith/region.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir::schedule_detail {
namespace partition_impl {

inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

inline std::string blocks_under(const ir::Stmt& s) {
  std::string names;
  for (auto& b : child_blocks(s)) names += (names.empty() ? "" : ", ") + quoted(block_of(b)->name);
  return names.empty() ? "no block" : "block " + names;
}

inline std::string range_text(const ir::ForNode& l) {
  std::string s = "extent " + ir::to_text(l.extent);
  return ir::is_const_int(l.min, 0) ? s : s + " from " + ir::to_text(l.min);
}

inline bool provably_equal(const ir::Expr& a, const ir::Expr& b) {
  if (a.dtype() != b.dtype()) return false;
  return ir::is_const_int(arith::simplify(ir::sub(a, b)), 0);
}

// The box of `r` (a block region, through the block's bindings) as `fixed` stays a symbol and
// the variables of `dom` range; empty when it cannot be bounded.
inline std::optional<std::vector<ir::Range>> region_box(const ir::BufferRegion& r, const ir::VarMap& bind, const arith::DomMap& dom) {
  std::vector<ir::Expr> lo, hi;
  for (auto& rg : r.region) {
    ir::Expr mn = ir::substitute(rg.min, bind);
    lo.push_back(mn);
    hi.push_back(ir::sub(ir::add(mn, ir::substitute(rg.extent, bind)), ir::make_const(mn.dtype(), 1)));
  }
  try {
    return arith::infer_region({lo, hi}, dom);
  } catch (const UserError&) {
    return std::nullopt;
  }
}

// One access of a nest to a buffer, seen from the merged loops.
struct Access {
  ir::BufferRegion region;
  ir::VarMap bind;      // block iteration variables -> loop expressions (merged variables)
  arith::DomMap inner;  // the loops under the merged ones, with their domains
  std::string block;
  bool write;
};

// Iterations of merged loop `level` never touch the same element twice across the two
// accesses: along some dimension both cover [s * x + c, s * x + c + w) with w <= s.
inline bool apart_along(const Access& a, const Access& b, const ir::Var& x, const std::vector<ir::Stmt>& merged,
                        size_t level) {
  auto box = [&](const Access& acc) {
    arith::DomMap dom = acc.inner;
    for (size_t k = 0; k < merged.size(); ++k)
      if (k != level) dom[merged[k].as<ir::ForNode>()->loop_var] = ir::Range{merged[k].as<ir::ForNode>()->min, merged[k].as<ir::ForNode>()->extent};
    return region_box(acc.region, acc.bind, dom);
  };
  auto ra = box(a), rb = box(b);
  if (!ra || !rb) return false;
  for (size_t d = 0; d < ra->size(); ++d) {
    const ir::Range& p = (*ra)[d];
    const ir::Range& q = (*rb)[d];
    if (!p.min.dtype().is_integer() || p.min.dtype() != x.dtype()) continue;
    ir::Expr next = ir::substitute(p.min, ir::VarMap{{x.get(), x + 1}});
    auto stride = ir::const_int(arith::simplify(ir::sub(next, p.min)));
    if (!stride || *stride < 1 || !provably_equal(p.min, q.min)) continue;
    auto wa = ir::const_int(arith::simplify(p.extent)), wb = ir::const_int(arith::simplify(q.extent));
    if (wa && wb && *wa <= *stride && *wb <= *stride) return true;
  }
  return false;
}

inline std::string describe_region(const ir::BufferRegion& r) {
  std::string s = r.buffer->name + "[";
  for (size_t d = 0; d < r.region.size(); ++d) {
    s += d ? ", " : "";
    if (ir::is_const_int(r.region[d].extent, 1)) s += ir::to_text(r.region[d].min);
    else s += ir::to_text(r.region[d].min) + ":" + ir::to_text(ir::add(r.region[d].min, r.region[d].extent));
  }
  return s + "]";
}

}  // namespace partition_impl

struct MergedLoopResult {
  ir::PrimFunc func;
  ir::Var loop;  // the innermost merged loop
};

inline MergedLoopResult merge(const ir::PrimFunc& f, const std::vector<ir::Var>& loop_vars) {
  if (loop_vars.size() < 2)
    user_error("merge: needs at least 2 loops, got ", loop_vars.size(), "; e.g. s.merge({i_of_B, i_of_C})");
  std::vector<Located> locs;
  for (size_t k = 0; k < loop_vars.size(); ++k) {
    for (size_t o = 0; o < k; ++o)
      if (loop_vars[o].same_as(loop_vars[k])) user_error("merge: loop '", loop_vars[k].name(), "' is given twice");
    locs.push_back(find_loop(f, loop_vars[k]));
  }
  for (auto& a : locs)
    for (auto& b : locs)
      for (auto& anc : b.ancestors)
        if (anc.same_as(a.stmt))
          user_error("merge: loop ", loop_name(b.stmt), " is inside loop ", loop_name(a.stmt),
                     "; merge takes loops of different loop nests (e.g. the loops of two blocks that run one after the other)");
  // The lowest common ancestor must be a sequence; below it each nest is a perfect chain of loops.
  size_t common = locs[0].ancestors.size();
  for (auto& l : locs) {
    size_t n = 0;
    while (n < common && n < l.ancestors.size() && l.ancestors[n].same_as(locs[0].ancestors[n])) ++n;
    common = n;
  }
  auto* seq = common > 0 ? locs[0].ancestors[common - 1].as<ir::SeqStmtNode>() : nullptr;
  if (!seq)
    user_error("merge: loops ", loop_name(locs[0].stmt), " and ", loop_name(locs[1].stmt),
               " do not head sibling loop nests: they are not in one sequence of statements under a common parent");
  std::vector<std::vector<ir::Stmt>> nests;  // per loop: the chain from the sequence down to it
  for (auto& l : locs) {
    std::vector<ir::Stmt> chain(l.ancestors.begin() + long(common), l.ancestors.end());
    chain.push_back(l.stmt);
    for (size_t k = 0; k < chain.size(); ++k) {
      if (!chain[k].as<ir::ForNode>())
        user_error("merge: between the common parent and loop ", loop_name(l.stmt),
                   " there is a statement that is not a loop (a block or an if); merge takes loops of perfect loop nests");
      if (k + 1 < chain.size() && !chain[k].as<ir::ForNode>()->body.same_as(chain[k + 1]))
        user_error("merge: loop ", loop_name(chain[k + 1]), " is not the whole body of loop ", loop_name(chain[k]),
                   "; the loops above each merged loop must be perfectly nested");
    }
    nests.push_back(std::move(chain));
  }
  for (size_t k = 1; k < nests.size(); ++k)
    if (nests[k].size() != nests[0].size())
      user_error("merge: loop ", loop_name(locs[k].stmt), " is at depth ", nests[k].size(), " below the common parent but loop ",
                 loop_name(locs[0].stmt), " at depth ", nests[0].size(), "; merged loops must be at the same depth");
  // Program order: the position of each nest in the sequence; they must be adjacent.
  std::vector<size_t> pos;
  for (auto& n : nests) {
    size_t p = 0;
    while (!seq->seq[p].same_as(n[0])) ++p;
    pos.push_back(p);
  }
  std::vector<size_t> order(nests.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pos[a] < pos[b]; });
  for (size_t k = 0; k + 1 < order.size(); ++k)
    if (pos[order[k + 1]] != pos[order[k]] + 1)
      user_error("merge: the nests of loops ", loop_name(nests[order[k]][0]), " and ", loop_name(nests[order[k + 1]][0]),
                 " are not adjacent: ", partition_impl::blocks_under(seq->seq[pos[order[k]] + 1]),
                 " runs between them; merge takes loop nests that follow each other directly");
  const std::vector<ir::Stmt>& first = nests[order[0]];
  for (size_t lvl = 0; lvl < first.size(); ++lvl) {
    auto* a = first[lvl].as<ir::ForNode>();
    for (auto& n : nests) {
      auto* b = n[lvl].as<ir::ForNode>();
      if (!partition_impl::provably_equal(a->extent, b->extent) || !partition_impl::provably_equal(a->min, b->min))
        user_error("merge: loop '", b->loop_var.name(), "' has ", partition_impl::range_text(*b), " but loop '", a->loop_var.name(), "' has ",
                   partition_impl::range_text(*a), "; merged loops need equal ranges (split them to match)");
      if (b->for_kind == ir::ForKind::ThreadBinding || !b->annotations.empty())
        user_error("merge: loop '", b->loop_var.name(), "' is bound to a thread or annotated; merge takes plain loops");
      if (b->for_kind != a->for_kind)
        user_error("merge: loop '", b->loop_var.name(), "' is ", ir::for_kind_name(b->for_kind), " but loop '",
                   a->loop_var.name(), "' is ", ir::for_kind_name(a->for_kind), "; merged loops need the same kind");
    }
  }
  // The merged loops (fresh "<name>_m" variables from the first nest) and each nest's variables.
  std::vector<ir::Var> merged_vars;
  for (auto& l : first) merged_vars.push_back(l.as<ir::ForNode>()->loop_var.copy_with_suffix("_m"));
  std::vector<ir::VarMap> to_merged(nests.size());
  for (size_t k = 0; k < nests.size(); ++k)
    for (size_t lvl = 0; lvl < first.size(); ++lvl) to_merged[k][nests[k][lvl].as<ir::ForNode>()->loop_var.get()] = merged_vars[lvl];
  std::vector<ir::Stmt> merged_loops;
  for (size_t lvl = 0; lvl < first.size(); ++lvl) {
    auto* l = first[lvl].as<ir::ForNode>();
    merged_loops.push_back(ir::for_loop(merged_vars[lvl], ir::substitute(l->min, to_merged[order[0]]),
                                        ir::substitute(l->extent, to_merged[order[0]]), l->for_kind, ir::evaluate(ir::int_imm(0))));
  }

  // Legality: a later nest must not touch, at one merged iteration, what an earlier one writes
  // (or reads, when the later one writes) at another.
  std::vector<std::vector<partition_impl::Access>> accesses(nests.size());
  for (size_t k = 0; k < nests.size(); ++k) {
    const ir::Stmt& inner = nests[k].back();
    if (!all_work_in_blocks(inner.as<ir::ForNode>()->body))
      user_error("merge: loop ", loop_name(inner), " has statements outside blocks in its body; merge can only check ",
                 "the accesses of blocks");
    for (auto& r : child_blocks(inner)) {
      Located bl = find_block(f, block_of(r)->name);
      auto* br = bl.stmt.as<ir::BlockRealizeNode>();
      ir::VarMap bind;
      for (size_t i = 0; i < br->iter_values.size(); ++i)
        bind[br->block->iter_vars[i].var.get()] = ir::substitute(br->iter_values[i], to_merged[k]);
      arith::DomMap dom;
      bool below = false;
      for (auto& a : bl.ancestors) {
        if (a.same_as(inner)) {
          below = true;
          continue;
        }
        if (auto* l = a.as<ir::ForNode>(); l && below) dom[l->loop_var] = ir::Range{l->min, l->extent};
      }
      for (auto& w : br->block->writes) accesses[k].push_back({w, bind, dom, br->block->name, true});
      for (auto& rd : br->block->reads) accesses[k].push_back({rd, bind, dom, br->block->name, false});
    }
  }
  for (size_t e = 0; e < order.size(); ++e)
    for (size_t l = e + 1; l < order.size(); ++l)
      for (auto& a : accesses[order[e]])
        for (auto& b : accesses[order[l]]) {
          if (!a.region.buffer.same_as(b.region.buffer) || (!a.write && !b.write)) continue;
          for (size_t lvl = 0; lvl < merged_vars.size(); ++lvl) {
            if (ir::is_const_int(arith::simplify(merged_loops[lvl].as<ir::ForNode>()->extent), 1)) continue;
            if (partition_impl::apart_along(a, b, merged_vars[lvl], merged_loops, lvl)) continue;
            user_error("merge: block '", b.block, "' ", b.write ? "writes " : "reads ", partition_impl::describe_region(b.region),
                       " and the earlier block '", a.block, "' ", a.write ? "writes " : "reads ", partition_impl::describe_region(a.region),
                       "; after merging, iteration ", merged_vars[lvl].name(), " of '", b.block, "' would run before later ",
                       "iterations of '", a.block, "' that touch the same elements. Merge needs the shared buffer accessed ",
                       "element-wise along the merged loop (same index, one iteration per element)");
          }
        }

  // The merged nest at the first nest's place, the others removed.
  std::vector<ir::Stmt> bodies;
  for (size_t k : order) bodies.push_back(ir::substitute(nests[k].back().as<ir::ForNode>()->body, to_merged[k]));
  ir::Stmt body = ir::seq(bodies);
  for (size_t lvl = merged_loops.size(); lvl-- > 0;) {
    auto* l = merged_loops[lvl].as<ir::ForNode>();
    body = ir::for_loop(l->loop_var, l->min, l->extent, l->for_kind, body);
  }
  std::vector<ir::Stmt> items;
  for (size_t p = 0; p < seq->seq.size(); ++p) {
    if (p == pos[order[0]]) items.push_back(body);
    else if (std::find(pos.begin(), pos.end(), p) == pos.end()) items.push_back(seq->seq[p]);
  }
  return {replace(f, locs[0].ancestors[common - 1], ir::seq(items)), merged_vars.back()};
}

namespace partition_impl {

// A copy of a statement with fresh loop and block iteration variables and renamed blocks.
class Duplicator : public ir::StmtExprMutator {
 public:
  Duplicator(std::set<std::string>& used, int part, const std::string& loop) : used_(used), part_(part), loop_(loop) {}
  using ir::StmtExprMutator::mutate;
  ir::Expr mutate_var(const ir::Expr& e) override {
    auto it = map_.find(static_cast<const ir::VarNode*>(e.get()));
    return it == map_.end() ? e : it->second;
  }
  ir::Stmt mutate_for(const ir::Stmt& s) override {
    auto* n = s.as<ir::ForNode>();
    ir::Expr mn = mutate(n->min), ext = mutate(n->extent);
    ir::Var v = n->loop_var.copy_with_suffix("");
    map_[n->loop_var.get()] = v;
    return ir::for_loop(v, mn, ext, n->for_kind, mutate(n->body), n->thread_tag, n->annotations);
  }
  ir::Stmt mutate_block(const ir::Stmt& s) override {
    auto* n = s.as<ir::BlockNode>();
    if (!n->alloc_buffers.empty())
      user_error("loop_partition: block '", n->name, "' under loop '", loop_, "' allocates buffer '", n->alloc_buffers[0]->name,
                 "'; loop_partition cannot copy blocks that allocate buffers");
    ir::BlockNode c = *n;
    std::string hint = n->name + "_" + std::to_string(part_);
    c.name = hint;
    for (int k = 1; used_.count(c.name); ++k) c.name = hint + "_" + std::to_string(k);
    used_.insert(c.name);
    for (auto& iv : c.iter_vars) {
      iv.dom = ir::Range{mutate(iv.dom.min), mutate(iv.dom.extent)};
      ir::Var v = iv.var.copy_with_suffix("");
      map_[iv.var.get()] = v;
      iv.var = v;
    }
    mutate_regions(c.reads);
    mutate_regions(c.writes);
    c.init = mutate(n->init);
    c.body = mutate(n->body);
    return ir::Stmt(ir::make_block(std::move(c)));
  }

 private:
  std::set<std::string>& used_;
  int part_;
  std::string loop_;
  ir::VarMap map_;
};

}  // namespace partition_impl

struct PartitionedLoopResult {
  ir::PrimFunc func;
  std::vector<ir::Var> loops;
};

inline PartitionedLoopResult loop_partition(const ir::PrimFunc& f, const ir::Var& loop_var,
                                      const std::vector<std::optional<int64_t>>& factors) {
  Located loc = find_loop(f, loop_var);
  auto* loop = loc.stmt.as<ir::ForNode>();
  std::string where = "loop_partition: loop '" + loop_var.name() + "'";
  if (factors.size() < 2)
    user_error(where, ": needs at least 2 part sizes, got ", factors.size(), "; e.g. s.loop_partition(loop, {4, std::nullopt})");
  int inferred = -1;
  int64_t given = 0;
  for (size_t k = 0; k < factors.size(); ++k) {
    if (!factors[k]) {
      if (inferred >= 0)
        user_error(where, ": parts ", inferred, " and ", k, " are both std::nullopt; at most one part can take ",
                   "the rest of the extent, give the others as positive integers");
      inferred = int(k);
      continue;
    }
    if (*factors[k] < 1) user_error(where, ": part ", k, " has size ", *factors[k], "; sizes must be positive integers");
    given += *factors[k];
  }
  if (loop->for_kind == ir::ForKind::ThreadBinding)
    user_error(where, " is bound to ", loop->thread_tag, "; loop_partition takes loops not bound to threads");
  DataType t = loop_var.dtype();
  ir::Expr extent = arith::simplify(loop->extent);
  std::optional<int64_t> cext = ir::const_int(extent);
  std::vector<ir::Expr> sizes;
  if (cext) {
    if (inferred < 0 && given != *cext)
      user_error(where, ": the part sizes add up to ", given, " but the loop's extent is ", *cext,
                 "; give sizes that add up to ", *cext, " or make one std::nullopt to take the rest");
    if (inferred >= 0 && given >= *cext)
      user_error(where, ": the given part sizes add up to ", given, ", which leaves nothing of the extent ", *cext,
                 " for the std::nullopt part; give sizes that add up to less than ", *cext);
    for (auto& x : factors) sizes.push_back(ir::int_imm(x ? *x : *cext - given, t));
  } else {
    if (inferred < 0)
      user_error(where, " has the symbolic extent ", ir::to_text(extent), ", so sizes that add up to it cannot be ",
                 "checked; make one size std::nullopt to take the rest");
    // Sizes clamped to what is left, so no part runs past the extent for any value of it.
    ir::Expr offset = ir::int_imm(0, t);
    for (size_t k = 0; k < factors.size(); ++k) {
      int64_t later = 0;
      for (size_t j = k + 1; j < factors.size(); ++j) later += factors[j] ? *factors[j] : 0;
      ir::Expr left = ir::sub(extent, offset);
      ir::Expr s = factors[k] ? ir::min(ir::int_imm(*factors[k], t), left)
                              : ir::max(ir::sub(left, ir::int_imm(later, t)), ir::int_imm(0, t));
      sizes.push_back(arith::simplify(s));
      offset = arith::simplify(ir::add(offset, sizes.back()));
    }
  }
  std::set<std::string> used;
  for (auto& b : all_blocks(f)) used.insert(block_of(b.stmt)->name);
  std::vector<ir::Var> vars;
  std::vector<ir::Stmt> parts;
  ir::Expr offset = loop->min;
  for (size_t k = 0; k < factors.size(); ++k) {
    ir::Var v = loop_var.copy_with_suffix("_p" + std::to_string(k));
    vars.push_back(v);
    ir::Expr value = arith::simplify(ir::add(v, offset));
    ir::Stmt body = ir::substitute(loop->body, ir::VarMap{{loop_var.get(), value}});
    if (k > 0) body = partition_impl::Duplicator(used, int(k), loop_var.name()).mutate(body);
    ir::Stmt part = ir::for_loop(v, ir::int_imm(0, t), sizes[k], loop->for_kind, body, loop->thread_tag, loop->annotations);
    parts.push_back(simplify_bindings(part, loc.ancestors));
    offset = arith::simplify(ir::add(offset, sizes[k]));
  }
  return {replace(f, loc.stmt, ir::seq(parts)), vars};
}

}  // namespace kiln::tir::schedule_detail

namespace kiln::tir {

inline LoopRV Schedule::merge(const std::vector<LoopRV>& loops) {
  std::vector<ir::Var> vars;
  std::vector<TraceValue> ins;
  for (auto& l : loops) {
    vars.push_back(loop_var(l, "merge"));
    ins.push_back(TraceValue::loop(l.id));
  }
  auto r = schedule_detail::merge(func_, vars);
  func_ = r.func;
  LoopRV out = new_loop(r.loop);
  record("merge", ins, {TraceValue::loop(out.id)});
  return out;
}

inline std::vector<LoopRV> Schedule::loop_partition(const LoopRV& loop, const std::vector<std::optional<int64_t>>& factors) {
  ir::Var v = loop_var(loop, "loop_partition");
  auto r = schedule_detail::loop_partition(func_, v, factors);
  func_ = r.func;
  std::vector<TraceValue> ins{TraceValue::loop(loop.id)}, outs;
  for (auto& x : factors) ins.push_back(x ? TraceValue::integer(*x) : TraceValue::null());
  std::vector<LoopRV> out;
  for (auto& nv : r.loops) {
    out.push_back(new_loop(nv));
    outs.push_back(TraceValue::loop(out.back().id));
  }
  record("loop_partition", ins, outs);
  return out;
}

inline const bool registered_loop_partition = [] {
  register_instruction(
      "merge", {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> { return {s.merge(in.loops_from(0)).id}; },
                [](const Instruction& in) {
                  std::string args;
                  for (size_t j = 0; j < in.inputs.size(); ++j) args += (j ? ", " : "") + trace_detail::cpp_value(in.inputs[j]);
                  return "auto " + trace_detail::rv_name(in.outputs.at(0)) + " = s.merge({" + args + "});\n";
                }});
  register_instruction(
      "loop_partition",
      {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
         std::vector<std::optional<int64_t>> factors;
         for (size_t j = 1; j < in.size(); ++j)
           factors.push_back(in.is_null(j) ? std::nullopt : std::optional<int64_t>(in.integer(j)));
         std::vector<int64_t> ids;
         for (auto& l : s.loop_partition(in.loop(0), factors)) ids.push_back(l.id);
         return ids;
       },
       // loop_partition returns a std::vector (no <N> form): name it, then take its elements.
       [](const Instruction& in) {
         std::string sizes, parts = "parts_" + std::to_string(in.outputs.empty() ? 0 : in.outputs[0].i);
         for (size_t j = 1; j < in.inputs.size(); ++j) sizes += (j > 1 ? ", " : "") + trace_detail::cpp_value(in.inputs[j]);
         std::string o = "auto " + parts + " = s.loop_partition(" + trace_detail::cpp_value(in.inputs.at(0)) + ", {" + sizes + "});\n";
         for (size_t j = 0; j < in.outputs.size(); ++j)
           o += "auto " + trace_detail::rv_name(in.outputs[j]) + " = " + parts + "[" + std::to_string(j) + "];\n";
         return o;
       }});
  return true;
}();

}  // namespace kiln::tir
