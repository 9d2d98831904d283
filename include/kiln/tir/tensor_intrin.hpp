// kiln/tir/tensor_intrin.hpp: the registry of tensor intrinsics that Schedule::tensorize uses.
//
// A tensor intrinsic is a pair of PrimFuncs over the same parameter buffers (same order, dtypes
// and constant shapes):
//   desc  what one tile computes, as TensorIR: a perfect loop nest around one block without init,
//         each iteration variable of extent > 1 bound to its own loop, e.g.
//           for i, j, k: block: C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]
//   impl  the same tile as plain (vector) code: Ramp/Broadcast loads and stores, fma, calls to
//         LLVM intrinsics; no blocks (a root block around the code is allowed).
// kiln blocks have no match_buffer, so binding is by offset: when tensorize finds that every
// access of the real block is real_buffer[base + desc_index] (base independent of the tile's
// iteration variables; a real buffer may have more leading dimensions than the desc buffer, taken
// whole into the base), it inserts impl with each parameter buffer replaced by the real buffer and
// each index shifted by that base. Strides of the real buffer are applied later by lowering, so
// impl must not assume more about the memory layout than the indices it writes say.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "kiln/ir/ir.hpp"
#include "kiln/ir/printer.hpp"

namespace kiln::tir {

struct TensorIntrin {
  std::string name;
  ir::PrimFunc desc;
  ir::PrimFunc impl;
};

namespace intrin_detail {

// The body of a PrimFunc without its root block (a block with no iteration variables).
inline ir::Stmt strip_root(const ir::Stmt& body) {
  if (auto* r = body.as<ir::BlockRealizeNode>(); r && r->block->iter_vars.empty() && !r->block->init.defined() &&
                                                 r->block->alloc_buffers.empty())
    return r->block->body;
  return body;
}

// One block computation in its loop nest, with the iteration variables that matter: those of
// extent > 1 (unit ones are replaced by their value in `body`).
struct Tile {
  std::vector<ir::Stmt> loops;         // the nest, outermost first
  ir::Stmt realize;                    // the BlockRealize under it
  std::vector<ir::IterVar> iters;      // extent > 1, in the block's order, each bound to one loop
  std::vector<int64_t> extents;        // their constant extents
  ir::Stmt body;                       // the block body, unit iteration variables substituted
  std::unordered_set<const ir::VarNode*> inner_vars;  // every loop and iteration variable of the tile
};

// The tile computed by `nest` (loops around one block). Returns false with `why` set when nest
// is not of that form.
inline bool analyze_tile(const ir::Stmt& nest, Tile& out, std::string& why) {
  ir::Stmt cur = nest;
  while (auto* l = cur.as<ir::ForNode>()) {
    out.loops.push_back(cur);
    out.inner_vars.insert(l->loop_var.get());
    cur = l->body;
  }
  auto* r = cur.as<ir::BlockRealizeNode>();
  if (!r) {
    why = "the statement under the loops is not a single block (loops must nest perfectly around one block)";
    return false;
  }
  out.realize = cur;
  const ir::BlockNode* b = r->block.get();
  if (!ir::is_const_int(r->predicate, 1)) {
    why = "block '" + b->name + "' has the predicate " + ir::to_text(r->predicate) + "; the tile must be complete";
    return false;
  }
  if (b->init.defined()) {
    why = "block '" + b->name + "' has an init statement; the tile must describe the update only";
    return false;
  }
  if (!b->alloc_buffers.empty()) {
    why = "block '" + b->name + "' allocates buffers";
    return false;
  }
  ir::VarMap unit;
  std::vector<const ir::VarNode*> used_loops;
  for (size_t k = 0; k < b->iter_vars.size(); ++k) {
    const ir::IterVar& iv = b->iter_vars[k];
    out.inner_vars.insert(iv.var.get());
    auto ext = ir::const_int(iv.dom.extent);
    if (!ext) {
      why = "iteration variable '" + iv.var.name() + "' has the symbolic extent " + ir::to_text(iv.dom.extent);
      return false;
    }
    if (*ext == 1) {
      unit[iv.var.get()] = iv.dom.min;
      continue;
    }
    const ir::Expr& binding = r->iter_values[k];
    const ir::ForNode* loop = nullptr;
    for (auto& s : out.loops)
      if (binding.same_as(s.as<ir::ForNode>()->loop_var)) loop = s.as<ir::ForNode>();
    if (!loop || !ir::is_const_int(loop->min, 0) || !ir::is_const_int(iv.dom.min, 0) ||
        ir::const_int(loop->extent) != ext) {
      why = "iteration variable '" + iv.var.name() + "' is bound to " + ir::to_text(binding) +
            ", not to one loop of the same extent (" + std::to_string(*ext) + ") inside the tile";
      return false;
    }
    for (auto* u : used_loops)
      if (u == loop->loop_var.get()) {
        why = "loop '" + loop->loop_var.name() + "' is bound to two iteration variables";
        return false;
      }
    used_loops.push_back(loop->loop_var.get());
    out.iters.push_back(iv);
    out.extents.push_back(*ext);
  }
  for (auto& s : out.loops) {
    auto* l = s.as<ir::ForNode>();
    bool used = false;
    for (auto* u : used_loops) used |= u == l->loop_var.get();
    if (!used && !ir::is_const_int(l->extent, 1)) {
      why = "loop '" + l->loop_var.name() + "' (extent " + ir::to_text(l->extent) +
            ") is bound to no iteration variable of block '" + b->name + "', so the block would run repeatedly";
      return false;
    }
  }
  out.body = ir::substitute(b->body, unit);
  return true;
}

// Buffers a statement loads or stores that are not in `allowed` (names, for messages), and
// whether it contains a block.
class ImplChecker : public ir::StmtExprVisitor {
 public:
  std::unordered_set<const ir::BufferNode*> allowed;
  std::string foreign;
  bool has_block = false;
  std::unordered_set<const ir::BufferNode*> used;
  using ir::StmtExprVisitor::visit;
  void visit_buffer_load(const ir::BufferLoadNode& n) override {
    check(n.buffer);
    ir::StmtExprVisitor::visit_buffer_load(n);
  }
  void visit_buffer_store(const ir::BufferStoreNode& n) override {
    check(n.buffer);
    ir::StmtExprVisitor::visit_buffer_store(n);
  }
  void visit_allocate(const ir::AllocateNode& n) override {
    allowed.insert(n.buffer.get());
    ir::StmtExprVisitor::visit_allocate(n);
  }
  void visit_block_realize(const ir::BlockRealizeNode&) override { has_block = true; }

