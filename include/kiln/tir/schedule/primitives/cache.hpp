// kiln/tir/schedule/primitives/cache.hpp: data movement and storage: cache_read, cache_write,
// cache_inplace, reindex, set_scope and storage_align.
//
// The cache primitives work on blocks of the root scope. A copy is a new block (over new loops)
// that moves a whole buffer, element by element, between the original buffer and a new one
// allocated in the root block; it is inserted as a top-level statement of the root block, next to
// the top-level statement (loop nest) that holds the block it serves. So a cache is set up before
// compute_at moves blocks into each other's loops, as in TVM. set_scope and storage_align change
// a buffer the function allocates (never a parameter: its layout belongs to the caller).
#pragma once
#include <string>
#include <vector>

#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {
// The helpers live in their own namespace so that names other primitive files give their helpers in
// schedule_detail (is_param_buffer, ...) cannot clash with these.
namespace schedule_detail::cache_ops {

// Replaces buffers (by node) everywhere: loads, stores, block regions, alloc_buffers, Allocates.
class BufferReplacer : public ir::StmtExprMutator {
 public:
  explicit BufferReplacer(std::vector<std::pair<ir::Buffer, ir::Buffer>> map) : map_(std::move(map)) {}
  using ir::StmtExprMutator::mutate;

  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    ir::Expr m = ir::StmtExprMutator::mutate_buffer_load(e);
    auto* n = m.as<ir::BufferLoadNode>();
    const ir::Buffer& b = lookup(n->buffer);
    return b.same_as(n->buffer) ? m : ir::buffer_load(b, n->indices);
  }
  ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
    ir::Stmt m = ir::StmtExprMutator::mutate_buffer_store(s);
    auto* n = m.as<ir::BufferStoreNode>();
    const ir::Buffer& b = lookup(n->buffer);
    return b.same_as(n->buffer) ? m : ir::buffer_store(b, n->value, n->indices);
  }
  ir::Stmt mutate_allocate(const ir::Stmt& s) override {
    ir::Stmt m = ir::StmtExprMutator::mutate_allocate(s);
    auto* n = m.as<ir::AllocateNode>();
    const ir::Buffer& b = lookup(n->buffer);
    return b.same_as(n->buffer) ? m : ir::allocate(b, n->body);
  }
  ir::Stmt mutate_block(const ir::Stmt& s) override {
    ir::Stmt m = ir::StmtExprMutator::mutate_block(s);
    ir::BlockNode copy = *m.as<ir::BlockNode>();
    bool changed = false;
    for (auto* rs : {&copy.reads, &copy.writes})
      for (auto& r : *rs) changed |= swap(r.buffer);
    for (auto& b : copy.alloc_buffers) changed |= swap(b);
    return changed ? ir::Stmt(ir::make_block(std::move(copy))) : m;
  }

 private:
  const ir::Buffer& lookup(const ir::Buffer& b) const {
    for (auto& [from, to] : map_)
      if (from.same_as(b)) return to;
    return b;
  }
  bool swap(ir::Buffer& b) const {
    const ir::Buffer& to = lookup(b);
    if (to.same_as(b)) return false;
    b = to;
    return true;
  }
  std::vector<std::pair<ir::Buffer, ir::Buffer>> map_;
};

inline ir::Stmt replace_buffers(const ir::Stmt& s, std::vector<std::pair<ir::Buffer, ir::Buffer>> map) {
  return BufferReplacer(std::move(map)).mutate(s);
}

// The root block's realize and its top-level statements (the loop nests of the root scope).
struct RootScope {
  ir::Stmt realize;
  std::vector<ir::Stmt> top;
  const ir::BlockNode* block() const { return block_of(realize); }
};

inline RootScope root_scope(const ir::PrimFunc& f, const char* prim) {
  auto blocks = all_blocks(f);
  if (blocks.empty() || !blocks[0].ancestors.empty() || !f->body.same_as(blocks[0].stmt))
    user_error(prim, ": the function's body is not a root block; cache primitives insert their copy blocks into the ",
               "root block (functions made by te::create_prim_func have one)");
  RootScope r{blocks[0].stmt, {}};
  const ir::Stmt& body = r.block()->body;
  r.top = body.as<ir::SeqStmtNode>() ? body.as<ir::SeqStmtNode>()->seq : std::vector<ir::Stmt>{body};
  return r;
}

// The function with the root block's top-level statements and alloc_buffers replaced.
inline ir::PrimFunc with_root(const ir::PrimFunc& f, const RootScope& r, std::vector<ir::Stmt> top,
                              const std::vector<ir::Buffer>& new_allocs) {
  ir::BlockNode b = *r.block();
  b.body = ir::seq(std::move(top));
  for (auto& a : new_allocs) b.alloc_buffers.push_back(a);
  auto* rz = r.realize.as<ir::BlockRealizeNode>();
  return replace(f, r.realize, ir::block_realize(rz->iter_values, rz->predicate, ir::make_block(std::move(b))));
}

inline bool contains_block(const ir::Stmt& s, const std::string& name) {
  bool found = false;
  walk(s, [&](const ir::Stmt& x, const std::vector<ir::Stmt>&) {
    if (auto* r = x.as<ir::BlockRealizeNode>(); r && r->block->name == name) found = true;
  });
  return found;
}

// Which top-level statement of the root holds block `name`.
inline size_t top_index(const RootScope& r, const std::string& name) {
  for (size_t i = 0; i < r.top.size(); ++i)
    if (contains_block(r.top[i], name)) return i;
  internal_error("block '", name, "' is not under the root block");
}

// The blocks of the root scope (not nested in another block) that write / read buffer b.
inline std::vector<const ir::BlockNode*> blocks_touching(const RootScope& r, const ir::Buffer& b, bool writers) {
  std::vector<const ir::BlockNode*> out;
  for (auto& s : child_blocks(r.realize)) {
    const ir::BlockNode* blk = block_of(s);
    for (auto& reg : writers ? blk->writes : blk->reads)
      if (reg.buffer.same_as(b)) {
        out.push_back(blk);
        break;
      }
  }
  return out;
}

