// Unit tests for the IR printer and parser: golden text, exact round trips over every node kind,
// and the parser's error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "kiln/ir/ir.hpp"
#include "kiln/ir/parser.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"

using namespace kiln;
using namespace kiln::ir;

namespace {

const DataType kF32 = DataType::float_(32);
const DataType kI32 = DataType::int_(32);
const DataType kI64 = DataType::int_(64);

Range rng(Expr min, Expr extent) { return Range{std::move(min), std::move(extent)}; }
Range point(Expr e) { return Range{std::move(e), int_imm(1)}; }
Expr c(int64_t v) { return int_imm(v); }

// The TensorIR matmul-vector product with a reduction init, as create_prim_func would build it.
PrimFunc matvec() {
  Var n("n");
  Buffer A = make_buffer("A", kF32, {n, c(128)});
  Buffer B = make_buffer("B", kF32, {c(128)});
  Buffer C = make_buffer("C", kF32, {n});
  Var i("i"), k("k"), vi("vi"), vk("vk");
  BlockNode b;
  b.name = "C";
  b.iter_vars = {IterVar{vi, rng(c(0), n), IterKind::DataPar, ""}, IterVar{vk, rng(c(0), c(128)), IterKind::CommReduce, ""}};
  b.reads = {BufferRegion{A, {point(vi), point(vk)}}, BufferRegion{B, {point(vk)}}};
  b.writes = {BufferRegion{C, {point(vi)}}};
  b.init = buffer_store(C, float_imm(0.0), {vi});
  b.body = buffer_store(C, buffer_load(C, {vi}) + buffer_load(A, {vi, vk}) * buffer_load(B, {vk}), {vi});
  Stmt loops = for_loop(i, c(0), n, ForKind::Serial,
                        for_loop(k, c(0), c(128), ForKind::Serial, block_realize({i, k}, Expr(), make_block(std::move(b)))));
  BlockNode root;
  root.name = "root";
  root.body = loops;
  return make_prim_func("main", {A, B, C}, block_realize({}, Expr(), make_block(std::move(root))));
}

const char* kMatvecText = R"(@T.prim_func
def main(A: T.Buffer((n, 128), "float32"), B: T.Buffer((128,), "float32"), C: T.Buffer((n,), "float32")):
    n = T.int64()
    with T.block("root"):
        for i in T.serial(0, n):
            for k in T.serial(0, 128):
                with T.block("C"):
                    vi = T.axis.spatial(n, i)
                    vk = T.axis.reduce(128, k)
                    T.reads(A[vi, vk], B[vk])
                    T.writes(C[vi])
                    with T.init():
                        C[vi] = T.float32(0)
                    C[vi] = C[vi] + A[vi, vk] * B[vk]
)";

