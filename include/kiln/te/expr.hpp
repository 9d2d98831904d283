// kiln/te/expr.hpp: typed tensor expressions, the user-facing half of the TE DSL.
//
// `te::Expr<T>` wraps an ir::Expr whose dtype is dtype_v<T>; `te::Index` (= Expr<i64>) is the type
// of index arithmetic. Operators combine expressions of the same element type; a C++ arithmetic
// constant takes the type of the expression it meets (`A(i) * 0.5`, `i + 1`). Mixing element types
// (f32 with f64, a float with an Index) does not compile: the message says to use te::cast<T>.
// Note that `auto e = a + b` captures an expression, not a value.
#pragma once
#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "kiln/ir/op.hpp"

namespace kiln::te {

template <typename T>
class Expr;

namespace detail {
template <typename T>
inline constexpr bool is_float_elem_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>;
template <typename T>
inline constexpr bool is_int_elem_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
inline constexpr bool is_elem_v = is_float_elem_v<T> || is_int_elem_v<T> || std::is_same_v<T, bool>;

// The element type of a te expression type (Expr<T> or a class derived from it such as ReduceAxis).
template <typename T>
T elem_of_ptr(const Expr<T>*);
template <typename X>
concept TeExpr = requires(const X* p) { detail::elem_of_ptr(p); };
template <TeExpr X>
using elem_t = decltype(detail::elem_of_ptr(static_cast<const std::remove_cvref_t<X>*>(nullptr)));

template <typename X>
concept Literal = std::is_arithmetic_v<std::remove_cvref_t<X>>;

// Operand pairs of binary operators: two te expressions, or one te expression and a constant.
template <typename A, typename B>
concept Operands = (TeExpr<A> && (TeExpr<B> || Literal<B>)) || (Literal<A> && TeExpr<B>);
// SFINAE-friendly: no `type` unless one side is a te expression.
template <typename A, typename B>
struct operand_elem {};
template <TeExpr A, typename B>
struct operand_elem<A, B> { using type = elem_t<A>; };
template <typename A, TeExpr B>
  requires(!TeExpr<A>)
struct operand_elem<A, B> { using type = elem_t<B>; };
template <typename A, typename B>
using operand_elem_t = typename operand_elem<A, B>::type;

// Whether a C++ constant of type L may stand for a value of element type T.
template <typename T, typename L>
inline constexpr bool literal_fits_v = is_float_elem_v<T> ? !std::is_same_v<L, bool>
                                       : is_int_elem_v<T> ? std::is_integral_v<L> && !std::is_same_v<L, bool>
                                                          : std::is_same_v<L, bool>;

template <typename T, typename L>
constexpr void check_literal() {
  static_assert(!(is_int_elem_v<T> && std::is_floating_point_v<L>),
                "te: a floating-point constant cannot be combined with an integer expression (such as te::Index); "
                "use te::cast<T>(...) to convert the expression to a float type first");
  static_assert(!(std::is_same_v<T, bool> && !std::is_same_v<L, bool>),
                "te: a bool expression can only be combined with true/false; use te::cast<T>(...) first");
  static_assert(!(!std::is_same_v<T, bool> && std::is_same_v<L, bool>),
                "te: true/false cannot be combined with a numeric expression; use te::cast<T>(...) first");
}

template <typename T, typename L>
ir::Expr make_literal(L v) {
  constexpr DataType t = dtype_v<T>;
  if constexpr (is_float_elem_v<T>) return ir::float_imm(double(v), t);
  else if constexpr (std::is_same_v<T, bool>) return ir::bool_imm(bool(v));
  else return ir::int_imm(int64_t(T(v)), t);  // wraps into T, as a C++ conversion would
}
}  // namespace detail

template <typename T>
class Expr {
  static_assert(detail::is_elem_v<T>,
                "te: unsupported element type; use bool, f16, bf16, f32, f64, i8..i64 or u8..u64");

 public:
  using elem_type = T;
  Expr() = default;
  // Wraps an untyped expression; its dtype must be dtype_v<T>.
  explicit Expr(ir::Expr e) : node_(std::move(e)) {
    KILN_ICHECK(!node_.defined() || node_.dtype() == dtype_v<T>, "te::Expr<", dtype_v<T>.str(), "> wraps a ",
                node_.dtype().str(), " expression");
  }
  // A constant of this type: Expr<f32>(0.5), Index(3). Floats never become Index implicitly.
  template <detail::Literal L>
    requires detail::literal_fits_v<T, L>
  Expr(L v) : node_(detail::make_literal<T>(v)) {}  // NOLINT: implicit on purpose

