// kiln/te/math.hpp: element-wise math on typed expressions, one function per intrinsic of
// kiln/ir/intrinsics.hpp. Floating-point only, checked at compile time, except abs (also integers).
#pragma once
#include "kiln/ir/intrinsics.hpp"
#include "kiln/te/expr.hpp"

namespace kiln::te {

namespace detail {
template <typename T, typename... X>
Expr<T> intrinsic(const char* name, const X&... x) {
  KILN_ICHECK(ir::find_intrinsic(name) && ir::find_intrinsic(name)->arity == int(sizeof...(X)), "intrinsic ", name);
  return Expr<T>(ir::call(dtype_v<T>, name, {operand<T>(x)...}));
}
}  // namespace detail

#define KILN_TE_FLOAT_MATH1(NAME)                                                                      \
  template <detail::TeExpr X>                                                                          \
  Expr<detail::elem_t<X>> NAME(const X& x) {                                                           \
    static_assert(detail::is_float_elem_v<detail::elem_t<X>>,                                          \
                  "te: " #NAME " needs a floating-point expression; use te::cast<f32>(...) first");    \
    return detail::intrinsic<detail::elem_t<X>>(#NAME, x);                                             \
  }
KILN_TE_FLOAT_MATH1(exp)
KILN_TE_FLOAT_MATH1(log)
KILN_TE_FLOAT_MATH1(exp2)
KILN_TE_FLOAT_MATH1(log2)
KILN_TE_FLOAT_MATH1(log10)
KILN_TE_FLOAT_MATH1(sqrt)
KILN_TE_FLOAT_MATH1(rsqrt)
KILN_TE_FLOAT_MATH1(sin)
KILN_TE_FLOAT_MATH1(cos)
KILN_TE_FLOAT_MATH1(tan)
KILN_TE_FLOAT_MATH1(tanh)
KILN_TE_FLOAT_MATH1(sigmoid)
KILN_TE_FLOAT_MATH1(erf)
KILN_TE_FLOAT_MATH1(floor)
KILN_TE_FLOAT_MATH1(ceil)
KILN_TE_FLOAT_MATH1(trunc)
KILN_TE_FLOAT_MATH1(round)  // half to even
KILN_TE_FLOAT_MATH1(fabs)
#undef KILN_TE_FLOAT_MATH1

// |x| on floats and integers (integers wrap at the most negative value).
template <detail::TeExpr X>
Expr<detail::elem_t<X>> abs(const X& x) {
  using T = detail::elem_t<X>;
  static_assert(!std::is_same_v<T, bool>, "te: abs needs a numeric expression, not bool");
  return detail::intrinsic<T>("abs", x);
}

// pow(x, y); either side may be a constant.
template <typename A, typename B>
  requires detail::Operands<A, B>
Expr<detail::operand_elem_t<A, B>> pow(const A& a, const B& b) {
  using T = detail::operand_elem_t<A, B>;
  static_assert(detail::is_float_elem_v<T>, "te: pow needs floating-point operands; use te::cast<f32>(...) first");
  return detail::intrinsic<T>("pow", a, b);
}

// fma(x, y, z) = x * y + z with one rounding.
template <detail::TeExpr X, typename Y, typename Z>
Expr<detail::elem_t<X>> fma(const X& x, const Y& y, const Z& z) {
  using T = detail::elem_t<X>;
  static_assert(detail::is_float_elem_v<T>, "te: fma needs floating-point operands; use te::cast<f32>(...) first");
  return detail::intrinsic<T>("fma", x, y, z);
}

}  // namespace kiln::te
