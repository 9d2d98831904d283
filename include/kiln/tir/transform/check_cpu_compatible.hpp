// kiln/tir/transform/check_cpu_compatible.hpp: rejects, with a message saying what to do, programs
// that only make sense on a GPU (thread-bound loops, GPU memory scopes) before a CPU backend sees
// them. Works on blocked (TensorIR) and lowered IR alike.
#pragma once
#include "kiln/ir/ir.hpp"
#include "kiln/tir/transform/check_vectorized_loops.hpp"

namespace kiln::tir {
namespace detail {

inline bool is_gpu_only_scope(const std::string& s) { return s == "shared" || s == "shared.dyn" || s == "warp"; }

class CpuCompatibilityChecker : public ir::StmtExprVisitor {
 public:
  explicit CpuCompatibilityChecker(std::string func) : func_(std::move(func)) {}

  void check_buffer(const ir::Buffer& b) {
    if (!b.defined() || !is_gpu_only_scope(b->scope)) return;
    user_error("in function '", func_, "': buffer '", b->name, "' lives in the GPU-only storage scope '", b->scope,
               "', which a CPU target does not have. Use scope \"global\" or \"local\" on CPU, or build for a GPU "
               "target such as \"cuda\" or \"vulkan\"");
  }
  void visit_for(const ir::ForNode& n) override {
    if (n.for_kind == ir::ForKind::ThreadBinding || !n.thread_tag.empty())
      user_error("in function '", func_, "': loop '", n.loop_var.name(), "' is bound to the GPU thread axis '",
                 n.thread_tag, "'. Thread bindings need a GPU target such as \"cuda\" or \"vulkan\"; on a CPU target "
                 "use parallel() for threads and vectorize() for SIMD lanes instead of bind()");
    ir::StmtExprVisitor::visit_for(n);
  }
  void visit_allocate(const ir::AllocateNode& n) override {
    check_buffer(n.buffer);
    ir::StmtExprVisitor::visit_allocate(n);
  }
  void visit_block(const ir::BlockNode& n) override {
    for (auto& b : n.alloc_buffers) check_buffer(b);
    ir::StmtExprVisitor::visit_block(n);
  }
  void visit_buffer_load(const ir::BufferLoadNode& n) override {
    check_buffer(n.buffer);
    ir::StmtExprVisitor::visit_buffer_load(n);
  }
  void visit_buffer_store(const ir::BufferStoreNode& n) override {
    check_buffer(n.buffer);
    ir::StmtExprVisitor::visit_buffer_store(n);
  }

 private:
  std::string func_;
};

}  // namespace detail

// UserError if f cannot run on a CPU target: a loop bound to a GPU thread axis, a buffer in a
// GPU-only scope ("shared", "shared.dyn", "warp"), or a vectorized loop without a constant extent.
inline void check_cpu_compatible(const ir::PrimFunc& f) {
  detail::CpuCompatibilityChecker c(f->name);
  for (auto& b : f->param_buffers) c.check_buffer(b);
  c.visit(f->body);
  check_vectorized_loops(f);
}

}  // namespace kiln::tir
