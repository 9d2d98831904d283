// kiln/ir/structural.hpp: structural equality, hashing and diff of IR, up to renaming.
//
// Two pieces of IR are structurally equal when they have the same shape, types, constants,
// operators, loop kinds, thread tags, block names, annotations and buffer fields, and their
// variables correspond one to one. Variables and buffers in defining positions (function params
// and their buffers' shape variables, loop vars, let vars, block and reduction iter vars, block
// alloc_buffers, Allocate buffers) are matched by position, so names never matter; a variable used
// without a definition is compared by identity. A buffer is matched the first time it is met, by
// its fields (views used without a definition included). structural_hash agrees with equality:
// it numbers definitions in the order a comparison would meet them. Floats compare by bits
// (-0.0 differs from 0.0), except that every NaN equals every NaN.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/ir/function.hpp"
#include "kiln/ir/printer.hpp"

namespace kiln::ir {
namespace structural_detail {

inline const char* stmt_kind_name(StmtKind k) {
  static const char* names[] = {"for", "store", "allocate", "if", "seq", "let", "evaluate", "block", "block_realize"};
  return names[int(k)];
}
inline const char* expr_kind_name(ExprKind k) {
  static const char* names[] = {"Var",  "IntImm", "FloatImm", "StringImm", "Binary", "Not",  "Select",
                                "Cast", "Call",   "BufferLoad", "Ramp",    "Broadcast", "Let", "Reduce"};
  return names[int(k)];
}
inline bool float_bits_equal(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

class Comparer {
 public:
  explicit Comparer(bool want_diff) : want_diff_(want_diff) {}
  std::optional<std::string> diff;

  bool func(const PrimFunc& a, const PrimFunc& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() || fail(defined(a), defined(b));
    if (a->name != b->name) return at("name").fail(a->name, b->name);
    if (a->params.size() != b->params.size())
      return at("params.size").fail(std::to_string(a->params.size()), std::to_string(b->params.size()));
    for (size_t i = 0; i < a->params.size(); ++i) {
      Seg s(this, "params[" + std::to_string(i) + "]");
      const Buffer& ba = i < a->param_buffers.size() ? a->param_buffers[i] : Buffer();
      const Buffer& bb = i < b->param_buffers.size() ? b->param_buffers[i] : Buffer();
      if (ba.defined() != bb.defined())
        return fail(ba.defined() ? "buffer " + ba->name : "scalar " + a->params[i]->name,
                    bb.defined() ? "buffer " + bb->name : "scalar " + b->params[i]->name);
      if (!def_var(a->params[i], b->params[i])) return false;
      if (ba.defined() && !define_buffer(ba, bb)) return false;
    }
    if (!annotations(a->attrs, b->attrs, "attrs")) return false;
    Seg s(this, "body");
    return stmt(a->body, b->body);
  }

  bool expr(const Expr& a, const Expr& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() || fail(to_text(a), to_text(b));
    if (a.kind() != b.kind()) return fail(to_text(a), to_text(b));
    if (a.dtype() != b.dtype()) return at("dtype").fail(a.dtype().str(), b.dtype().str());
    switch (a.kind()) {
      case ExprKind::Var: return use_var(a.as<VarNode>(), b.as<VarNode>());
      case ExprKind::IntImm:
        return a.as<IntImmNode>()->value == b.as<IntImmNode>()->value || fail(to_text(a), to_text(b));
      case ExprKind::FloatImm:
        return float_bits_equal(a.as<FloatImmNode>()->value, b.as<FloatImmNode>()->value) || fail(to_text(a), to_text(b));
      case ExprKind::StringImm:
        return a.as<StringImmNode>()->value == b.as<StringImmNode>()->value || fail(to_text(a), to_text(b));
      case ExprKind::Binary: {
        auto *x = a.as<BinaryNode>(), *y = b.as<BinaryNode>();
        if (x->op != y->op) return fail(to_text(a), to_text(b));
        return field("a", x->a, y->a) && field("b", x->b, y->b);
      }
      case ExprKind::Not: return field("a", a.as<NotNode>()->a, b.as<NotNode>()->a);
      case ExprKind::Select: {
        auto *x = a.as<SelectNode>(), *y = b.as<SelectNode>();
        return field("cond", x->cond, y->cond) && field("true_value", x->true_value, y->true_value) &&
               field("false_value", x->false_value, y->false_value);
      }
      case ExprKind::Cast: return field("value", a.as<CastNode>()->value, b.as<CastNode>()->value);
      case ExprKind::Call: {
        auto *x = a.as<CallNode>(), *y = b.as<CallNode>();
        if (x->op != y->op) return at("op").fail(x->op, y->op);
        return exprs("args", x->args, y->args);
      }
      case ExprKind::BufferLoad: {
        auto *x = a.as<BufferLoadNode>(), *y = b.as<BufferLoadNode>();
        return use_buffer(x->buffer, y->buffer) && exprs("indices", x->indices, y->indices);
      }
      case ExprKind::Ramp: {
        auto *x = a.as<RampNode>(), *y = b.as<RampNode>();
        if (x->lanes != y->lanes) return at("lanes").fail(std::to_string(x->lanes), std::to_string(y->lanes));
        return field("base", x->base, y->base) && field("stride", x->stride, y->stride);
      }
      case ExprKind::Broadcast: {
        auto *x = a.as<BroadcastNode>(), *y = b.as<BroadcastNode>();
        if (x->lanes != y->lanes) return at("lanes").fail(std::to_string(x->lanes), std::to_string(y->lanes));
        return field("value", x->value, y->value);
      }
      case ExprKind::Let: {
        auto *x = a.as<LetNode>(), *y = b.as<LetNode>();
        return field("value", x->value, y->value) && def_var(x->var, y->var) && field("body", x->body, y->body);
      }
      case ExprKind::Reduce: {
        auto *x = a.as<ReduceNode>(), *y = b.as<ReduceNode>();
        if (x->op != y->op) return at("op").fail(reduce_op_name(x->op), reduce_op_name(y->op));
        if (!iter_vars("axes", x->axes, y->axes)) return false;
        return field("source", x->source, y->source) && field("condition", x->condition, y->condition);
      }
    }
    return true;
  }

  bool stmt(const Stmt& a, const Stmt& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() || fail(defined(a), defined(b));
    if (a.kind() != b.kind()) return fail(stmt_kind_name(a.kind()), stmt_kind_name(b.kind()));
    switch (a.kind()) {
      case StmtKind::For: {
        auto *x = a.as<ForNode>(), *y = b.as<ForNode>();
        Seg s(this, want_diff_ ? "for(" + x->loop_var->name + ")" : "");
        if (x->for_kind != y->for_kind) return at("kind").fail(for_kind_name(x->for_kind), for_kind_name(y->for_kind));
        if (x->thread_tag != y->thread_tag) return at("thread_tag").fail(q(x->thread_tag), q(y->thread_tag));
        if (!field("min", x->min, y->min) || !field("extent", x->extent, y->extent)) return false;
        if (!annotations(x->annotations, y->annotations, "annotations")) return false;
        if (!def_var(x->loop_var, y->loop_var)) return false;
        Seg body(this, "body");
        return stmt(x->body, y->body);
      }
      case StmtKind::BufferStore: {
        auto *x = a.as<BufferStoreNode>(), *y = b.as<BufferStoreNode>();
        Seg s(this, want_diff_ && x->buffer.defined() ? "store(" + x->buffer->name + ")" : "store");
        return use_buffer(x->buffer, y->buffer) && exprs("indices", x->indices, y->indices) &&
               field("value", x->value, y->value);
      }
      case StmtKind::Allocate: {
        auto *x = a.as<AllocateNode>(), *y = b.as<AllocateNode>();
        Seg s(this, want_diff_ && x->buffer.defined() ? "allocate(" + x->buffer->name + ")" : "allocate");
        if (!define_buffer(x->buffer, y->buffer)) return false;
        Seg body(this, "body");
        return stmt(x->body, y->body);
      }
      case StmtKind::IfThenElse: {
        auto *x = a.as<IfThenElseNode>(), *y = b.as<IfThenElseNode>();
        Seg s(this, "if");
        if (!field("cond", x->cond, y->cond)) return false;
        {
          Seg t(this, "then");
          if (!stmt(x->then_case, y->then_case)) return false;
        }
        Seg e(this, "else");
        return stmt(x->else_case, y->else_case);
      }
      case StmtKind::Seq: {
        auto &x = a.as<SeqStmtNode>()->seq, &y = b.as<SeqStmtNode>()->seq;
        if (x.size() != y.size()) return at("seq.size").fail(std::to_string(x.size()), std::to_string(y.size()));
        for (size_t i = 0; i < x.size(); ++i) {
          Seg s(this, want_diff_ ? "seq[" + std::to_string(i) + "]" : "");
          if (!stmt(x[i], y[i])) return false;
        }
        return true;
      }
      case StmtKind::LetStmt: {
        auto *x = a.as<LetStmtNode>(), *y = b.as<LetStmtNode>();
        Seg s(this, want_diff_ ? "let(" + x->var->name + ")" : "");
        if (!field("value", x->value, y->value) || !def_var(x->var, y->var)) return false;
        Seg body(this, "body");
        return stmt(x->body, y->body);
      }
      case StmtKind::Evaluate: return field("evaluate", a.as<EvaluateNode>()->value, b.as<EvaluateNode>()->value);
      case StmtKind::Block: {
        auto *x = a.as<BlockNode>(), *y = b.as<BlockNode>();
        Seg s(this, want_diff_ ? "block(" + x->name + ")" : "");
        return block(*x, *y);
      }
      case StmtKind::BlockRealize: {
        auto *x = a.as<BlockRealizeNode>(), *y = b.as<BlockRealizeNode>();
        if (!x->block.defined() || !y->block.defined())
          return x->block.defined() == y->block.defined() || fail(defined(x->block), defined(y->block));
        Seg s(this, want_diff_ ? "block(" + x->block->name + ")" : "");
        if (x->block->name != y->block->name) return at("name").fail(q(x->block->name), q(y->block->name));
        if (!exprs("iter_values", x->iter_values, y->iter_values)) return false;
        if (!field("predicate", x->predicate, y->predicate)) return false;
        return block(*x->block.get(), *y->block.get());
      }
    }
    return true;
  }

  bool module(const IRModule& a, const IRModule& b) {
    auto &fa = a.functions(), &fb = b.functions();
    auto ia = fa.begin(), ib = fb.begin();
    for (; ia != fa.end() && ib != fb.end(); ++ia, ++ib) {
      if (ia->first != ib->first) return fail("function " + ia->first, "function " + ib->first);
      Seg s(this, ia->first);
      const BaseFunc &x = ia->second, &y = ib->second;
      bool prim_x = x.defined() && x->kind == FuncKind::Prim, prim_y = y.defined() && y->kind == FuncKind::Prim;
      if (prim_x && prim_y) {
        lv_.clear(); rv_.clear(); lb_.clear(); rb_.clear();
        if (!func(PrimFunc(std::static_pointer_cast<const PrimFuncNode>(x.ptr())),
                  PrimFunc(std::static_pointer_cast<const PrimFuncNode>(y.ptr()))))
          return false;
      } else if (!x.same_as(y)) {
        return fail("a function", "a different function");
      }
    }
    if (ia != fa.end()) return fail("function " + ia->first, "nothing");
    if (ib != fb.end()) return fail("nothing", "function " + ib->first);
    return true;
  }

 private:
  // A path segment, popped when it goes out of scope.
  struct Seg {
    Comparer* c;
    bool pushed;
    Seg(Comparer* cmp, std::string s) : c(cmp), pushed(cmp->want_diff_ && !s.empty()) {
      if (pushed) c->path_.push_back(std::move(s));
    }
    ~Seg() {
      if (pushed) c->path_.pop_back();
    }
    Seg(const Seg&) = delete;
    Seg& operator=(const Seg&) = delete;
  };
  // Records a mismatch at path_ + `last` (used as at("x").fail(a, b)).
  struct At {
    Comparer* c;
    const char* last;
    bool fail(const std::string& a, const std::string& b) const {
      if (c->want_diff_) {
        c->path_.push_back(last);
        c->fail(a, b);
        c->path_.pop_back();
      }
      return false;
    }
  };
  At at(const char* last) { return {this, last}; }
  bool fail(const std::string& a, const std::string& b) {
    if (want_diff_ && !diff) {
      std::string p;
      for (auto& s : path_) p += (p.empty() ? "" : ".") + s;
      diff = (p.empty() ? std::string("(root)") : p) + ": " + a + " vs " + b;
    }
    return false;
  }
  template <typename R>
  static std::string defined(const R& r) { return r.defined() ? "defined" : "undefined"; }
  static std::string q(const std::string& s) { return printer_detail::quote(s); }

  bool field(const char* name, const Expr& a, const Expr& b) {
    Seg s(this, name);
    return expr(a, b);
  }
  bool exprs(const char* name, const std::vector<Expr>& a, const std::vector<Expr>& b) {
    if (a.size() != b.size()) {
      Seg s(this, name);
      return at("size").fail(std::to_string(a.size()), std::to_string(b.size()));
    }
    for (size_t i = 0; i < a.size(); ++i) {
      Seg s(this, want_diff_ ? std::string(name) + "[" + std::to_string(i) + "]" : "");
      if (!expr(a[i], b[i])) return false;
    }
    return true;
  }
  bool annotations(const Annotations& a, const Annotations& b, const char* name) {
    Seg s(this, name);
    auto ia = a.begin(), ib = b.begin();
    for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
      if (ia->first != ib->first) return fail("key " + q(ia->first), "key " + q(ib->first));
      Seg k(this, want_diff_ ? "[" + q(ia->first) + "]" : "");
      if (!expr(ia->second, ib->second)) return false;
    }
    if (ia != a.end()) return fail("key " + q(ia->first), "nothing");
    if (ib != b.end()) return fail("nothing", "key " + q(ib->first));
    return true;
  }
  bool iter_vars(const char* name, const std::vector<IterVar>& a, const std::vector<IterVar>& b) {
    if (a.size() != b.size()) {
      Seg s(this, name);
      return at("size").fail(std::to_string(a.size()), std::to_string(b.size()));
    }
    for (size_t i = 0; i < a.size(); ++i) {
      Seg s(this, want_diff_ ? std::string(name) + "[" + std::to_string(i) + "]" : "");
      if (a[i].kind != b[i].kind) return at("kind").fail(iter_kind_name(a[i].kind), iter_kind_name(b[i].kind));
      if (a[i].thread_tag != b[i].thread_tag) return at("thread_tag").fail(q(a[i].thread_tag), q(b[i].thread_tag));
      if (!field("min", a[i].dom.min, b[i].dom.min) || !field("extent", a[i].dom.extent, b[i].dom.extent)) return false;
      if (!def_var(a[i].var, b[i].var)) return false;
    }
    return true;
  }
  bool block(const BlockNode& x, const BlockNode& y) {
    if (x.name != y.name) return at("name").fail(q(x.name), q(y.name));
    if (!iter_vars("iter_vars", x.iter_vars, y.iter_vars)) return false;
    if (x.alloc_buffers.size() != y.alloc_buffers.size())
      return at("alloc_buffers.size").fail(std::to_string(x.alloc_buffers.size()), std::to_string(y.alloc_buffers.size()));
    for (size_t i = 0; i < x.alloc_buffers.size(); ++i) {
      Seg s(this, want_diff_ ? "alloc_buffers[" + std::to_string(i) + "]" : "");
      if (!define_buffer(x.alloc_buffers[i], y.alloc_buffers[i])) return false;
    }
    for (auto [name, ra, rb] : {std::tuple{"reads", &x.reads, &y.reads}, std::tuple{"writes", &x.writes, &y.writes}}) {
      if (ra->size() != rb->size()) {
        Seg s(this, name);
        return at("size").fail(std::to_string(ra->size()), std::to_string(rb->size()));
      }
      for (size_t i = 0; i < ra->size(); ++i) {
        Seg s(this, want_diff_ ? std::string(name) + "[" + std::to_string(i) + "]" : "");
        auto &p = (*ra)[i], &r = (*rb)[i];
        if (!use_buffer(p.buffer, r.buffer)) return false;
        if (p.region.size() != r.region.size())
          return at("region.size").fail(std::to_string(p.region.size()), std::to_string(r.region.size()));
        for (size_t d = 0; d < p.region.size(); ++d) {
          Seg dim(this, want_diff_ ? "region[" + std::to_string(d) + "]" : "");
          if (!field("min", p.region[d].min, r.region[d].min) || !field("extent", p.region[d].extent, r.region[d].extent))
            return false;
        }
      }
    }
    if (!annotations(x.annotations, y.annotations, "annotations")) return false;
    {
      Seg s(this, "init");
      if (!stmt(x.init, y.init)) return false;
    }
    Seg s(this, "body");
    return stmt(x.body, y.body);
  }

  // ---- variables and buffers ------------------------------------------------------------------
  bool def_var(const Var& a, const Var& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() || fail(defined(a), defined(b));
    if (a.dtype() != b.dtype()) return at("dtype").fail(a->name + ": " + a.dtype().str(), b->name + ": " + b.dtype().str());
    lv_[a.get()] = b.get();
    rv_[b.get()] = a.get();
    return true;
  }
  bool use_var(const VarNode* a, const VarNode* b) {
    if (auto it = lv_.find(a); it != lv_.end()) {
      if (it->second == b) return true;
      return fail(a->name, b->name + (a->name == b->name ? " (a different variable)" : ""));
    }
    if (rv_.count(b)) return fail(a->name, b->name + (a->name == b->name ? " (a different variable)" : ""));
    if (binding_sig_) {
      lv_[a] = b;
      rv_[b] = a;
      return true;
    }
    if (a == b) return true;
    return fail(a->name, b->name + (a->name == b->name ? " (a different free variable)" : " (free variables)"));
  }
  // Variables in a buffer's fields that neither side has met yet are defined there (shape
  // variables such as n in a parameter of shape (n + 2,)).
  bool sig_expr(const char* name, const Expr& a, const Expr& b) {
    Seg s(this, name);
    bool saved = binding_sig_;
    binding_sig_ = true;
    bool eq = expr(a, b);
    binding_sig_ = saved;
    return eq;
  }
  bool use_buffer(const Buffer& a, const Buffer& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() || fail(defined(a), defined(b));
    if (auto it = lb_.find(a.get()); it != lb_.end())
      return it->second == b.get() || fail("buffer " + a->name, "buffer " + b->name + " (a different buffer)");
    if (rb_.count(b.get())) return fail("buffer " + a->name, "buffer " + b->name + " (a different buffer)");
    return define_buffer(a, b);
  }
  bool define_buffer(const Buffer& a, const Buffer& b) {
    if (!a.defined() || !b.defined()) return a.defined() == b.defined() || fail(defined(a), defined(b));
    Seg s(this, want_diff_ ? "buffer(" + a->name + ")" : "");
    lb_[a.get()] = b.get();
    rb_[b.get()] = a.get();
    if (a->dtype != b->dtype) return at("dtype").fail(a->dtype.str(), b->dtype.str());
    if (a->scope != b->scope) return at("scope").fail(q(a->scope), q(b->scope));
    if (a->align_bytes != b->align_bytes)
      return at("align_bytes").fail(std::to_string(a->align_bytes), std::to_string(b->align_bytes));
    if (a->shape.size() != b->shape.size())
      return at("ndim").fail(std::to_string(a->shape.size()), std::to_string(b->shape.size()));
    if (a->strides.size() != b->strides.size())
      return at("strides.size").fail(std::to_string(a->strides.size()), std::to_string(b->strides.size()));
    for (size_t i = 0; i < a->shape.size(); ++i)
      if (!sig_expr(want_diff_ ? ("shape[" + std::to_string(i) + "]").c_str() : "", a->shape[i], b->shape[i])) return false;
    for (size_t i = 0; i < a->strides.size(); ++i)
      if (!sig_expr("strides", a->strides[i], b->strides[i])) return false;
    return sig_expr("elem_offset", a->elem_offset, b->elem_offset) && sig_expr("data", a->data, b->data);
  }

  bool want_diff_;
  bool binding_sig_ = false;  // inside a buffer's fields: unmet variables are defined
  std::vector<std::string> path_;
  std::unordered_map<const VarNode*, const VarNode*> lv_, rv_;
  std::unordered_map<const BufferNode*, const BufferNode*> lb_, rb_;
};

// Hashes in the order Comparer compares; definitions are numbered, free variables hash by identity.
class Hasher {
 public:
  uint64_t h = 0x6b696c6e;  // "kiln"

