// Unit tests for tir::lower and its passes, on hand-built TensorIR: the exact lowered structure
// (node kinds, flat indices, init guards), the error messages of the checks, and (when the
// reference interpreter is available) that lowering preserves the results of every program.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "kiln/tir/lower.hpp"

using namespace kiln;
using namespace kiln::ir;

namespace {

constexpr DataType kF32 = DataType::float_(32), kF16 = DataType::float_(16), kBF16 = DataType::bfloat16();
constexpr DataType kI64 = DataType::int_(64), kI32 = DataType::int_(32);

// ---- a compact printer, so expected structures read as text ----------------------------------
// (Local to this test: it must not depend on the printer module. Names, not node identity, are
// printed; identity is checked separately where it matters.)
std::string str(const Expr& e);
std::string list(const std::vector<Expr>& es) {
  std::string s;
  for (size_t i = 0; i < es.size(); ++i) s += (i ? ", " : "") + str(es[i]);
  return s;
}
std::string str(const Expr& e) {
  if (!e.defined()) return "<undef>";
  switch (e.kind()) {
    case ExprKind::Var: return e.as<VarNode>()->name;
    case ExprKind::IntImm: {
      auto* n = e.as<IntImmNode>();
      if (n->dtype.is_bool()) return n->value ? "true" : "false";
      return std::to_string(n->value) + (n->dtype == kI64 ? "" : ":" + n->dtype.str());
    }
    case ExprKind::FloatImm: {
      std::ostringstream os;
      os << e.as<FloatImmNode>()->value << "f" << int(e.dtype().bits);
      if (e.dtype().is_bfloat16()) os << "b";
      return os.str();
    }
    case ExprKind::StringImm: return "\"" + e.as<StringImmNode>()->value + "\"";
    case ExprKind::Binary: {
      auto* n = e.as<BinaryNode>();
      static const char* sym[] = {"+", "-", "*", "/", "%", "//", "%%", "min", "max",
                                  "==", "!=", "<", "<=", ">", ">=", "&&", "||"};
      if (n->op == BinaryOp::Min || n->op == BinaryOp::Max)
        return std::string(sym[int(n->op)]) + "(" + str(n->a) + ", " + str(n->b) + ")";
      return "(" + str(n->a) + " " + sym[int(n->op)] + " " + str(n->b) + ")";
    }
    case ExprKind::Not: return "!" + str(e.as<NotNode>()->a);
    case ExprKind::Select: {
      auto* n = e.as<SelectNode>();
      return "select(" + str(n->cond) + ", " + str(n->true_value) + ", " + str(n->false_value) + ")";
    }
    case ExprKind::Cast: return "cast<" + e.dtype().str() + ">(" + str(e.as<CastNode>()->value) + ")";
    case ExprKind::Call: {
      auto* n = e.as<CallNode>();
      return n->op + "<" + n->dtype.str() + ">(" + list(n->args) + ")";
    }
    case ExprKind::BufferLoad: {
      auto* n = e.as<BufferLoadNode>();
      return n->buffer->name + "[" + list(n->indices) + "]";
    }
    case ExprKind::Ramp: {
      auto* n = e.as<RampNode>();
      return "ramp(" + str(n->base) + ", " + str(n->stride) + ", " + std::to_string(n->lanes) + ")";
    }
    case ExprKind::Broadcast: {
      auto* n = e.as<BroadcastNode>();
      return "bcast(" + str(n->value) + ", " + std::to_string(n->lanes) + ")";
    }
    case ExprKind::Let: {
      auto* n = e.as<LetNode>();
      return "(let " + n->var.name() + " = " + str(n->value) + " in " + str(n->body) + ")";
    }
    case ExprKind::Reduce: return "reduce(" + str(e.as<ReduceNode>()->source) + ")";
  }
  return "?";
}
void str(const Stmt& s, std::string& out, int depth) {
  std::string pad(size_t(depth) * 2, ' ');
  if (!s.defined()) return;
  switch (s.kind()) {
    case StmtKind::For: {
      auto* n = s.as<ForNode>();
      out += pad + "for " + n->loop_var.name() + " in " + str(n->min) + ".." + str(n->extent);
      if (n->for_kind != ForKind::Serial) out += std::string(" ") + for_kind_name(n->for_kind);
      if (!n->thread_tag.empty()) out += " " + n->thread_tag;
      for (auto& [k, v] : n->annotations) out += " @" + k + "=" + str(v);
      out += ":\n";
      return str(n->body, out, depth + 1);
    }
    case StmtKind::BufferStore: {
      auto* n = s.as<BufferStoreNode>();
      out += pad + n->buffer->name + "[" + list(n->indices) + "] = " + str(n->value) + "\n";
      return;
    }
    case StmtKind::Allocate: {
      auto* n = s.as<AllocateNode>();
      out += pad + "allocate " + n->buffer->name + ": " + n->buffer->dtype.str() + "[" + list(n->buffer->shape) + "] " +
             n->buffer->scope + "\n";
      return str(n->body, out, depth + 1);
    }
    case StmtKind::IfThenElse: {
      auto* n = s.as<IfThenElseNode>();
      out += pad + "if " + str(n->cond) + ":\n";
      str(n->then_case, out, depth + 1);
      if (n->else_case.defined()) {
        out += pad + "else:\n";
        str(n->else_case, out, depth + 1);
      }
      return;
    }
    case StmtKind::Seq:
      for (auto& x : s.as<SeqStmtNode>()->seq) str(x, out, depth);
      return;
    case StmtKind::LetStmt: {
      auto* n = s.as<LetStmtNode>();
      out += pad + "let " + n->var.name() + " = " + str(n->value) + "\n";
      return str(n->body, out, depth);
    }
    case StmtKind::Evaluate: out += pad + "eval " + str(s.as<EvaluateNode>()->value) + "\n"; return;
    case StmtKind::Block: {
      auto* n = s.as<BlockNode>();
      out += pad + "block " + n->name + ":\n";
      return str(n->body, out, depth + 1);
    }
    case StmtKind::BlockRealize: return str(Stmt(s.as<BlockRealizeNode>()->block), out, depth);
  }
}
std::string str(const Stmt& s) {
  std::string out;
  str(s, out, 0);
  return out;
}

// ---- TensorIR construction helpers ----------------------------------------------------------
IterVar spatial(const Var& v, Expr extent) { return {v, {int_imm(0), std::move(extent)}, IterKind::DataPar, ""}; }
IterVar reduce_iv(const Var& v, Expr extent) { return {v, {int_imm(0), std::move(extent)}, IterKind::CommReduce, ""}; }

Block make_blk(std::string name, std::vector<IterVar> ivs, Stmt body, Stmt init = Stmt(), std::vector<Buffer> allocs = {}) {
  BlockNode b;
  b.name = std::move(name);
  b.iter_vars = std::move(ivs);
  b.body = std::move(body);
  b.init = std::move(init);
  b.alloc_buffers = std::move(allocs);
  b.annotations["schedule_rule"] = string_imm("none");  // dropped by lowering
  return make_block(std::move(b));
}
Stmt root(Stmt body, std::vector<Buffer> allocs = {}) {
  return block_realize({}, bool_imm(true), make_blk("root", {}, std::move(body), Stmt(), std::move(allocs)));
}
Stmt loop(const Var& v, Expr extent, Stmt body, ForKind kind = ForKind::Serial) {
  return for_loop(v, int_imm(0), std::move(extent), kind, std::move(body));
}


// ---- the programs (each one a builder, so the differential tests can run all of them) --------

// C[n, 8] = A[n, 16] @ B[16, 8] with a symbolic n, as te::create_prim_func would produce it.
struct Matmul {
  Var n{"n"};
  Buffer A = make_buffer("A", kF32, {n, int_imm(16)});
  Buffer B = make_buffer("B", kF32, {int_imm(16), int_imm(8)});
  Buffer C = make_buffer("C", kF32, {n, int_imm(8)});
  Var i{"i"}, j{"j"}, k{"k"};
  PrimFunc func() const {
    Var vi("vi"), vj("vj"), vk("vk");
    Stmt init = buffer_store(C, float_imm(0.0), {vi, vj});
    Stmt body = buffer_store(C, buffer_load(C, {vi, vj}) + buffer_load(A, {vi, vk}) * buffer_load(B, {vk, vj}), {vi, vj});
    Block blk = make_blk("C", {spatial(vi, n), spatial(vj, int_imm(8)), reduce_iv(vk, int_imm(16))}, body, init);
    Stmt nest = loop(i, n, loop(j, int_imm(8), loop(k, int_imm(16), block_realize({i, j, k}, bool_imm(true), blk))));
    return make_prim_func("matmul", {A, B, C}, root(nest));
  }
};
PrimFunc matmul_func() { return Matmul().func(); }

// S[i] = sum over r in [0,3), q in [2,5) of X[i, r, q]: two reduce vars, one with a non-zero min.
PrimFunc sum2_func() {
  Buffer S = make_buffer("S", kF32, {int_imm(4)});
  Buffer X = make_buffer("X", kF32, {int_imm(4), int_imm(3), int_imm(5)});
  Var i("i"), r("r"), q("q"), vi("vi"), vr("vr"), vq("vq");
  IterVar rq{vq, {int_imm(2), int_imm(3)}, IterKind::CommReduce, ""};
  Block blk = make_blk("S", {spatial(vi, int_imm(4)), reduce_iv(vr, int_imm(3)), rq},
                       buffer_store(S, buffer_load(S, {vi}) + buffer_load(X, {vi, vr, vq}), {vi}),
                       buffer_store(S, float_imm(0.0), {vi}));
  Stmt nest = loop(i, int_imm(4), loop(r, int_imm(3), for_loop(q, int_imm(2), int_imm(3), ForKind::Serial,
                                                               block_realize({i, r, q}, bool_imm(true), blk))));
  return make_prim_func("sum2", {X, S}, root(nest));
}

// An init on a block without reduce variables.
PrimFunc noreduce_func() {
  Buffer S = make_buffer("S", kF32, {int_imm(4)});
  Var i("i"), vi("vi");
  Block b2 = make_blk("S", {spatial(vi, int_imm(4))}, buffer_store(S, buffer_load(S, {vi}) * float_imm(2.0), {vi}),
                      buffer_store(S, float_imm(1.0), {vi}));
  return make_prim_func("noreduce", {S}, root(loop(i, int_imm(4), block_realize({i}, bool_imm(true), b2))));
}

// int32 loop variable bound to int64 iteration variables.
PrimFunc bind_func() {
  Buffer C = make_buffer("C", kF32, {int_imm(8), int_imm(4)});
  Var i("i", kI32), j("j"), vi("vi"), vj("vj");
  Block blk = make_blk("C", {spatial(vi, int_imm(8)), spatial(vj, int_imm(4))},
                       buffer_store(C, cast(kF32, vi + vj), {vi, vj}));
  Stmt nest = for_loop(i, int_imm(0, kI32), int_imm(4, kI32), ForKind::Serial,
                       loop(j, int_imm(4), block_realize({i * 2, j}, bool_imm(true), blk)));
  return make_prim_func("bind", {C}, root(nest));
}

// 30 elements computed by a 4 x 8 loop nest: the last two iterations are masked by the predicate.
PrimFunc predicated_func() {
  Buffer A = make_buffer("A", kF32, {int_imm(30)});
  Buffer C = make_buffer("C", kF32, {int_imm(30)});
  Var io("io"), ii("ii"), v("v");
  Expr bind = io * 8 + ii;
  Block blk = make_blk("C", {spatial(v, int_imm(30))}, buffer_store(C, buffer_load(A, {v}) * float_imm(2.0), {v}));
  Stmt nest = loop(io, int_imm(4), loop(ii, int_imm(8), block_realize({bind}, bind < int_imm(30), blk)));
  return make_prim_func("predicated", {A, C}, root(nest));
}

// A reduction with a predicate: rows 6 and 7 of the loop nest do not exist.
PrimFunc masked_sum_func() {
  Buffer S = make_buffer("S", kF32, {int_imm(6)});
  Buffer X = make_buffer("X", kF32, {int_imm(6), int_imm(5)});
  Var i("i"), r("r"), vi("vi"), vr("vr");
  Block blk = make_blk("S", {spatial(vi, int_imm(6)), reduce_iv(vr, int_imm(5))},
                       buffer_store(S, buffer_load(S, {vi}) + buffer_load(X, {vi, vr}), {vi}),
                       buffer_store(S, float_imm(0.0), {vi}));
  Stmt nest = loop(i, int_imm(8), loop(r, int_imm(5), block_realize({i, r}, i < int_imm(6), blk)));
  return make_prim_func("masked_sum", {X, S}, root(nest));
}

// T = A + 1 (an intermediate in the root block's alloc_buffers), then C = T * 2.
PrimFunc intermediate_func() {
  Buffer A = make_buffer("A", kF32, {int_imm(4), int_imm(6)});
  Buffer C = make_buffer("C", kF32, {int_imm(4), int_imm(6)});
  Buffer T = make_buffer("T", kF32, {int_imm(4), int_imm(6)});
  Var i0("i0"), j0("j0"), i1("i1"), j1("j1"), a("a"), b("b"), c("c"), d("d");
  Block bt = make_blk("T", {spatial(a, int_imm(4)), spatial(b, int_imm(6))},
                      buffer_store(T, buffer_load(A, {a, b}) + float_imm(1.0), {a, b}));
  Block bc = make_blk("C", {spatial(c, int_imm(4)), spatial(d, int_imm(6))},
                      buffer_store(C, buffer_load(T, {c, d}) * float_imm(2.0), {c, d}));
  Stmt s1 = loop(i0, int_imm(4), loop(j0, int_imm(6), block_realize({i0, j0}, bool_imm(true), bt)));
  Stmt s2 = loop(i1, int_imm(4), loop(j1, int_imm(6), block_realize({i1, j1}, bool_imm(true), bc)));
  return make_prim_func("intermediate", {A, C}, root(seq({s1, s2}), {T}));
}

// Outer block "row" (iter var vr over rows) allocates a per-row scratch buffer; an inner block
// binds its iter var to an expression of the outer block's iter var.
PrimFunc nested_func() {
  Buffer A = make_buffer("A", kF32, {int_imm(3), int_imm(4)});
  Buffer C = make_buffer("C", kF32, {int_imm(3), int_imm(4)});
  Buffer tmp = make_buffer("tmp", kF32, {int_imm(4)}, "local");
  Var i("i"), j("j"), vr("vr"), vc("vc"), wr("wr");
  Block inner = make_blk("inner", {spatial(wr, int_imm(3)), spatial(vc, int_imm(4))},
                         seq({buffer_store(tmp, buffer_load(A, {wr, vc}), {vc}),
                              buffer_store(C, buffer_load(tmp, {vc}) + buffer_load(tmp, {vc}), {wr, vc})}));
  Block outer = make_blk("row", {spatial(vr, int_imm(3))},
                         loop(j, int_imm(4), block_realize({vr, j}, bool_imm(true), inner)), Stmt(), {tmp});
  return make_prim_func("nested", {A, C}, root(loop(i, int_imm(3), block_realize({i}, bool_imm(true), outer))));
}

// Strided and offset views: A is a 4x5 window of a 10-wide row-major array starting at element 3;
// B has a symbolic row stride and offset (bound from the tensor at call time).
struct Strided {
  Var s0{"s0"}, off{"off"};
  Buffer A = make_buffer("A", kF32, {int_imm(4), int_imm(5)}, "global", {int_imm(10), int_imm(1)}, int_imm(3));
  Buffer B = make_buffer("B", kF32, {int_imm(4), int_imm(5)}, "global", {s0, int_imm(1)}, off);
  Buffer C = make_buffer("C", kF32, {int_imm(4), int_imm(5)});
  PrimFunc func() const {
    Var i("i"), j("j");
    Stmt body = loop(i, int_imm(4), loop(j, int_imm(5),
                     buffer_store(C, buffer_load(A, {i, j}) + buffer_load(B, {i, j}), {i, j})));
    return make_prim_func("strided", {A, B, C}, root(body));
  }
};
// For running: a parameter buffer must start at its data pointer (bind_arguments), so no constant offset.
PrimFunc strided_func() {
  Strided s;
  s.A = make_buffer("A", kF32, {int_imm(4), int_imm(5)}, "global", {int_imm(10), int_imm(1)});
  return s.func();
}

// A 3-D buffer indexed with an int32 and two int64 variables, plus a 0-D buffer.
PrimFunc three_func() {
  Buffer X = make_buffer("X", kF32, {int_imm(2), int_imm(3), int_imm(4)});
  Buffer s = make_buffer("s", kF32, {});
  Var a("a", kI32), b("b"), c("c");
  Stmt body = for_loop(a, int_imm(0, kI32), int_imm(2, kI32), ForKind::Serial,
                       loop(b, int_imm(3), loop(c, int_imm(4),
                            buffer_store(X, buffer_load(X, {a, b, c}) + buffer_load(s, {}), {a, b, c}))));
  return make_prim_func("three", {X, s}, root(body));
}

// Only int32 shapes and indices, no root block.
PrimFunc i32_func() {
  Buffer Y = make_buffer("Y", kF32, {int_imm(2, kI32), int_imm(3, kI32)});
  Var p("p", kI32), q("q", kI32);
  Stmt st = buffer_store(Y, buffer_load(Y, {p, q}) + float_imm(1.0), {p, q});
  Stmt nest = for_loop(p, int_imm(0, kI32), int_imm(2, kI32), ForKind::Serial,
                       for_loop(q, int_imm(0, kI32), int_imm(3, kI32), ForKind::Serial, st));
  return make_prim_func("i32", {Y}, nest);
}

// Vector accesses: a Ramp in the last dimension (contiguous) and in the first (column-wise).
PrimFunc vec_func() {
  Buffer A = make_buffer("A", kF32, {int_imm(4), int_imm(64)});
  Buffer C = make_buffer("C", kF32, {int_imm(4), int_imm(64)});
  Buffer T = make_buffer("T", kF32, {int_imm(4), int_imm(16)});
  Var i("i"), j("j");
  Expr lanes8 = ramp(j * 8, int_imm(1), 8);
  Stmt st = buffer_store(C, buffer_load(A, {broadcast(i, 8), lanes8}) + broadcast(float_imm(1.0), 8),
                         {broadcast(i, 8), lanes8});
  Stmt col = buffer_store(T, buffer_load(T, {ramp(int_imm(0), int_imm(1), 4), broadcast(j, 4)}) *
                                 broadcast(float_imm(2.0), 4),
                          {ramp(int_imm(0), int_imm(1), 4), broadcast(j, 4)});
  Stmt body = seq({loop(i, int_imm(4), loop(j, int_imm(8), st, ForKind::Vectorized)), loop(j, int_imm(16), col)});
  return make_prim_func("vec", {A, C, T}, root(body));
}

// A column-major 8x8 buffer written one column per vector store.
PrimFunc transposed_ramp_func() {
  Buffer S = make_buffer("S", kF32, {int_imm(8), int_imm(8)}, "global", {int_imm(1), int_imm(8)});
  Var i("i");
  Stmt tr = buffer_store(S, broadcast(cast(kF32, i), 8), {ramp(int_imm(0), int_imm(1), 8), i});
  return make_prim_func("tr", {S}, loop(i, int_imm(8), tr));
}

// float16 arithmetic, comparison, math call, min/max and casts.
PrimFunc half_func() {
  Buffer A = make_buffer("A", kF16, {int_imm(8)});
  Buffer B = make_buffer("B", kF16, {int_imm(8)});
  Buffer C = make_buffer("C", kF16, {int_imm(8)});
  Buffer D = make_buffer("D", kF16, {int_imm(8)});
  Buffer E = make_buffer("E", kF16, {int_imm(8)});
  Buffer F = make_buffer("F", kF16, {int_imm(8)});
  Buffer I = make_buffer("I", kI32, {int_imm(8)});
  Var i("i");
  Expr a = buffer_load(A, {i}), b = buffer_load(B, {i});
  Stmt s1 = buffer_store(C, a * b + a, {i});
  Stmt s2 = buffer_store(D, select(a < b, call(kF16, "exp", {a}), max(a, b)), {i});
  Stmt s3 = buffer_store(I, cast(kI32, a * float_imm(100.0, kF16)), {i});
  Stmt s4 = buffer_store(E, cast(kF16, cast(DataType::float_(64), b)), {i});
  Stmt s5 = buffer_store(F, cast(kF16, cast(kF32, a) * float_imm(0.5)), {i});  // already f32 math: unchanged
  return make_prim_func("half", {A, B, C, D, E, F, I}, loop(i, int_imm(8), seq({s1, s2, s3, s4, s5})));
}

// bfloat16 vector arithmetic and a bfloat16 -> float16 vector cast.
PrimFunc bf_func() {
  Buffer A = make_buffer("A", kBF16, {int_imm(16)});
  Buffer H = make_buffer("H", kF16, {int_imm(16)});
  Var j("j");
  Expr idx = ramp(j * 8, int_imm(1), 8);
  Expr a = buffer_load(A, {idx});
  Stmt s1 = buffer_store(H, cast(DataType::float_(16, 8), a), {idx});
  Stmt s2 = buffer_store(A, a * a - broadcast(float_imm(1.0, kBF16), 8), {idx});
  return make_prim_func("bf", {A, H}, loop(j, int_imm(2), seq({s1, s2})));
}

// Parallel and unrolled loops, one with an annotation.
PrimFunc kinds_func() {
  Buffer A = make_buffer("A", kF32, {int_imm(8), int_imm(8)});
  Var i("i"), j("j"), vi("vi"), vj("vj");
  Block blk = make_blk("A", {spatial(vi, int_imm(8)), spatial(vj, int_imm(8))},
                       buffer_store(A, buffer_load(A, {vi, vj}) * float_imm(3.0), {vi, vj}));
  Annotations ann;
  ann["pragma_unroll_explicit"] = int_imm(1);
  Stmt nest = for_loop(i, int_imm(0), int_imm(8), ForKind::Parallel,
                       for_loop(j, int_imm(0), int_imm(8), ForKind::Unrolled, block_realize({i, j}, bool_imm(true), blk),
                                "", ann));
  return make_prim_func("kinds", {A}, root(nest));
}

struct Program {
  std::string name;
  std::function<PrimFunc()> build;
  std::map<std::string, int64_t> sizes;  // values of the symbolic dims
};
// The passes of tir::lower without the simplifier slots: the exact form the simplifier gives is its own
// module's business, so the structural tests below check what these passes produce.
PrimFunc lower_passes(const PrimFunc& f) {
  return tir::verify_lowered(
      tir::flatten_buffers(tir::legalize_narrow_floats(tir::check_vectorized_loops(tir::convert_blocks_to_loops(f)))));
}

std::vector<Program> all_programs() {
  return {{"matmul n=5", matmul_func, {{"n", 5}}},
          {"matmul n=1", matmul_func, {{"n", 1}}},
          {"sum2", sum2_func, {}},
          {"noreduce", noreduce_func, {}},
          {"bind", bind_func, {}},
          {"predicated", predicated_func, {}},
          {"masked_sum", masked_sum_func, {}},
          {"intermediate", intermediate_func, {}},
          {"nested", nested_func, {}},
          {"strided", strided_func, {{"s0", 7}, {"off", 0}}},
          {"three", three_func, {}},
          {"i32", i32_func, {}},
          {"vec", vec_func, {}},
          {"tr", transposed_ramp_func, {}},
          {"half", half_func, {}},
          {"bf", bf_func, {}},
          {"kinds", kinds_func, {}}};
}

}  // namespace