inline std::string quoted_names(const std::vector<const ir::BlockNode*>& blocks) {
  std::string s;
  for (auto* b : blocks) s += (s.empty() ? "'" : ", '") + b->name + "'";
  return s;
}

// "0: 'A', 1: 'B'": what a buffer index may refer to.
inline std::string buffer_list(const std::vector<ir::BufferRegion>& regions) {
  std::string s;
  for (size_t i = 0; i < regions.size(); ++i)
    s += (i ? ", " : "") + std::to_string(i) + ": '" + regions[i].buffer->name + "'";
  return s.empty() ? "none" : s;
}

// The block `name` (located), checked to exist and to sit directly in the root scope.
inline Located block_in_root(const ir::PrimFunc& f, const RootScope& r, const std::string& name, const char* prim) {
  Located loc = find_block(f, name);
  KILN_ICHECK(loc.found(), "block '", name, "' vanished");
  for (size_t i = loc.ancestors.size(); i-- > 0;)
    if (auto* rz = loc.ancestors[i].as<ir::BlockRealizeNode>()) {
      if (!loc.ancestors[i].same_as(r.realize))
        user_error(prim, ": block '", name, "' is nested inside block '", rz->block->name, "'; ", prim,
                   " works on blocks of the root scope. Apply it before blockize, or to block '", rz->block->name, "'");
      break;
    }
  if (block_of(loc.stmt) == r.block())
    user_error(prim, ": the root block has no buffers to cache; pick a block inside it");
  return loc;
}

inline const ir::BufferRegion& region_at(const ir::BlockNode& b, bool read, int64_t index, const char* prim,
                                         const char* index_name) {
  const auto& regions = read ? b.reads : b.writes;
  if (index < 0 || size_t(index) >= regions.size())
    user_error(prim, ": ", index_name, " ", index, " is out of range for block '", b.name, "', which ",
               read ? "reads " : "writes ", regions.size(), regions.size() == 1 ? " buffer" : " buffers", " (",
               buffer_list(regions), ")");
  return regions[size_t(index)];
}

inline std::string known_scopes() {
  return "\"global\", \"local\", \"shared\", \"shared.dyn\", \"warp\", \"global.texture\", \"vtcm\"";
}

inline void check_scope(const std::string& scope, const char* prim) {
  if (!ir::is_known_scope(scope))
    user_error(prim, ": '", scope, "' is not a storage scope; the known scopes are ", known_scopes(),
               " (on CPU use \"global\" or \"local\")");
}

inline bool is_param_buffer(const ir::PrimFunc& f, const ir::Buffer& b) {
  for (auto& p : f->param_buffers)
    if (p.same_as(b)) return true;
  return false;
}

// A block name not yet taken: base, base_1, base_2, ...
inline std::string unique_block_name(const ir::PrimFunc& f, const std::string& base,
                                     const std::vector<std::string>& also_taken = {}) {
  std::vector<std::string> taken = also_taken;
  for (auto& b : all_blocks(f)) taken.push_back(block_of(b.stmt)->name);
  auto free = [&](const std::string& n) {
    for (auto& t : taken)
      if (t == n) return false;
    return true;
  };
  if (free(base)) return base;
  for (int k = 1;; ++k)
    if (free(base + "_" + std::to_string(k))) return base + "_" + std::to_string(k);
}

inline std::string scope_suffix(const std::string& scope) {
  std::string s = scope;
  for (auto& c : s)
    if (c == '.') c = '_';
  return s;
}

// A copy block over a rectangular domain: dst[dst_index(v)] = src[src_index(v)] for every v in
// doms, inside one new serial loop per dimension ("ax0", "ax1", ...).
inline ir::Stmt make_copy(const std::string& name, const ir::Buffer& src, const ir::Buffer& dst,
                          const std::vector<ir::Range>& doms,
                          const std::function<std::vector<ir::Expr>(const std::vector<ir::Expr>&)>& src_index,
                          const std::function<std::vector<ir::Expr>(const std::vector<ir::Expr>&)>& dst_index) {
  std::vector<ir::Var> loops;
  std::vector<ir::Expr> vars;
  ir::BlockNode b;
  b.name = name;
  for (size_t d = 0; d < doms.size(); ++d) {
    DataType t = doms[d].extent.dtype();
    loops.emplace_back("ax" + std::to_string(d), t);
    ir::Var v("v" + std::to_string(d), t);
    vars.push_back(v);
    b.iter_vars.push_back(ir::IterVar{v, doms[d], ir::IterKind::DataPar, {}});
  }
  std::vector<ir::Expr> si = src_index(vars), di = dst_index(vars);
  auto point = [](const ir::Buffer& buf, const std::vector<ir::Expr>& idx) {
    ir::BufferRegion r{buf, {}};
    for (auto& i : idx) r.region.push_back(ir::Range{i, ir::int_imm(1, i.dtype())});
    return r;
  };
  b.reads = {point(src, si)};
  b.writes = {point(dst, di)};
  b.body = ir::buffer_store(dst, ir::buffer_load(src, si), di);
  std::vector<ir::Expr> values;
  for (size_t d = 0; d < doms.size(); ++d)
    values.push_back(ir::is_const_int(doms[d].min, 0) ? ir::Expr(loops[d]) : arith::simplify(loops[d] + doms[d].min));
  ir::Stmt s = ir::block_realize(values, ir::bool_imm(true), ir::make_block(std::move(b)));
  for (size_t d = doms.size(); d-- > 0;)
    s = ir::for_loop(loops[d], ir::int_imm(0, doms[d].extent.dtype()), doms[d].extent, ir::ForKind::Serial, s);
  return s;
}

