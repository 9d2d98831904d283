// Unit tests for kiln/arith: constant folding, bounds, intervals, the simplifier, region inference,
// and a randomized check that simplification never changes a value.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <sstream>

#include "kiln/arith/arith.hpp"

using namespace kiln;
using namespace kiln::ir;
using arith::DomMap;

namespace {

const DataType kI32 = DataType::int_(32), kI64 = DataType::int_(64), kF32 = DataType::float_(32);

Expr c64(int64_t v) { return int_imm(v, kI64); }
Expr c32(int64_t v) { return int_imm(v, kI32); }

// A small printer, only for failure messages.
std::string str(const Expr& e) {
  if (!e.defined()) return "<undef>";
  std::ostringstream os;
  switch (e.kind()) {
    case ExprKind::Var: os << e.as<VarNode>()->name; break;
    case ExprKind::IntImm: os << e.as<IntImmNode>()->value; break;
    case ExprKind::FloatImm: os << e.as<FloatImmNode>()->value << "f"; break;
    case ExprKind::Binary: {
      auto* n = e.as<BinaryNode>();
      os << binary_op_name(n->op) << "(" << str(n->a) << ", " << str(n->b) << ")";
      break;
    }
    case ExprKind::Not: os << "not(" << str(e.as<NotNode>()->a) << ")"; break;
    case ExprKind::Select: {
      auto* n = e.as<SelectNode>();
      os << "select(" << str(n->cond) << ", " << str(n->true_value) << ", " << str(n->false_value) << ")";
      break;
    }
    case ExprKind::Cast: os << e.dtype().str() << "(" << str(e.as<CastNode>()->value) << ")"; break;
    default: os << "<expr>"; break;
  }
  return os.str();
}

#define CHECK_EXPR(actual, expected)                                                        \
  do {                                                                                      \
    Expr a_ = (actual), e_ = (expected);                                                    \
    INFO("got ", str(a_), ", expected ", str(e_));                                          \
    CHECK(arith::detail::same_expr(a_, e_));                                                \
  } while (0)

// ---- a reference evaluator with the brief's integer semantics ----------------------------------
using Env = std::unordered_map<const VarNode*, int64_t>;

int64_t wrap(int64_t v, DataType t) {
  if (t.is_bool()) return v != 0;
  if (t.bits == 64) return v;
  uint64_t mask = (uint64_t(1) << t.bits) - 1, u = uint64_t(v) & mask;
  if (t.is_uint()) return int64_t(u);  // uint32 values fit int64, where signed ops on them are the unsigned ones
  if (u >> (t.bits - 1)) u |= ~mask;
  return int64_t(u);
}

// nullopt: integer division by zero (a runtime error).
std::optional<int64_t> eval(const Expr& e, const Env& env) {
  DataType t = e.dtype();
  switch (e.kind()) {
    case ExprKind::IntImm: return e.as<IntImmNode>()->value;
    case ExprKind::Var: return env.at(e.as<VarNode>());
    case ExprKind::Not: {
      auto a = eval(e.as<NotNode>()->a, env);
      if (!a) return std::nullopt;
      return *a == 0;
    }
    case ExprKind::Select: {
      auto* n = e.as<SelectNode>();
      auto c = eval(n->cond, env), x = eval(n->true_value, env), y = eval(n->false_value, env);
      if (!c || !x || !y) return std::nullopt;  // select evaluates both sides
      return *c ? *x : *y;
    }
    case ExprKind::Binary: {
      auto* n = e.as<BinaryNode>();
      auto oa = eval(n->a, env), ob = eval(n->b, env);
      if (!oa || !ob) return std::nullopt;
      int64_t a = *oa, b = *ob;
      DataType ot = n->a.dtype();
      auto w = [&](uint64_t v) { return wrap(int64_t(v), ot); };
      switch (n->op) {
        case BinaryOp::Add: return w(uint64_t(a) + uint64_t(b));
        case BinaryOp::Sub: return w(uint64_t(a) - uint64_t(b));
        case BinaryOp::Mul: return w(uint64_t(a) * uint64_t(b));
        case BinaryOp::Div: case BinaryOp::Mod: case BinaryOp::FloorDiv: case BinaryOp::FloorMod: {
          if (b == 0) return std::nullopt;
          if (a == INT64_MIN && b == -1) return n->op == BinaryOp::Div || n->op == BinaryOp::FloorDiv ? a : 0;
          int64_t q = a / b, r = a % b;
          bool adj = r != 0 && ((r < 0) != (b < 0));
          if (n->op == BinaryOp::Div) return w(uint64_t(q));
          if (n->op == BinaryOp::Mod) return w(uint64_t(r));
          if (n->op == BinaryOp::FloorDiv) return w(uint64_t(adj ? q - 1 : q));
          return w(uint64_t(adj ? r + b : r));
        }
        case BinaryOp::Min: return std::min(a, b);
        case BinaryOp::Max: return std::max(a, b);
        case BinaryOp::EQ: return a == b;
        case BinaryOp::NE: return a != b;
        case BinaryOp::LT: return a < b;
        case BinaryOp::LE: return a <= b;
        case BinaryOp::GT: return a > b;
        case BinaryOp::GE: return a >= b;
        case BinaryOp::And: return a && b;
        case BinaryOp::Or: return a || b;
      }
      return std::nullopt;
    }
    case ExprKind::Cast: {
      auto v = eval(e.as<CastNode>()->value, env);
      if (!v) return std::nullopt;
      return wrap(*v, t);
    }
    default: FAIL("unexpected expression in the test evaluator: ", str(e)); return std::nullopt;
  }
}

float f32_of(const Expr& e) { return float(e.as<FloatImmNode>()->value); }

}  // namespace