// A lowered function: flat views, Allocate, every loop kind, vectors, lets, lazy conditionals,
// narrow casts, index arithmetic, and the odd corners (nested Seq, non-tail LetStmt, NaN, ...).
PrimFunc lowered() {
  Var n("n");
  Buffer A = make_buffer("A", kF32, {n, c(128)});
  Buffer H = make_buffer("H", DataType::float_(16), {c(64)});
  Buffer Bf = make_buffer("Bf", DataType::bfloat16(), {c(64)});
  Buffer I8 = make_buffer("I8", DataType::int_(8), {c(64)});
  Buffer Bo = make_buffer("Bo", DataType::boolean(), {c(64)});
  // A strided view with an offset, in shared memory, aligned.
  Var s0("s0"), off("off");
  auto strided = std::make_shared<BufferNode>(*make_buffer("S", DataType::float_(64), {c(4), c(4)}, "shared", {s0, c(1)}, off).get());
  strided->align_bytes = 64;
  Buffer S(std::shared_ptr<const BufferNode>(std::move(strided)));
  Buffer Z = make_buffer("Z", DataType::int_(32), {});  // zero-dimensional
  Var alpha("alpha", kF32), m("m", kI32);
  // The flat view of A shares its data pointer.
  auto flat = std::make_shared<BufferNode>(*A.get());
  flat->name = "A";  // same name on purpose: must print as a distinct buffer
  flat->shape = {n * 128};
  Buffer Af(std::shared_ptr<const BufferNode>(std::move(flat)));
  Buffer tmp = make_buffer("tmp", kF32, {c(64)}, "local");
  Var i("i"), j("j"), t("t"), u("u", kI32), x("x"), y("y", kI32), v("v"), i2("i");  // i2: a second "i"

  Expr vec_idx = ramp(j * 4, c(1), 4);
  Stmt vec = for_loop(j, c(0), c(16), ForKind::Vectorized,
                      buffer_store(tmp, buffer_load(Af, {vec_idx}) * broadcast(alpha, 4), {ramp(j * 4, c(1), 4)}));
  Expr lazy = call(kF32, "if_then_else", {lt(i, n), buffer_load(Af, {i * 128}), float_imm(0.1)});
  Expr let_e = let(x, i + 1, floordiv(x, c(3)) + floormod(x, c(5)) + truncmod(x, c(7)) + div(x, c(2)));
  Stmt casts = seq({
      buffer_store(H, cast(DataType::float_(16), lazy), {c(0)}),
      buffer_store(Bf, cast(DataType::bfloat16(), call(kF32, "exp", {alpha})), {c(1)}),
      buffer_store(I8, cast(DataType::int_(8), min(max(y, int_imm(-128, kI32)), int_imm(127, kI32))), {let_e}),
      buffer_store(Bo, cast(DataType::boolean(), y), {c(3)}),
      buffer_store(Bo, logical_not(logical_and(lt(i, n), logical_or(ge(i, c(2)), ne(i, c(9))))), {c(4)}),
      buffer_store(A, select(gt(y, int_imm(0, kI32)), float_imm(-std::numeric_limits<double>::infinity()),
                             float_imm(std::numeric_limits<double>::quiet_NaN())), {c(0), c(1)}),
      buffer_store(S, div(float_imm(0.1, DataType::float_(64)), float_imm(3.0, DataType::float_(64))), {c(0), c(1)}),
      buffer_store(Z, int_imm(-5, kI32), {}),
      evaluate(call(DataType::void_(), "kiln.debug_print", {string_imm("a \"quoted\"\nline"), int_imm(-1, DataType::uint(64)),
                                                            int_imm(INT64_MIN)})),
      evaluate(call(kI32, "abs", {y})),
      evaluate(call(kF32, "fma", {alpha, alpha, float_imm(1e-30)})),
  });
  Stmt cond = if_then_else(le(i, c(3)), casts, if_then_else(eq(i, c(4)), evaluate(c(0))));
  // A Seq nested directly in a Seq, and a LetStmt that is not last.
  Stmt nested = Stmt(std::make_shared<const SeqStmtNode>(std::vector<Stmt>{
      Stmt(std::make_shared<const SeqStmtNode>(std::vector<Stmt>{evaluate(c(1)), evaluate(c(2))})),
      let_stmt(v, i * 2, evaluate(v)),
      evaluate(c(3)),
  }));
  Stmt unrolled = for_loop(u, int_imm(0, kI32), int_imm(4, kI32), ForKind::Unrolled,
                           buffer_store(tmp, cast(kF32, u), {cast(kI64, u)}), "", {{"pragma_unroll_explicit", c(1)}});
  Stmt threads = for_loop(t, c(0), c(32), ForKind::ThreadBinding, evaluate(t), "threadIdx.x");
  Stmt body = allocate(tmp, seq({vec, unrolled, threads, cond, nested}));
  Stmt par = for_loop(i, c(0), n, ForKind::Parallel, body);
  Stmt second_i = for_loop(i2, c(0), c(2), ForKind::Serial, buffer_store(Af, float_imm(2.5), {i2}));
  Stmt tail_let = let_stmt(y, m * int_imm(2, kI32), seq({par, second_i}));
  return make_prim_func("lowered", {A, H, Bf, I8, Bo, S, Z}, tail_let, {alpha, m},
                        {{"global_symbol", string_imm("lowered")}, {"kiln.tir.noalias", bool_imm(true)}});
}