// ---- convert_blocks_to_loops + the whole pipeline on a matmul ---------------------------------

TEST_CASE("lower: TensorIR matmul with init and a symbolic dim becomes a guarded loop nest over flat buffers") {
  Matmul m;
  PrimFunc f = m.func();
  PrimFunc low = lower_passes(f);
  CHECK(str(low->body) ==
        "for i in 0..n:\n"
        "  for j in 0..8:\n"
        "    for k in 0..16:\n"
        "      if (k == 0):\n"
        "        C[((i * 8) + j)] = 0f32\n"
        "      C[((i * 8) + j)] = (C[((i * 8) + j)] + (A[((i * 16) + k)] * B[((k * 8) + j)]))\n");
  // The init guard compares the loop variable itself (not a copy) with the reduce domain's min.
  auto* fi = low->body.as<ForNode>()->body.as<ForNode>()->body.as<ForNode>();
  REQUIRE(fi);
  auto* body = fi->body.as<SeqStmtNode>();
  REQUIRE(body);
  REQUIRE(body->seq.size() == 2);
  auto* guard = body->seq[0].as<IfThenElseNode>();
  REQUIRE(guard);
  auto* cond = guard->cond.as<BinaryNode>();
  REQUIRE(cond);
  CHECK(cond->op == BinaryOp::EQ);
  CHECK(cond->a.same_as(m.k));
  CHECK(is_const_int(cond->b, 0));
  CHECK_FALSE(guard->else_case.defined());
  // Flat views share the data var; params keep their 2-D shapes for argument checking.
  auto* store = body->seq[1].as<BufferStoreNode>();
  REQUIRE(store);
  CHECK(store->buffer->data.same_as(m.C->data));
  CHECK_FALSE(store->buffer.same_as(m.C));
  CHECK(store->buffer->shape.size() == 1);
  CHECK(str(store->buffer->shape[0]) == "(n * 8)");
  CHECK(low->params.size() == 3);
  CHECK(low->param_buffers[2].same_as(m.C));
  CHECK(low->param_buffers[0]->shape.size() == 2);
  CHECK(low->name == "matmul");
  // The same flat view is used by every access of one buffer.
  auto* load = store->value.as<BinaryNode>()->a.as<BufferLoadNode>();
  REQUIRE(load);
  CHECK(load->buffer.same_as(store->buffer));
}