  static constexpr DataType dtype() { return dtype_v<T>; }
  bool defined() const { return node_.defined(); }
  // The untyped IR expression underneath.
  const ir::Expr& node() const {
    KILN_USER_CHECK(node_.defined(), "te: a default-constructed te::Expr<", dtype_v<T>.str(),
                    "> was used before being assigned an expression");
    return node_;
  }

 private:
  ir::Expr node_;
};

// Index arithmetic is int64: loop variables, symbolic sizes and reduction axes are all Index.
using Index = Expr<int64_t>;

// A symbolic size ("n"), usable in shapes and index arithmetic. Create it once and reuse it: two
// calls with the same name make two different variables.
inline Index var(const std::string& name) {
  KILN_USER_CHECK(!name.empty(), "te::var needs a non-empty name");
  return Index(ir::Var(name, DataType::int_(64)));
}

namespace detail {
// The IR of one operand converted to element type T (a te expression is taken as is).
template <typename T, typename X>
ir::Expr operand(const X& x) {
  if constexpr (TeExpr<X>) {
    static_assert(std::is_same_v<elem_t<X>, T>, "te: operands have different dtypes; use te::cast<T>(...)");
    return x.node();
  } else {
    check_literal<T, std::remove_cvref_t<X>>();
    return make_literal<T>(x);
  }
}

template <typename T, typename A, typename B>
Expr<T> arith(ir::BinaryOp op, const A& a, const B& b) {
  using E = operand_elem_t<A, B>;
  static_assert(!std::is_same_v<E, bool>,
                "te: arithmetic on bool expressions; use te::cast<T>(...) to make them numeric first");
  ir::Expr x = operand<E>(a), y = operand<E>(b);
  return Expr<T>(ir::binary(op, std::move(x), std::move(y)));
}
}  // namespace detail

#define KILN_TE_ARITH_OP(SYM, OP)                                                      \
  template <typename A, typename B>                                                    \
    requires detail::Operands<A, B>                                                    \
  Expr<detail::operand_elem_t<A, B>> operator SYM(const A& a, const B& b) {            \
    return detail::arith<detail::operand_elem_t<A, B>>(ir::BinaryOp::OP, a, b);        \
  }
KILN_TE_ARITH_OP(+, Add)
KILN_TE_ARITH_OP(-, Sub)
KILN_TE_ARITH_OP(*, Mul)
KILN_TE_ARITH_OP(/, Div)  // true division on floats, truncating (C) division on integers
#undef KILN_TE_ARITH_OP

// Truncating remainder (C's %), integers only; floormod is usually what index arithmetic wants.
template <typename A, typename B>
  requires detail::Operands<A, B>
Expr<detail::operand_elem_t<A, B>> operator%(const A& a, const B& b) {
  static_assert(detail::is_int_elem_v<detail::operand_elem_t<A, B>>,
                "te: % needs integer operands (it is te::truncmod; te::floormod rounds toward -inf)");
  return detail::arith<detail::operand_elem_t<A, B>>(ir::BinaryOp::Mod, a, b);
}

#define KILN_TE_COMPARE_OP(SYM, OP)                                                                \
  template <typename A, typename B>                                                                \
    requires detail::Operands<A, B>                                                                \
  Expr<bool> operator SYM(const A& a, const B& b) {                                                \
    using E = detail::operand_elem_t<A, B>;                                                        \
    return Expr<bool>(ir::binary(ir::BinaryOp::OP, detail::operand<E>(a), detail::operand<E>(b))); \
  }
KILN_TE_COMPARE_OP(==, EQ)
KILN_TE_COMPARE_OP(!=, NE)
KILN_TE_COMPARE_OP(<, LT)
KILN_TE_COMPARE_OP(<=, LE)
KILN_TE_COMPARE_OP(>, GT)
KILN_TE_COMPARE_OP(>=, GE)
#undef KILN_TE_COMPARE_OP

#define KILN_TE_LOGIC_OP(SYM, OP)                                                                     \
  template <typename A, typename B>                                                                   \
    requires detail::Operands<A, B>                                                                   \
  Expr<bool> operator SYM(const A& a, const B& b) {                                                   \
    static_assert(std::is_same_v<detail::operand_elem_t<A, B>, bool>,                                 \
                  "te: && and || need bool operands (comparisons); use te::cast<bool>(...) if meant"); \
    return Expr<bool>(ir::binary(ir::BinaryOp::OP, detail::operand<bool>(a), detail::operand<bool>(b))); \
  }
KILN_TE_LOGIC_OP(&&, And)
KILN_TE_LOGIC_OP(||, Or)
#undef KILN_TE_LOGIC_OP

template <detail::TeExpr X>
Expr<bool> operator!(const X& x) {
  static_assert(std::is_same_v<detail::elem_t<X>, bool>, "te: ! needs a bool operand (a comparison)");
  return Expr<bool>(ir::logical_not(x.node()));
}

template <detail::TeExpr X>
Expr<detail::elem_t<X>> operator-(const X& x) {
  using T = detail::elem_t<X>;
  static_assert(!std::is_same_v<T, bool>, "te: cannot negate a bool expression; use ! for logical not");
  // x * -1 rather than 0 - x so that the sign of a float zero flips as in C.
  if constexpr (detail::is_float_elem_v<T>) return Expr<T>(ir::mul(x.node(), detail::make_literal<T>(-1)));
  else return Expr<T>(ir::sub(detail::make_literal<T>(0), x.node()));
}
template <detail::TeExpr X>
Expr<detail::elem_t<X>> operator+(const X& x) {
  return Expr<detail::elem_t<X>>(x.node());
}

// ---- conversions and conditionals -----------------------------------------------------------------
// cast<U>(e): converts to element type U (float -> int truncates toward zero).
template <typename U, typename X>
  requires(detail::TeExpr<X> || detail::Literal<X>)
Expr<U> cast(const X& x) {
  if constexpr (detail::TeExpr<X>) return Expr<U>(ir::cast(dtype_v<U>, x.node()));
  else return Expr<U>(ir::cast(dtype_v<U>, detail::make_literal<std::remove_cvref_t<X>>(x)));
}

namespace detail {
template <typename A, typename B>
using branch_elem_t = operand_elem_t<A, B>;
template <typename C>
ir::Expr condition(const C& c) {
  static_assert(TeExpr<C> || std::is_same_v<C, bool>, "te: a condition must be an Expr<bool> (a comparison)");
  if constexpr (TeExpr<C>) {
    static_assert(std::is_same_v<elem_t<C>, bool>, "te: a condition must be an Expr<bool> (a comparison)");
    return c.node();
  } else {
    return ir::bool_imm(c);
  }
}
}  // namespace detail

// select(c, a, b): evaluates both a and b, then picks one. Use if_then_else when the untaken branch
// must not be evaluated (it would read out of bounds, as in padding).
template <typename C, typename A, typename B>
  requires detail::Operands<A, B>
Expr<detail::branch_elem_t<A, B>> select(const C& c, const A& a, const B& b) {
  using T = detail::branch_elem_t<A, B>;
  return Expr<T>(ir::select(detail::condition(c), detail::operand<T>(a), detail::operand<T>(b)));
}

// if_then_else(c, a, b): evaluates only the taken branch (the IR Call "if_then_else").
template <typename C, typename A, typename B>
  requires detail::Operands<A, B>
Expr<detail::branch_elem_t<A, B>> if_then_else(const C& c, const A& a, const B& b) {
  using T = detail::branch_elem_t<A, B>;
  return Expr<T>(
      ir::call(dtype_v<T>, "if_then_else", {detail::condition(c), detail::operand<T>(a), detail::operand<T>(b)}));
}

// Element-wise maximum and minimum (IEEE maxNum/minNum on floats). The reductions of the same name
// take a reduce axis as second argument (kiln/te/reduce.hpp).
template <typename A, typename B>
  requires detail::Operands<A, B>
Expr<detail::operand_elem_t<A, B>> max(const A& a, const B& b) {
  return detail::arith<detail::operand_elem_t<A, B>>(ir::BinaryOp::Max, a, b);
}
template <typename A, typename B>
  requires detail::Operands<A, B>
Expr<detail::operand_elem_t<A, B>> min(const A& a, const B& b) {
  return detail::arith<detail::operand_elem_t<A, B>>(ir::BinaryOp::Min, a, b);
}

// Integer division and remainder: floor (toward negative infinity) and trunc (toward zero).
#define KILN_TE_INT_DIV(NAME, OP)                                                                          \
  template <typename A, typename B>                                                                        \
    requires detail::Operands<A, B>                                                                        \
  Expr<detail::operand_elem_t<A, B>> NAME(const A& a, const B& b) {                                        \
    static_assert(detail::is_int_elem_v<detail::operand_elem_t<A, B>>,                                     \
                  "te: " #NAME " needs integer operands; use / on floats (and te::floor for floor division)"); \
    return detail::arith<detail::operand_elem_t<A, B>>(ir::BinaryOp::OP, a, b);                           \
  }
KILN_TE_INT_DIV(floordiv, FloorDiv)
KILN_TE_INT_DIV(floormod, FloorMod)
KILN_TE_INT_DIV(truncdiv, Div)
KILN_TE_INT_DIV(truncmod, Mod)
#undef KILN_TE_INT_DIV

}  // namespace kiln::te