// Block corners: alloc_buffers and their views, annotations, predicates, iter var kinds with
// non-zero mins, regions with symbolic slices, a bare Block, and a TE reduction expression.
PrimFunc block_corners() {
  Buffer A = make_buffer("A", kF32, {c(64), c(64)});
  Buffer Out = make_buffer("Out", kF32, {c(64)});
  Buffer Sh = make_buffer("Sh", kF32, {c(16)}, "shared");
  Var io("io"), ii("ii"), vo("vo"), vt("vt"), vq("vq", kI32), k("k"), r("r");
  BlockNode inner;
  inner.name = "inner block";  // not an identifier: quoted
  inner.iter_vars = {IterVar{vo, rng(c(2), c(62)), IterKind::DataPar, ""},
                     IterVar{vt, rng(c(0), c(32)), IterKind::ThreadIndex, "threadIdx.x"},
                     IterVar{vq, rng(int_imm(0, kI32), int_imm(8, kI32)), IterKind::Opaque, ""}};
  inner.alloc_buffers = {Sh};
  auto view = std::make_shared<BufferNode>(*Sh.get());
  view->name = "Sh_2d";
  view->shape = {c(4), c(4)};
  Buffer ShView(std::shared_ptr<const BufferNode>(std::move(view)));
  inner.reads = {BufferRegion{A, {rng(vo * 4, c(4)), rng(c(0), c(64))}}, BufferRegion{A, {rng(c(3), c(5)), point(vo)}}};
  inner.writes = {BufferRegion{Out, {rng(vo, int_imm(1, DataType::int_(64)) + vo)}}};
  inner.annotations = {{"meta_schedule.tiling", string_imm("SSRSRS")}, {"unroll", c(16)}};
  Expr red = reduce(ReduceOp::Sum, buffer_load(A, {vo, k}), {IterVar{k, rng(c(0), c(64)), IterKind::CommReduce, ""}}, lt(k, c(60)));
  inner.body = seq({buffer_store(ShView, red, {c(0), c(1)}),
                    buffer_store(Out, buffer_load(ShView, {c(0), c(1)}) + reduce(ReduceOp::Max, float_imm(1), {}, Expr()), {vo})});
  Stmt realize = block_realize({io * 8 + ii, c(0), int_imm(0, kI32)}, lt(io * 8 + ii, c(60)), make_block(std::move(inner)));
  BlockNode bare;
  bare.name = "bare";
  bare.iter_vars = {IterVar{r, rng(c(0), c(4)), IterKind::DataPar, ""}};
  bare.body = evaluate(r);
  Stmt loops = for_loop(io, c(0), c(8), ForKind::Serial,
                        for_loop(ii, c(0), c(8), ForKind::Serial, seq({realize, make_block(std::move(bare))})));
  BlockNode root;
  root.name = "root";
  root.body = loops;
  return make_prim_func("block_corners", {A, Out}, block_realize({}, Expr(), make_block(std::move(root))));
}

void check_round_trip(const PrimFunc& f) {
  std::string text = to_text(f);
  INFO(text);
  PrimFunc g = parse_prim_func(text);
  auto d = structural_diff(g, f);
  CHECK_MESSAGE(!d, (d ? *d : ""));
  CHECK(structural_equal(g, f));
  CHECK(structural_hash(g) == structural_hash(f));
  CHECK(to_text(g) == text);
}