 private:
  void check(const ir::Buffer& b) {
    used.insert(b.get());
    if (!allowed.count(b.get()) && foreign.empty()) foreign = b->name;
  }
};

struct Registry {
  std::mutex mutex;
  std::map<std::string, TensorIntrin> intrins;  // std::map: references stay valid on insertion
};
inline Registry& registry() {
  static Registry r;
  return r;
}

inline std::string shape_text(const ir::Buffer& b) {
  std::string s = "(";
  for (size_t d = 0; d < b->shape.size(); ++d) s += (d ? ", " : "") + ir::to_text(b->shape[d]);
  return s + (b->shape.size() == 1 ? ",)" : ")");
}

}  // namespace intrin_detail

// The registered names, sorted, comma separated ("(none)" when there are none).
inline std::string tensor_intrin_names() {
  auto& r = intrin_detail::registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::string s;
  for (auto& [k, v] : r.intrins) s += (s.empty() ? "'" : ", '") + k + "'";
  return s.empty() ? "(none)" : s;
}

inline bool has_tensor_intrin(const std::string& name) {
  auto& r = intrin_detail::registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.intrins.count(name) != 0;
}

// Registers a tensor intrinsic under `name` after checking that desc and impl fit together (see
// the top of this file). A name can be registered once.
inline void register_tensor_intrin(const std::string& name, const ir::PrimFunc& desc, const ir::PrimFunc& impl) {
  std::string where = "register_tensor_intrin('" + name + "')";
  KILN_USER_CHECK(!name.empty(), "register_tensor_intrin: the name is empty");
  KILN_USER_CHECK(desc.defined() && desc->body.defined(), where, ": desc is not a PrimFunc with a body");
  KILN_USER_CHECK(impl.defined() && impl->body.defined(), where, ": impl is not a PrimFunc with a body");
  if (has_tensor_intrin(name))
    user_error(where, ": a tensor intrinsic named '", name, "' is already registered; choose another name (registered: ",
               tensor_intrin_names(), ")");
  const auto& dp = desc->param_buffers;
  const auto& ip = impl->param_buffers;
  if (dp.size() != ip.size())
    user_error(where, ": desc has ", dp.size(), " parameters but impl has ", ip.size(),
               "; both take the same buffers in the same order");
  for (size_t i = 0; i < dp.size(); ++i) {
    if (!dp[i].defined() || !ip[i].defined())
      user_error(where, ": parameter ", i, " is a scalar; tensor intrinsics take only buffers");
    std::string what = "parameter " + std::to_string(i) + " (desc '" + dp[i]->name + "', impl '" + ip[i]->name + "')";
    if (dp[i]->dtype != ip[i]->dtype)
      user_error(where, ": ", what, " has dtype ", dp[i]->dtype.str(), " in desc but ", ip[i]->dtype.str(), " in impl");
    bool same = dp[i]->shape.size() == ip[i]->shape.size();
    for (size_t d = 0; same && d < dp[i]->shape.size(); ++d) {
      auto a = ir::const_int(dp[i]->shape[d]), b = ir::const_int(ip[i]->shape[d]);
      same = a && b && *a == *b;
    }
    if (!same)
      user_error(where, ": ", what, " has shape ", intrin_detail::shape_text(dp[i]), " in desc but ",
                 intrin_detail::shape_text(ip[i]), " in impl; shapes must be the same constants");
  }
  intrin_detail::Tile tile;
  std::string why;
  if (!intrin_detail::analyze_tile(intrin_detail::strip_root(desc->body), tile, why))
    user_error(where, ": desc is not a tile computation: ", why);
  intrin_detail::ImplChecker dc;
  for (auto& b : dp) dc.allowed.insert(b.get());
  dc.visit(tile.body);
  if (!dc.foreign.empty()) user_error(where, ": desc accesses buffer '", dc.foreign, "', which is not a parameter");
  for (auto& b : dp)
    if (!dc.used.count(b.get()))
      user_error(where, ": desc never accesses its parameter '", b->name, "'; every parameter must be part of the tile");
  intrin_detail::ImplChecker ic;
  for (auto& b : ip) ic.allowed.insert(b.get());
  ic.visit(intrin_detail::strip_root(impl->body));
  if (ic.has_block) user_error(where, ": impl contains a block; impl is plain code (loops, loads, stores, calls)");
  if (!ic.foreign.empty()) user_error(where, ": impl accesses buffer '", ic.foreign, "', which is not a parameter");
  auto& r = intrin_detail::registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.intrins.emplace(name, TensorIntrin{name, desc, impl});
}

inline const TensorIntrin& get_tensor_intrin(const std::string& name) {
  auto& r = intrin_detail::registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.intrins.find(name);
    if (it != r.intrins.end()) return it->second;
  }
  user_error("no tensor intrinsic named '", name, "'; registered: ", tensor_intrin_names(),
             " (the x86 ones are registered by #include <kiln/tir/intrin/x86.hpp>)");
}

}  // namespace kiln::tir