// ---- constant folding ---------------------------------------------------------------------------
TEST_CASE("integer constants fold with wraparound at the type's width") {
  CHECK_EXPR(arith::simplify(add(c32(INT32_MAX), c32(1))), c32(INT32_MIN));
  CHECK_EXPR(arith::simplify(mul(c32(65536), c32(65536))), c32(0));
  CHECK_EXPR(arith::simplify(add(c64(INT64_MAX), c64(1))), c64(INT64_MIN));
  DataType u8 = DataType::uint(8);
  CHECK_EXPR(arith::simplify(sub(int_imm(3, u8), int_imm(5, u8))), int_imm(254, u8));
  CHECK_EXPR(arith::simplify(lt(int_imm(3, u8), int_imm(200, u8))), bool_imm(true));
  DataType u64 = DataType::uint(64);
  CHECK_EXPR(arith::simplify(lt(int_imm(1, u64), int_imm(-1, u64))), bool_imm(true));  // -1 is 2^64 - 1
  CHECK_EXPR(arith::simplify(div(c32(-7), c32(2))), c32(-3));
  CHECK_EXPR(arith::simplify(truncmod(c32(-7), c32(2))), c32(-1));
  CHECK_EXPR(arith::simplify(floordiv(c32(-7), c32(2))), c32(-4));
  CHECK_EXPR(arith::simplify(floormod(c32(-7), c32(2))), c32(1));
  CHECK_EXPR(arith::simplify(floormod(c32(7), c32(-2))), c32(-1));
  CHECK_EXPR(arith::simplify(div(c32(INT32_MIN), c32(-1))), c32(INT32_MIN));
  CHECK_EXPR(arith::simplify(div(c64(INT64_MIN), c64(-1))), c64(INT64_MIN));
  CHECK_EXPR(arith::simplify(min(c64(3), c64(-2))), c64(-2));
  CHECK_EXPR(arith::simplify(max(c64(3), c64(-2))), c64(3));
  CHECK_EXPR(arith::simplify(ge(c64(3), c64(3))), bool_imm(true));
  CHECK_EXPR(arith::simplify(ne(c64(3), c64(3))), bool_imm(false));
  // Division by zero stays, so that it still fails at run time.
  Expr dz = floordiv(c32(1), c32(0));
  CHECK_EXPR(arith::simplify(dz), dz);
}

TEST_CASE("float constants fold exactly as float32 arithmetic does") {
  Expr a = float_imm(double(0.1f), kF32), b = float_imm(double(0.2f), kF32);
  Expr s = arith::simplify(add(a, b));
  REQUIRE(s.as<FloatImmNode>());
  CHECK(f32_of(s) == 0.1f + 0.2f);
  CHECK(s.as<FloatImmNode>()->value != double(0.1f) + double(0.2f));  // not computed in double
  Expr d = arith::simplify(div(float_imm(1.0, kF32), float_imm(3.0, kF32)));
  CHECK(f32_of(d) == 1.0f / 3.0f);
  CHECK(d.as<FloatImmNode>()->value == double(1.0f / 3.0f));
  DataType f64 = DataType::float_(64);
  CHECK(arith::simplify(add(float_imm(0.1, f64), float_imm(0.2, f64))).as<FloatImmNode>()->value == 0.1 + 0.2);
  // maxNum: NaN loses.
  Expr m = arith::simplify(max(float_imm(NAN, kF32), float_imm(2.0, kF32)));
  CHECK(f32_of(m) == 2.0f);
  CHECK_EXPR(arith::simplify(lt(float_imm(NAN, kF32), float_imm(2.0, kF32))), bool_imm(false));
  // float16: computed in float32, rounded to half: 1 + 2^-11 rounds to even (1.0).
  DataType f16 = DataType::float_(16);
  Expr tiny = float_imm(std::ldexp(1.0, -11), f16);
  CHECK(arith::simplify(add(float_imm(1.0, f16), tiny)).as<FloatImmNode>()->value == 1.0);
  CHECK(arith::simplify(mul(float_imm(300.0, f16), float_imm(300.0, f16))).as<FloatImmNode>()->value == INFINITY);
  DataType bf = DataType::bfloat16();
  CHECK(arith::simplify(add(float_imm(1.0, bf), float_imm(1.0 / 256, bf))).as<FloatImmNode>()->value == 1.0);
  // Never x*0 -> 0 or x-x -> 0 on floats (NaN, infinity).
  Var x("x", kF32);
  Expr xz = mul(x, float_imm(0.0, kF32)), xx = sub(x, x);
  CHECK_EXPR(arith::simplify(xz), xz);
  CHECK_EXPR(arith::simplify(xx), xx);
}