// The whole of buffer `src` copied into `dst` (same shape).
inline ir::Stmt make_whole_copy(const std::string& name, const ir::Buffer& src, const ir::Buffer& dst) {
  std::vector<ir::Range> doms;
  for (auto& d : src->shape) doms.push_back(ir::Range{ir::int_imm(0, d.dtype()), d});
  auto same = [](const std::vector<ir::Expr>& v) { return v; };
  return make_copy(name, src, dst, doms, same, same);
}

inline ir::Buffer cache_buffer(const ir::Buffer& b, const std::string& name, const std::string& scope) {
  return ir::make_buffer(name, b->dtype, b->shape, scope);
}

// A copy of b's node with one field changed.
inline ir::Buffer buffer_with(const ir::Buffer& b, const std::function<void(ir::BufferNode&)>& change) {
  auto n = std::make_shared<ir::BufferNode>(*b.get());
  change(*n);
  return ir::Buffer(std::shared_ptr<const ir::BufferNode>(std::move(n)));
}

// No other block of the top-level statement holding `block` may touch b: the copies go before
// or after that whole statement.
inline void check_alone_in_nest(const RootScope& r, size_t pos, const std::string& block, const ir::Buffer& b,
                                const char* prim) {
  for (auto& s : child_blocks(r.realize)) {
    const ir::BlockNode* o = block_of(s);
    if (o->name == block || !contains_block(r.top[pos], o->name)) continue;
    bool touches = false;
    for (auto* rs : {&o->reads, &o->writes})
      for (auto& reg : *rs) touches |= reg.buffer.same_as(b);
    if (touches)
      user_error(prim, ": block '", o->name, "' also accesses '", b->name, "' inside the same loop nest as block '",
                 block, "', so no single place outside that nest can hold the copy; apply ", prim,
                 " before compute_at / reverse_compute_at put the blocks into one loop nest");
  }
}

// A block that reads the buffer it writes keeps doing so through a write cache only when its
// init (a reduction's first step) writes it first; otherwise it needs the old values.
inline void check_no_read_before_write(const ir::BlockNode& blk, const ir::Buffer& b, const char* prim) {
  bool reads = false;
  for (auto& r : blk.reads) reads |= r.buffer.same_as(b);
  if (!reads) return;
  bool init_writes = false;
  if (blk.init.defined())
    walk(blk.init, [&](const ir::Stmt& s, const std::vector<ir::Stmt>&) {
      if (auto* st = s.as<ir::BufferStoreNode>(); st && st->buffer.same_as(b)) init_writes = true;
    });
  if (!init_writes)
    user_error(
        prim, ": block '", blk.name, "' reads '", b->name, "' before writing it (an in-place update without an ",
        "init), so a new buffer would start without the old values; use cache_inplace, which copies them in first");
}

// True when the block writes every element of b over its iteration domain: each dimension is
// written at one distinct iteration variable spanning the whole dimension, or as a whole.
inline bool writes_whole_buffer(const ir::BlockNode& blk, const ir::BufferRegion& w) {
  if (w.region.size() != w.buffer->shape.size()) return false;
  std::vector<const ir::VarNode*> used;
  for (size_t d = 0; d < w.region.size(); ++d) {
    const ir::Range& rg = w.region[d];
    ir::Expr dim = w.buffer->shape[d];
    auto equal = [](const ir::Expr& a, const ir::Expr& b) {
      if (a.dtype() != b.dtype()) return ir::const_int(a) && ir::const_int(b) && *ir::const_int(a) == *ir::const_int(b);
      return ir::is_const_int(arith::simplify(a - b), 0);
    };
    if (ir::is_const_int(rg.min, 0) && equal(rg.extent, dim)) continue;
    auto* v = rg.min.as<ir::VarNode>();
    if (!v || !ir::is_const_int(rg.extent, 1)) return false;
    const ir::IterVar* iv = nullptr;
    for (auto& x : blk.iter_vars)
      if (x.var.get() == v) iv = &x;
    if (!iv || iv->kind != ir::IterKind::DataPar || !ir::is_const_int(iv->dom.min, 0) || !equal(iv->dom.extent, dim))
      return false;
    for (auto* u : used)
      if (u == v) return false;
    used.push_back(v);
  }
  return true;
}

inline std::string region_text(const ir::BufferRegion& r) {
  std::string s = r.buffer->name + "[";
  for (size_t d = 0; d < r.region.size(); ++d) {
    const ir::Range& rg = r.region[d];
    s += (d ? ", " : "") + ir::to_text(rg.min);
    if (!ir::is_const_int(rg.extent, 1)) s += ":" + ir::to_text(arith::simplify(rg.min + rg.extent));
  }
  return s + "]";
}

// ---- cache_read ---------------------------------------------------------------------------------
struct CacheResult {
  ir::PrimFunc func;
  std::vector<std::string> blocks;  // the new blocks
};