std::string parse_error(const std::string& text) {
  try {
    parse_prim_func(text);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("printer: golden text of a TensorIR matvec") {
  CHECK(to_text(matvec()) == kMatvecText);
}

TEST_CASE("round trip: TensorIR, lowered IR, block corners") {
  check_round_trip(matvec());
  check_round_trip(lowered());
  check_round_trip(block_corners());
}

TEST_CASE("printer: the lowered function shows what it must") {
  std::string text = to_text(lowered());
  INFO(text);
  CHECK(text.find("A_1 = T.Buffer((n * 128,), \"float32\", data=A.data)") != std::string::npos);
  CHECK(text.find("with T.allocate((64,), \"float32\", scope=\"local\") as tmp:") != std::string::npos);
  CHECK(text.find("for j in T.vectorized(0, 16):") != std::string::npos);
  CHECK(text.find("tmp[T.Ramp(j * 4, 1, 4)] = A_1[T.Ramp(j * 4, 1, 4)] * T.Broadcast(alpha, 4)") != std::string::npos);
  CHECK(text.find("T.unroll(T.int32(0), T.int32(4), annotations={\"pragma_unroll_explicit\": 1}, dtype=\"int32\")") !=
        std::string::npos);
  CHECK(text.find("for t in T.thread_binding(0, 32, thread=\"threadIdx.x\"):") != std::string::npos);
  CHECK(text.find("T.Cast(\"float16\", T.if_then_else(i < n, A_1[i * 128], T.float32(0.1)))") != std::string::npos);
  CHECK(text.find("T.Let(x: T.int64 = i + 1, x // 3 + x % 5 + T.truncmod(x, 7) + T.truncdiv(x, 2))") != std::string::npos);
  CHECK(text.find("T.Select(y > T.int32(0), T.float32(\"-inf\"), T.float32(\"nan\"))") != std::string::npos);
  CHECK(text.find("S: T.Buffer((4, 4), \"float64\", strides=(s0, 1), elem_offset=off, scope=\"shared\", align=64)") !=
        std::string::npos);
  CHECK(text.find("Z[()] = T.int32(-5)") != std::string::npos);
  CHECK(text.find("T.uint64(18446744073709551615), -9223372036854775808") != std::string::npos);
  CHECK(text.find("not (i < n and (i >= 2 or i != 9))") != std::string::npos);
  CHECK(text.find("y: T.int32 = m * T.int32(2)") != std::string::npos);
  CHECK(text.find("with T.LetStmt(v: T.int64 = i * 2):") != std::string::npos);
  CHECK(text.find("with T.seq():") != std::string::npos);
  CHECK(text.find("for i_1 in T.serial(0, 2):") != std::string::npos);  // the second, distinct "i"
  CHECK(text.find("T.func_attr({\"global_symbol\": \"lowered\", \"kiln.tir.noalias\": True})") != std::string::npos);
  CHECK(text.find("def lowered(A: T.Buffer((n, 128), \"float32\"), ") != std::string::npos);
  CHECK(text.find("alpha: T.float32, m: T.int32):") != std::string::npos);
}

TEST_CASE("printer: block corners") {
  std::string text = to_text(block_corners());
  INFO(text);
  CHECK(text.find("with T.block(\"inner block\"):") != std::string::npos);
  CHECK(text.find("vo = T.axis.spatial(62, io * 8 + ii, min=2)") != std::string::npos);
  CHECK(text.find("vt = T.axis.thread(32, 0, thread=\"threadIdx.x\")") != std::string::npos);
  CHECK(text.find("vq = T.axis.opaque(T.int32(8), T.int32(0), min=T.int32(0), dtype=\"int32\")") != std::string::npos);
  CHECK(text.find("T.where(io * 8 + ii < 60)") != std::string::npos);
  CHECK(text.find("Sh = T.alloc_buffer((16,), \"float32\", scope=\"shared\")") != std::string::npos);
  CHECK(text.find("Sh_2d = T.Buffer((4, 4), \"float32\", scope=\"shared\", data=Sh.data)") != std::string::npos);
  CHECK(text.find("T.reads(A[vo * 4:vo * 4 + 4, 0:64], A[3:8, vo])") != std::string::npos);
  CHECK(text.find("T.writes(Out[vo:vo + (1 + vo)])") != std::string::npos);
  CHECK(text.find("T.block_attr({\"meta_schedule.tiling\": \"SSRSRS\", \"unroll\": 16})") != std::string::npos);
  CHECK(text.find("T.Reduce(\"sum\", [k: T.axis.reduce(64)], A[vo, k], where=k < 60)") != std::string::npos);
  CHECK(text.find("with T.block(\"bare\", no_realize=True):") != std::string::npos);
  CHECK(text.find("r = T.axis.spatial(4)") != std::string::npos);
}

TEST_CASE("float constants reparse to the identical double") {
  for (double v : {0.1, 1.0 / 3.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, 3.4028234663852886e38, 123456789.125,
                   double(0.1f), -2.5}) {
    Expr e = float_imm(v, DataType::float_(64));
    std::string text = to_text(e);
    Buffer X = make_buffer("X", DataType::float_(64), {c(1)});
    PrimFunc f = make_prim_func("f", {X}, buffer_store(X, e, {c(0)}));
    PrimFunc g = parse_prim_func(to_text(f));
    double back = g->body.as<BufferStoreNode>()->value.as<FloatImmNode>()->value;
    INFO(text);
    CHECK(std::signbit(back) == std::signbit(v));
    CHECK(back == v);
  }
  CHECK(to_text(float_imm(0.1)) == "T.float32(0.1)");
  CHECK(to_text(float_imm(1.0, DataType::float_(16))) == "T.float16(1)");
  CHECK(to_text(float_imm(INFINITY)) == "T.float32(\"inf\")");
}

TEST_CASE("expressions print with the fewest parentheses that keep the tree") {
  Var a("a"), b("b"), d("d");
  CHECK(to_text((a + b) * d) == "(a + b) * d");
  CHECK(to_text(a - (b - d)) == "a - (b - d)");
  CHECK(to_text((a - b) - d) == "a - b - d");
  CHECK(to_text(a * int_imm(-3)) == "a * -3");
  CHECK(to_text(eq(lt(a, b), bool_imm(true))) == "(a < b) == True");
  CHECK(to_text(broadcast(int_imm(1, kI32), 8)) == "T.Broadcast(T.int32(1), 8)");
  CHECK(to_text(cast(DataType::float_(32, 4), ramp(a, c(1), 4))) == "T.Cast(\"float32x4\", T.Ramp(a, 1, 4))");
  CHECK(to_text(call(kF32, "my_op", {a})) == "T.call(\"my_op\", \"float32\", a)");
}

TEST_CASE("modules print and parse, keeping names and keys") {
  IRModule m;
  m.add("main", matvec());
  m.add("other", lowered());  // its own name is "lowered"
  std::string text = to_text(m);
  INFO(text);
  CHECK(text.rfind("@I.ir_module\nclass Module:\n    @T.prim_func\n    def main(", 0) == 0);
  CHECK(text.find("    @T.prim_func(name=\"lowered\")\n    def other(") != std::string::npos);
  IRModule back = parse_module(text);
  CHECK(back.functions().size() == 2);
  CHECK(back.prim_func("other")->name == "lowered");
  CHECK(structural_equal(back, m));
  CHECK(to_text(back) == text);
}

TEST_CASE("parse errors name the line, the column, what was expected and what was found") {
  std::string head = "@T.prim_func\ndef f(A: T.Buffer((4,), \"float32\")):\n";
  // 1. an undeclared variable
  std::string e = parse_error(head + "    A[0] = T.float32(1) + x\n");
  CHECK(e.find("line 3, column 27: expected a declared variable or buffer, found 'x'") != std::string::npos);
  CHECK(e.find("    A[0] = T.float32(1) + x") != std::string::npos);  // the offending line
  // 2. a missing colon after the loop header
  e = parse_error(head + "    for i in T.serial(0, 4)\n        A[i] = T.float32(0)\n");
  CHECK(e.find("line 3, column 28: expected ':', found end of line") != std::string::npos);
  // 3. an unknown loop kind
  e = parse_error(head + "    for i in T.sequential(0, 4):\n        A[i] = T.float32(0)\n");
  CHECK(e.find("line 3, column 16: expected a loop kind (serial, parallel, vectorized, unroll, thread_binding), found "
               "'sequential'") != std::string::npos);
  // 4. an unknown dtype
  e = parse_error("@T.prim_func\ndef f(A: T.Buffer((4,), \"float31\")):\n    pass\n");
  CHECK(e.find("line 2, column 25: expected a data type") != std::string::npos);
  CHECK(e.find("found \"float31\"") != std::string::npos);
  // 5. the wrong number of indices
  e = parse_error(head + "    A[0, 1] = T.float32(0)\n");
  CHECK(e.find("line 3, column 5: expected 1 indices for buffer 'A', found 2") != std::string::npos);
  // 6. a type mismatch between operands
  e = parse_error(head + "    A[0] = T.float32(1) + 1\n");
  CHECK(e.find("line 3, column 25: expected operands of 'add' of one type, found float32 and int64") != std::string::npos);
  // 7. inconsistent indentation
  e = parse_error(head + "    for i in T.serial(0, 4):\n        A[i] = T.float32(0)\n      A[0] = T.float32(0)\n");
  CHECK(e.find("line 5, column 7: expected an indentation of 4 spaces, found 6 spaces") != std::string::npos);
  // 8. an unterminated string and a stray character
  e = parse_error("@T.prim_func\ndef f(A: T.Buffer((4,), \"float32)):\n    pass\n");
  CHECK(e.find("line 2, column 36: expected a closing '\"', found end of line") != std::string::npos);
  e = parse_error(head + "    A[0] = T.float32(1) $ 2\n");
  CHECK(e.find("line 3, column 25: expected a token, found '$'") != std::string::npos);
  // 9. trailing garbage and a missing body
  e = parse_error(head + "    pass\nfoo\n");
  CHECK(e.find("line 4, column 1: expected the end of the text after the function, found 'foo'") != std::string::npos);
  e = parse_error(head);
  CHECK(e.find("expected the function's indented body, found end of input") != std::string::npos);
  // 10. a slice that is not start:start + extent
  e = parse_error("@T.prim_func\ndef f(A: T.Buffer((4,), \"float32\")):\n    with T.block(\"b\"):\n"
                  "        v = T.axis.spatial(4, 0)\n        T.reads(A[v:4])\n        pass\n");
  CHECK(e.find("line 5, column 19: expected a slice 'start:start + extent', found v:4") != std::string::npos);
  // Nothing a user types crashes the parser.
  for (const char* bad : {"", "@", "@T.prim_func\ndef", "@T.prim_func\ndef f(:", "@T.prim_func\ndef f():\n    T.evaluate(T.Ramp(1, 1, 0))\n",
                          "@T.prim_func\ndef f():\n    T.evaluate(T.Select(True, None, 1))\n",
                          "@T.prim_func\ndef f():\n    T.evaluate(-x)\n", "@T.prim_func\ndef f():\n    T.evaluate(99999999999999999999)\n"})
    CHECK_THROWS_AS(parse_prim_func(bad), UserError);
}

TEST_CASE("hand-written text parses") {
  PrimFunc f = parse_prim_func(R"(
# a comment line
@T.prim_func
def add_one(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    for i in T.parallel(0, 8):   # trailing comment
        B[i] = A[i] + T.float32(1)
)");
  CHECK(f->name == "add_one");
  CHECK(f->params.size() == 2);
  auto* loop = f->body.as<ForNode>();
  REQUIRE(loop);
  CHECK(loop->for_kind == ForKind::Parallel);
  CHECK(loop->body.as<BufferStoreNode>()->buffer.same_as(f->param_buffers[1]));
}

TEST_CASE("deeply nested text is an error, not a stack overflow") {
  std::string deep = "@T.prim_func\ndef f(A: T.Buffer((4,), \"float32\")):\n    A[0] = " + std::string(100000, '(') +
                     "T.float32(1)" + std::string(100000, ')') + "\n";
  CHECK_THROWS_WITH_AS(parse_prim_func(deep), doctest::Contains("expected nesting at most 500 levels deep"), UserError);
  std::string nots = "@T.prim_func\ndef f():\n    T.evaluate(";
  for (int k = 0; k < 100000; ++k) nots += "not ";
  CHECK_THROWS_AS(parse_prim_func(nots + "True)\n"), UserError);
}