TEST_CASE("convert_blocks_to_loops: guard over several reduce vars, non-zero domain min, no reduce var") {
  CHECK(str(tir::convert_blocks_to_loops(sum2_func())->body) ==
        "for i in 0..4:\n"
        "  for r in 0..3:\n"
        "    for q in 2..3:\n"
        "      if ((r == 0) && (q == 2)):\n"
        "        S[i] = 0f32\n"
        "      S[i] = (S[i] + X[i, r, q])\n");
  // An init on a block with no reduce variable runs every time, unguarded.
  CHECK(str(tir::convert_blocks_to_loops(noreduce_func())->body) ==
        "for i in 0..4:\n"
        "  S[i] = 1f32\n"
        "  S[i] = (S[i] * 2f32)\n");
}

TEST_CASE("convert_blocks_to_loops: bindings are substituted, int32 bindings are cast to the iter var type") {
  CHECK(str(tir::convert_blocks_to_loops(bind_func())->body) ==
        "for i in 0:int32..4:int32:\n"
        "  for j in 0..4:\n"
        "    C[cast<int64>((i * 2:int32)), j] = cast<float32>((cast<int64>((i * 2:int32)) + j))\n");
}

TEST_CASE("lower: a block predicate becomes an IfThenElse around the block, including its init") {
  CHECK(str(lower_passes(predicated_func())->body) ==
        "for io in 0..4:\n"
        "  for ii in 0..8:\n"
        "    if (((io * 8) + ii) < 30):\n"
        "      C[((io * 8) + ii)] = (A[((io * 8) + ii)] * 2f32)\n");
  // Predicate and init together: the predicate guards the whole block, the init guard sits inside.
  CHECK(str(lower_passes(masked_sum_func())->body) ==
        "for i in 0..8:\n"
        "  for r in 0..5:\n"
        "    if (i < 6):\n"
        "      if (r == 0):\n"
        "        S[i] = 0f32\n"
        "      S[i] = (S[i] + X[((i * 5) + r)])\n");
}