TEST_CASE("casts, not, select and bool logic fold") {
  CHECK_EXPR(arith::simplify(cast(kI32, float_imm(-2.7, kF32))), c32(-2));
  CHECK_EXPR(arith::simplify(cast(DataType::int_(8), c32(200))), int_imm(-56, DataType::int_(8)));
  CHECK_EXPR(arith::simplify(cast(DataType::uint(8), c32(-1))), int_imm(255, DataType::uint(8)));
  CHECK(f32_of(arith::simplify(cast(kF32, c64(16777217)))) == 16777216.0f);
  CHECK(arith::simplify(cast(kF32, float_imm(0.1, DataType::float_(64)))).as<FloatImmNode>()->value == double(0.1f));
  Expr big = cast(kI32, float_imm(3e9, kF32));  // out of range: undefined, left alone
  CHECK_EXPR(arith::simplify(big), big);
  CHECK_EXPR(arith::simplify(cast(DataType::boolean(), c32(5))), bool_imm(true));
  Var p("p", DataType::boolean()), i("i"), j("j");
  CHECK_EXPR(arith::simplify(logical_not(bool_imm(true))), bool_imm(false));
  CHECK_EXPR(arith::simplify(logical_not(logical_not(p))), p);
  CHECK_EXPR(arith::simplify(logical_not(lt(i, j))), ge(i, j));
  CHECK_EXPR(arith::simplify(logical_and(p, bool_imm(true))), p);
  CHECK_EXPR(arith::simplify(logical_and(bool_imm(false), p)), bool_imm(false));
  CHECK_EXPR(arith::simplify(logical_or(p, bool_imm(true))), bool_imm(true));
  CHECK_EXPR(arith::simplify(logical_or(bool_imm(false), p)), p);
  CHECK_EXPR(arith::simplify(select(bool_imm(true), i, j)), i);
  CHECK_EXPR(arith::simplify(select(lt(c64(3), c64(2)), i, j)), j);
  CHECK_EXPR(arith::simplify(select(p, add(i, j), add(j, i))), add(i, j));
  // Float comparisons other than == and != do not invert (NaN).
  Var x("x", kF32);
  Expr nx = logical_not(lt(x, float_imm(1.0, kF32)));
  CHECK_EXPR(arith::simplify(nx), nx);
}

// ---- canonical sums -----------------------------------------------------------------------------
TEST_CASE("affine integer expressions reach a canonical form") {
  Var i("i"), j("j"), a("a"), b("b");
  CHECK_EXPR(arith::simplify(sub(add(mul(i, c64(4)), j), mul(i, c64(4)))), j);
  CHECK_EXPR(arith::simplify(sub(add(a, b), add(b, a))), c64(0));
  CHECK_EXPR(arith::simplify(add(i, i)), mul(i, c64(2)));
  CHECK_EXPR(arith::simplify(add(add(c64(3), i), c64(-5))), sub(i, c64(2)));
  CHECK_EXPR(arith::simplify(sub(c64(0), i)), mul(i, c64(-1)));
  CHECK_EXPR(arith::simplify(mul(add(i, c64(1)), c64(3))), add(mul(i, c64(3)), c64(3)));
  CHECK_EXPR(arith::simplify(sub(j, mul(c64(2), i))), sub(j, mul(i, c64(2))));
  CHECK_EXPR(arith::simplify(add(b, a)), add(a, b));  // terms ordered by name
  CHECK_EXPR(arith::simplify(mul(b, a)), mul(a, b));
  CHECK_EXPR(arith::simplify(sub(mul(a, b), mul(b, a))), c64(0));
  CHECK_EXPR(arith::simplify(mul(i, c64(0))), c64(0));
  // int32 coefficients wrap: i*2^30*4 is i*0.
  Var k("k", kI32);
  CHECK_EXPR(arith::simplify(mul(mul(k, c32(1 << 30)), c32(4))), c32(0));
}

