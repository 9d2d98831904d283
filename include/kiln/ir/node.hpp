// kiln/ir/node.hpp: the handle type shared by all IR nodes.
//
// IR nodes are immutable and reference counted. A handle (Expr, Stmt, Buffer, ...) is a
// shared_ptr to a const node; passes rebuild a node only when one of its children changed, so
// `same_as` (pointer identity) tells a pass that nothing below changed (Halide's idiom).
#pragma once
#include <memory>
#include <utility>

namespace kiln::ir {

template <typename NodeT>
class NodeRef {
 public:
  using node_type = NodeT;
  NodeRef() = default;
  explicit NodeRef(std::shared_ptr<const NodeT> p) : ptr_(std::move(p)) {}

  const NodeT* get() const { return ptr_.get(); }
  const NodeT* operator->() const { return ptr_.get(); }
  const NodeT& operator*() const { return *ptr_; }
  bool defined() const { return ptr_ != nullptr; }
  explicit operator bool() const { return defined(); }
  template <typename U>
  bool same_as(const NodeRef<U>& other) const {
    return static_cast<const void*>(ptr_.get()) == static_cast<const void*>(other.get());
  }
  const std::shared_ptr<const NodeT>& ptr() const { return ptr_; }

  // Downcast by the node's kind tag; nullptr when the node is of another kind.
  template <typename T>
  const T* as() const {
    if (ptr_ && ptr_->kind == T::kKind) return static_cast<const T*>(ptr_.get());
    return nullptr;
  }

 protected:
  std::shared_ptr<const NodeT> ptr_;
};

// Hash and compare handles by identity (for maps keyed by a Var or a Buffer).
struct RefHash {
  template <typename R>
  size_t operator()(const R& r) const { return std::hash<const void*>()(r.get()); }
};
struct RefEq {
  template <typename R>
  bool operator()(const R& a, const R& b) const { return a.get() == b.get(); }
};

}  // namespace kiln::ir