  void mix(uint64_t v) {
    v *= 0x9e3779b97f4a7c15ull;
    v ^= v >> 29;
    h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  void mix(const std::string& s) { mix(std::hash<std::string>()(s)); }
  void mix(DataType t) { mix(uint64_t(t.code) << 32 | uint64_t(t.bits) << 16 | t.lanes); }

  void func(const PrimFunc& f) {
    if (!f.defined()) return mix(0);
    mix(f->name);
    mix(f->params.size());
    for (size_t i = 0; i < f->params.size(); ++i) {
      def_var(f->params[i]);
      if (i < f->param_buffers.size() && f->param_buffers[i].defined()) define_buffer(f->param_buffers[i]);
    }
    annotations(f->attrs);
    stmt(f->body);
  }
  void expr(const Expr& e) {
    if (!e.defined()) return mix(1);
    mix(uint64_t(e.kind()) + 100);
    mix(e.dtype());
    switch (e.kind()) {
      case ExprKind::Var: return use_var(e.as<VarNode>());
      case ExprKind::IntImm: return mix(uint64_t(e.as<IntImmNode>()->value));
      case ExprKind::FloatImm: {
        double v = e.as<FloatImmNode>()->value;
        return mix(std::isnan(v) ? 0x7ff8000000000000ull : std::bit_cast<uint64_t>(v));
      }
      case ExprKind::StringImm: return mix(e.as<StringImmNode>()->value);
      case ExprKind::Binary: {
        auto* n = e.as<BinaryNode>();
        mix(uint64_t(n->op));
        expr(n->a);
        return expr(n->b);
      }
      case ExprKind::Not: return expr(e.as<NotNode>()->a);
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        expr(n->cond);
        expr(n->true_value);
        return expr(n->false_value);
      }
      case ExprKind::Cast: return expr(e.as<CastNode>()->value);
      case ExprKind::Call: {
        auto* n = e.as<CallNode>();
        mix(n->op);
        return exprs(n->args);
      }
      case ExprKind::BufferLoad: {
        auto* n = e.as<BufferLoadNode>();
        use_buffer(n->buffer);
        return exprs(n->indices);
      }
      case ExprKind::Ramp: {
        auto* n = e.as<RampNode>();
        mix(uint64_t(n->lanes));
        expr(n->base);
        return expr(n->stride);
      }
      case ExprKind::Broadcast: {
        auto* n = e.as<BroadcastNode>();
        mix(uint64_t(n->lanes));
        return expr(n->value);
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        expr(n->value);
        def_var(n->var);
        return expr(n->body);
      }
      case ExprKind::Reduce: {
        auto* n = e.as<ReduceNode>();
        mix(uint64_t(n->op));
        iter_vars(n->axes);
        expr(n->source);
        return expr(n->condition);
      }
    }
  }
  void stmt(const Stmt& s) {
    if (!s.defined()) return mix(2);
    mix(uint64_t(s.kind()) + 200);
    switch (s.kind()) {
      case StmtKind::For: {
        auto* n = s.as<ForNode>();
        mix(uint64_t(n->for_kind));
        mix(n->thread_tag);
        expr(n->min);
        expr(n->extent);
        annotations(n->annotations);
        def_var(n->loop_var);
        return stmt(n->body);
      }
      case StmtKind::BufferStore: {
        auto* n = s.as<BufferStoreNode>();
        use_buffer(n->buffer);
        exprs(n->indices);
        return expr(n->value);
      }
      case StmtKind::Allocate: {
        auto* n = s.as<AllocateNode>();
        define_buffer(n->buffer);
        return stmt(n->body);
      }
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        expr(n->cond);
        stmt(n->then_case);
        return stmt(n->else_case);
      }
      case StmtKind::Seq: {
        auto& seq = s.as<SeqStmtNode>()->seq;
        mix(seq.size());
        for (auto& x : seq) stmt(x);
        return;
      }
      case StmtKind::LetStmt: {
        auto* n = s.as<LetStmtNode>();
        expr(n->value);
        def_var(n->var);
        return stmt(n->body);
      }
      case StmtKind::Evaluate: return expr(s.as<EvaluateNode>()->value);
      case StmtKind::Block: return block(*s.as<BlockNode>());
      case StmtKind::BlockRealize: {
        auto* n = s.as<BlockRealizeNode>();
        if (!n->block.defined()) return mix(3);
        mix(n->block->name);
        exprs(n->iter_values);
        expr(n->predicate);
        return block(*n->block.get());
      }
    }
  }
  void module(const IRModule& m) {
    for (auto& [name, f] : m.functions()) {
      mix(name);
      vars_.clear();
      bufs_.clear();
      if (f.defined() && f->kind == FuncKind::Prim) func(PrimFunc(std::static_pointer_cast<const PrimFuncNode>(f.ptr())));
      else mix(std::hash<const void*>()(f.get()));
    }
  }

