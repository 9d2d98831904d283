// Unit tests for structural equality, hashing and diff: alpha-equivalence of definitions,
// identity of free variables, and readable paths to the first mismatch.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>

#include "kiln/ir/ir.hpp"
#include "kiln/ir/parser.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"

using namespace kiln;
using namespace kiln::ir;

namespace {

const DataType kF32 = DataType::float_(32);
Expr c(int64_t v) { return int_imm(v); }
Range point(Expr e) { return Range{std::move(e), int_imm(1)}; }

// Knobs for building variants of one function.
struct Spec {
  std::string i = "i", j = "j", a = "A", b = "B", n = "n";
  int64_t extent = 128;
  ForKind kind = ForKind::Serial;
  std::string block = "B";
  std::string scope = "global";
  double init = 0.0;
  bool swap = false;
  BinaryOp op = BinaryOp::Add;
  Annotations ann = {};
};

// A root block over a Seq of two loop nests: the first zero-fills B, the second accumulates A.
PrimFunc build(const Spec& s) {
  Var n(s.n);
  Buffer A = make_buffer(s.a, kF32, {n, c(128)});
  Buffer B = make_buffer(s.b, kF32, {n, c(128)}, s.scope);
  Var i(s.i), j(s.j), i2(s.i), j2(s.j), vi("vi"), vj("vj");
  Stmt fill = for_loop(i2, c(0), n, ForKind::Serial,
                       for_loop(j2, c(0), c(128), ForKind::Serial, buffer_store(B, float_imm(s.init), {i2, j2})));
  BlockNode blk;
  blk.name = s.block;
  blk.iter_vars = {IterVar{vi, Range{c(0), n}, IterKind::DataPar, ""}, IterVar{vj, Range{c(0), c(128)}, IterKind::DataPar, ""}};
  blk.reads = {BufferRegion{A, {point(vi), point(vj)}}, BufferRegion{B, {point(vi), point(vj)}}};
  blk.writes = {BufferRegion{B, {point(vi), point(vj)}}};
  blk.annotations = s.ann;
  Expr load_a = s.swap ? buffer_load(A, {vj, vi}) : buffer_load(A, {vi, vj});
  blk.body = buffer_store(B, binary(s.op, buffer_load(B, {vi, vj}), load_a), {vi, vj});
  Stmt acc = for_loop(i, c(0), c(s.extent), s.kind,
                      for_loop(j, c(0), c(128), ForKind::Serial, block_realize({i, j}, Expr(), make_block(std::move(blk)))));
  BlockNode root;
  root.name = "root";
  root.body = seq({fill, acc});
  return make_prim_func("f", {A, B}, block_realize({}, Expr(), make_block(std::move(root))));
}

std::string diff_of(const PrimFunc& a, const PrimFunc& b) {
  auto d = structural_diff(a, b);
  return d ? *d : "(equal)";
}

}  // namespace

TEST_CASE("equal under renaming of every defined variable and buffer") {
  PrimFunc f = build({});
  Spec renamed;
  renamed.i = "x";
  renamed.j = "y";
  renamed.a = "X";
  renamed.b = "Y";
  renamed.n = "m";
  PrimFunc g = build(renamed);
  CHECK(structural_equal(f, g));
  CHECK(structural_hash(f) == structural_hash(g));
  CHECK(!structural_diff(f, g));
  CHECK(structural_equal(f, build({})));  // fresh variables, same structure
  CHECK(structural_equal(f, f));
}

TEST_CASE("inequality is detected and the diff names the path") {
  PrimFunc f = build({});
  Spec s;
  s.extent = 64;
  CHECK(diff_of(f, build(s)) == "body.block(root).body.seq[1].for(i).extent: 128 vs 64");
  s = {};
  s.kind = ForKind::Parallel;
  CHECK(diff_of(f, build(s)) == "body.block(root).body.seq[1].for(i).kind: serial vs parallel");
  s = {};
  s.block = "C";
  CHECK(diff_of(f, build(s)) == "body.block(root).body.seq[1].for(i).body.for(j).body.block(B).name: \"B\" vs \"C\"");
  s = {};
  s.scope = "shared";
  CHECK(diff_of(f, build(s)) == "params[1].buffer(B).scope: \"global\" vs \"shared\"");
  s = {};
  s.init = 0.5;
  CHECK(diff_of(f, build(s)) ==
        "body.block(root).body.seq[0].for(i).body.for(j).body.store(B).value: T.float32(0) vs T.float32(0.5)");
  s = {};
  s.swap = true;
  CHECK(diff_of(f, build(s)) ==
        "body.block(root).body.seq[1].for(i).body.for(j).body.block(B).body.store(B).value.b.indices[0]: vi vs vj");
  s = {};
  s.op = BinaryOp::Sub;
  CHECK(diff_of(f, build(s)) ==
        "body.block(root).body.seq[1].for(i).body.for(j).body.block(B).body.store(B).value: B[vi, vj] + A[vi, vj] vs "
        "B[vi, vj] - A[vi, vj]");
  s = {};
  s.ann = {{"unroll", c(4)}};
  CHECK(diff_of(f, build(s)) ==
        "body.block(root).body.seq[1].for(i).body.for(j).body.block(B).annotations: nothing vs key \"unroll\"");
  Spec t = s;
  t.ann = {{"unroll", c(8)}};
  CHECK(diff_of(build(s), build(t)) ==
        "body.block(root).body.seq[1].for(i).body.for(j).body.block(B).annotations.[\"unroll\"]: 4 vs 8");
}

