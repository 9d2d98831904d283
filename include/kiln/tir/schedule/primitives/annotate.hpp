// kiln/tir/schedule/primitives/annotate.hpp: loop kinds (parallel, vectorize, unroll, bind) and
// annotations on loops and blocks.
#pragma once
#include <string>

#include "kiln/tir/schedule/state.hpp"

namespace kiln::tir::schedule_detail {

inline ir::Stmt with_loop_kind(const ir::ForNode& l, ir::ForKind kind, const std::string& tag) {
  return ir::for_loop(l.loop_var, l.min, l.extent, kind, l.body, tag, l.annotations);
}

// Iterations of a parallel, vectorized or thread-bound loop run in no fixed order, which is
// only safe when no block under it binds the loop into a reduction (or opaque) iteration
// variable: those carry a dependence from one iteration to the next.
inline void check_spatial_only(const char* prim, const ir::Stmt& loop_stmt) {
  auto* loop = loop_stmt.as<ir::ForNode>();
  walk(loop->body, [&](const ir::Stmt& s, const std::vector<ir::Stmt>&) {
    auto* r = s.as<ir::BlockRealizeNode>();
    if (!r) return;
    for (size_t i = 0; i < r->iter_values.size(); ++i) {
      const ir::IterVar& iv = r->block->iter_vars[i];
      if (iv.kind == ir::IterKind::DataPar || !ir::uses_var(r->iter_values[i], loop->loop_var.get())) continue;
      std::string p = prim;
      const char* done = p == "parallel" ? "parallelized" : p == "vectorize" ? "vectorized" : "bound to a thread axis";
      user_error(prim, ": loop '", loop->loop_var.name(), "' feeds the ", ir::iter_kind_name(iv.kind),
                 " iteration variable '", iv.var.name(), "' of block '", r->block->name,
                 "', so its iterations depend on each other; only loops that bind spatial (data-parallel) iteration ",
                 "variables can be ", done, ". Pick a spatial loop, or rfactor the reduction first");
    }
  });
}

inline void check_kind_change(const char* prim, const ir::ForNode& l, ir::ForKind kind) {
  if (l.for_kind != ir::ForKind::Serial && l.for_kind != kind)
    user_error(prim, ": loop '", l.loop_var.name(), "' is already ", ir::for_kind_name(l.for_kind),
               l.for_kind == ir::ForKind::ThreadBinding ? " (" + l.thread_tag + ")" : std::string(),
               "; a loop has one kind, split it to give the parts different kinds");
}

inline ir::PrimFunc set_loop_kind(const ir::PrimFunc& f, const ir::Var& v, ir::ForKind kind, const std::string& tag) {
  Located loc = find_loop(f, v);
  auto* l = loc.stmt.as<ir::ForNode>();
  const char* prim = kind == ir::ForKind::Parallel ? "parallel"
                     : kind == ir::ForKind::Vectorized ? "vectorize"
                     : kind == ir::ForKind::Unrolled ? "unroll" : "bind";
  check_kind_change(prim, *l, kind);
  if (kind == ir::ForKind::ThreadBinding) {
    if (!ir::is_known_thread_tag(tag))
      user_error("bind: '", tag, "' is not a thread axis; the legal ones are blockIdx.x, blockIdx.y, blockIdx.z, ",
                 "threadIdx.x, threadIdx.y, threadIdx.z, vthread, vthread.x, vthread.y, vthread.z");
    if (l->for_kind == ir::ForKind::ThreadBinding && l->thread_tag != tag)
      user_error("bind: loop '", v.name(), "' is already bound to ", l->thread_tag,
                 "; a loop is bound to one thread axis, split it to bind the parts to different axes");
  }
  if (kind == ir::ForKind::Vectorized) {
    ir::Expr ext = arith::simplify(l->extent);
    if (!ir::const_int(ext))
      user_error("vectorize: loop '", v.name(), "' has the extent ", ir::to_text(ext),
                 ", which is not a constant; a vectorized loop needs a constant extent (it becomes the vector width). ",
                 "Split it by a constant first, e.g. s.split(loop, {std::nullopt, 8}), and vectorize the inner loop");
  }
  if (kind == ir::ForKind::Unrolled) {
    // An unrolled loop becomes that many copies of its body for LLVM: tens of thousands of copies
    // take minutes to compile and blow the instruction cache.
    constexpr int64_t kMaxUnroll = 1024;
    auto ext = ir::const_int(arith::simplify(l->extent));
    if (ext && *ext > kMaxUnroll)
      user_error("unroll: loop '", v.name(), "' has ", *ext, " iterations; kiln fully unrolls loops of at most ",
                 kMaxUnroll, " iterations. Split it first, e.g. s.split(loop, {std::nullopt, 8}), and unroll the inner loop");
  }
  if (kind != ir::ForKind::Unrolled) check_spatial_only(prim, loc.stmt);
  return replace(f, loc.stmt, with_loop_kind(*l, kind, tag));
}

inline ir::Stmt with_annotations(const ir::Stmt& s, ir::Annotations ann) {
  if (auto* l = s.as<ir::ForNode>())
    return ir::for_loop(l->loop_var, l->min, l->extent, l->for_kind, l->body, l->thread_tag, std::move(ann));
  auto* r = s.as<ir::BlockRealizeNode>();
  ir::BlockNode b = *r->block.get();
  b.annotations = std::move(ann);
  return ir::Stmt(std::make_shared<const ir::BlockRealizeNode>(r->iter_values, r->predicate, ir::make_block(std::move(b))));
}

inline const ir::Annotations& annotations_of(const ir::Stmt& s) {
  if (auto* l = s.as<ir::ForNode>()) return l->annotations;
  return s.as<ir::BlockRealizeNode>()->block->annotations;
}

inline std::string describe(const ir::Stmt& s) {
  if (auto* l = s.as<ir::ForNode>()) return "loop '" + l->loop_var.name() + "'";
  return "block '" + s.as<ir::BlockRealizeNode>()->block->name + "'";
}

inline ir::PrimFunc annotate(const ir::PrimFunc& f, const ir::Stmt& target, const std::string& key, const ir::Expr& value) {
  KILN_USER_CHECK(!key.empty(), "annotate: ", describe(target), ": the annotation key is empty");
  ir::Annotations ann = annotations_of(target);
  ann[key] = value;
  return replace(f, target, with_annotations(target, std::move(ann)));
}

inline ir::PrimFunc unannotate(const ir::PrimFunc& f, const ir::Stmt& target, const std::string& key) {
  ir::Annotations ann = annotations_of(target);
  if (!ann.count(key)) {
    std::string keys;
    for (auto& [k, v] : ann) keys += (keys.empty() ? "'" : ", '") + k + "'";
    user_error("unannotate: ", describe(target), " has no annotation '", key, "'; it has ",
               keys.empty() ? "none" : keys);
  }
  ann.erase(key);
  return replace(f, target, with_annotations(target, std::move(ann)));
}

}  // namespace kiln::tir::schedule_detail