 private:
  void exprs(const std::vector<Expr>& es) {
    mix(es.size());
    for (auto& e : es) expr(e);
  }
  void annotations(const Annotations& a) {
    mix(a.size());
    for (auto& [k, v] : a) {
      mix(k);
      expr(v);
    }
  }
  void iter_vars(const std::vector<IterVar>& ivs) {
    mix(ivs.size());
    for (auto& iv : ivs) {
      mix(uint64_t(iv.kind));
      mix(iv.thread_tag);
      expr(iv.dom.min);
      expr(iv.dom.extent);
      def_var(iv.var);
    }
  }
  void block(const BlockNode& b) {
    mix(b.name);
    iter_vars(b.iter_vars);
    mix(b.alloc_buffers.size());
    for (auto& buf : b.alloc_buffers) define_buffer(buf);
    for (auto* regions : {&b.reads, &b.writes}) {
      mix(regions->size());
      for (auto& r : *regions) {
        use_buffer(r.buffer);
        mix(r.region.size());
        for (auto& rg : r.region) {
          expr(rg.min);
          expr(rg.extent);
        }
      }
    }
    annotations(b.annotations);
    stmt(b.init);
    stmt(b.body);
  }
  void def_var(const Var& v) {
    if (!v.defined()) return mix(4);
    mix(v.dtype());
    vars_[v.get()] = next_++;
  }
  void use_var(const VarNode* v) {
    if (auto it = vars_.find(v); it != vars_.end()) return mix(it->second);
    if (binding_sig_) {
      vars_[v] = next_;
      return mix(next_++);
    }
    mix(0xf4ee);
    mix(std::hash<const void*>()(v));
  }
  void sig_expr(const Expr& e) {
    bool saved = binding_sig_;
    binding_sig_ = true;
    expr(e);
    binding_sig_ = saved;
  }
  void use_buffer(const Buffer& b) {
    if (!b.defined()) return mix(5);
    if (auto it = bufs_.find(b.get()); it != bufs_.end()) return mix(it->second);
    define_buffer(b);
  }
  void define_buffer(const Buffer& b) {
    if (!b.defined()) return mix(5);
    bufs_[b.get()] = next_++;
    mix(b->dtype);
    mix(b->scope);
    mix(uint64_t(b->align_bytes));
    mix(b->shape.size());
    mix(b->strides.size());
    for (auto& e : b->shape) sig_expr(e);
    for (auto& e : b->strides) sig_expr(e);
    sig_expr(b->elem_offset);
    sig_expr(b->data);
  }