inline CacheResult cache_read(const ir::PrimFunc& f, const std::string& block, int64_t index,
                              const std::string& scope) {
  const char* prim = "cache_read";
  RootScope r = root_scope(f, prim);
  Located loc = block_in_root(f, r, block, prim);
  const ir::BlockNode& blk = *block_of(loc.stmt);
  ir::Buffer buf = region_at(blk, true, index, prim, "read_buffer_index").buffer;
  check_scope(scope, prim);
  auto writers = blocks_touching(r, buf, true);
  if (writers.size() > 1)
    user_error(prim, ": block '", block, "' reads '", buf->name, "', which is written by blocks ",
               quoted_names(writers), "; a read cache is filled after the single block that produces the buffer");
  size_t insert = 0;
  if (!writers.empty()) {
    const ir::BlockNode* producer = writers[0];
    if (producer->name == block)
      user_error(prim, ": block '", block, "' both reads and writes '", buf->name,
                 "'; use cache_inplace (a copy in before the block and out after it) or cache_write");
    insert = top_index(r, producer->name) + 1;
    for (auto* c : blocks_touching(r, buf, false)) {
      if (c == producer) continue;
      size_t p = top_index(r, c->name);
      if (p < insert)
        user_error(prim, ": block '", c->name, "' reads '", buf->name, "' ",
                   p + 1 == insert ? "inside the same loop nest as its producer '" : "before its producer '",
                   producer->name, "' runs, so there is no place after the producer and before every consumer for the ",
                   "copy; apply cache_read before compute_at / reverse_compute_at merge the loop nests");
    }
  }
  std::string name = unique_block_name(f, buf->name + "_" + scope_suffix(scope));
  ir::Buffer cache = cache_buffer(buf, name, scope);
  std::vector<ir::Stmt> top(r.top.begin(), r.top.begin() + std::ptrdiff_t(insert));
  top.push_back(make_whole_copy(name, buf, cache));
  // Every statement after the copy reads the cache (the producer, if any, is before it).
  for (size_t i = insert; i < r.top.size(); ++i) top.push_back(replace_buffers(r.top[i], {{buf, cache}}));
  return {with_root(f, r, std::move(top), {cache}), {name}};
}

// ---- cache_write --------------------------------------------------------------------------------
inline CacheResult cache_write(const ir::PrimFunc& f, const std::string& block, int64_t index,
                               const std::string& scope) {
  const char* prim = "cache_write";
  RootScope r = root_scope(f, prim);
  Located loc = block_in_root(f, r, block, prim);
  const ir::BlockNode& blk = *block_of(loc.stmt);
  const ir::BufferRegion& w = region_at(blk, false, index, prim, "write_buffer_index");
  ir::Buffer buf = w.buffer;
  check_scope(scope, prim);
  auto writers = blocks_touching(r, buf, true);
  if (writers.size() > 1)
    user_error(prim, ": buffer '", buf->name, "' is written by blocks ", quoted_names(writers),
               "; cache_write needs block '", block,
               "' to be its only producer, since the copy back writes the whole buffer");
  check_no_read_before_write(blk, buf, prim);
  if (!writes_whole_buffer(blk, w))
    user_error(prim, ": cannot show that block '", block, "' writes all of '", buf->name, "' (it writes ",
               region_text(w), "); the copy back writes the whole buffer, so the block must write every element of it");
  size_t pos = top_index(r, block);
  check_alone_in_nest(r, pos, block, buf, prim);
  std::string name = unique_block_name(f, buf->name + "_" + scope_suffix(scope));
  ir::Buffer cache = cache_buffer(buf, name, scope);
  std::vector<ir::Stmt> top(r.top.begin(), r.top.begin() + std::ptrdiff_t(pos));
  top.push_back(replace_buffers(r.top[pos], {{buf, cache}}));
  top.push_back(make_whole_copy(name, cache, buf));
  top.insert(top.end(), r.top.begin() + std::ptrdiff_t(pos) + 1, r.top.end());
  return {with_root(f, r, std::move(top), {cache}), {name}};
}

// ---- cache_inplace ------------------------------------------------------------------------------
inline CacheResult cache_inplace(const ir::PrimFunc& f, const std::string& block, int64_t index,
                                 const std::string& scope) {
  const char* prim = "cache_inplace";
  RootScope r = root_scope(f, prim);
  Located loc = block_in_root(f, r, block, prim);
  const ir::BlockNode& blk = *block_of(loc.stmt);
  ir::Buffer buf = region_at(blk, true, index, prim, "read_buffer_index").buffer;
  check_scope(scope, prim);
  bool writes = false;
  for (auto& w : blk.writes) writes |= w.buffer.same_as(buf);
  if (!writes)
    user_error(prim, ": block '", block, "' reads '", buf->name,
               "' but does not write it; cache_inplace is for a block ",
               "that updates a buffer in place, use cache_read for a buffer it only reads");
  size_t pos = top_index(r, block);
  check_alone_in_nest(r, pos, block, buf, prim);
  std::string base = buf->name + "_" + scope_suffix(scope);
  std::string read_name = unique_block_name(f, base);
  std::string write_name = unique_block_name(f, base, {read_name});
  ir::Buffer cache = cache_buffer(buf, read_name, scope);
  std::vector<ir::Stmt> top(r.top.begin(), r.top.begin() + std::ptrdiff_t(pos));
  top.push_back(make_whole_copy(read_name, buf, cache));
  top.push_back(replace_buffers(r.top[pos], {{buf, cache}}));
  top.push_back(make_whole_copy(write_name, cache, buf));
  top.insert(top.end(), r.top.begin() + std::ptrdiff_t(pos) + 1, r.top.end());
  return {with_root(f, r, std::move(top), {cache}), {read_name, write_name}};
}

