// kiln/ir/expr.hpp: expression nodes of kiln's tensor IR (TIR).
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/ir/dtype.hpp"
#include "kiln/ir/node.hpp"

namespace kiln::ir {

enum class ExprKind : uint8_t {
  Var, IntImm, FloatImm, StringImm, Binary, Not, Select, Cast, Call, BufferLoad, Ramp, Broadcast, Let,
  Reduce
};

struct ExprNode {
  const ExprKind kind;
  const DataType dtype;
  ExprNode(ExprKind k, DataType t) : kind(k), dtype(t) {}
  virtual ~ExprNode() = default;
};

class Expr : public NodeRef<ExprNode> {
 public:
  using NodeRef::NodeRef;
  Expr() = default;
  DataType dtype() const { return get()->dtype; }
  ExprKind kind() const { return get()->kind; }
};

// ---- variables --------------------------------------------------------------------------------
struct VarNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Var;
  std::string name;
  // Creation order, process-wide. Orders two distinct variables of one name deterministically
  // (a schedule replayed creates its variables in the same relative order), where an address
  // would not. Not part of structural equality.
  uint64_t serial;
  VarNode(std::string n, DataType t) : ExprNode(kKind, t), name(std::move(n)), serial(next_serial()) {}

 private:
  static uint64_t next_serial() {
    static std::atomic<uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed);
  }
};

// A Var is identified by its node, not its name: two Vars named "i" are different variables.
class Var : public Expr {
 public:
  Var() = default;
  explicit Var(std::string name, DataType t = DataType::int_(64))
      : Expr(std::make_shared<const VarNode>(std::move(name), t)) {}
  explicit Var(std::shared_ptr<const VarNode> p) : Expr(std::move(p)) {}
  const VarNode* get() const { return static_cast<const VarNode*>(Expr::get()); }
  const VarNode* operator->() const { return get(); }
  const std::string& name() const { return get()->name; }
  // A fresh variable with the same name hint and type.
  Var copy_with_suffix(const std::string& suffix) const { return Var(name() + suffix, dtype()); }
};

// Half-open interval [min, min + extent).
struct Range {
  Expr min;
  Expr extent;
};

enum class IterKind : uint8_t { DataPar, CommReduce, Opaque, ThreadIndex };

inline const char* iter_kind_name(IterKind k) {
  switch (k) {
    case IterKind::DataPar: return "spatial";
    case IterKind::CommReduce: return "reduce";
    case IterKind::Opaque: return "opaque";
    case IterKind::ThreadIndex: return "thread";
  }
  return "?";
}

// A block iteration variable (TensorIR) or a reduction axis (TE).
struct IterVar {
  Var var;
  Range dom;
  IterKind kind = IterKind::DataPar;
  std::string thread_tag;  // only for ThreadIndex
};

// ---- immediates -------------------------------------------------------------------------------
struct IntImmNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::IntImm;
  int64_t value;
  IntImmNode(DataType t, int64_t v) : ExprNode(kKind, t), value(v) {}
};
struct FloatImmNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::FloatImm;
  double value;
  FloatImmNode(DataType t, double v) : ExprNode(kKind, t), value(v) {}
};
struct StringImmNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::StringImm;
  std::string value;
  explicit StringImmNode(std::string v) : ExprNode(kKind, DataType::handle()), value(std::move(v)) {}
};

// ---- operators --------------------------------------------------------------------------------
// Div and Mod truncate toward zero on integers (C semantics); FloorDiv and FloorMod round toward
// negative infinity, which is what index arithmetic wants. On floats Div is true division.
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Mod, FloorDiv, FloorMod, Min, Max, EQ, NE, LT, LE, GT, GE, And, Or
};
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::EQ && op <= BinaryOp::GE; }
inline bool is_logical(BinaryOp op) { return op == BinaryOp::And || op == BinaryOp::Or; }
inline const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "mod", "floordiv", "floormod", "min", "max",
                                "eq",  "ne",  "lt",  "le",  "gt",  "ge",       "and",      "or"};
  return names[int(op)];
}

struct BinaryNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Binary;
  BinaryOp op;
  Expr a, b;
  BinaryNode(BinaryOp o, Expr x, Expr y, DataType t) : ExprNode(kKind, t), op(o), a(std::move(x)), b(std::move(y)) {}
};
struct NotNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Not;
  Expr a;
  explicit NotNode(Expr x) : ExprNode(kKind, x.dtype()), a(std::move(x)) {}
};
struct SelectNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Select;
  Expr cond, true_value, false_value;
  SelectNode(Expr c, Expr t, Expr f)
      : ExprNode(kKind, t.dtype()), cond(std::move(c)), true_value(std::move(t)), false_value(std::move(f)) {}
};
struct CastNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Cast;
  Expr value;
  CastNode(DataType t, Expr v) : ExprNode(kKind, t), value(std::move(v)) {}
};
// A call to a named intrinsic: math ("exp", "log", "sqrt", ...) or kiln builtins.
struct CallNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Call;
  std::string op;
  std::vector<Expr> args;
  CallNode(DataType t, std::string o, std::vector<Expr> a) : ExprNode(kKind, t), op(std::move(o)), args(std::move(a)) {}
};

// ---- memory -----------------------------------------------------------------------------------
struct BufferNode;
class Buffer : public NodeRef<BufferNode> {
 public:
  using NodeRef::NodeRef;
};

struct BufferLoadNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::BufferLoad;
  Buffer buffer;
  std::vector<Expr> indices;
  BufferLoadNode(DataType t, Buffer b, std::vector<Expr> i) : ExprNode(kKind, t), buffer(std::move(b)), indices(std::move(i)) {}
};

// ---- vectors ----------------------------------------------------------------------------------
struct RampNode : ExprNode {  // base, base + stride, ..., base + (lanes-1) * stride
  static constexpr ExprKind kKind = ExprKind::Ramp;
  Expr base, stride;
  int lanes;
  RampNode(Expr b, Expr s, int l)
      : ExprNode(kKind, b.dtype().with_lanes(l)), base(std::move(b)), stride(std::move(s)), lanes(l) {}
};
struct BroadcastNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Broadcast;
  Expr value;
  int lanes;
  BroadcastNode(Expr v, int l) : ExprNode(kKind, v.dtype().with_lanes(l)), value(std::move(v)), lanes(l) {}
};

// ---- binding ----------------------------------------------------------------------------------
struct LetNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Let;
  Var var;
  Expr value, body;
  LetNode(Var v, Expr val, Expr b) : ExprNode(kKind, b.dtype()), var(std::move(v)), value(std::move(val)), body(std::move(b)) {}
};

// ---- reductions (tensor expressions only; create_prim_func turns them into blocks) -------------
enum class ReduceOp : uint8_t { Sum, Prod, Max, Min };
inline const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "prod", "max", "min"};
  return names[int(op)];
}
struct ReduceNode : ExprNode {
  static constexpr ExprKind kKind = ExprKind::Reduce;
  ReduceOp op;
  Expr source;
  std::vector<IterVar> axes;
  Expr condition;  // elements where it is false do not take part; undefined = always
  ReduceNode(ReduceOp o, Expr s, std::vector<IterVar> ax, Expr c)
      : ExprNode(kKind, s.dtype()), op(o), source(std::move(s)), axes(std::move(ax)), condition(std::move(c)) {}
};

// Annotations on loops, blocks and functions: small values keyed by name.
using Annotations = std::map<std::string, Expr>;

}  // namespace kiln::ir