TEST_CASE("lower: root alloc_buffers become an Allocate of a flat buffer around the whole body") {
  PrimFunc low = lower_passes(intermediate_func());
  CHECK(str(low->body) ==
        "allocate T: float32[24] global\n"
        "  for i0 in 0..4:\n"
        "    for j0 in 0..6:\n"
        "      T[((i0 * 6) + j0)] = (A[((i0 * 6) + j0)] + 1f32)\n"
        "  for i1 in 0..4:\n"
        "    for j1 in 0..6:\n"
        "      C[((i1 * 6) + j1)] = (T[((i1 * 6) + j1)] * 2f32)\n");
  auto* alloc = low->body.as<AllocateNode>();
  REQUIRE(alloc);
  auto* seq_node = alloc->body.as<SeqStmtNode>();
  REQUIRE(seq_node);
  auto* store = seq_node->seq[0].as<ForNode>()->body.as<ForNode>()->body.as<BufferStoreNode>();
  REQUIRE(store);
  CHECK(store->buffer.same_as(alloc->buffer));  // the Allocate and the accesses share one flat view
}

TEST_CASE("lower: a block's own alloc_buffers wrap that block; nested blocks substitute outward") {
  PrimFunc f = nested_func();
  PrimFunc low = lower_passes(f);
  CHECK(str(low->body) ==
        "for i in 0..3:\n"
        "  allocate tmp: float32[4] local\n"
        "    for j in 0..4:\n"
        "      tmp[j] = A[((i * 4) + j)]\n"
        "      C[((i * 4) + j)] = (tmp[j] + tmp[j])\n");
  // A 1-D compact buffer is already flat: it is kept as is.
  auto* alloc = low->body.as<ForNode>()->body.as<AllocateNode>();
  REQUIRE(alloc);
  const Block& root_block = f->body.as<BlockRealizeNode>()->block;
  const Block& row = root_block->body.as<ForNode>()->body.as<BlockRealizeNode>()->block;
  CHECK(alloc->buffer.same_as(row->alloc_buffers.at(0)));
}