  uint64_t next_ = 1;
  bool binding_sig_ = false;
  std::unordered_map<const VarNode*, uint64_t> vars_;
  std::unordered_map<const BufferNode*, uint64_t> bufs_;
};

}  // namespace structural_detail

inline bool structural_equal(const Expr& a, const Expr& b) { return structural_detail::Comparer(false).expr(a, b); }
inline bool structural_equal(const Stmt& a, const Stmt& b) { return structural_detail::Comparer(false).stmt(a, b); }
inline bool structural_equal(const PrimFunc& a, const PrimFunc& b) { return structural_detail::Comparer(false).func(a, b); }
inline bool structural_equal(const IRModule& a, const IRModule& b) { return structural_detail::Comparer(false).module(a, b); }

inline size_t structural_hash(const Expr& e) {
  structural_detail::Hasher h;
  h.expr(e);
  return size_t(h.h);
}
inline size_t structural_hash(const Stmt& s) {
  structural_detail::Hasher h;
  h.stmt(s);
  return size_t(h.h);
}
inline size_t structural_hash(const PrimFunc& f) {
  structural_detail::Hasher h;
  h.func(f);
  return size_t(h.h);
}
inline size_t structural_hash(const IRModule& m) {
  structural_detail::Hasher h;
  h.module(m);
  return size_t(h.h);
}

