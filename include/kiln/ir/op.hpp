// kiln/ir/op.hpp: constructors for IR nodes, checked for type consistency.
//
// These are the untyped building blocks that passes use. A dtype mismatch here means someone
// built an ill-typed program: the typed DSL (kiln/te) rules that out at compile time, so from
// there it is a kiln bug; from hand-built IR it is the caller's.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/ir/function.hpp"
#include "kiln/ir/stmt.hpp"

namespace kiln::ir {

inline Expr int_imm(int64_t v, DataType t) { return Expr(std::make_shared<const IntImmNode>(t, v)); }
inline Expr bool_imm(bool v) { return int_imm(v ? 1 : 0, DataType::boolean()); }
inline Expr float_imm(double v, DataType t = DataType::float_(32)) { return Expr(std::make_shared<const FloatImmNode>(t, v)); }
inline Expr string_imm(std::string s) { return Expr(std::make_shared<const StringImmNode>(std::move(s))); }

// A constant of type t (scalar or vector) with value v.
inline Expr make_const(DataType t, double v);

inline const IntImmNode* as_int_imm(const Expr& e) { return e.defined() ? e.as<IntImmNode>() : nullptr; }
inline bool is_const_int(const Expr& e, int64_t v) {
  auto* i = as_int_imm(e);
  return i && i->value == v;
}
inline std::optional<int64_t> const_int(const Expr& e) {
  if (auto* i = as_int_imm(e)) return i->value;
  return std::nullopt;
}

inline DataType result_type(BinaryOp op, DataType operand) {
  if (is_comparison(op) || is_logical(op)) return DataType::boolean(operand.lanes);
  return operand;
}

inline Expr binary(BinaryOp op, Expr a, Expr b) {
  KILN_ICHECK(a.defined() && b.defined(), "binary ", binary_op_name(op), " with an undefined operand");
  if (a.dtype() != b.dtype())
    user_error("type mismatch in '", binary_op_name(op), "': ", a.dtype().str(), " vs ", b.dtype().str(),
               "; insert an explicit cast so both operands have the same type");
  if (is_logical(op) && !a.dtype().is_bool())
    user_error("'", binary_op_name(op), "' needs bool operands, got ", a.dtype().str());
  DataType t = result_type(op, a.dtype());
  return Expr(std::make_shared<const BinaryNode>(op, std::move(a), std::move(b), t));
}

inline Expr add(Expr a, Expr b) { return binary(BinaryOp::Add, std::move(a), std::move(b)); }
inline Expr sub(Expr a, Expr b) { return binary(BinaryOp::Sub, std::move(a), std::move(b)); }
inline Expr mul(Expr a, Expr b) { return binary(BinaryOp::Mul, std::move(a), std::move(b)); }
inline Expr div(Expr a, Expr b) { return binary(BinaryOp::Div, std::move(a), std::move(b)); }
inline Expr truncmod(Expr a, Expr b) { return binary(BinaryOp::Mod, std::move(a), std::move(b)); }
inline Expr floordiv(Expr a, Expr b) { return binary(BinaryOp::FloorDiv, std::move(a), std::move(b)); }
inline Expr floormod(Expr a, Expr b) { return binary(BinaryOp::FloorMod, std::move(a), std::move(b)); }
inline Expr min(Expr a, Expr b) { return binary(BinaryOp::Min, std::move(a), std::move(b)); }
inline Expr max(Expr a, Expr b) { return binary(BinaryOp::Max, std::move(a), std::move(b)); }
inline Expr eq(Expr a, Expr b) { return binary(BinaryOp::EQ, std::move(a), std::move(b)); }
inline Expr ne(Expr a, Expr b) { return binary(BinaryOp::NE, std::move(a), std::move(b)); }
inline Expr lt(Expr a, Expr b) { return binary(BinaryOp::LT, std::move(a), std::move(b)); }
inline Expr le(Expr a, Expr b) { return binary(BinaryOp::LE, std::move(a), std::move(b)); }
inline Expr gt(Expr a, Expr b) { return binary(BinaryOp::GT, std::move(a), std::move(b)); }
inline Expr ge(Expr a, Expr b) { return binary(BinaryOp::GE, std::move(a), std::move(b)); }
inline Expr logical_and(Expr a, Expr b) { return binary(BinaryOp::And, std::move(a), std::move(b)); }
inline Expr logical_or(Expr a, Expr b) { return binary(BinaryOp::Or, std::move(a), std::move(b)); }
inline Expr logical_not(Expr a) {
  KILN_USER_CHECK(a.dtype().is_bool(), "'not' needs a bool operand, got ", a.dtype().str());
  return Expr(std::make_shared<const NotNode>(std::move(a)));
}

inline Expr select(Expr c, Expr t, Expr f) {
  KILN_USER_CHECK(c.dtype().is_bool(), "select condition must be bool, got ", c.dtype().str());
  if (t.dtype() != f.dtype())
    user_error("select branches have different types: ", t.dtype().str(), " vs ", f.dtype().str());
  return Expr(std::make_shared<const SelectNode>(std::move(c), std::move(t), std::move(f)));
}
inline Expr cast(DataType t, Expr v) {
  if (v.dtype() == t) return v;
  KILN_USER_CHECK(t.lanes == v.dtype().lanes, "cast from ", v.dtype().str(), " to ", t.str(), " changes the lane count");
  return Expr(std::make_shared<const CastNode>(t, std::move(v)));
}
inline Expr call(DataType t, std::string op, std::vector<Expr> args) {
  return Expr(std::make_shared<const CallNode>(t, std::move(op), std::move(args)));
}
inline Expr buffer_load(const Buffer& b, std::vector<Expr> indices) {
  KILN_USER_CHECK(indices.size() == b->shape.size(), "buffer '", b->name, "' has ", b->shape.size(),
                  " dimensions but was loaded with ", indices.size(), " indices");
  int lanes = 1;
  for (auto& i : indices) lanes = std::max<int>(lanes, i.dtype().lanes);
  return Expr(std::make_shared<const BufferLoadNode>(b->dtype.with_lanes(lanes), b, std::move(indices)));
}
inline Expr ramp(Expr base, Expr stride, int lanes) {
  return Expr(std::make_shared<const RampNode>(std::move(base), std::move(stride), lanes));
}
inline Expr broadcast(Expr v, int lanes) { return Expr(std::make_shared<const BroadcastNode>(std::move(v), lanes)); }
inline Expr let(Var v, Expr value, Expr body) {
  return Expr(std::make_shared<const LetNode>(std::move(v), std::move(value), std::move(body)));
}
inline Expr reduce(ReduceOp op, Expr source, std::vector<IterVar> axes, Expr cond = Expr()) {
  return Expr(std::make_shared<const ReduceNode>(op, std::move(source), std::move(axes), std::move(cond)));
}

inline Expr make_const(DataType t, double v) {
  Expr scalar;
  DataType s = t.element_of();
  if (s.is_float()) scalar = float_imm(v, s);
  else if (s.is_bool()) scalar = int_imm(v != 0, s);
  else scalar = int_imm(int64_t(v), s);
  return t.lanes > 1 ? broadcast(scalar, t.lanes) : scalar;
}

// Largest and smallest finite values of a type, and the identity elements of reductions.
inline Expr max_value(DataType t) {
  if (t.is_float()) {
    if (t.bits == 64) return float_imm(1.7976931348623157e308, t);
    if (t.is_bfloat16()) return float_imm(3.3895313892515355e38, t);
    if (t.bits == 16) return float_imm(65504.0, t);
    return float_imm(3.4028234663852886e38, t);
  }
  if (t.is_bool()) return int_imm(1, t);
  if (t.is_uint()) return int_imm(t.bits == 64 ? -1 : int64_t((uint64_t(1) << t.bits) - 1), t);
  return int_imm(t.bits == 64 ? INT64_MAX : (int64_t(1) << (t.bits - 1)) - 1, t);
}
inline Expr min_value(DataType t) {
  if (t.is_float()) return float_imm(-max_value(t).as<FloatImmNode>()->value, t);
  if (t.is_bool() || t.is_uint()) return int_imm(0, t);
  return int_imm(t.bits == 64 ? INT64_MIN : -(int64_t(1) << (t.bits - 1)), t);
}
// Reductions start from their identity: 0 for sum, 1 for prod, the lowest value for max (-inf
// for floats, so that an all -inf row stays -inf), the highest for min.
inline Expr reduce_identity(ReduceOp op, DataType t) {
  switch (op) {
    case ReduceOp::Sum: return make_const(t, 0);
    case ReduceOp::Prod: return make_const(t, 1);
    case ReduceOp::Max: return t.is_float() ? float_imm(-INFINITY, t) : min_value(t);
    case ReduceOp::Min: return t.is_float() ? float_imm(INFINITY, t) : max_value(t);
  }
  return Expr();
}
inline Expr reduce_combine(ReduceOp op, Expr acc, Expr v) {
  switch (op) {
    case ReduceOp::Sum: return add(std::move(acc), std::move(v));
    case ReduceOp::Prod: return mul(std::move(acc), std::move(v));
    case ReduceOp::Max: return max(std::move(acc), std::move(v));
    case ReduceOp::Min: return min(std::move(acc), std::move(v));
  }
  return Expr();
}

// Operators on untyped Exprs for writing passes. A plain integer on one side takes the other
// side's type.
inline Expr operator+(Expr a, Expr b) { return add(std::move(a), std::move(b)); }
inline Expr operator-(Expr a, Expr b) { return sub(std::move(a), std::move(b)); }
inline Expr operator*(Expr a, Expr b) { return mul(std::move(a), std::move(b)); }
inline Expr operator+(Expr a, int64_t b) { auto t = a.dtype(); return add(std::move(a), make_const(t, double(b))); }
inline Expr operator-(Expr a, int64_t b) { auto t = a.dtype(); return sub(std::move(a), make_const(t, double(b))); }
inline Expr operator*(Expr a, int64_t b) { auto t = a.dtype(); return mul(std::move(a), make_const(t, double(b))); }
inline Expr operator<(Expr a, Expr b) { return lt(std::move(a), std::move(b)); }
inline Expr operator<=(Expr a, Expr b) { return le(std::move(a), std::move(b)); }
inline Expr operator>(Expr a, Expr b) { return gt(std::move(a), std::move(b)); }
inline Expr operator>=(Expr a, Expr b) { return ge(std::move(a), std::move(b)); }
inline Expr operator&&(Expr a, Expr b) { return logical_and(std::move(a), std::move(b)); }
inline Expr operator||(Expr a, Expr b) { return logical_or(std::move(a), std::move(b)); }
inline Expr operator!(Expr a) { return logical_not(std::move(a)); }

// ---- statements -------------------------------------------------------------------------------
inline Stmt for_loop(Var v, Expr min, Expr extent, ForKind kind, Stmt body, std::string thread_tag = {},
                     Annotations ann = {}) {
  return Stmt(std::make_shared<const ForNode>(std::move(v), std::move(min), std::move(extent), kind, std::move(body),
                                              std::move(thread_tag), std::move(ann)));
}
inline Stmt buffer_store(const Buffer& b, Expr value, std::vector<Expr> indices) {
  KILN_USER_CHECK(indices.size() == b->shape.size(), "buffer '", b->name, "' has ", b->shape.size(),
                  " dimensions but was stored with ", indices.size(), " indices");
  KILN_USER_CHECK(value.dtype().element_of() == b->dtype, "storing a ", value.dtype().str(), " value into buffer '",
                  b->name, "' of type ", b->dtype.str(), "; cast the value first");
  return Stmt(std::make_shared<const BufferStoreNode>(b, std::move(value), std::move(indices)));
}
inline Stmt allocate(Buffer b, Stmt body) { return Stmt(std::make_shared<const AllocateNode>(std::move(b), std::move(body))); }
inline Stmt if_then_else(Expr c, Stmt t, Stmt e = Stmt()) {
  KILN_USER_CHECK(c.dtype().is_bool(), "if condition must be bool, got ", c.dtype().str());
  return Stmt(std::make_shared<const IfThenElseNode>(std::move(c), std::move(t), std::move(e)));
}
// A sequence; nested sequences are flattened and a single statement is returned as itself.
inline Stmt seq(std::vector<Stmt> stmts) {
  std::vector<Stmt> flat;
  for (auto& s : stmts) {
    if (!s.defined()) continue;
    if (auto* q = s.as<SeqStmtNode>()) flat.insert(flat.end(), q->seq.begin(), q->seq.end());
    else flat.push_back(s);
  }
  if (flat.size() == 1) return flat[0];
  return Stmt(std::make_shared<const SeqStmtNode>(std::move(flat)));
}
inline Stmt let_stmt(Var v, Expr value, Stmt body) {
  return Stmt(std::make_shared<const LetStmtNode>(std::move(v), std::move(value), std::move(body)));
}
inline Stmt evaluate(Expr v) { return Stmt(std::make_shared<const EvaluateNode>(std::move(v))); }
inline Block make_block(BlockNode node) { return Block(std::make_shared<const BlockNode>(std::move(node))); }
inline Stmt block_realize(std::vector<Expr> values, Expr predicate, Block b) {
  KILN_ICHECK(values.size() == b->iter_vars.size(), "block '", b->name, "' has ", b->iter_vars.size(),
              " iteration variables but ", values.size(), " bindings");
  return Stmt(std::make_shared<const BlockRealizeNode>(std::move(values),
                                                       predicate.defined() ? std::move(predicate) : bool_imm(true), std::move(b)));
}

}  // namespace kiln::ir