// ---- reindex ------------------------------------------------------------------------------------
inline CacheResult reindex(const ir::PrimFunc& f, const std::string& block, bool read, int64_t index) {
  const char* prim = "reindex";
  RootScope r = root_scope(f, prim);
  Located loc = block_in_root(f, r, block, prim);
  const ir::BlockNode& blk = *block_of(loc.stmt);
  ir::Buffer buf = region_at(blk, read, index, prim, "buffer_index").buffer;
  if (!child_blocks(loc.stmt).empty())
    user_error(prim, ": block '", block, "' has blocks inside it; reindex rewrites the accesses of a block without ",
               "inner blocks (apply it before blockize)");
  // Every access of buf in the block must use the same indices.
  std::vector<ir::Expr> indices;
  bool found = false;
  auto same = [](const std::vector<ir::Expr>& a, const std::vector<ir::Expr>& b) {
    for (size_t d = 0; d < a.size(); ++d)
      if (a[d].dtype() != b[d].dtype() || !ir::is_const_int(arith::simplify(a[d] - b[d]), 0)) return false;
    return true;
  };
  auto text = [&](const std::vector<ir::Expr>& idx) {
    std::string s = buf->name + "[";
    for (size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + ir::to_text(idx[d]);
    return s + "]";
  };
  auto see = [&](const std::vector<ir::Expr>& idx) {
    if (!found) {
      indices = idx;
      found = true;
    } else if (!same(indices, idx))
      user_error(prim, ": block '", block, "' accesses '", buf->name, "' at different indices (", text(indices),
                 " and ", text(idx), "); reindex needs a single access pattern to index the new buffer by");
  };
  struct Accesses : ir::StmtExprVisitor {
    const ir::Buffer& b;
    const std::function<void(const std::vector<ir::Expr>&)>& f;
    Accesses(const ir::Buffer& b_, const std::function<void(const std::vector<ir::Expr>&)>& f_) : b(b_), f(f_) {}
    void visit_buffer_load(const ir::BufferLoadNode& n) override {
      if (n.buffer.same_as(b)) f(n.indices);
      ir::StmtExprVisitor::visit_buffer_load(n);
    }
    void visit_buffer_store(const ir::BufferStoreNode& n) override {
      if (n.buffer.same_as(b)) f(n.indices);
      ir::StmtExprVisitor::visit_buffer_store(n);
    }
  };
  std::function<void(const std::vector<ir::Expr>&)> see_fn = see;
  Accesses acc(buf, see_fn);
  acc.visit(blk.init);
  acc.visit(blk.body);
  if (!found)
    user_error(prim, ": block '", block, "' declares '", buf->name, "' but never loads or stores it, so there is no ",
               "access to reindex");
  // The iteration variables the indices use, in block order: the new buffer's dimensions.
  std::vector<bool> covered(blk.iter_vars.size(), false);
  for (size_t k = 0; k < blk.iter_vars.size(); ++k)
    for (auto& i : indices) covered[k] = covered[k] || ir::uses_var(i, blk.iter_vars[k].var.get());
  arith::DomMap dom;
  for (auto& iv : blk.iter_vars) dom[iv.var] = iv.dom;
  if (read) {
    // The copy reads buf at every point of the domain, not only where the block did.
    for (size_t d = 0; d < indices.size(); ++d) {
      ir::Expr i = indices[d], dim = buf->shape[d];
      ir::Expr zero = ir::int_imm(0, i.dtype());
      bool in =
          arith::can_prove(ir::ge(i, zero), dom) &&
          (dim.dtype() == i.dtype()
               ? arith::can_prove(ir::lt(i, dim), dom)
               : arith::can_prove(ir::lt(ir::cast(DataType::int_(64), i), ir::cast(DataType::int_(64), dim)), dom));
      if (!in)
        user_error(prim, ": cannot show that index ", d, " of ", text(indices), " stays inside '", buf->name,
                   "' over the whole iteration domain of block '", block, "' (the access may be guarded by a ",
                   "condition); the copy would read every point of that domain");
    }
    auto writers = blocks_touching(r, buf, true);
    size_t pos = top_index(r, block);
    for (auto* w : writers)
      if (w->name != block && top_index(r, w->name) >= pos)
        user_error(prim, ": buffer '", buf->name, "' is written by block '", w->name, "' ",
                   top_index(r, w->name) == pos ? "inside the same loop nest as" : "after", " block '", block,
                   "', so the copy before that loop nest would miss its values");
    for (auto* w : writers)
      if (w->name == block)
        user_error(prim, ": block '", block, "' also writes '", buf->name, "'; reindex it as a write buffer (",
                   "tir::BufferIndexType::Write)");
  } else {
    auto writers = blocks_touching(r, buf, true);
    if (writers.size() > 1)
      user_error(prim, ": buffer '", buf->name, "' is written by blocks ", quoted_names(writers),
                 "; reindex needs block '", block, "' to be its only producer");
    check_no_read_before_write(blk, buf, prim);
    // Each written index is one iteration variable (distinct) or a constant, so the copy back
    // writes each element once.
    std::vector<const ir::VarNode*> used;
    for (auto& i : indices) {
      if (ir::const_int(i)) continue;
      auto* v = i.as<ir::VarNode>();
      bool distinct = v != nullptr;
      for (auto* u : used) distinct = distinct && u != v;
      if (!distinct)
        user_error(prim, ": block '", block, "' writes ", text(indices), "; a write reindex needs every index to be a ",
                   "distinct iteration variable or a constant, so each element is copied back exactly once");
      used.push_back(v);
    }
    check_alone_in_nest(r, top_index(r, block), block, buf, prim);
  }
  std::string name = unique_block_name(f, buf->name + "_reindex");
  std::vector<ir::Expr> shape;
  std::vector<ir::Range> doms;
  for (size_t k = 0; k < blk.iter_vars.size(); ++k) {
    const ir::IterVar& iv = blk.iter_vars[k];
    shape.push_back(covered[k] ? iv.dom.extent : ir::int_imm(1, iv.dom.extent.dtype()));
    if (covered[k]) doms.push_back(iv.dom);
  }
  ir::Buffer re = ir::make_buffer(name, buf->dtype, shape, buf->scope);
  // New-buffer indices for a point of the covered variables (unit dimensions at 0).
  auto re_index = [&](const std::vector<ir::Expr>& vals) {
    std::vector<ir::Expr> out;
    size_t j = 0;
    for (size_t k = 0; k < blk.iter_vars.size(); ++k) {
      const ir::IterVar& iv = blk.iter_vars[k];
      if (!covered[k]) {
        out.push_back(ir::int_imm(0, iv.var.dtype()));
        continue;
      }
      const ir::Expr& v = vals[j++];
      out.push_back(ir::is_const_int(iv.dom.min, 0) ? v : arith::simplify(v - iv.dom.min));
    }
    return out;
  };
  // Old-buffer indices for a point of the covered variables.
  auto old_index = [&](const std::vector<ir::Expr>& vals) {
    ir::VarMap sub;
    size_t j = 0;
    for (size_t k = 0; k < blk.iter_vars.size(); ++k)
      if (covered[k]) sub[blk.iter_vars[k].var.get()] = vals[j++];
    std::vector<ir::Expr> out;
    for (auto& i : indices) out.push_back(ir::substitute(i, sub));
    return out;
  };
  std::vector<ir::Expr> own;
  for (size_t k = 0; k < blk.iter_vars.size(); ++k)
    if (covered[k]) own.push_back(blk.iter_vars[k].var);
  std::vector<ir::Expr> new_idx = re_index(own);
  // The block: every access of buf becomes an access of the new buffer at new_idx.
  class Rewriter : public ir::StmtExprMutator {
   public:
    Rewriter(ir::Buffer from, ir::Buffer to, std::vector<ir::Expr> idx) : from_(from), to_(to), idx_(std::move(idx)) {}
    using ir::StmtExprMutator::mutate;
    ir::Expr mutate_buffer_load(const ir::Expr& e) override {
      auto* n = e.as<ir::BufferLoadNode>();
      return n->buffer.same_as(from_) ? ir::buffer_load(to_, idx_) : ir::StmtExprMutator::mutate_buffer_load(e);
    }
    ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
      auto* n = s.as<ir::BufferStoreNode>();
      if (!n->buffer.same_as(from_)) return ir::StmtExprMutator::mutate_buffer_store(s);
      return ir::buffer_store(to_, mutate(n->value), idx_);
    }

   private:
    ir::Buffer from_, to_;
    std::vector<ir::Expr> idx_;
  };
  ir::BlockNode nb = blk;
  Rewriter rw(buf, re, new_idx);
  nb.init = rw.mutate(blk.init);
  nb.body = rw.mutate(blk.body);
  for (auto* rs : {&nb.reads, &nb.writes})
    for (auto& reg : *rs)
      if (reg.buffer.same_as(buf)) {
        reg.buffer = re;
        reg.region.clear();
        for (auto& i : new_idx) reg.region.push_back(ir::Range{i, ir::int_imm(1, i.dtype())});
      }
  auto* rz = loc.stmt.as<ir::BlockRealizeNode>();
  ir::Stmt new_realize = ir::block_realize(rz->iter_values, rz->predicate, ir::make_block(std::move(nb)));
  ir::PrimFunc g = replace(f, loc.stmt, new_realize);
  RootScope r2 = root_scope(g, prim);
  size_t pos = top_index(r2, block);
  std::vector<ir::Stmt> top(r2.top.begin(), r2.top.begin() + std::ptrdiff_t(pos));
  if (read) top.push_back(make_copy(name, buf, re, doms, old_index, re_index));
  top.push_back(r2.top[pos]);
  if (!read) top.push_back(make_copy(name, re, buf, doms, re_index, old_index));
  top.insert(top.end(), r2.top.begin() + std::ptrdiff_t(pos) + 1, r2.top.end());
  return {with_root(g, r2, std::move(top), {re}), {name}};
}