TEST_CASE("convert_blocks_to_loops: a bare Block with iteration variables is rejected with its name") {
  Buffer C = make_buffer("C", kF32, {int_imm(4)});
  Var v("v");
  Block blk = make_blk("lonely", {spatial(v, int_imm(4))}, buffer_store(C, float_imm(0.0), {v}));
  PrimFunc f = make_prim_func("bare", {C}, Stmt(blk));
  CHECK_THROWS_WITH_AS(tir::lower(f), doctest::Contains("block 'lonely' has 1 iteration variables but 0 bindings"),
                       UserError);
}

// ---- flatten_buffers ----------------------------------------------------------------------------

TEST_CASE("flatten_buffers: strides and elem_offset are folded into the index") {
  Strided st;
  PrimFunc low = lower_passes(st.func());
  CHECK(str(low->body) ==
        "for i in 0..4:\n"
        "  for j in 0..5:\n"
        "    C[((i * 5) + j)] = (A[((3 + (i * 10)) + j)] + B[((off + (i * s0)) + j)])\n");
  auto* store = low->body.as<ForNode>()->body.as<ForNode>()->body.as<BufferStoreNode>();
  REQUIRE(store);
  auto* sum = store->value.as<BinaryNode>();
  auto* la = sum->a.as<BufferLoadNode>();
  auto* lb = sum->b.as<BufferLoadNode>();
  REQUIRE(la);
  REQUIRE(lb);
  // The flat view of a strided buffer spans 1 + (4-1)*10 + (5-1)*1 elements; it is compact with offset 0.
  CHECK(str(la->buffer->shape[0]) == "35");
  CHECK(la->buffer->strides.empty());
  CHECK(is_const_int(la->buffer->elem_offset, 0));
  CHECK(la->buffer->data.same_as(st.A->data));
  CHECK(str(lb->buffer->shape[0]) == "((1 + (3 * s0)) + 4)");
  // The param buffers are untouched.
  CHECK(low->param_buffers[0].same_as(st.A));
  CHECK(low->param_buffers[0]->strides.size() == 2);
  CHECK(is_const_int(low->param_buffers[0]->elem_offset, 3));
}