// std::nullopt when equal; otherwise the path to the first mismatch and both sides, e.g.
// "body.block(root).body.seq[1].for(i).extent: 128 vs 64".
namespace structural_detail {
template <typename T>
std::optional<std::string> diff(const T& a, const T& b) {
  Comparer c(true);
  bool eq;
  if constexpr (std::is_same_v<T, PrimFunc>) eq = c.func(a, b);
  else if constexpr (std::is_same_v<T, IRModule>) eq = c.module(a, b);
  else if constexpr (std::is_same_v<T, Stmt>) eq = c.stmt(a, b);
  else eq = c.expr(a, b);
  if (eq) return std::nullopt;
  return c.diff ? c.diff : std::optional<std::string>("(root): differ");
}
}  // namespace structural_detail

inline std::optional<std::string> structural_diff(const Expr& a, const Expr& b) { return structural_detail::diff(a, b); }
inline std::optional<std::string> structural_diff(const Stmt& a, const Stmt& b) { return structural_detail::diff(a, b); }
inline std::optional<std::string> structural_diff(const PrimFunc& a, const PrimFunc& b) {
  return structural_detail::diff(a, b);
}
inline std::optional<std::string> structural_diff(const IRModule& a, const IRModule& b) {
  return structural_detail::diff(a, b);
}

}  // namespace kiln::ir