// ---- set_scope / storage_align ------------------------------------------------------------------
// The block that allocates b, refusing parameters.
inline void check_allocated(const ir::PrimFunc& f, const ir::Buffer& b, const std::string& block, const char* prim,
                            const char* instead) {
  if (is_param_buffer(f, b))
    user_error(prim, ": buffer '", b->name, "' (written by block '", block, "') is a parameter of the function; ",
               "its memory belongs to the caller, so only buffers the function allocates can be changed. ", instead);
  bool allocated = false;
  for (auto& l : all_blocks(f))
    for (auto& a : block_of(l.stmt)->alloc_buffers) allocated |= a.same_as(b);
  if (!allocated)
    user_error(prim, ": buffer '", b->name, "' is not allocated by any block of the function (no alloc_buffer)");
}

inline ir::PrimFunc set_scope(const ir::PrimFunc& f, const std::string& block, int64_t index,
                              const std::string& scope) {
  const char* prim = "set_scope";
  Located loc = find_block(f, block);
  const ir::BlockNode& blk = *block_of(loc.stmt);
  ir::Buffer buf = region_at(blk, false, index, prim, "write_buffer_index").buffer;
  check_scope(scope, prim);
  check_allocated(f, buf, block, prim, "Use cache_write to compute into a new buffer in that scope instead");
  if (buf->scope == scope) return f;
  ir::Buffer nb = buffer_with(buf, [&](ir::BufferNode& n) { n.scope = scope; });
  return ir::with_body(f, replace_buffers(f->body, {{buf, nb}}));
}

// One storage_align request: buffer `buffer_index` of the block's writes gets a stride on `axis`
// with stride % factor == offset.
struct DimAlign {
  int64_t buffer_index, axis, factor, offset;
};

inline const char* kBufferDimAlign = "buffer_dim_align";

// The annotation is a string "[[buffer_index, axis, factor, offset], ...]" (TVM's list of lists).
inline std::vector<DimAlign> parse_dim_aligns(const ir::Expr& e, const std::string& block) {
  auto* s = e.as<ir::StringImmNode>();
  auto bad = [&]() -> std::vector<DimAlign> {
    user_error("storage_align: block '", block, "' has a '", kBufferDimAlign, "' annotation that is not of the form ",
               "\"[[buffer_index, axis, factor, offset], ...]\"; remove it with unannotate");
  };
  if (!s) return bad();
  std::vector<int64_t> nums;
  const std::string& t = s->value;
  for (size_t i = 0; i < t.size();) {
    char c = t[i];
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t used = 0;
      try {
        nums.push_back(std::stoll(t.substr(i), &used));
      } catch (...) {
        return bad();
      }
      i += used;
    } else if (c == '[' || c == ']' || c == ',' || c == ' ') {
      ++i;
    } else {
      return bad();
    }
  }
  if (nums.size() % 4) return bad();
  std::vector<DimAlign> out;
  for (size_t i = 0; i < nums.size(); i += 4) {
    DimAlign a{nums[i], nums[i + 1], nums[i + 2], nums[i + 3]};
    // What storage_align itself would refuse (a factor of 0 would divide by zero below).
    if (a.buffer_index < 0 || a.axis < 0 || a.factor <= 0 || a.offset < 0 || a.offset >= a.factor) return bad();
    out.push_back(a);
  }
  return out;
}

