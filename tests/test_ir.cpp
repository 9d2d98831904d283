// Unit tests for IR construction: node kinds, types, constructors and their checks.
#include <doctest/doctest.h>

#include "kiln/ir/ir.hpp"

using namespace kiln;
using namespace kiln::ir;

TEST_CASE("dtype parse and print round trip") {
  for (const char* s : {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                        "float32", "float64", "bfloat16", "float32x8", "int8x64", "handle"}) {
    CHECK(DataType::parse(s).str() == s);
  }
  CHECK(DataType::parse("float32x16").lanes == 16);
  CHECK(DataType::parse("bfloat16").bytes() == 2);
  CHECK_THROWS_WITH_AS(DataType::parse("float128"), doctest::Contains("unknown data type 'float128'"), UserError);
  CHECK_THROWS_AS(DataType::parse("float8"), UserError);
  CHECK_THROWS_AS(DataType::parse("int32x0"), UserError);
}

TEST_CASE("expressions carry their types") {
  Var i("i"), j("j", DataType::int_(32));
  Expr e = i * 4 + 1;
  CHECK(e.dtype() == DataType::int_(64));
  CHECK(e.as<BinaryNode>()->op == BinaryOp::Add);
  CHECK(lt(i, int_imm(3)).dtype() == DataType::boolean());
  CHECK(ramp(i, int_imm(1), 8).dtype() == DataType::int_(64, 8));
  CHECK(broadcast(float_imm(1.0), 16).dtype() == DataType::float_(32, 16));
  CHECK_THROWS_WITH_AS(i + j, doctest::Contains("type mismatch in 'add': int64 vs int32"), UserError);
  CHECK_THROWS_WITH_AS(select(i, i, i), doctest::Contains("select condition must be bool"), UserError);
  CHECK_THROWS_AS(logical_and(i, i), UserError);
}

TEST_CASE("buffers check index counts and store types") {
  Var n("n");
  Buffer A = make_buffer("A", DataType::float_(32), {n, int_imm(4)});
  CHECK(A->scope == "global");
  CHECK(buffer_load(A, {int_imm(0), int_imm(1)}).dtype() == DataType::float_(32));
  CHECK_THROWS_WITH_AS(buffer_load(A, {int_imm(0)}), doctest::Contains("has 2 dimensions but was loaded with 1"), UserError);
  CHECK_THROWS_WITH_AS(buffer_store(A, int_imm(1), {int_imm(0), int_imm(0)}),
                       doctest::Contains("storing a int64 value into buffer 'A' of type float32"), UserError);
}

TEST_CASE("reduction identities") {
  CHECK(reduce_identity(ReduceOp::Sum, DataType::float_(32)).as<FloatImmNode>()->value == 0.0);
  CHECK(reduce_identity(ReduceOp::Prod, DataType::int_(32)).as<IntImmNode>()->value == 1);
  CHECK(std::isinf(reduce_identity(ReduceOp::Max, DataType::float_(32)).as<FloatImmNode>()->value));
  CHECK(reduce_identity(ReduceOp::Max, DataType::int_(8)).as<IntImmNode>()->value == -128);
  CHECK(reduce_identity(ReduceOp::Min, DataType::uint(8)).as<IntImmNode>()->value == 255);
}

TEST_CASE("mutators rebuild only what changed, substitute replaces variables") {
  Var i("i"), j("j");
  Expr e = i * 2 + j;
  Expr same = substitute(e, {});
  CHECK(same.same_as(e));
  VarMap m{{i.get(), int_imm(5)}};
  Expr r = substitute(e, m);
  CHECK(!r.same_as(e));
  CHECK(!uses_var(r, i.get()));
  CHECK(uses_var(r, j.get()));
  // the untouched right operand is shared, not copied
  CHECK(r.as<BinaryNode>()->b.same_as(e.as<BinaryNode>()->b));
}

TEST_CASE("seq flattens nested sequences") {
  Var i("i");
  Buffer A = make_buffer("A", DataType::int_(64), {int_imm(4)});
  Stmt s1 = buffer_store(A, i, {int_imm(0)});
  Stmt s = seq({s1, seq({s1, s1})});
  REQUIRE(s.as<SeqStmtNode>());
  CHECK(s.as<SeqStmtNode>()->seq.size() == 3);
  CHECK(seq({s1}).same_as(s1));
}

TEST_CASE("IRModule names the functions it has") {
  Buffer A = make_buffer("A", DataType::float_(32), {int_imm(4)});
  IRModule mod = IRModule::from_prim_func(make_prim_func("f", {A}, evaluate(int_imm(0))), "f");
  CHECK(mod.contains("f"));
  CHECK_THROWS_WITH_AS(mod["g"], doctest::Contains("no function named 'g'; it has: f"), UserError);
}