// ---- division -----------------------------------------------------------------------------------
TEST_CASE("floordiv and floormod rules") {
  Var x("x"), y("y"), n("n");
  DomMap dom{{y, {c64(0), c64(4)}}, {x, {c64(0), c64(100)}}};
  CHECK_EXPR(arith::simplify(floordiv(n, c64(1))), n);
  CHECK_EXPR(arith::simplify(floormod(n, c64(1))), c64(0));
  // (x*c1 + y) floordiv c2 and floormod c2 with c1 % c2 == 0 and 0 <= y < c2.
  Expr e = add(mul(x, c64(8)), y);
  CHECK_EXPR(arith::simplify(floordiv(e, c64(4)), dom), mul(x, c64(2)));
  CHECK_EXPR(arith::simplify(floormod(e, c64(4)), dom), y);
  CHECK_EXPR(arith::simplify(floordiv(add(mul(n, c64(4)), y), c64(4)), dom), n);
  // Without a bound on y only the multiple is pulled out.
  CHECK_EXPR(arith::simplify(floordiv(add(mul(n, c64(4)), x), c64(4)), dom), add(n, floordiv(x, c64(4))));
  CHECK_EXPR(arith::simplify(floordiv(add(mul(n, c64(4)), n), c64(4))),  // 5n: nothing divides
             floordiv(mul(n, c64(5)), c64(4)));
  CHECK_EXPR(arith::simplify(floordiv(sub(n, c64(3)), c64(4))), sub(floordiv(add(n, c64(1)), c64(4)), c64(1)));
  CHECK_EXPR(arith::simplify(floormod(add(mul(n, c64(4)), c64(5)), c64(4))), c64(1));
  // (x floordiv c)*c + x floormod c -> x
  CHECK_EXPR(arith::simplify(add(mul(floordiv(n, c64(8)), c64(8)), floormod(n, c64(8)))), n);
  CHECK_EXPR(arith::simplify(add(floormod(add(n, y), c64(3)), mul(floordiv(add(n, y), c64(3)), c64(3)))), add(n, y));
  // floormod of a value in [0, c) is the value; floordiv of it is 0.
  CHECK_EXPR(arith::simplify(floormod(y, c64(4)), dom), y);
  CHECK_EXPR(arith::simplify(floordiv(y, c64(4)), dom), c64(0));
  CHECK_EXPR(arith::simplify(floormod(y, c64(3)), dom), floormod(y, c64(3)));
  // nested floordiv
  CHECK_EXPR(arith::simplify(floordiv(floordiv(n, c64(4)), c64(8))), floordiv(n, c64(32)));
  CHECK_EXPR(arith::simplify(floormod(floormod(n, c64(8)), c64(4))), floormod(n, c64(4)));
  // constant division
  CHECK_EXPR(arith::simplify(floordiv(c64(17), c64(5))), c64(3));
  // Negative or non-constant divisors are left alone.
  CHECK_EXPR(arith::simplify(floordiv(mul(n, c64(4)), c64(-2))), floordiv(mul(n, c64(4)), c64(-2)));
  CHECK_EXPR(arith::simplify(floordiv(n, x)), floordiv(n, x));
}

TEST_CASE("truncating division is only simplified for non-negative operands") {
  Var x("x"), n("n");
  DomMap dom{{x, {c64(0), c64(100)}}};
  CHECK_EXPR(arith::simplify(div(add(mul(x, c64(4)), c64(1)), c64(4)), dom), x);
  CHECK_EXPR(arith::simplify(truncmod(add(mul(x, c64(4)), c64(1)), c64(4)), dom), c64(1));
  // n may be negative: (n*4 + 1) / 4 is n only for n >= 0 (n = -1 gives 0), so it must stay.
  Expr e = div(add(mul(n, c64(4)), c64(1)), c64(4));
  CHECK_EXPR(arith::simplify(e), e);
  CHECK_EXPR(arith::simplify(div(n, c64(1))), n);
}

TEST_CASE("int32 index arithmetic is only split when it cannot wrap") {
  Var k("k", kI32), y("y", kI32);
  DomMap small{{k, {c32(0), c32(1000)}}, {y, {c32(0), c32(4)}}};
  Expr e = floordiv(add(mul(k, c32(8)), y), c32(4));
  CHECK_EXPR(arith::simplify(e, small), mul(k, c32(2)));
  // k unbounded: k*8 can wrap, so the division stays.
  DomMap only_y{{y, {c32(0), c32(4)}}};
  CHECK_EXPR(arith::simplify(e, only_y), e);
}