inline std::string dim_aligns_text(const std::vector<DimAlign>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", [" : "[") + std::to_string(v[i].buffer_index) + ", " + std::to_string(v[i].axis) + ", " +
         std::to_string(v[i].factor) + ", " + std::to_string(v[i].offset) + "]";
  return s + "]";
}

// Row-major strides of b, each stride of an aligned axis padded up to the next value with
// stride % factor == offset (innermost first, so outer strides include the padding).
inline std::vector<ir::Expr> aligned_strides(const ir::Buffer& b,
                                             const std::vector<std::pair<int64_t, DimAlign>>& aligns) {
  size_t nd = b->shape.size();
  std::vector<ir::Expr> strides(nd);
  DataType t = nd ? b->shape.back().dtype() : DataType::int_(64);
  for (auto& d : b->shape)
    if (d.dtype().bits > t.bits) t = d.dtype();
  auto conv = [&](const ir::Expr& e) { return e.dtype() == t ? e : ir::cast(t, e); };
  ir::Expr s = ir::int_imm(1, t);
  for (size_t d = nd; d-- > 0;) {
    for (auto& [axis, a] : aligns)
      if (axis == int64_t(d)) {
        ir::Expr factor = ir::int_imm(a.factor, t);
        s = arith::simplify(s + ir::floormod(ir::int_imm(a.factor + a.offset, t) - ir::floormod(s, factor), factor));
      }
    strides[d] = s;
    s = arith::simplify(s * conv(b->shape[d]));
  }
  return strides;
}

inline ir::PrimFunc storage_align(const ir::PrimFunc& f, const std::string& block, int64_t index, int64_t axis,
                                  int64_t factor, int64_t offset) {
  const char* prim = "storage_align";
  Located loc = find_block(f, block);
  const ir::BlockNode& blk = *block_of(loc.stmt);
  ir::Buffer buf = region_at(blk, false, index, prim, "write_buffer_index").buffer;
  check_allocated(f, buf, block, prim, "Align a buffer the function allocates, e.g. a cache made by cache_read");
  int64_t nd = int64_t(buf->shape.size());
  if (axis < 0 || axis >= nd)
    user_error(prim, ": axis ", axis, " is out of range for buffer '", buf->name, "', which has ", nd,
               nd == 1 ? " dimension" : " dimensions", "; use an axis in [0, ", nd, ")");
  if (factor <= 0)
    user_error(prim, ": factor ", factor, " must be positive (the stride is padded to a multiple of it plus offset)");
  if (offset < 0 || offset >= factor)
    user_error(prim, ": offset ", offset, " must be in [0, factor) = [0, ", factor, ")");
  // Record (replacing an earlier request for the same buffer and axis) on the block.
  std::vector<DimAlign> aligns;
  if (auto it = blk.annotations.find(kBufferDimAlign); it != blk.annotations.end())
    aligns = parse_dim_aligns(it->second, block);
  bool replaced = false;
  for (auto& a : aligns)
    if (a.buffer_index == index && a.axis == axis) {
      a = {index, axis, factor, offset};
      replaced = true;
    }
  if (!replaced) aligns.push_back({index, axis, factor, offset});
  ir::BlockNode nb = blk;
  nb.annotations[kBufferDimAlign] = ir::string_imm(dim_aligns_text(aligns));
  auto* rz = loc.stmt.as<ir::BlockRealizeNode>();
  ir::PrimFunc g =
      replace(f, loc.stmt, ir::block_realize(rz->iter_values, rz->predicate, ir::make_block(std::move(nb))));
  // The buffer's strides follow from every request on it, from any block that writes it.
  std::vector<std::pair<int64_t, DimAlign>> on_buf;
  for (auto& l : all_blocks(g)) {
    const ir::BlockNode* b = block_of(l.stmt);
    auto it = b->annotations.find(kBufferDimAlign);
    if (it == b->annotations.end()) continue;
    for (auto& a : parse_dim_aligns(it->second, b->name))
      if (a.buffer_index >= 0 && size_t(a.buffer_index) < b->writes.size() &&
          b->writes[size_t(a.buffer_index)].buffer.same_as(buf))
        on_buf.push_back({a.axis, a});
  }
  std::vector<ir::Expr> strides = aligned_strides(buf, on_buf);
  ir::Buffer aligned = buffer_with(buf, [&](ir::BufferNode& n) { n.strides = strides; });
  return ir::with_body(g, replace_buffers(g->body, {{buf, aligned}}));
}

}  // namespace schedule_detail::cache_ops

inline BlockRV Schedule::cache_read(const BlockRV& block, int64_t read_buffer_index, const std::string& storage_scope) {
  std::string name = schedule_detail::block_of(locate(block, "cache_read").stmt)->name;
  auto r = schedule_detail::cache_ops::cache_read(func_, name, read_buffer_index, storage_scope);
  func_ = r.func;
  BlockRV out = new_block(r.blocks[0]);
  record("cache_read",
         {TraceValue::block(block.id), TraceValue::integer(read_buffer_index), TraceValue::str(storage_scope)},
         {TraceValue::block(out.id)});
  return out;
}

inline BlockRV Schedule::cache_write(const BlockRV& block, int64_t write_buffer_index,
                                     const std::string& storage_scope) {
  std::string name = schedule_detail::block_of(locate(block, "cache_write").stmt)->name;
  auto r = schedule_detail::cache_ops::cache_write(func_, name, write_buffer_index, storage_scope);
  func_ = r.func;
  BlockRV out = new_block(r.blocks[0]);
  record("cache_write",
         {TraceValue::block(block.id), TraceValue::integer(write_buffer_index), TraceValue::str(storage_scope)},
         {TraceValue::block(out.id)});
  return out;
}

