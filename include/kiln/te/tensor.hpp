// kiln/te/tensor.hpp: typed tensors of the TE DSL.
//
// `placeholder<T>({dims...}, name)` is an input; `compute(...)` (kiln/te/compute.hpp) defines a
// tensor from the others. Both are a `Tensor<T, R>`: element type and rank are part of the type, so
// indexing with the wrong number of indices, or with a float, does not compile. A tensor owns the
// ir::Buffer its reads load from; create_prim_func turns the tensors into buffers of a PrimFunc.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "kiln/te/expr.hpp"

namespace kiln::te {

// One extent of a shape: an integer constant or an Index expression of symbolic sizes (te::var).
struct Dim {
  ir::Expr value;
  template <std::integral I>
    requires(!std::is_same_v<I, bool>)
  Dim(I v) : value(ir::int_imm(int64_t(v))) {}  // NOLINT: implicit so that {n, 512} reads naturally
  Dim(const Index& e) : value(e.node()) {}       // NOLINT
};

namespace detail {
struct TensorNode;
using TensorPtr = std::shared_ptr<const TensorNode>;

struct TensorNode {
  enum class Kind : uint8_t { Placeholder, Compute };
  Kind kind = Kind::Placeholder;
  std::string name;
  ir::Buffer buffer;  // reads of this tensor are loads from this buffer
  // Compute only: the variables the compute function was called with (one per dimension), its
  // result (a Reduce at the top for reductions), and the tensors it reads.
  std::vector<ir::Var> axes;
  ir::Expr body;
  std::vector<TensorPtr> inputs;

  const std::vector<ir::Expr>& shape() const { return buffer->shape; }
  bool is_compute() const { return kind == Kind::Compute; }
};

// While a compute function runs, every tensor it reads is recorded here, so that a compute keeps
// its inputs alive and create_prim_func can walk the graph from the outputs.
struct ReadRecorder {
  std::vector<TensorPtr> reads;
  ReadRecorder* outer;
  ReadRecorder() : outer(current()) { current() = this; }
  ~ReadRecorder() { current() = outer; }
  ReadRecorder(const ReadRecorder&) = delete;
  ReadRecorder& operator=(const ReadRecorder&) = delete;
  static ReadRecorder*& current() {
    static thread_local ReadRecorder* top = nullptr;
    return top;
  }
  static void record(const TensorPtr& t) {
    ReadRecorder* r = current();
    if (!r) return;
    for (auto& x : r->reads)
      if (x == t) return;
    r->reads.push_back(t);
  }
};

inline std::vector<ir::Expr> checked_shape(const Dim* dims, size_t rank, const std::string& what) {
  std::vector<ir::Expr> shape;
  for (size_t d = 0; d < rank; ++d) {
    if (auto c = ir::const_int(dims[d].value); c && *c < 0)
      user_error("te: ", what, " has extent ", *c, " in dimension ", d, "; extents must be >= 0");
    shape.push_back(dims[d].value);
  }
  return shape;
}

template <typename X>
concept IndexLike = (TeExpr<X> && is_int_elem_v<elem_t<X>>) || (std::integral<X> && !std::is_same_v<X, bool>);

template <typename X>
ir::Expr to_index(const X& x) {
  if constexpr (TeExpr<X>) return ir::cast(DataType::int_(64), x.node());
  else return ir::int_imm(int64_t(x));
}
}  // namespace detail

template <typename T, size_t R>
class Tensor {
  static_assert(R >= 1, "te: a tensor needs at least one dimension");

 public:
  using elem_type = T;
  static constexpr size_t rank = R;

  Tensor() = default;
  explicit Tensor(detail::TensorPtr node) : node_(std::move(node)) {
    KILN_ICHECK(node_ && node_->buffer->dtype == dtype_v<T> && node_->shape().size() == R, "te::Tensor type");
  }

  bool defined() const { return node_ != nullptr; }
  const std::string& name() const { return node().name; }
  const ir::Buffer& buffer() const { return node().buffer; }
  // Extent of dimension d as an index expression (a constant or an expression of te::var sizes).
  Index dim(size_t d) const {
    KILN_USER_CHECK(d < R, "te: tensor '", name(), "' has ", R, " dimensions; dim(", d, ") is out of range");
    return Index(node().shape()[d]);
  }
  const detail::TensorPtr& ptr() const { return node_; }

  // A(i, j): the element at the given indices, as an expression. Exactly R integer indices.
  template <typename... I>
  Expr<T> operator()(const I&... idx) const {
    static_assert(sizeof...(I) == R,
                  "te: wrong number of indices: a te::Tensor<T, R> is indexed with exactly R indices");
    static_assert((detail::IndexLike<I> && ...),
                  "te: tensor indices must be integer expressions (te::Index, an integer te::Expr or an integer "
                  "constant), not floats; use te::cast<i64>(...) to convert");
    if constexpr (sizeof...(I) == R && (detail::IndexLike<I> && ...)) {
      detail::ReadRecorder::record(node_ptr());
      return Expr<T>(ir::buffer_load(node().buffer, {detail::to_index(idx)...}));
    } else {
      return Expr<T>();
    }
  }

 private:
  const detail::TensorNode& node() const {
    KILN_USER_CHECK(node_ != nullptr, "te: a default-constructed te::Tensor was used; assign it from "
                                      "te::placeholder or te::compute first");
    return *node_;
  }
  const detail::TensorPtr& node_ptr() const {
    node();
    return node_;
  }
  detail::TensorPtr node_;
};

// Any tensor with its type erased: the argument list of create_prim_func.
class TensorRef {
 public:
  template <typename T, size_t R>
  TensorRef(const Tensor<T, R>& t) : node_(t.ptr()) {}  // NOLINT: implicit so that {A, B, C} works
  const detail::TensorPtr& ptr() const { return node_; }

 private:
  detail::TensorPtr node_;
};

// An input tensor of element type T; its rank is the length of the shape list.
template <typename T, size_t R>
Tensor<T, R> placeholder(const Dim (&shape)[R], std::string name = "placeholder") {
  KILN_USER_CHECK(!name.empty(), "te::placeholder needs a non-empty name");
  auto n = std::make_shared<detail::TensorNode>();
  n->kind = detail::TensorNode::Kind::Placeholder;
  n->buffer = ir::make_buffer(name, dtype_v<T>, detail::checked_shape(shape, R, "placeholder '" + name + "'"));
  n->name = std::move(name);
  return Tensor<T, R>(std::move(n));
}

}  // namespace kiln::te