// ---- min, max, comparisons ----------------------------------------------------------------------
TEST_CASE("min, max and comparisons fold by bounds") {
  Var i("i"), j("j"), n("n");
  DomMap dom{{i, {c64(0), c64(8)}}, {j, {c64(10), c64(5)}}};
  CHECK_EXPR(arith::simplify(min(i, j), dom), i);
  CHECK_EXPR(arith::simplify(max(i, j), dom), j);
  CHECK_EXPR(arith::simplify(min(n, add(n, c64(1)))), n);
  CHECK_EXPR(arith::simplify(max(n, add(n, c64(1)))), add(n, c64(1)));
  CHECK_EXPR(arith::simplify(min(n, n)), n);
  CHECK_EXPR(arith::simplify(min(n, i), dom), min(n, i));
  CHECK_EXPR(arith::simplify(lt(i, c64(8)), dom), bool_imm(true));
  CHECK_EXPR(arith::simplify(lt(i, c64(7)), dom), lt(i, c64(7)));
  CHECK_EXPR(arith::simplify(ge(i, j), dom), bool_imm(false));
  CHECK_EXPR(arith::simplify(le(n, add(n, c64(2)))), bool_imm(true));
  CHECK_EXPR(arith::simplify(eq(add(n, c64(1)), add(c64(1), n))), bool_imm(true));
  CHECK_EXPR(arith::simplify(ne(mul(n, c64(2)), add(mul(n, c64(2)), c64(1)))), bool_imm(true));
  CHECK_EXPR(arith::simplify(select(lt(i, c64(8)), i, n), dom), i);
  CHECK(arith::can_prove(lt(add(mul(i, c64(2)), c64(1)), c64(16)), dom));
  CHECK_FALSE(arith::can_prove(lt(add(mul(i, c64(2)), c64(1)), c64(15)), dom));
  CHECK_FALSE(arith::can_prove(lt(n, c64(15))));
  CHECK(arith::can_prove(logical_and(ge(i, c64(0)), lt(i, j)), dom));
  CHECK_THROWS_WITH_AS(arith::can_prove(i), doctest::Contains("can_prove needs a scalar bool condition"), UserError);
  // int32 differences that could wrap prove nothing: k - (k + 1) is not -1 when k + 1 wraps... it
  // is, but k < k + 1 is false for k = INT32_MAX.
  Var k("k", kI32);
  Expr c = lt(k, add(k, c32(1)));
  CHECK_EXPR(arith::simplify(c), c);
  CHECK_EXPR(arith::simplify(c, {{k, {c32(0), c32(10)}}}), bool_imm(true));
}

// ---- bounds -------------------------------------------------------------------------------------
TEST_CASE("const_int_bound") {
  Var i("i"), j("j"), n("n"), k("k", kI32);
  DomMap dom{{i, {c64(0), c64(8)}}, {j, {c64(-3), c64(4)}}};
  auto b = arith::const_int_bound(add(mul(i, c64(2)), j), dom);
  CHECK(b.min_value == -3);
  CHECK(b.max_value == 14);
  b = arith::const_int_bound(mul(i, j), dom);
  CHECK(b.min_value == -21);
  CHECK(b.max_value == 0);
  b = arith::const_int_bound(floordiv(j, c64(2)), dom);
  CHECK(b.min_value == -2);
  CHECK(b.max_value == 0);
  b = arith::const_int_bound(floormod(n, c64(5)));
  CHECK(b.min_value == 0);
  CHECK(b.max_value == 4);
  b = arith::const_int_bound(truncmod(j, c64(2)), dom);
  CHECK(b.min_value == -1);
  CHECK(b.max_value == 0);
  b = arith::const_int_bound(n);
  CHECK(b.min_value == arith::ConstIntBound::kNegInf);
  CHECK(b.max_value == arith::ConstIntBound::kPosInf);
  b = arith::const_int_bound(add(n, c64(1)));
  CHECK(b.max_value == arith::ConstIntBound::kPosInf);
  b = arith::const_int_bound(min(i, c64(3)), dom);
  CHECK(b.max_value == 3);
  b = arith::const_int_bound(k);
  CHECK(b.min_value == INT32_MIN);
  CHECK(b.max_value == INT32_MAX);
  // int32 overflow: the bound is the whole type, never a wrong narrow range.
  b = arith::const_int_bound(add(k, c32(1)), {{k, {c32(1), c32(INT32_MAX)}}});
  CHECK(b.min_value == INT32_MIN);
  b = arith::const_int_bound(add(k, c32(1)), {{k, {c32(0), c32(10)}}});
  CHECK(b.min_value == 1);
  CHECK(b.max_value == 10);
  b = arith::const_int_bound(add(c64(INT64_MAX), i), dom);  // finite int64 overflow: infinite
  CHECK(b.min_value == arith::ConstIntBound::kNegInf);
  CHECK(b.max_value == arith::ConstIntBound::kPosInf);
  b = arith::const_int_bound(select(lt(i, c64(4)), c64(10), c64(20)), dom);
  CHECK(b.min_value == 10);
  CHECK(b.max_value == 20);
  b = arith::const_int_bound(cast(DataType::uint(8), i), dom);
  CHECK(b.min_value == 0);
  CHECK(b.max_value == 7);
  // A domain with a symbolic extent gives an infinite upper bound.
  b = arith::const_int_bound(i, {{i, {c64(2), n}}});
  CHECK(b.min_value == 2);
  CHECK(b.max_value == arith::ConstIntBound::kPosInf);
}