TEST_CASE("flatten_buffers: 3-D and 0-D buffers; index type is int32 only when everything fits") {
  CHECK(str(lower_passes(three_func())->body) ==
        "for a in 0:int32..2:int32:\n"
        "  for b in 0..3:\n"
        "    for c in 0..4:\n"
        "      X[(((cast<int64>(a) * 12) + (b * 4)) + c)] = (X[(((cast<int64>(a) * 12) + (b * 4)) + c)] + s[0:int32])\n");
  PrimFunc low32 = lower_passes(i32_func());
  auto* store = low32->body.as<ForNode>()->body.as<ForNode>()->body.as<BufferStoreNode>();
  REQUIRE(store);
  CHECK(str(store->indices[0]) == "((p * 3:int32) + q)");
  CHECK(store->indices[0].dtype() == kI32);
  // An int32-indexed buffer whose constant extent does not fit int32 is indexed in int64.
  Buffer Big = make_buffer("Big", kF32, {int_imm(100000), int_imm(100000)});
  Var p("p", kI32), q("q", kI32);
  Stmt st = buffer_store(Big, float_imm(0.0), {p, q});
  PrimFunc big = make_prim_func("big", {Big}, for_loop(p, int_imm(0, kI32), int_imm(2, kI32), ForKind::Serial,
                                                       for_loop(q, int_imm(0, kI32), int_imm(3, kI32), ForKind::Serial, st)));
  PrimFunc big_low = lower_passes(big);
  auto* big_store = big_low->body.as<ForNode>()->body.as<ForNode>()->body.as<BufferStoreNode>();
  REQUIRE(big_store);
  CHECK(str(big_store->indices[0]) == "((cast<int64>(p) * 100000) + cast<int64>(q))");
}

TEST_CASE("flatten_buffers: vector Ramp indices stay Ramps of the flat index") {
  PrimFunc low = lower_passes(vec_func());
  CHECK(str(low->body) ==
        "for i in 0..4:\n"
        "  for j in 0..8 vectorized:\n"
        "    C[ramp(((i * 64) + (j * 8)), 1, 8)] = (A[ramp(((i * 64) + (j * 8)), 1, 8)] + bcast(1f32, 8))\n"
        "for j in 0..16:\n"
        "  T[ramp(j, 16, 4)] = (T[ramp(j, 16, 4)] * bcast(2f32, 4))\n");
  auto* store = low->body.as<SeqStmtNode>()->seq[0].as<ForNode>()->body.as<ForNode>()->body.as<BufferStoreNode>();
  REQUIRE(store);
  CHECK(store->indices[0].kind() == ExprKind::Ramp);
  CHECK(store->value.dtype() == DataType::float_(32, 8));
  // A Ramp in the first dimension of a column-major buffer: the stride folds into the Ramp.
  CHECK(str(lower_passes(transposed_ramp_func())->body) ==
        "for i in 0..8:\n  S[ramp((i * 8), 1, 8)] = bcast(cast<float32>(i), 8)\n");
}

// ---- legalize_narrow_floats ------------------------------------------------------------------

TEST_CASE("legalize_narrow_floats: float16 arithmetic happens in float32, rounded after every op") {
  PrimFunc low = lower_passes(half_func());
  CHECK(str(low->body) ==
        "for i in 0..8:\n"
        "  C[i] = cast<float16>((cast<float32>(cast<float16>((cast<float32>(A[i]) * cast<float32>(B[i])))) + "
        "cast<float32>(A[i])))\n"
        "  D[i] = select((cast<float32>(A[i]) < cast<float32>(B[i])), cast<float16>(exp<float32>(cast<float32>(A[i]))), "
        "cast<float16>(max(cast<float32>(A[i]), cast<float32>(B[i]))))\n"
        "  I[i] = cast<int32>(cast<float32>(cast<float16>((cast<float32>(A[i]) * cast<float32>(100f16)))))\n"
        "  E[i] = cast<float16>(cast<float64>(cast<float32>(B[i])))\n"
        "  F[i] = cast<float16>((cast<float32>(A[i]) * 0.5f32))\n");
  // Loads and stores stay narrow.
  auto* store = low->body.as<ForNode>()->body.as<SeqStmtNode>()->seq[0].as<BufferStoreNode>();
  REQUIRE(store);
  CHECK(store->value.dtype() == kF16);
  CHECK(store->buffer->dtype == kF16);
}

TEST_CASE("legalize_narrow_floats: bfloat16 vectors keep their lanes; bf16 -> f16 casts go through f32") {
  CHECK(str(lower_passes(bf_func())->body) ==
        "for j in 0..2:\n"
        "  H[ramp((j * 8), 1, 8)] = cast<float16x8>(cast<float32x8>(A[ramp((j * 8), 1, 8)]))\n"
        "  A[ramp((j * 8), 1, 8)] = cast<bfloat16x8>((cast<float32x8>(cast<bfloat16x8>((cast<float32x8>(A[ramp((j * 8), 1, "
        "8)]) * cast<float32x8>(A[ramp((j * 8), 1, 8)])))) - cast<float32x8>(bcast(1f16b, 8))))\n");
}

// ---- verify_lowered ------------------------------------------------------------------------------