inline std::vector<BlockRV> Schedule::cache_inplace(const BlockRV& block, int64_t read_buffer_index,
                                                    const std::string& storage_scope) {
  std::string name = schedule_detail::block_of(locate(block, "cache_inplace").stmt)->name;
  auto r = schedule_detail::cache_ops::cache_inplace(func_, name, read_buffer_index, storage_scope);
  func_ = r.func;
  std::vector<BlockRV> out{new_block(r.blocks[0]), new_block(r.blocks[1])};
  record("cache_inplace",
         {TraceValue::block(block.id), TraceValue::integer(read_buffer_index), TraceValue::str(storage_scope)},
         {TraceValue::block(out[0].id), TraceValue::block(out[1].id)});
  return out;
}

inline BlockRV Schedule::reindex(const BlockRV& block, BufferIndexType type, int64_t buffer_index) {
  std::string name = schedule_detail::block_of(locate(block, "reindex").stmt)->name;
  bool read = type == BufferIndexType::Read;
  auto r = schedule_detail::cache_ops::reindex(func_, name, read, buffer_index);
  func_ = r.func;
  BlockRV out = new_block(r.blocks[0]);
  record("reindex",
         {TraceValue::block(block.id), TraceValue::str(read ? "read" : "write"), TraceValue::integer(buffer_index)},
         {TraceValue::block(out.id)});
  return out;
}

inline void Schedule::set_scope(const BlockRV& block, int64_t write_buffer_index, const std::string& storage_scope) {
  std::string name = schedule_detail::block_of(locate(block, "set_scope").stmt)->name;
  func_ = schedule_detail::cache_ops::set_scope(func_, name, write_buffer_index, storage_scope);
  record("set_scope",
         {TraceValue::block(block.id), TraceValue::integer(write_buffer_index), TraceValue::str(storage_scope)}, {});
}

inline void Schedule::storage_align(const BlockRV& block, int64_t write_buffer_index, int64_t axis, int64_t factor,
                                    int64_t offset) {
  std::string name = schedule_detail::block_of(locate(block, "storage_align").stmt)->name;
  func_ = schedule_detail::cache_ops::storage_align(func_, name, write_buffer_index, axis, factor, offset);
  record("storage_align",
         {TraceValue::block(block.id), TraceValue::integer(write_buffer_index), TraceValue::integer(axis),
          TraceValue::integer(factor), TraceValue::integer(offset)},
         {});
}

namespace schedule_detail::cache_ops {
// cache_inplace returns a std::vector: printed as a named vector and one handle per element.
inline std::string cache_inplace_cpp(const Instruction& in) {
  using trace_detail::cpp_value;
  std::string r = trace_detail::rv_name(in.outputs.at(0)), w = trace_detail::rv_name(in.outputs.at(1));
  std::string v = "cache_" + r + "_" + w;
  return "auto " + v + " = s.cache_inplace(" + cpp_value(in.inputs.at(0)) + ", " + cpp_value(in.inputs.at(1)) + ", " +
         cpp_value(in.inputs.at(2)) + ");\nauto " + r + " = " + v + "[0];\nauto " + w + " = " + v + "[1];\n";
}
// The buffer index type is recorded as "read" / "write" and printed as the enum.
inline std::string reindex_cpp(const Instruction& in) {
  using trace_detail::cpp_value;
  std::string type = in.inputs.at(1).s == "read" ? "tir::BufferIndexType::Read" : "tir::BufferIndexType::Write";
  return "auto " + trace_detail::rv_name(in.outputs.at(0)) + " = s.reindex(" + cpp_value(in.inputs.at(0)) + ", " +
         type + ", " + cpp_value(in.inputs.at(2)) + ");\n";
}
}  // namespace schedule_detail::cache_ops

inline const bool registered_cache = [] {
  using Ids = std::vector<int64_t>;
  register_instruction("cache_read", {[](Schedule& s, const ReplayInputs& in) -> Ids {
                                        return {s.cache_read(in.block(0), in.integer(1), in.str(2)).id};
                                      },
                                      nullptr});
  register_instruction("cache_write", {[](Schedule& s, const ReplayInputs& in) -> Ids {
                                         return {s.cache_write(in.block(0), in.integer(1), in.str(2)).id};
                                       },
                                       nullptr});
  auto inplace = [](Schedule& s, const ReplayInputs& in) -> Ids {
    auto v = s.cache_inplace(in.block(0), in.integer(1), in.str(2));
    return {v[0].id, v[1].id};
  };
  register_instruction("cache_inplace", {inplace, schedule_detail::cache_ops::cache_inplace_cpp});
  auto reindex = [](Schedule& s, const ReplayInputs& in) -> Ids {
    const std::string& t = in.str(1);
    KILN_USER_CHECK(t == "read" || t == "write", "trace: 'reindex' input 1 must be \"read\" or \"write\", not \"", t,
                    "\"");
    return {s.reindex(in.block(0), t == "read" ? BufferIndexType::Read : BufferIndexType::Write, in.integer(2)).id};
  };
  register_instruction("reindex", {reindex, schedule_detail::cache_ops::reindex_cpp});
  register_instruction("set_scope", {[](Schedule& s, const ReplayInputs& in) -> Ids {
                                       s.set_scope(in.block(0), in.integer(1), in.str(2));
                                       return {};
                                     },
                                     nullptr});
  register_instruction("storage_align", {[](Schedule& s, const ReplayInputs& in) -> Ids {
                                           s.storage_align(in.block(0), in.integer(1), in.integer(2), in.integer(3),
                                                           in.integer(4));
                                           return {};
                                         },
                                         nullptr});
  return true;
}();

}  // namespace kiln::tir