// ---- intervals and regions ----------------------------------------------------------------------
TEST_CASE("eval_interval with a symbolic extent") {
  Var i("i"), n("n"), j("j");
  arith::IntervalMap m{{i, {c64(0), sub(n, c64(1))}}};
  auto s = arith::eval_interval(add(mul(i, c64(2)), c64(1)), m);
  CHECK_EXPR(s.min, c64(1));
  CHECK_EXPR(s.max, sub(mul(n, c64(2)), c64(1)));
  s = arith::eval_interval(sub(c64(10), i), m);
  CHECK_EXPR(s.min, sub(c64(11), n));
  CHECK_EXPR(s.max, c64(10));
  s = arith::eval_interval(add(i, j), m);  // j is a fixed symbol
  CHECK_EXPR(s.min, j);
  CHECK_EXPR(s.max, sub(add(j, n), c64(1)));
  s = arith::eval_interval(floordiv(i, c64(4)), m);
  CHECK_EXPR(s.min, c64(0));
  CHECK_EXPR(s.max, sub(floordiv(add(n, c64(3)), c64(4)), c64(1)));  // remainder constant kept in [0, 4)
  s = arith::eval_interval(floormod(i, c64(4)), m);
  CHECK_EXPR(s.min, c64(0));
  CHECK_EXPR(s.max, c64(3));
  s = arith::eval_interval(mul(i, i), m);  // not affine: unbounded
  CHECK_FALSE(s.min.defined());
  CHECK_FALSE(s.max.defined());
  arith::IntervalMap half_open{{i, {c64(0), Expr()}}};
  s = arith::eval_interval(add(i, c64(3)), half_open);
  CHECK_EXPR(s.min, c64(3));
  CHECK_FALSE(s.max.defined());
}

TEST_CASE("infer_region covers conv-like accesses") {
  Var y("y"), ry("ry"), x("x"), n("n");
  DomMap dom{{y, {c64(0), c64(8)}}, {ry, {c64(0), c64(3)}}, {x, {c64(0), n}}};
  auto r = arith::infer_region({{add(mul(y, c64(2)), ry), x}}, dom);
  REQUIRE(r.size() == 2);
  CHECK_EXPR(r[0].min, c64(0));
  CHECK_EXPR(r[0].extent, c64(17));
  CHECK_EXPR(r[1].min, c64(0));
  CHECK_EXPR(r[1].extent, n);
  // Several accesses: the union box.
  r = arith::infer_region({{y}, {add(y, c64(4))}, {sub(y, c64(1))}}, dom);
  CHECK_EXPR(r[0].min, c64(-1));
  CHECK_EXPR(r[0].extent, c64(13));
  // A non-affine index falls back to constant bounds.
  r = arith::infer_region({{mul(y, ry)}}, dom);
  CHECK_EXPR(r[0].min, c64(0));
  CHECK_EXPR(r[0].extent, c64(15));
  CHECK_THROWS_WITH_AS(arith::infer_region({{y, x}, {y}}, dom), doctest::Contains("access 1 has 1 indices"), UserError);
  CHECK_THROWS_WITH_AS(arith::infer_region({{mul(x, x)}}, dom), doctest::Contains("cannot bound index 0"), UserError);
}