TEST_CASE("verify_lowered rejects what backends cannot take, naming the problem") {
  Matmul m;
  // Blocked IR: blocks remain.
  CHECK_THROWS_WITH_AS(tir::verify_lowered(m.func()), doctest::Contains("block 'root'"), InternalError);
  // A multi-dimensional access.
  Var i("i"), j("j");
  Buffer X = make_buffer("X", kF32, {int_imm(2), int_imm(2)});
  PrimFunc two_d = make_prim_func("f", {X}, loop(i, int_imm(2), buffer_store(X, float_imm(0.0), {i, i})));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(two_d), doctest::Contains("uses 2 indices; lowered accesses are 1-D"),
                       InternalError);
  // An undefined variable (j is no loop, param or shape var).
  Buffer Y = make_buffer("Y", kF32, {int_imm(4)});
  PrimFunc undef = make_prim_func("f", {Y}, loop(i, int_imm(4), buffer_store(Y, float_imm(0.0), {j})));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(undef), doctest::Contains("variable 'j' is used but not defined"),
                       InternalError);
  // A loop variable used after its loop.
  PrimFunc escaped = make_prim_func("f", {Y}, seq({loop(i, int_imm(4), evaluate(i)), buffer_store(Y, float_imm(0.0), {i})}));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(escaped), doctest::Contains("variable 'i' is used but not defined"),
                       InternalError);
  // Narrow-float arithmetic.
  Buffer H = make_buffer("H", kF16, {int_imm(4)});
  PrimFunc half = make_prim_func("f", {H}, loop(i, int_imm(4), buffer_store(H, buffer_load(H, {i}) + buffer_load(H, {i}), {i})));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(half), doctest::Contains("float16/bfloat16 arithmetic remains ('add' on float16)"),
                       InternalError);
  PrimFunc half_call = make_prim_func("f", {H}, loop(i, int_imm(4), buffer_store(H, call(kF16, "exp", {buffer_load(H, {i})}), {i})));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(half_call), doctest::Contains("math call 'exp'"), InternalError);
  // A float index.
  PrimFunc float_idx = make_prim_func("f", {Y}, buffer_store(Y, float_imm(0.0), {float_imm(1.0)}));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(float_idx), doctest::Contains("has a float32 index"), InternalError);
  // A buffer that is neither a parameter nor allocated.
  Buffer Z = make_buffer("Z", kF32, {int_imm(4)});
  PrimFunc stray = make_prim_func("f", {Y}, buffer_store(Z, float_imm(0.0), {int_imm(0)}));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(stray), doctest::Contains("data variable 'Z_data' is neither a parameter"),
                       InternalError);
  // A Reduce expression.
  Var r("r");
  Expr red = reduce(ReduceOp::Sum, buffer_load(Y, {r}), {IterVar{r, {int_imm(0), int_imm(4)}, IterKind::CommReduce, ""}});
  PrimFunc with_reduce = make_prim_func("f", {Y}, buffer_store(Y, red, {int_imm(0)}));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(with_reduce), doctest::Contains("a Reduce expression remains"), InternalError);
  // A strided buffer access (not yet flattened).
  Buffer W = make_buffer("W", kF32, {int_imm(4)}, "global", {int_imm(2)});
  PrimFunc strided = make_prim_func("f", {W}, buffer_store(W, float_imm(0.0), {int_imm(0)}));
  CHECK_THROWS_WITH_AS(tir::verify_lowered(strided), doctest::Contains("strides or a non-zero elem_offset"), InternalError);
  // Well-formed: symbolic sizes, lets and allocations define their variables.
  Var n("n"), t("t");
  Buffer N = make_buffer("N", kF32, {n});
  Buffer L = make_buffer("L", kF32, {n}, "local");
  Stmt ok = allocate(L, loop(i, n, let_stmt(t, i + 1, buffer_store(N, buffer_load(L, {let(j, t, j)}), {i}))));
  CHECK_NOTHROW(tir::verify_lowered(make_prim_func("f", {N}, ok)));
  CHECK_NOTHROW(tir::verify_lowered(tir::lower(m.func())));
}

// ---- check_cpu_compatible and vectorized extents --------------------------------------------

