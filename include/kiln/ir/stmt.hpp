// kiln/ir/stmt.hpp: statement nodes of kiln's tensor IR, including TensorIR blocks.
#pragma once
#include <string>
#include <vector>

#include "kiln/ir/buffer.hpp"
#include "kiln/ir/expr.hpp"

namespace kiln::ir {

enum class StmtKind : uint8_t {
  For, BufferStore, Allocate, IfThenElse, Seq, LetStmt, Evaluate, Block, BlockRealize
};

struct StmtNode {
  const StmtKind kind;
  explicit StmtNode(StmtKind k) : kind(k) {}
  virtual ~StmtNode() = default;
};

class Stmt : public NodeRef<StmtNode> {
 public:
  using NodeRef::NodeRef;
  StmtKind kind() const { return get()->kind; }
};

// Serial, Parallel (CPU threads), Vectorized (SIMD lanes), Unrolled, or ThreadBinding: the loop
// is bound to a GPU thread axis named by thread_tag ("blockIdx.x", "threadIdx.y", "vthread", ...).
enum class ForKind : uint8_t { Serial, Parallel, Vectorized, Unrolled, ThreadBinding };
inline const char* for_kind_name(ForKind k) {
  static const char* names[] = {"serial", "parallel", "vectorized", "unroll", "thread_binding"};
  return names[int(k)];
}
inline bool is_known_thread_tag(const std::string& t) {
  return t == "blockIdx.x" || t == "blockIdx.y" || t == "blockIdx.z" || t == "threadIdx.x" || t == "threadIdx.y" ||
         t == "threadIdx.z" || t == "vthread" || t == "vthread.x" || t == "vthread.y" || t == "vthread.z";
}

struct ForNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::For;
  Var loop_var;
  Expr min, extent;
  ForKind for_kind;
  std::string thread_tag;
  Stmt body;
  Annotations annotations;
  ForNode(Var v, Expr mn, Expr ext, ForKind k, Stmt b, std::string tag = {}, Annotations ann = {})
      : StmtNode(kKind), loop_var(std::move(v)), min(std::move(mn)), extent(std::move(ext)), for_kind(k),
        thread_tag(std::move(tag)), body(std::move(b)), annotations(std::move(ann)) {}
};

struct BufferStoreNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::BufferStore;
  Buffer buffer;
  Expr value;
  std::vector<Expr> indices;
  BufferStoreNode(Buffer b, Expr v, std::vector<Expr> i)
      : StmtNode(kKind), buffer(std::move(b)), value(std::move(v)), indices(std::move(i)) {}
};

// Allocates `buffer` (in its storage scope) for the duration of `body`.
struct AllocateNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::Allocate;
  Buffer buffer;
  Stmt body;
  AllocateNode(Buffer b, Stmt s) : StmtNode(kKind), buffer(std::move(b)), body(std::move(s)) {}
};

struct IfThenElseNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::IfThenElse;
  Expr cond;
  Stmt then_case, else_case;  // else_case may be undefined
  IfThenElseNode(Expr c, Stmt t, Stmt e) : StmtNode(kKind), cond(std::move(c)), then_case(std::move(t)), else_case(std::move(e)) {}
};

struct SeqStmtNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::Seq;
  std::vector<Stmt> seq;
  explicit SeqStmtNode(std::vector<Stmt> s) : StmtNode(kKind), seq(std::move(s)) {}
};

struct LetStmtNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::LetStmt;
  Var var;
  Expr value;
  Stmt body;
  LetStmtNode(Var v, Expr val, Stmt b) : StmtNode(kKind), var(std::move(v)), value(std::move(val)), body(std::move(b)) {}
};

struct EvaluateNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::Evaluate;
  Expr value;
  explicit EvaluateNode(Expr v) : StmtNode(kKind), value(std::move(v)) {}
};

// A TensorIR block: an isolated unit of computation over its iteration variables. It declares
// what it reads and writes, an optional `init` run at the first iteration of its reduction
// variables, and buffers that live only inside it.
struct BlockNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::Block;
  std::string name;
  std::vector<IterVar> iter_vars;
  std::vector<BufferRegion> reads, writes;
  Stmt init;  // may be undefined
  Stmt body;
  std::vector<Buffer> alloc_buffers;
  Annotations annotations;
  BlockNode() : StmtNode(kKind) {}
};
class Block : public Stmt {
 public:
  Block() = default;
  explicit Block(std::shared_ptr<const BlockNode> p) : Stmt(std::move(p)) {}
  const BlockNode* get() const { return static_cast<const BlockNode*>(Stmt::get()); }
  const BlockNode* operator->() const { return get(); }
};

// Executes `block` with its iteration variables bound to `iter_values`, when `predicate` holds.
struct BlockRealizeNode : StmtNode {
  static constexpr StmtKind kKind = StmtKind::BlockRealize;
  std::vector<Expr> iter_values;
  Expr predicate;
  Block block;
  BlockRealizeNode(std::vector<Expr> v, Expr p, Block b)
      : StmtNode(kKind), iter_values(std::move(v)), predicate(std::move(p)), block(std::move(b)) {}
};

}  // namespace kiln::ir
