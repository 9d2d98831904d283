// Unit tests for the typed tensor-expression DSL: expression types and the IR they build, and the
// TensorIR that create_prim_func produces (blocks, iteration variables, loops, init values, regions,
// parameters), plus every user error it reports. The whole corpus must build.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "corpus.hpp"
#include "kiln/te/te.hpp"

using namespace kiln;
using namespace kiln::te;

namespace {

const ir::BlockNode& root_block(const ir::PrimFunc& f) {
  auto* r = f->body.as<ir::BlockRealizeNode>();
  REQUIRE(r != nullptr);
  return *r->block.get();
}

// The top-level statements of the root block: one loop nest per stage.
std::vector<ir::Stmt> stage_nests(const ir::PrimFunc& f) {
  const ir::Stmt& body = root_block(f).body;
  if (auto* s = body.as<ir::SeqStmtNode>()) return s->seq;
  return {body};
}

struct Nest {
  std::vector<const ir::ForNode*> loops;
  const ir::BlockRealizeNode* realize = nullptr;
};
Nest unwrap(const ir::Stmt& s) {
  Nest n;
  ir::Stmt cur = s;
  while (auto* f = cur.as<ir::ForNode>()) {
    n.loops.push_back(f);
    cur = f->body;
  }
  n.realize = cur.as<ir::BlockRealizeNode>();
  REQUIRE(n.realize != nullptr);
  return n;
}

Nest stage(const ir::PrimFunc& f, const std::string& block_name) {
  for (auto& s : stage_nests(f)) {
    Nest n = unwrap(s);
    if (n.realize->block->name == block_name) return n;
  }
  FAIL("no block named " << block_name);
  return {};
}

std::vector<std::string> buffer_names(const std::vector<ir::Buffer>& bs) {
  std::vector<std::string> out;
  for (auto& b : bs) out.push_back(b->name);
  return out;
}

double float_value(const ir::Expr& e) {
  auto* f = e.as<ir::FloatImmNode>();
  REQUIRE(f != nullptr);
  return f->value;
}
int64_t int_value(const ir::Expr& e) {
  auto* i = e.as<ir::IntImmNode>();
  REQUIRE(i != nullptr);
  return i->value;
}

template <typename T>
ir::Expr reduction_init(ir::ReduceOp op) {
  auto A = placeholder<T>({4, 6}, "A");
  auto k = reduce_axis(6, "k");
  auto C = compute({4}, [&](Index i) {
    switch (op) {
      case ir::ReduceOp::Sum: return sum(A(i, k), k);
      case ir::ReduceOp::Prod: return prod(A(i, k), k);
      case ir::ReduceOp::Max: return te::max(A(i, k), k);
      case ir::ReduceOp::Min: return te::min(A(i, k), k);
    }
    return sum(A(i, k), k);
  }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  const ir::BlockNode& b = *stage(f, "C").realize->block.get();
  auto* init = b.init.as<ir::BufferStoreNode>();
  REQUIRE(init != nullptr);
  CHECK(init->value.dtype() == dtype_v<T>);
  return init->value;
}

}  // namespace

TEST_CASE("typed expressions: result types and the IR underneath") {
  auto A = placeholder<f32>({8, 4}, "A");
  auto I = placeholder<i32>({8}, "I");
  Index i = var("i"), j = var("j");
  static_assert(std::is_same_v<decltype(A(i, j)), Expr<f32>>);
  static_assert(std::is_same_v<decltype(A(i, j) * 0.1), Expr<f32>>);
  static_assert(std::is_same_v<decltype(2 * A(i, j)), Expr<f32>>);
  static_assert(std::is_same_v<decltype(i + 1), Index>);
  static_assert(std::is_same_v<decltype(A(i, j) > 0.0), Expr<bool>>);
  static_assert(std::is_same_v<decltype(A(i, j) > 0.0 && !(i < j)), Expr<bool>>);
  static_assert(std::is_same_v<decltype(I(i) * 3 + I(j)), Expr<i32>>);
  static_assert(std::is_same_v<decltype(cast<f64>(A(i, j))), Expr<f64>>);
  static_assert(std::is_same_v<decltype(exp(A(i, j))), Expr<f32>>);
  static_assert(std::is_same_v<decltype(abs(I(i))), Expr<i32>>);
  static_assert(std::is_same_v<decltype(A.dim(0)), Index>);

  ir::Expr e = (A(i, j) * 0.5).node();
  auto* mul = e.as<ir::BinaryNode>();
  REQUIRE(mul != nullptr);
  CHECK(mul->op == ir::BinaryOp::Mul);
  CHECK(mul->a.as<ir::BufferLoadNode>()->buffer->name == "A");
  CHECK(mul->b.dtype() == DataType::float_(32));
  CHECK(float_value(mul->b) == 0.5);

  // An int32 tensor value used as an index is widened to int64.
  ir::Expr gather = A(I(i), 0).node();
  auto* load = gather.as<ir::BufferLoadNode>();
  REQUIRE(load != nullptr);
  CHECK(load->indices[0].as<ir::CastNode>() != nullptr);
  CHECK(load->indices[0].dtype() == DataType::int_(64));
  CHECK(int_value(load->indices[1]) == 0);

  ir::Expr ite = if_then_else(i < 3, A(i, j), Expr<f32>(0.0)).node();
  auto* call = ite.as<ir::CallNode>();
  REQUIRE(call != nullptr);
  CHECK(call->op == "if_then_else");
  CHECK(call->args.size() == 3);
  CHECK(call->args[0].dtype().is_bool());
  CHECK(select(i < 3, A(i, j), 1.0).node().as<ir::SelectNode>() != nullptr);

  ir::Expr ex_expr = exp(A(i, j)).node();
  auto* ex = ex_expr.as<ir::CallNode>();
  REQUIRE(ex != nullptr);
  CHECK(ex->op == "exp");
  CHECK(abs(I(i)).node().as<ir::CallNode>()->op == "abs");
  CHECK(fma(A(i, j), A(i, j), 1.0).node().as<ir::CallNode>()->args.size() == 3);
  CHECK(pow(A(i, j), 2.0).node().as<ir::CallNode>()->op == "pow");

  CHECK(floordiv(i, 4).node().as<ir::BinaryNode>()->op == ir::BinaryOp::FloorDiv);
  CHECK(floormod(i, 4).node().as<ir::BinaryNode>()->op == ir::BinaryOp::FloorMod);
  CHECK(truncdiv(i, 4).node().as<ir::BinaryNode>()->op == ir::BinaryOp::Div);
  CHECK(truncmod(i, 4).node().as<ir::BinaryNode>()->op == ir::BinaryOp::Mod);
  CHECK(te::max(A(i, j), 0.0).node().as<ir::BinaryNode>()->op == ir::BinaryOp::Max);
  CHECK(te::min(i, j).node().as<ir::BinaryNode>()->op == ir::BinaryOp::Min);
  CHECK((i == 0).node().as<ir::BinaryNode>()->op == ir::BinaryOp::EQ);
  CHECK((i != j).node().as<ir::BinaryNode>()->op == ir::BinaryOp::NE);

  // Negation: x * -1 on floats (keeps the sign of zero), 0 - x on integers.
  CHECK((-A(i, j)).node().as<ir::BinaryNode>()->op == ir::BinaryOp::Mul);
  CHECK((-i).node().as<ir::BinaryNode>()->op == ir::BinaryOp::Sub);
  // Literals take the expression's type.
  CHECK(Expr<f16>(1.5).node().dtype() == DataType::float_(16));
  CHECK(Index(7).node().dtype() == DataType::int_(64));
  CHECK(cast<i8>(A(i, j)).node().dtype() == DataType::int_(8));
  // Integer constants wrap into the expression's type, as a C++ conversion would.
  auto U = placeholder<u8>({4}, "U");
  CHECK(int_value((U(i) * -1).node().as<ir::BinaryNode>()->b) == 255);
  CHECK(int_value(A.dim(1).node()) == 4);
  CHECK_THROWS_WITH_AS((void)A.dim(2), doctest::Contains("has 2 dimensions; dim(2) is out of range"), UserError);
}

TEST_CASE("a default-constructed expression or tensor is a user error, not a crash") {
  Expr<f32> e;
  CHECK_FALSE(e.defined());
  CHECK_THROWS_WITH_AS((void)(e + 1.0), doctest::Contains("default-constructed te::Expr"), UserError);
  Tensor<f32, 1> t;
  CHECK_THROWS_WITH_AS((void)t(0), doctest::Contains("default-constructed te::Tensor"), UserError);
  CHECK_THROWS_WITH_AS(create_prim_func({t}), doctest::Contains("argument 0 is a default-constructed"), UserError);
}

TEST_CASE("matmul: one loop nest, spatial then reduce iter vars, init and update") {
  auto A = placeholder<f32>({37, 29}, "A");
  auto B = placeholder<f32>({29, 45}, "B");
  auto k = reduce_axis(29, "k");
  auto C = compute({37, 45}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
  ir::PrimFunc f = create_prim_func({A, B, C});

  CHECK(f->name == "main");
  CHECK(buffer_names(f->param_buffers) == std::vector<std::string>{"A", "B", "C"});
  REQUIRE(f->params.size() == 3);
  CHECK(f->params[0].same_as(f->param_buffers[0]->data));
  const ir::BlockNode& root = root_block(f);
  CHECK(root.name == "root");
  CHECK(root.iter_vars.empty());
  CHECK(root.alloc_buffers.empty());
  CHECK(is_const_int(f->body.as<ir::BlockRealizeNode>()->predicate, 1));

  Nest n = stage(f, "C");
  REQUIRE(n.loops.size() == 3);
  CHECK(n.loops[0]->loop_var.name() == "i0");
  CHECK(n.loops[1]->loop_var.name() == "i1");
  CHECK(n.loops[2]->loop_var.name() == "k");
  const int64_t extents[] = {37, 45, 29};
  for (int l = 0; l < 3; ++l) {
    CHECK(n.loops[l]->for_kind == ir::ForKind::Serial);
    CHECK(int_value(n.loops[l]->min) == 0);
    CHECK(int_value(n.loops[l]->extent) == extents[l]);
    CHECK(n.realize->iter_values[l].same_as(n.loops[l]->loop_var));
  }
  CHECK(is_const_int(n.realize->predicate, 1));
  const ir::BlockNode& b = *n.realize->block.get();
  REQUIRE(b.iter_vars.size() == 3);
  CHECK(b.iter_vars[0].kind == ir::IterKind::DataPar);
  CHECK(b.iter_vars[1].kind == ir::IterKind::DataPar);
  CHECK(b.iter_vars[2].kind == ir::IterKind::CommReduce);
  for (int l = 0; l < 3; ++l) {
    CHECK(int_value(b.iter_vars[l].dom.min) == 0);
    CHECK(int_value(b.iter_vars[l].dom.extent) == extents[l]);
    CHECK(!b.iter_vars[l].var.same_as(n.loops[l]->loop_var));
  }
  // init: C[vi, vj] = 0; body: C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]
  auto* init = b.init.as<ir::BufferStoreNode>();
  REQUIRE(init != nullptr);
  CHECK(float_value(init->value) == 0.0);
  CHECK(init->indices[0].same_as(b.iter_vars[0].var));
  auto* upd = b.body.as<ir::BufferStoreNode>();
  REQUIRE(upd != nullptr);
  CHECK(upd->buffer.same_as(f->param_buffers[2]));
  auto* add = upd->value.as<ir::BinaryNode>();
  REQUIRE(add != nullptr);
  CHECK(add->op == ir::BinaryOp::Add);
  CHECK(add->a.as<ir::BufferLoadNode>()->buffer.same_as(f->param_buffers[2]));
  auto* prod = add->b.as<ir::BinaryNode>();
  REQUIRE(prod != nullptr);
  auto* la = prod->a.as<ir::BufferLoadNode>();
  REQUIRE(la != nullptr);
  CHECK(la->buffer.same_as(f->param_buffers[0]));
  CHECK(la->indices[0].same_as(b.iter_vars[0].var));
  CHECK(la->indices[1].same_as(b.iter_vars[2].var));

  // Regions describe one block instance: it writes one element and reads one element of each input.
  REQUIRE(b.writes.size() == 1);
  CHECK(b.writes[0].buffer->name == "C");
  CHECK(b.writes[0].region[1].min.same_as(b.iter_vars[1].var));
  CHECK(int_value(b.writes[0].region[1].extent) == 1);
  std::vector<std::string> reads;
  for (auto& r : b.reads) reads.push_back(r.buffer->name);
  CHECK(reads == std::vector<std::string>{"C", "A", "B"});
  CHECK(b.reads[1].region[0].min.same_as(b.iter_vars[0].var));
  CHECK(int_value(b.reads[1].region[0].extent) == 1);
  CHECK(b.reads[2].region[1].min.same_as(b.iter_vars[1].var));
  CHECK(int_value(b.reads[2].region[1].extent) == 1);
}

TEST_CASE("read regions: a union of shifted accesses, and a gather reads the whole dimension") {
  auto A = placeholder<f32>({10}, "A");
  auto idx = placeholder<i32>({4}, "idx");
  auto S = compute({8}, [&](Index i) { return A(i) + A(i + 2); }, "S");
  auto G = compute({4}, [&](Index i) { return A(cast<int64_t>(idx(i))); }, "G");
  ir::PrimFunc f = create_prim_func({A, idx, S, G});
  std::vector<const ir::BlockNode*> blocks;
  struct Collect : ir::StmtExprVisitor {
    std::vector<const ir::BlockNode*>* out;
    void visit_block(const ir::BlockNode& b) override {
      if (b.name != "root") out->push_back(&b);
      ir::StmtExprVisitor::visit_block(b);
    }
  } collect;
  collect.out = &blocks;
  collect.visit(f->body);
  REQUIRE(blocks.size() == 2);
  const ir::BlockNode& s = *blocks[0];
  REQUIRE(s.reads.size() == 1);
  CHECK(s.reads[0].region[0].min.same_as(s.iter_vars[0].var));
  CHECK(int_value(s.reads[0].region[0].extent) == 3);
  const ir::BlockNode& g = *blocks[1];
  REQUIRE(g.reads.size() == 2);
  CHECK(g.reads[0].buffer->name == "A");
  CHECK(int_value(g.reads[0].region[0].min) == 0);
  CHECK(int_value(g.reads[0].region[0].extent) == 10);
  CHECK(g.reads[1].buffer->name == "idx");
  CHECK(int_value(g.reads[1].region[0].extent) == 1);
}

TEST_CASE("elementwise stages have no init and no reduce iter vars") {
  auto A = placeholder<f32>({5, 7}, "A");
  auto C = compute({5, 7}, [&](Index i, Index j) { return A(j % 5, i) + 1.0; }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  Nest n = stage(f, "C");
  CHECK(n.loops.size() == 2);
  const ir::BlockNode& b = *n.realize->block.get();
  CHECK(!b.init.defined());
  CHECK(b.iter_vars.size() == 2);
  for (auto& iv : b.iter_vars) CHECK(iv.kind == ir::IterKind::DataPar);
  CHECK(b.body.as<ir::BufferStoreNode>() != nullptr);
}

TEST_CASE("reduction identities per op and dtype") {
  CHECK(float_value(reduction_init<f32>(ir::ReduceOp::Sum)) == 0.0);
  CHECK(float_value(reduction_init<f64>(ir::ReduceOp::Prod)) == 1.0);
  double mx = float_value(reduction_init<f32>(ir::ReduceOp::Max));
  CHECK((std::isinf(mx) && mx < 0));
  double mn = float_value(reduction_init<f16>(ir::ReduceOp::Min));
  CHECK((std::isinf(mn) && mn > 0));
  CHECK(int_value(reduction_init<i32>(ir::ReduceOp::Sum)) == 0);
  CHECK(int_value(reduction_init<i64>(ir::ReduceOp::Prod)) == 1);
  CHECK(int_value(reduction_init<i32>(ir::ReduceOp::Max)) == std::numeric_limits<int32_t>::min());
  CHECK(int_value(reduction_init<i8>(ir::ReduceOp::Min)) == 127);
  CHECK(int_value(reduction_init<u8>(ir::ReduceOp::Max)) == 0);
  CHECK(int_value(reduction_init<u8>(ir::ReduceOp::Min)) == 255);
}

TEST_CASE("a reduction's where condition guards the update") {
  auto A = placeholder<f32>({24, 24}, "A");
  auto k = reduce_axis(24, "k");
  auto C = compute({24}, [&](Index i) { return sum(A(i, k), {k}, k <= i); }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  const ir::BlockNode& b = *stage(f, "C").realize->block.get();
  auto* guard = b.body.as<ir::IfThenElseNode>();
  REQUIRE(guard != nullptr);
  auto* cond = guard->cond.as<ir::BinaryNode>();
  REQUIRE(cond != nullptr);
  CHECK(cond->op == ir::BinaryOp::LE);
  CHECK(cond->a.same_as(b.iter_vars[1].var));  // k, as the block's reduce iter var
  CHECK(cond->b.same_as(b.iter_vars[0].var));
  CHECK(guard->then_case.as<ir::BufferStoreNode>() != nullptr);
  CHECK(!guard->else_case.defined());
  CHECK(b.init.as<ir::BufferStoreNode>() != nullptr);  // the init is unconditional
}

TEST_CASE("multi-axis reductions and reduce axes with an offset") {
  auto A = placeholder<f32>({40, 3}, "A");
  auto k = reduce_axis(5, 30, "k");
  auto r = reduce_axis(3, "r");
  auto C = compute({2}, [&](Index i) { return te::max(A(k - 5 + i, r), {k, r}); }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  Nest n = stage(f, "C");
  REQUIRE(n.loops.size() == 3);
  CHECK(n.loops[1]->loop_var.name() == "k");
  CHECK(n.loops[2]->loop_var.name() == "r");
  // Loops start at 0; the block's k ranges over [5, 35) and is bound to loop k + 5.
  CHECK(int_value(n.loops[1]->min) == 0);
  CHECK(int_value(n.loops[1]->extent) == 30);
  const ir::BlockNode& b = *n.realize->block.get();
  CHECK(int_value(b.iter_vars[1].dom.min) == 5);
  CHECK(int_value(b.iter_vars[1].dom.extent) == 30);
  auto* bind = n.realize->iter_values[1].as<ir::BinaryNode>();
  REQUIRE(bind != nullptr);
  CHECK(bind->op == ir::BinaryOp::Add);
  CHECK(bind->a.same_as(n.loops[1]->loop_var));
  CHECK(int_value(bind->b) == 5);
  CHECK(n.realize->iter_values[2].same_as(n.loops[2]->loop_var));
  CHECK(b.iter_vars[2].kind == ir::IterKind::CommReduce);
  auto* upd = b.body.as<ir::BufferStoreNode>();
  REQUIRE(upd != nullptr);
  CHECK(upd->value.as<ir::BinaryNode>()->op == ir::BinaryOp::Max);
}

TEST_CASE("intermediates: alloc_buffers of the root block, stages in dependency order, shape vars") {
  auto n = var("n");
  auto A = placeholder<f32>({n, 50}, "A");
  auto k1 = reduce_axis(50, "k1");
  auto k2 = reduce_axis(50, "k2");
  auto M = compute({n}, [&](Index i) { return te::max(A(i, k1), k1); }, "rowmax");
  auto E = compute({n, 50}, [&](Index i, Index j) { return exp(A(i, j) - M(i)); }, "e");
  auto S = compute({n}, [&](Index i) { return sum(E(i, k2), k2); }, "rowsum");
  auto C = compute({n, 50}, [&](Index i, Index j) { return E(i, j) / S(i); }, "softmax");
  ir::PrimFunc f = create_prim_func({A, C}, "softmax_fn");

  CHECK(f->name == "softmax_fn");
  CHECK(f->params.size() == 2);  // the symbolic size n is not a parameter
  CHECK(buffer_names(f->param_buffers) == std::vector<std::string>{"A", "softmax"});
  CHECK(buffer_names(root_block(f).alloc_buffers) == std::vector<std::string>{"rowmax", "e", "rowsum"});
  std::vector<std::string> order;
  for (auto& s : stage_nests(f)) order.push_back(unwrap(s).realize->block->name);
  CHECK(order == std::vector<std::string>{"rowmax", "e", "rowsum", "softmax"});
  // The same Var n is the extent of A's first dimension, of the loops and of the intermediates.
  const ir::Expr& nA = f->param_buffers[0]->shape[0];
  CHECK(nA.as<ir::VarNode>() != nullptr);
  CHECK(nA.as<ir::VarNode>()->name == "n");
  CHECK(root_block(f).alloc_buffers[1]->shape[0].same_as(nA));
  CHECK(stage(f, "rowsum").loops[0]->extent.same_as(nA));
  CHECK(stage(f, "e").realize->block->iter_vars[0].dom.extent.same_as(nA));
  // Reads of an intermediate refer to the function's buffer of that intermediate.
  const ir::BlockNode& e = *stage(f, "e").realize->block.get();
  std::vector<std::string> reads;
  for (auto& r : e.reads) reads.push_back(r.buffer->name);
  CHECK(reads == std::vector<std::string>{"A", "rowmax"});
  CHECK(e.reads[1].buffer.same_as(root_block(f).alloc_buffers[0]));
}

TEST_CASE("an intermediate passed as an argument is a parameter, not an allocation") {
  auto A = placeholder<f32>({8}, "A");
  auto B = compute({8}, [&](Index i) { return A(i) * 2.0; }, "B");
  auto C = compute({8}, [&](Index i) { return B(i) + 1.0; }, "C");
  ir::PrimFunc f = create_prim_func({A, B, C});
  CHECK(buffer_names(f->param_buffers) == std::vector<std::string>{"A", "B", "C"});
  CHECK(root_block(f).alloc_buffers.empty());
  CHECK(stage_nests(f).size() == 2);
}

TEST_CASE("repeated stage and tensor names are made unique") {
  auto X = placeholder<f32>({4}, "X");
  auto P1 = compute({4}, [&](Index i) { return X(i) + 1.0; }, "pad");
  auto P2 = compute({4}, [&](Index i) { return P1(i) * 2.0; }, "pad");
  auto R = compute({4}, [&](Index i) { return P2(i); }, "root");
  ir::PrimFunc f = create_prim_func({X, R});
  std::vector<std::string> order;
  for (auto& s : stage_nests(f)) order.push_back(unwrap(s).realize->block->name);
  CHECK(order == std::vector<std::string>{"pad", "pad_1", "root_1"});
  CHECK(buffer_names(root_block(f).alloc_buffers) == std::vector<std::string>{"pad", "pad_1"});
  // The second "pad" stage reads the first stage's buffer and writes its own.
  const ir::BlockNode& b = *stage(f, "pad_1").realize->block.get();
  CHECK(b.reads[0].buffer.same_as(root_block(f).alloc_buffers[0]));
  CHECK(b.writes[0].buffer.same_as(root_block(f).alloc_buffers[1]));
}

TEST_CASE("a reduce axis shared by two stages gets fresh block variables in each") {
  auto A = placeholder<f32>({3, 6}, "A");
  auto k = reduce_axis(6, "k");
  auto S = compute({3}, [&](Index i) { return sum(A(i, k), k); }, "S");
  auto P = compute({3}, [&](Index i) { return prod(A(i, k), k); }, "P");
  auto C = compute({3}, [&](Index i) { return S(i) + P(i); }, "C");
  ir::PrimFunc f = create_prim_func({A, C});
  auto& s = *stage(f, "S").realize->block.get();
  auto& p = *stage(f, "P").realize->block.get();
  CHECK(!s.iter_vars[1].var.same_as(p.iter_vars[1].var));
  CHECK(!s.iter_vars[1].var.same_as(k.node()));
  CHECK(float_value(p.init.as<ir::BufferStoreNode>()->value) == 1.0);
}

TEST_CASE("user errors of create_prim_func and compute name what is wrong") {
  auto A = placeholder<f32>({4, 4}, "A");
  auto B = placeholder<f32>({4}, "B");
  auto C = compute({4}, [&](Index i) { return A(i, i) + B(i); }, "C");
  CHECK_THROWS_WITH_AS(create_prim_func({A, C}),
                       doctest::Contains("placeholder 'B' is read by 'C' but is not in the argument list"), UserError);
  CHECK_THROWS_WITH_AS(create_prim_func({A, B, A, C}),
                       doctest::Contains("tensor 'A' is passed twice (arguments 0 and 2)"), UserError);
  CHECK_THROWS_WITH_AS(create_prim_func({A, B}), doctest::Contains("nothing to compute"), UserError);
  CHECK_THROWS_WITH_AS(create_prim_func({}), doctest::Contains("at least one tensor"), UserError);

  auto k = reduce_axis(4, "k");
  CHECK_THROWS_WITH_AS(compute({4}, [&](Index i) { return sum(A(i, k), k) * 2.0; }, "D"),
                       doctest::Contains("a reduction (te::sum/prod/max/min) may only be the whole result"), UserError);
  CHECK_THROWS_WITH_AS(compute({4}, [&](Index i) { return sum(A(i, k) + sum(A(k, i), k), k); }, "D"),
                       doctest::Contains("may only be the whole result"), UserError);
  CHECK_THROWS_WITH_AS((void)sum(A(0, k), {k, k}), doctest::Contains("reduce axis 'k' is listed twice"), UserError);

  // A reduce axis used but not reduced over.
  auto D = compute({4}, [&](Index i) { return A(i, k); }, "D");
  CHECK_THROWS_WITH_AS(create_prim_func({A, D}), doctest::Contains("stage 'D' uses variable 'k'"), UserError);

  // Two symbolic sizes with the same name.
  auto n1 = var("n"), n2 = var("n");
  auto X = placeholder<f32>({n1}, "X");
  auto Y = compute({n2}, [&](Index i) { return X(i); }, "Y");
  CHECK_THROWS_WITH_AS(create_prim_func({X, Y}), doctest::Contains("two different symbolic sizes are named 'n'"),
                       UserError);
  // A symbolic size only an intermediate has.
  auto m = var("m");
  auto Z = placeholder<f32>({8}, "Z");
  auto T1 = compute({m}, [&](Index i) { return Z(i); }, "T1");
  auto T2 = compute({8}, [&](Index i) { return T1(i); }, "T2");
  CHECK_THROWS_WITH_AS(create_prim_func({Z, T2}), doctest::Contains("intermediate tensor 'T1' has symbolic size 'm'"),
                       UserError);

  // Tensor reads built outside the compute function.
  auto outside = A(0, 0);
  CHECK_THROWS_WITH_AS(compute({4}, [&](Index) { return outside; }, "E"),
                       doctest::Contains("reads tensor 'A' through an expression built outside"), UserError);

  CHECK_THROWS_WITH_AS(placeholder<f32>({4, -2}, "W"),
                       doctest::Contains("placeholder 'W' has extent -2 in dimension 1"), UserError);
  CHECK_THROWS_WITH_AS(reduce_axis(-1, "r"), doctest::Contains("reduce axis 'r' has extent -1"), UserError);
  CHECK_THROWS_AS(placeholder<f32>({4}, ""), UserError);
}

TEST_CASE("every corpus program builds into TensorIR form") {
  auto cases = corpus::all_cases();
  CHECK(cases.size() >= 50);
  for (auto& c : cases) {
    INFO("program: " << c.name);
    ir::PrimFunc f;
    try {
      f = c.build();
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << ": " << e.what());
      continue;
    }
    CHECK(root_block(f).name == "root");
    CHECK(!f->params.empty());
    for (auto& s : stage_nests(f)) {
      Nest n = unwrap(s);
      const ir::BlockNode& b = *n.realize->block.get();
      CHECK(n.loops.size() == b.iter_vars.size());
      CHECK(b.writes.size() == 1);
      CHECK(b.init.defined() == (b.iter_vars.back().kind == ir::IterKind::CommReduce));
    }
  }
}