// ---- statements ---------------------------------------------------------------------------------
TEST_CASE("statement simplification uses loop and block domains") {
  Var i("i"), j("j");
  Buffer A = make_buffer("A", kF32, {c64(64)});
  Stmt store = buffer_store(A, float_imm(1.0, kF32), {add(mul(floordiv(add(mul(i, c64(8)), j), c64(8)), c64(8)),
                                                         floormod(add(mul(i, c64(8)), j), c64(8)))});
  Stmt body = if_then_else(lt(add(mul(i, c64(8)), j), c64(64)), store);
  Stmt loops = for_loop(i, c64(0), c64(8), ForKind::Serial, for_loop(j, c64(0), c64(8), ForKind::Serial, body));
  Stmt s = arith::simplify(loops);
  auto* fi = s.as<ForNode>();
  REQUIRE(fi);
  auto* fj = fi->body.as<ForNode>();
  REQUIRE(fj);
  auto* st = fj->body.as<BufferStoreNode>();  // the always-true if is gone
  REQUIRE(st);
  CHECK_EXPR(st->indices[0], add(mul(i, c64(8)), j));

  // A provably false if without else disappears from a sequence; extent-1 loops stay loops.
  Stmt never = if_then_else(ge(i, c64(8)), store);
  Stmt l2 = for_loop(i, c64(0), c64(8), ForKind::Serial, seq({never, buffer_store(A, float_imm(2.0, kF32), {i})}));
  Stmt s2 = arith::simplify(l2);
  REQUIRE(s2.as<ForNode>());
  CHECK(s2.as<ForNode>()->body.as<BufferStoreNode>());
  Stmt one = for_loop(i, c64(0), c64(1), ForKind::Serial, buffer_store(A, float_imm(2.0, kF32), {add(i, c64(3))}));
  Stmt s3 = arith::simplify(one);
  REQUIRE(s3.as<ForNode>());
  CHECK_EXPR(s3.as<ForNode>()->body.as<BufferStoreNode>()->indices[0], c64(3));

  // Block iteration variables carry their domains.
  BlockNode bn;
  bn.name = "B";
  Var vi("vi");
  bn.iter_vars = {IterVar{vi, {c64(0), c64(16)}, IterKind::DataPar, ""}};
  bn.body = buffer_store(A, float_imm(3.0, kF32), {floormod(vi, c64(16))});
  Stmt br = block_realize({i}, bool_imm(true), make_block(std::move(bn)));
  Stmt s4 = arith::simplify(for_loop(i, c64(0), c64(16), ForKind::Serial, br));
  auto* r4 = s4.as<ForNode>()->body.as<BlockRealizeNode>();
  REQUIRE(r4);
  CHECK_EXPR(r4->block->body.as<BufferStoreNode>()->indices[0], vi);

  PrimFunc f = make_prim_func("f", {A}, loops);
  PrimFunc g = arith::simplify(f);
  CHECK(g->body.as<ForNode>()->body.as<ForNode>()->body.as<BufferStoreNode>());
  CHECK(g->params.size() == f->params.size());
}

// ---- randomized soundness -----------------------------------------------------------------------
#ifndef KILN_ARITH_FUZZ_SEEDS
#define KILN_ARITH_FUZZ_SEEDS 1100  // per type; define it larger for a longer run
#endif

namespace {

struct RandomExprs {
  std::mt19937_64 rng;
  DataType t;
  std::vector<Var> vars;
  DomMap dom;

  RandomExprs(uint64_t seed, DataType type) : rng(seed), t(type) {
    for (const char* name : {"a", "b", "c"}) {
      Var v(name, t);
      int64_t mn = t.is_uint() ? pick(0, 20) : pick(-10, 10), ext = pick(1, 20);
      if (t.is_uint() && pick(0, 7) == 0) mn = UINT32_MAX - 25;
      if (t.is_int() && t.bits == 32 && pick(0, 7) == 0)  // near wrapping
        mn = pick(0, 1) ? INT32_MAX - 25 : INT32_MIN + pick(0, 5);
      vars.push_back(v);
      dom[v] = {int_imm(mn, t), int_imm(ext, t)};
    }
  }
  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  Expr cnst() {
    if (t.is_uint()) return int_imm(pick(0, 15) == 0 ? UINT32_MAX - pick(0, 3) : pick(0, 12), t);
    if (t.is_int() && t.bits == 32 && pick(0, 15) == 0)
      return int_imm(pick(0, 1) ? INT32_MAX - pick(0, 3) : INT32_MIN + pick(0, 3), t);
    return int_imm(pick(-12, 12), t);
  }
  Expr divisor() {
    int64_t r = pick(0, 9);
    if (r < 6) return int_imm(pick(1, 9), t);
    if (r < 8) return int_imm(t.is_uint() ? pick(1, 5) : -pick(1, 5), t);
    Expr v = vars[size_t(pick(0, 2))];
    return add(v, int_imm(pick(-3, 3), t));  // may be zero at some points
  }
  // Operands are generated in separate statements: argument evaluation order is unspecified, and
  // the same seed must give the same expression with every compiler.
  Expr cond(int depth) {
    static const BinaryOp cmps[] = {BinaryOp::EQ, BinaryOp::NE, BinaryOp::LT, BinaryOp::LE, BinaryOp::GT,
                                    BinaryOp::GE};
    int64_t r = pick(0, 9);
    if (depth > 0 && r <= 1) {
      Expr x = cond(depth - 1);
      Expr y = cond(depth - 1);
      return r == 0 ? logical_and(x, y) : logical_or(x, y);
    }
    if (depth > 0 && r == 2) return logical_not(cond(depth - 1));
    BinaryOp op = cmps[pick(0, 5)];
    Expr x = gen(depth - 1);
    Expr y = gen(depth - 1);
    return binary(op, x, y);
  }
  Expr gen(int depth) {
    if (depth <= 0 || pick(0, 5) == 0) return pick(0, 2) ? Expr(vars[size_t(pick(0, 2))]) : cnst();
    int64_t kind = pick(0, 13);
    Expr x = gen(depth - 1);
    switch (kind) {
      case 0: case 1: return add(x, gen(depth - 1));
      case 2: case 3: return sub(x, gen(depth - 1));
      case 4: return mul(x, cnst());
      case 5: return mul(x, gen(depth - 1));
      case 6: return floordiv(x, divisor());
      case 7: return floormod(x, divisor());
      case 8: {
        bool trunc_div = pick(0, 1);
        Expr d = divisor();
        return trunc_div ? div(x, d) : truncmod(x, d);
      }
      case 9: return min(x, gen(depth - 1));
      case 10: return max(x, gen(depth - 1));
      case 11: {
        Expr c = cond(depth - 1);
        return select(c, x, gen(depth - 1));
      }
      case 12: {  // the shape the division rules look for: (x*c1 + y) op c2 with c2 | c1
        int64_t c2 = pick(1, 8);
        int64_t c1 = c2 * (t.is_uint() ? pick(0, 3) : pick(-3, 3));
        Expr e = add(mul(x, int_imm(c1, t)), gen(depth - 1));
        return pick(0, 1) ? floordiv(e, int_imm(c2, t)) : floormod(e, int_imm(c2, t));
      }
      default: {  // (x floordiv c)*c + x floormod c
        int64_t c = pick(1, 6);
        return add(mul(floordiv(x, int_imm(c, t)), int_imm(c, t)), floormod(x, int_imm(c, t)));
      }
    }
  }
  std::string dom_str() const {
    std::string s;
    for (auto& v : vars) s += v.name() + " in [" + str(dom.at(v).min) + ", +" + str(dom.at(v).extent) + ") ";
    return s;
  }
  Env point() {
    Env env;
    for (auto& v : vars) {
      auto& r = dom.at(v);
      int64_t mn = r.min.as<IntImmNode>()->value, ext = r.extent.as<IntImmNode>()->value;
      env[v.get()] = mn + pick(0, ext - 1);
    }
    return env;
  }
};

}  // namespace