TEST_CASE("hash is equal for equal IR and differs for these unequal ones") {
  PrimFunc f = build({});
  CHECK(structural_hash(f) == structural_hash(build({})));
  Spec s1, s2, s3, s4, s5;
  s1.extent = 64;
  s2.kind = ForKind::Unrolled;
  s3.swap = true;
  s4.init = -0.0;  // -0.0 and 0.0 are different constants
  s5.op = BinaryOp::Max;
  for (const Spec& s : {s1, s2, s3, s4, s5}) {
    PrimFunc g = build(s);
    CHECK(!structural_equal(f, g));
    CHECK(structural_hash(f) != structural_hash(g));
  }
}

TEST_CASE("free variables compare by identity, bound ones by position") {
  Var x("x"), y("y"), x2("x");
  CHECK(structural_equal(x + 1, x + 1));
  CHECK(!structural_equal(x + 1, x2 + 1));
  CHECK(*structural_diff(x + 1, x2 + 1) == "a: x vs x (a different free variable)");
  CHECK(structural_hash(x + 1) != structural_hash(x2 + 1));
  // let-bound: names do not matter
  CHECK(structural_equal(let(x, c(1), x * 2), let(y, c(1), y * 2)));
  CHECK(structural_hash(let(x, c(1), x * 2)) == structural_hash(let(y, c(1), y * 2)));
  // a bound variable never equals a free one
  CHECK(!structural_equal(let(x, c(1), x * 2), let(y, c(1), x * 2)));
  // loop variables
  Buffer A = make_buffer("A", kF32, {c(4)});
  Stmt s1 = for_loop(x, c(0), c(4), ForKind::Serial, buffer_store(A, float_imm(1), {x}));
  Stmt s2 = for_loop(y, c(0), c(4), ForKind::Serial, buffer_store(A, float_imm(1), {y}));
  CHECK(structural_equal(s1, s2));
  CHECK(structural_hash(s1) == structural_hash(s2));
  // types of definitions matter
  Var z("z", DataType::int_(32));
  CHECK(!structural_equal(let(x, c(1), c(0)), let(z, c(1), c(0))));
}

TEST_CASE("two distinct variables with the same name") {
  Buffer A = make_buffer("A", kF32, {c(4), c(4)});
  Var outer("i"), inner("i");
  // for i: for i: A[outer, inner]  vs  A[inner, outer]: only the identities tell them apart.
  auto nest = [&](Expr a, Expr b) {
    return make_prim_func("f", {A}, for_loop(outer, c(0), c(4), ForKind::Serial,
                                             for_loop(inner, c(0), c(4), ForKind::Serial, buffer_store(A, float_imm(1), {a, b}))));
  };
  PrimFunc f = nest(outer, inner), g = nest(inner, outer);
  CHECK(!structural_equal(f, g));
  CHECK(structural_hash(f) != structural_hash(g));
  std::string text = to_text(f);
  CHECK(text.find("for i in T.serial(0, 4):") != std::string::npos);
  CHECK(text.find("for i_1 in T.serial(0, 4):") != std::string::npos);
  CHECK(text.find("A[i, i_1] = T.float32(1)") != std::string::npos);
  CHECK(to_text(g).find("A[i_1, i] = T.float32(1)") != std::string::npos);
  PrimFunc back = parse_prim_func(text);
  CHECK(structural_equal(back, f));
  CHECK(!structural_equal(back, g));
  // The same Var object reused by two sibling loops is as good as two distinct ones.
  Var i1("i"), i2("i");
  auto siblings = [&](Var a, Var b) {
    return make_prim_func("f", {A}, seq({for_loop(a, c(0), c(4), ForKind::Serial, buffer_store(A, float_imm(1), {a, a})),
                                         for_loop(b, c(0), c(4), ForKind::Serial, buffer_store(A, float_imm(2), {b, b}))}));
  };
  CHECK(structural_equal(siblings(i1, i1), siblings(i1, i2)));
  CHECK(structural_hash(siblings(i1, i1)) == structural_hash(siblings(i1, i2)));
  CHECK(structural_equal(parse_prim_func(to_text(siblings(i1, i1))), siblings(i1, i1)));
}