TEST_CASE("check_cpu_compatible: GPU thread bindings and GPU-only scopes are UserErrors saying what to do") {
  Buffer A = make_buffer("A", kF32, {int_imm(64)});
  Var tx("tx"), i("i");
  PrimFunc bound = make_prim_func("k", {A}, for_loop(tx, int_imm(0), int_imm(64), ForKind::ThreadBinding,
                                                     buffer_store(A, float_imm(0.0), {tx}), "threadIdx.x"));
  auto message = [](const PrimFunc& f) {
    try {
      tir::check_cpu_compatible(f);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string msg = message(bound);
  CHECK(msg.find("loop 'tx'") != std::string::npos);
  CHECK(msg.find("'threadIdx.x'") != std::string::npos);
  CHECK(msg.find("\"cuda\" or \"vulkan\"") != std::string::npos);
  CHECK(msg.find("parallel()") != std::string::npos);
  CHECK(msg.find("vectorize()") != std::string::npos);

  for (const char* scope : {"shared", "shared.dyn", "warp"}) {
    Buffer S = make_buffer("S", kF32, {int_imm(64)}, scope);
    // As a block-allocated intermediate (blocked IR) and as an Allocate (lowered IR).
    Stmt use = loop(i, int_imm(64), buffer_store(S, buffer_load(A, {i}), {i}));
    PrimFunc blocked = make_prim_func("k", {A}, root(use, {S}));
    msg = message(blocked);
    CHECK(msg.find("buffer 'S'") != std::string::npos);
    CHECK(msg.find(std::string("scope '") + scope + "'") != std::string::npos);
    CHECK(msg.find("\"global\" or \"local\"") != std::string::npos);
    CHECK(message(make_prim_func("k", {A}, allocate(S, use))) != "no error");
  }
  // Parameters in a GPU-only scope too.
  Buffer P = make_buffer("P", kF32, {int_imm(4)}, "shared");
  CHECK(message(make_prim_func("k", {P}, evaluate(int_imm(0)))).find("buffer 'P'") != std::string::npos);

  // "local" and "global" are fine on CPU, as are parallel and vectorized loops.
  Buffer L = make_buffer("L", kF32, {int_imm(64)}, "local");
  Var o("o"), v("v");
  Stmt fine = loop(o, int_imm(8), loop(v, int_imm(8), buffer_store(L, buffer_load(A, {o * 8 + v}), {o * 8 + v}),
                                       ForKind::Vectorized), ForKind::Parallel);
  CHECK_NOTHROW(tir::check_cpu_compatible(make_prim_func("k", {A}, root(fine, {L}))));
}

TEST_CASE("vectorized loops need a constant extent") {
  Var n("n"), i("i");
  Buffer A = make_buffer("A", kF32, {n});
  PrimFunc f = make_prim_func("v", {A}, loop(i, n, buffer_store(A, float_imm(0.0), {i}), ForKind::Vectorized));
  CHECK_THROWS_WITH_AS(tir::check_cpu_compatible(f), doctest::Contains("loop 'i' is vectorized but its extent is 'n'"),
                       UserError);
  CHECK_THROWS_WITH_AS(tir::lower(f), doctest::Contains("Split the loop by a constant factor"), UserError);
  PrimFunc g = make_prim_func("v", {A}, loop(i, n * 2, buffer_store(A, float_imm(0.0), {i}), ForKind::Vectorized));
  CHECK_THROWS_WITH_AS(tir::lower(g), doctest::Contains("an expression of 'n'"), UserError);
  // A constant written as an expression is fine.
  Buffer B = make_buffer("B", kF32, {int_imm(16)});
  PrimFunc h = make_prim_func("v", {B}, loop(i, floordiv(int_imm(32), int_imm(2)), buffer_store(B, float_imm(0.0), {i}),
                                             ForKind::Vectorized));
  CHECK_NOTHROW(tir::check_cpu_compatible(h));
  PrimFunc z = make_prim_func("v", {B}, loop(i, int_imm(0), buffer_store(B, float_imm(0.0), {i}), ForKind::Vectorized));
  CHECK_THROWS_WITH_AS(tir::lower(z), doctest::Contains("needs a positive extent"), UserError);
}

// ---- the pipeline --------------------------------------------------------------------------------

TEST_CASE("lower keeps loop kinds and loop annotations, drops block annotations") {
  PrimFunc low = lower_passes(kinds_func());
  CHECK(str(low->body) ==
        "for i in 0..8 parallel:\n"
        "  for j in 0..8 unroll @pragma_unroll_explicit=1:\n"
        "    A[((i * 8) + j)] = (A[((i * 8) + j)] * 3f32)\n");
}

TEST_CASE("KILN_TIME_PASSES=1 prints the time of every pass to stderr") {
  std::string path = "/tmp/kiln_test_lower_time_passes_" + std::to_string(::getpid()) + ".txt";
  std::fflush(stderr);
  int saved = ::dup(2);
  REQUIRE(saved >= 0);
  FILE* out = std::fopen(path.c_str(), "w");
  REQUIRE(out);
  ::dup2(::fileno(out), 2);
  ::setenv("KILN_TIME_PASSES", "1", 1);
  tir::lower(Matmul().func());
  ::unsetenv("KILN_TIME_PASSES");
  tir::lower(Matmul().func());  // silent again
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(out);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path.c_str());
  std::string s = text.str();
  for (const char* pass : {"convert_blocks_to_loops", "check_vectorized_loops", "legalize_narrow_floats",
                           "flatten_buffers", "verify_lowered"}) {
    CHECK_MESSAGE(s.find(pass) != std::string::npos, pass);
  }
  CHECK(s.find("lower 'matmul'") != std::string::npos);
  CHECK(s.find(" ms") != std::string::npos);
  // Printed once per pass, by the first call only.
  size_t count = 0;
  for (size_t p = s.find("flatten_buffers"); p != std::string::npos; p = s.find("flatten_buffers", p + 1)) ++count;
  CHECK(count == 1);
}

TEST_CASE("every program lowers to the verified form; the passes leave lowered IR untouched") {
  for (auto& p : all_programs()) {
    CAPTURE(p.name);
    PrimFunc once = tir::lower(p.build());
    CHECK_NOTHROW(tir::verify_lowered(once));
    CHECK_NOTHROW(tir::check_cpu_compatible(once));
    CHECK_NOTHROW(tir::verify_lowered(tir::lower(once)));
    PrimFunc passes = lower_passes(p.build());
    CHECK(lower_passes(passes)->body.same_as(passes->body));
  }
}

// ---- differential: the reference interpreter on blocked and on lowered IR ----------------------
#if __has_include("kiln/tir/interpreter.hpp")
#include <cstring>
#include <random>

#include "kiln/tir/interpreter.hpp"
#include "tensor_testing.hpp"

namespace {

// One argument per param: a random tensor (a strided view over a random backing tensor for
// buffers with strides), and a bitwise copy of it for the second run.
struct ArgSet {
  std::vector<runtime::Tensor> backing;
  std::vector<runtime::Arg> args;
};
std::pair<ArgSet, ArgSet> random_args(const PrimFunc& f, const std::map<std::string, int64_t>& sizes, std::mt19937_64& rng) {
  ArgSet a, b;
  for (auto& buf : f->param_buffers) {
    KILN_ICHECK(buf.defined(), "the programs of this test take only tensors");
    std::vector<int64_t> shape = testing::eval_shape(buf->shape, sizes);
    std::vector<int64_t> strides = testing::eval_shape(buf->strides, sizes);
    int64_t offset = testing::eval_shape(buf->elem_offset, sizes);
    int64_t span = 1 + offset;
    for (size_t d = 0; d < shape.size(); ++d)
      span += (shape[d] - 1) * (strides.empty() ? runtime::Tensor::compact_strides(shape)[d] : strides[d]);
    runtime::Tensor back = testing::random_tensor({std::max<int64_t>(span, 1)}, buf->dtype, rng, -2.0, 2.0);
    runtime::Tensor copy = testing::clone(back);
    a.backing.push_back(back);
    b.backing.push_back(copy);
    a.args.emplace_back(runtime::Tensor::view(back.data(), shape, buf->dtype, strides));
    b.args.emplace_back(runtime::Tensor::view(copy.data(), shape, buf->dtype, strides));
  }
  return {std::move(a), std::move(b)};
}

}  // namespace

TEST_CASE("lowering preserves results: the interpreter gives bit-identical outputs on blocked and lowered IR") {
  std::mt19937_64 rng(20261123);
  for (auto& p : all_programs()) {
    CAPTURE(p.name);
    PrimFunc f = p.build();
    PrimFunc low = tir::lower(f);
    for (int trial = 0; trial < 3; ++trial) {
      auto [blocked_args, lowered_args] = random_args(f, p.sizes, rng);
      tir::interpret(f, blocked_args.args);
      tir::interpret(low, lowered_args.args);
      for (size_t i = 0; i < blocked_args.backing.size(); ++i) {
        const runtime::Tensor& x = blocked_args.backing[i];
        const runtime::Tensor& y = lowered_args.backing[i];
        CAPTURE(f->param_buffers[i]->name);
        CHECK(std::memcmp(x.data(), y.data(), x.nbytes()) == 0);
      }
    }
  }
}
#endif
