// kiln/te/compute.hpp: defining a tensor from others.
//
//   auto C = te::compute({m, n}, [&](te::Index i, te::Index j) { return A(i, j) * 2.0; }, "C");
//
// The function is called once, with one Index variable per dimension, and returns the element at
// those indices as an expression; its element type is the tensor's. A reduction (te::sum, ...)
// may only be the whole result, not part of a larger expression.
#pragma once
#include <string>
#include <type_traits>
#include <utility>

#include "kiln/ir/functor.hpp"
#include "kiln/te/reduce.hpp"
#include "kiln/te/tensor.hpp"

namespace kiln::te {

namespace detail {
inline bool contains_reduce(const ir::Expr& e) {
  struct Finder : ir::ExprVisitor {
    bool found = false;
    void visit(const ir::Expr& x) override {
      if (found || !x.defined()) return;
      if (x.kind() == ir::ExprKind::Reduce) {
        found = true;
        return;
      }
      ir::ExprVisitor::visit(x);
    }
  } f;
  f.visit(e);
  return f.found;
}

inline void check_compute_body(const std::string& name, const ir::Expr& body, const std::vector<TensorPtr>& reads) {
  auto* red = body.as<ir::ReduceNode>();
  bool nested = red ? contains_reduce(red->source) || contains_reduce(red->condition) : contains_reduce(body);
  if (nested)
    user_error("te::compute '", name, "': a reduction (te::sum/prod/max/min) may only be the whole result of a ",
               "compute function, not part of a larger expression; compute the reduction as its own tensor ",
               "and use that tensor in a second te::compute");
  struct Loads : ir::ExprVisitor {
    std::vector<ir::Buffer> buffers;
    void visit_buffer_load(const ir::BufferLoadNode& n) override {
      buffers.push_back(n.buffer);
      ir::ExprVisitor::visit_buffer_load(n);
    }
  } loads;
  loads.visit(body);
  for (auto& b : loads.buffers) {
    bool known = false;
    for (auto& t : reads) known |= t->buffer.same_as(b);
    if (!known)
      user_error("te::compute '", name, "' reads tensor '", b->name, "' through an expression built outside its ",
                 "compute function; read tensors inside the function passed to te::compute");
  }
}

template <typename F, size_t... I>
auto call_with_axes(F& f, const std::vector<ir::Var>& axes, std::index_sequence<I...>) {
  return f(Index(axes[I])...);
}
}  // namespace detail

template <size_t R, typename F>
auto compute(const Dim (&shape)[R], F&& f, std::string name = "compute") {
  static_assert([]<size_t... I>(std::index_sequence<I...>) {
    return std::is_invocable_v<F&, decltype((void(I), std::declval<Index>()))...>;
  }(std::make_index_sequence<R>()),
                "te::compute: the function must take exactly one te::Index per dimension of the shape");
  using Ret = std::remove_cvref_t<decltype(detail::call_with_axes(f, {}, std::make_index_sequence<R>()))>;
  static_assert(detail::TeExpr<Ret>, "te::compute: the function must return a te::Expr<T> (an expression)");
  using T = detail::elem_t<Ret>;

  KILN_USER_CHECK(!name.empty(), "te::compute needs a non-empty name");
  auto n = std::make_shared<detail::TensorNode>();
  n->kind = detail::TensorNode::Kind::Compute;
  auto dims = detail::checked_shape(shape, R, "compute '" + name + "'");
  for (size_t d = 0; d < R; ++d) n->axes.push_back(ir::Var("i" + std::to_string(d)));
  {
    detail::ReadRecorder recorder;
    Ret result = detail::call_with_axes(f, n->axes, std::make_index_sequence<R>());
    KILN_USER_CHECK(result.defined(), "te::compute '", name, "': the function returned an undefined te::Expr");
    n->body = result.node();
    n->inputs = std::move(recorder.reads);
  }
  detail::check_compute_body(name, n->body, n->inputs);
  n->buffer = ir::make_buffer(name, dtype_v<T>, std::move(dims));
  n->name = std::move(name);
  return Tensor<T, R>(std::move(n));
}

}  // namespace kiln::te