TEST_CASE("random integer expressions keep their values when simplified") {
  int checked = 0, simplified_smaller = 0;
  for (DataType t : {kI64, kI32, DataType::uint(32)}) {
    for (uint64_t seed = 1; seed <= KILN_ARITH_FUZZ_SEEDS; ++seed) {
      RandomExprs g(seed * 7919 + t.bits, t);
      Expr e = g.gen(int(g.pick(2, 5)));
      if (g.pick(0, 4) == 0) e = g.cond(3);
      Expr s = arith::simplify(e, g.dom);
      Expr s2 = arith::simplify(s, g.dom);
      INFO("seed ", seed, " type ", t.str(), "\n  original:   ", str(e), "\n  simplified: ", str(s),
           "\n  again:      ", str(s2), "\n  domains:    ", g.dom_str());
      CHECK(arith::detail::same_expr(s, s2));  // idempotent
      CHECK(s.dtype() == e.dtype());
      if (!arith::detail::same_expr(s, e)) ++simplified_smaller;
      auto bound = arith::const_int_bound(e, g.dom);
      for (int p = 0; p < 12; ++p) {
        Env env = g.point();
        auto want = eval(e, env);
        if (!want) continue;  // division by zero in the original: nothing to keep
        auto got = eval(s, env);
        REQUIRE(got.has_value());
        CHECK(*got == *want);
        CHECK(*want >= bound.min_value);  // bounds are sound too
        CHECK(*want <= bound.max_value);
        ++checked;
      }
    }
  }
  MESSAGE("checked ", checked, " points; ", simplified_smaller, " expressions changed");
  CHECK(checked > 10000);
  CHECK(simplified_smaller > 1000);
}

TEST_CASE("expressions that share subtrees are analysed once per node") {
  // A DAG of 2^60 tree nodes: finishes only if shared nodes are not walked again.
  Var x("x");
  Expr f = x;
  for (int i = 0; i < 60; ++i) f = add(floordiv(f, c64(3)), floormod(f, c64(5)));
  Expr s = arith::simplify(f);
  CHECK(s.defined());
  CHECK(s.dtype() == kI64);
  auto b = arith::const_int_bound(f, {{x, {c64(0), c64(10)}}});
  CHECK(b.min_value == 0);
  CHECK(b.max_value <= 10 + 4 * 60);
  // In a small domain the same DAG simplifies to something no bigger than a few nodes per level.
  Expr g = arith::simplify(f, {{x, {c64(0), c64(1)}}});
  CHECK_EXPR(g, c64(0));
}