TEST_CASE("constants: NaN equals NaN, -0 differs from 0, dtypes matter") {
  CHECK(structural_equal(float_imm(NAN), float_imm(NAN)));
  CHECK(structural_hash(float_imm(NAN)) == structural_hash(float_imm(-NAN)));
  CHECK(!structural_equal(float_imm(0.0), float_imm(-0.0)));
  CHECK(*structural_diff(float_imm(1.0), float_imm(1.0, DataType::float_(64))) == "dtype: float32 vs float64");
  CHECK(!structural_equal(int_imm(1), int_imm(1, DataType::int_(32))));
  CHECK(*structural_diff(call(kF32, "exp", {float_imm(1)}), call(kF32, "log", {float_imm(1)})) == "op: exp vs log");
  CHECK(*structural_diff(ramp(c(0), c(1), 4), ramp(c(0), c(1), 8)) == "dtype: int64x4 vs int64x8");
  CHECK(*structural_diff(string_imm("a"), string_imm("b")) == "(root): \"a\" vs \"b\"");
}

TEST_CASE("buffers: fields compare, names do not; shape variables bind by position") {
  Var n("n"), m("m");
  Buffer A = make_buffer("A", kF32, {n});
  Buffer B = make_buffer("B", kF32, {m});
  Buffer C = make_buffer("C", DataType::float_(16), {n});
  auto fill = [](Buffer b) { return make_prim_func("f", {b}, buffer_store(b, make_const(b->dtype, 0), {c(0)})); };
  CHECK(structural_equal(fill(A), fill(B)));
  CHECK(diff_of(fill(A), fill(C)) == "params[0].buffer(A).dtype: float32 vs float16");
  // A shape variable is bound by its first appearance: (n, n) is not (n, m).
  Buffer D = make_buffer("D", kF32, {n, n}), E = make_buffer("E", kF32, {n, m});
  auto f2 = [](Buffer b) { return make_prim_func("f", {b}, evaluate(c(0))); };
  CHECK(!structural_equal(f2(D), f2(E)));
  CHECK(diff_of(f2(D), f2(E)) == "params[0].buffer(D).shape[1]: n vs m");
  CHECK(structural_hash(f2(D)) != structural_hash(f2(E)));
}

TEST_CASE("modules compare function by function") {
  IRModule a, b, c2;
  a.add("main", build({}));
  b.add("main", build({}));
  Spec s;
  s.extent = 32;
  c2.add("main", build(s));
  CHECK(structural_equal(a, b));
  CHECK(structural_hash(a) == structural_hash(b));
  CHECK(!structural_equal(a, c2));
  CHECK(*structural_diff(a, c2) == "main.body.block(root).body.seq[1].for(i).extent: 128 vs 32");
  IRModule d;
  d.add("other", build({}));
  CHECK(*structural_diff(a, d) == "(root): function main vs function other");
}

TEST_CASE("a shape variable first met inside an expression is still bound by the signature") {
  // A: (n + 2,), C: (n,) as TE builds for a stencil; printing and parsing makes a new n.
  auto build_f = [] {
    Var n("n"), i("i");
    Buffer A = make_buffer("A", kF32, {n + 2});
    Buffer C = make_buffer("C", kF32, {n});
    return make_prim_func("f", {A, C}, for_loop(i, c(0), n, ForKind::Serial,
                                                buffer_store(C, buffer_load(A, {i + 2}), {i})));
  };
  PrimFunc f = build_f(), g = build_f();
  CHECK(structural_equal(f, g));
  CHECK(structural_hash(f) == structural_hash(g));
  PrimFunc back = parse_prim_func(to_text(f));
  CHECK(!structural_diff(back, f));
  CHECK(structural_hash(back) == structural_hash(f));
}

TEST_CASE("statements and expressions print on their own and through operator<<") {
  Buffer A = make_buffer("A", kF32, {c(4)});
  Var i("i");
  Stmt s = for_loop(i, c(0), c(4), ForKind::Vectorized, buffer_store(A, float_imm(1), {i}));
  CHECK(to_text(s) == "for i in T.vectorized(0, 4):\n    A[i] = T.float32(1)\n");
  std::ostringstream os;
  os << (i * 2 + 1) << " | " << s;
  CHECK(os.str() == "i * 2 + 1 | for i in T.vectorized(0, 4):\n    A[i] = T.float32(1)\n");
}
