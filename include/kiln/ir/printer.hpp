// kiln/ir/printer.hpp: prints IR as TVMScript-like text that ir::parse_prim_func reads back exactly.
//
// The text carries everything: every node kind, every dtype that is not the default (int64 for
// integers, the operand's type for math calls), buffer fields that differ from their defaults, loop
// kinds, thread tags and annotations. Distinct variables or buffers that share a name hint print
// with suffixes (i, i_1, ...), so the parsed IR is structurally equal to the printed one.
//
// kiln conventions where TVMScript has none (the parser reads exactly these):
//   for i in T.serial(min, extent, thread="...", annotations={...}, dtype="int32"):   (extent, not stop)
//   vi = T.axis.spatial(extent, value, min=m, thread="...", dtype="int32")            (block iter var)
//   x: T.int32 = value            LetStmt whose body is the rest of the enclosing statement list
//   with T.LetStmt(x: T.int32 = value):     LetStmt followed by more statements of the outer list
//   with T.allocate((64,), "float32", scope="local") as B:                            Allocate
//   with T.seq():                 a SeqStmt that a flat statement list cannot express (nested, < 2)
//   A_1 = T.Buffer((16,), "float32", data=A.data)   a buffer used but never defined (a view)
//   T.Let(x: T.int64 = value, body)   T.Reduce("sum", [k: T.axis.reduce(16)], source, where=cond)
//   Div prints as `/` on floats and T.truncdiv on integers; Mod as T.truncmod; FloorDiv `//`; FloorMod `%`.
//   Regions: `A[i]` (extent 1), `A[0:e]`, `A[3:8]` (constants), `A[m:m + e]`, else `A[T.Range(min, extent)]`.
//   with T.block("b", no_realize=True):   a Block that is not under a BlockRealize
//   @T.prim_func(name="...", key="...")  a function name or module key that is not the def name
// to_text(Stmt) and to_text(Expr) print just that node (no declarations), for messages and dumps.
// Not printable: Relax functions in an IRModule (a comment stands in; parse_module drops it).
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "kiln/ir/function.hpp"
#include "kiln/ir/intrinsics.hpp"
#include "kiln/ir/op.hpp"

namespace kiln::ir {
namespace printer_detail {

inline bool is_reserved_word(std::string_view s) {
  static const std::unordered_set<std::string_view> words = {
      "T",      "I",     "and",   "as",   "assert", "break",  "class",  "continue", "def",   "del",   "elif",
      "else",   "except", "finally", "for", "from",  "global", "if",     "import",   "in",    "is",    "lambda",
      "nonlocal", "not", "or",    "pass", "raise",  "return", "try",    "while",    "with",  "yield", "True",
      "False",  "None"};
  return words.count(s) != 0;
}

inline bool is_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return !is_reserved_word(s);
}

// A legal identifier derived from a name hint ("my-var" -> "my_var", "" -> "v", "in" -> "in_").
inline std::string sanitize(std::string_view hint) {
  std::string s;
  for (char c : hint)
    s += ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') ? c : '_';
  if (s.empty()) s = "v";
  if (s[0] >= '0' && s[0] <= '9') s = "v" + s;
  if (is_reserved_word(s)) s += "_";
  return s;
}

inline std::string quote(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') out += std::string("\\") + ch;
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c >= 0x7f) out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    else out += ch;
  }
  return out + "\"";
}

// Shortest text that reads back as the identical double; non-finite values are quoted.
inline std::string format_double(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

inline bool is_index_const(const Expr& e, int64_t v) {
  auto* i = as_int_imm(e);
  return i && i->value == v && e.dtype() == DataType::int_(64);
}
inline bool is_true_const(const Expr& e) {
  auto* i = as_int_imm(e);
  return i && i->value == 1 && e.dtype() == DataType::boolean();
}

// Operator precedence, loosest first (Python's).
enum Prec : int { kOr = 1, kAnd, kNot, kCmp, kAdd, kMul, kAtom };

inline const char* infix(BinaryOp op, DataType t, int* prec) {
  switch (op) {
    case BinaryOp::Add: *prec = kAdd; return "+";
    case BinaryOp::Sub: *prec = kAdd; return "-";
    case BinaryOp::Mul: *prec = kMul; return "*";
    case BinaryOp::Div: *prec = kMul; return t.is_float() ? "/" : nullptr;
    case BinaryOp::FloorDiv: *prec = kMul; return "//";
    case BinaryOp::FloorMod: *prec = kMul; return "%";
    case BinaryOp::EQ: *prec = kCmp; return "==";
    case BinaryOp::NE: *prec = kCmp; return "!=";
    case BinaryOp::LT: *prec = kCmp; return "<";
    case BinaryOp::LE: *prec = kCmp; return "<=";
    case BinaryOp::GT: *prec = kCmp; return ">";
    case BinaryOp::GE: *prec = kCmp; return ">=";
    case BinaryOp::And: *prec = kAnd; return "and";
    case BinaryOp::Or: *prec = kOr; return "or";
    default: return nullptr;
  }
}
inline const char* call_form(BinaryOp op) {
  switch (op) {
    case BinaryOp::Div: return "T.truncdiv";
    case BinaryOp::Mod: return "T.truncmod";
    case BinaryOp::Min: return "T.min";
    case BinaryOp::Max: return "T.max";
    default: return nullptr;
  }
}

// Which variables and buffers a function uses without defining them, and where each buffer's data
// pointer comes from. Views (buffers used but not defined) are declared at the top of the scope that
// defines their data pointer: the function, an Allocate, or a block with alloc_buffers.
struct Scan {
  std::unordered_set<const VarNode*> defined_vars;
  std::vector<Var> free_vars;
  std::unordered_set<const VarNode*> free_seen;
  std::unordered_set<const BufferNode*> defined_buffers, view_seen;
  std::unordered_map<const VarNode*, Buffer> data_owner;     // data var -> the buffer it prints as X.data
  std::unordered_map<const VarNode*, const void*> data_scope;  // data var -> defining scope (nullptr = top)
  std::unordered_map<const void*, std::vector<Buffer>> views;  // scope -> views declared there, in order

  void def_var(const Var& v) { defined_vars.insert(v.get()); }
  void def_buffer(const Buffer& b, const void* scope) {
    if (!b.defined()) return;
    defined_buffers.insert(b.get());
    buffer_fields(b);
    if (!data_owner.count(b->data.get())) {
      data_owner[b->data.get()] = b;
      data_scope[b->data.get()] = scope;
    }
    def_var(b->data);
  }
  void buffer_fields(const Buffer& b) {
    for (auto& e : b->shape) expr(e);
    for (auto& e : b->strides) expr(e);
    expr(b->elem_offset);
  }
  void use_buffer(const Buffer& b) {
    if (!b.defined() || defined_buffers.count(b.get()) || view_seen.count(b.get())) return;
    view_seen.insert(b.get());
    const void* scope = nullptr;
    if (auto it = data_owner.find(b->data.get()); it != data_owner.end()) {
      scope = data_scope[b->data.get()];
    } else {
      data_owner[b->data.get()] = b;
      data_scope[b->data.get()] = nullptr;
      def_var(b->data);
    }
    views[scope].push_back(b);
    buffer_fields(b);
  }
  void iter_var(const IterVar& iv) {
    expr(iv.dom.min);
    expr(iv.dom.extent);
    def_var(iv.var);
  }
  void annotations(const Annotations& a) {
    for (auto& [k, v] : a) expr(v);
  }
  void expr(const Expr& e) {
    if (!e.defined()) return;
    switch (e.kind()) {
      case ExprKind::Var: {
        auto* v = e.as<VarNode>();
        if (!defined_vars.count(v) && !free_seen.count(v)) {
          free_seen.insert(v);
          free_vars.push_back(Var(std::static_pointer_cast<const VarNode>(e.ptr())));
        }
        return;
      }
      case ExprKind::IntImm: case ExprKind::FloatImm: case ExprKind::StringImm: return;
      case ExprKind::Binary: { auto* n = e.as<BinaryNode>(); expr(n->a); expr(n->b); return; }
      case ExprKind::Not: return expr(e.as<NotNode>()->a);
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        expr(n->cond);
        expr(n->true_value);
        return expr(n->false_value);
      }
      case ExprKind::Cast: return expr(e.as<CastNode>()->value);
      case ExprKind::Call: for (auto& a : e.as<CallNode>()->args) expr(a); return;
      case ExprKind::BufferLoad: {
        auto* n = e.as<BufferLoadNode>();
        use_buffer(n->buffer);
        for (auto& i : n->indices) expr(i);
        return;
      }
      case ExprKind::Ramp: { auto* n = e.as<RampNode>(); expr(n->base); expr(n->stride); return; }
      case ExprKind::Broadcast: return expr(e.as<BroadcastNode>()->value);
      case ExprKind::Let: { auto* n = e.as<LetNode>(); expr(n->value); def_var(n->var); expr(n->body); return; }
      case ExprKind::Reduce: {
        auto* n = e.as<ReduceNode>();
        for (auto& ax : n->axes) iter_var(ax);
        expr(n->source);
        expr(n->condition);
        return;
      }
    }
  }
  void stmt(const Stmt& s) {
    if (!s.defined()) return;
    switch (s.kind()) {
      case StmtKind::For: {
        auto* n = s.as<ForNode>();
        expr(n->min);
        expr(n->extent);
        annotations(n->annotations);
        def_var(n->loop_var);
        return stmt(n->body);
      }
      case StmtKind::BufferStore: {
        auto* n = s.as<BufferStoreNode>();
        use_buffer(n->buffer);
        for (auto& i : n->indices) expr(i);
        return expr(n->value);
      }
      case StmtKind::Allocate: {
        auto* n = s.as<AllocateNode>();
        def_buffer(n->buffer, n);
        return stmt(n->body);
      }
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        expr(n->cond);
        stmt(n->then_case);
        return stmt(n->else_case);
      }
      case StmtKind::Seq: for (auto& x : s.as<SeqStmtNode>()->seq) stmt(x); return;
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
        for (auto& v : n->iter_values) expr(v);
        expr(n->predicate);
        if (n->block.defined()) block(*n->block.get());
        return;
      }
    }
  }
  void block(const BlockNode& b) {
    for (auto& iv : b.iter_vars) iter_var(iv);
    for (auto& buf : b.alloc_buffers) def_buffer(buf, &b);
    for (auto* regions : {&b.reads, &b.writes})
      for (auto& r : *regions) {
        use_buffer(r.buffer);
        for (auto& rg : r.region) { expr(rg.min); expr(rg.extent); }
      }
    annotations(b.annotations);
    stmt(b.init);
    stmt(b.body);
  }
};

class Printer {
 public:
  static constexpr int kIndent = 4;

  // ---- names ----------------------------------------------------------------------------------
  std::string name_of(const void* key, const std::string& hint) {
    if (auto it = names_.find(key); it != names_.end()) return it->second;
    std::string base = sanitize(hint), n = base;
    for (int k = 1; used_.count(n); ++k) n = base + "_" + std::to_string(k);
    used_.insert(n);
    names_[key] = n;
    return n;
  }
  std::string var(const Var& v) { return var_ref(v.get()); }
  std::string var_ref(const VarNode* v) {
    if (auto it = scan_.data_owner.find(v); it != scan_.data_owner.end()) return buffer(it->second) + ".data";
    return name_of(v, v->name);
  }
  std::string buffer(const Buffer& b) { return b.defined() ? name_of(b.get(), b->name) : "None"; }

  // ---- expressions ----------------------------------------------------------------------------
  std::string expr(const Expr& e) { return expr_p(e).first; }
  std::string wrap(const Expr& e, int min_prec) {
    auto [s, p] = expr_p(e);
    return p < min_prec ? "(" + s + ")" : s;
  }
  std::string list(const std::vector<Expr>& es) {
    std::string s;
    for (size_t i = 0; i < es.size(); ++i) s += (i ? ", " : "") + expr(es[i]);
    return s;
  }
  std::string tuple(const std::vector<Expr>& es) { return "(" + list(es) + (es.size() == 1 ? ",)" : ")"); }
  std::string indices(const std::vector<Expr>& es) { return es.empty() ? "()" : list(es); }
  static std::string dtype_kw(DataType t) { return t == DataType::int_(64) ? "" : ", dtype=\"" + t.str() + "\""; }

  std::string int_literal(DataType t, int64_t v) {
    if (t == DataType::int_(64)) return std::to_string(v);
    if (t == DataType::boolean() && (v == 0 || v == 1)) return v ? "True" : "False";
    std::string digits = t.is_uint() && t.bits == 64 ? std::to_string(uint64_t(v)) : std::to_string(v);
    return "T." + t.str() + "(" + digits + ")";
  }

  std::string iter_var_call(const IterVar& iv, const Expr* value) {
    std::string s = std::string("T.axis.") + iter_kind_name(iv.kind) + "(" + expr(iv.dom.extent);
    if (value) s += ", " + expr(*value);
    if (!is_index_const(iv.dom.min, 0)) s += ", min=" + expr(iv.dom.min);
    if (!iv.thread_tag.empty()) s += ", thread=" + quote(iv.thread_tag);
    return s + dtype_kw(iv.var.dtype()) + ")";
  }

  std::pair<std::string, int> expr_p(const Expr& e) {
    if (!e.defined()) return {"None", kAtom};
    switch (e.kind()) {
      case ExprKind::Var: return {var_ref(e.as<VarNode>()), kAtom};
      case ExprKind::IntImm: return {int_literal(e.dtype(), e.as<IntImmNode>()->value), kAtom};
      case ExprKind::FloatImm:
        return {"T." + e.dtype().str() + "(" + format_double(e.as<FloatImmNode>()->value) + ")", kAtom};
      case ExprKind::StringImm: return {quote(e.as<StringImmNode>()->value), kAtom};
      case ExprKind::Binary: {
        auto* n = e.as<BinaryNode>();
        int p = kAtom;
        if (const char* op = infix(n->op, n->a.dtype(), &p)) {
          bool cmp = p == kCmp;  // comparisons do not chain: parenthesize both sides
          return {wrap(n->a, cmp ? p + 1 : p) + " " + op + " " + wrap(n->b, p + 1), p};
        }
        return {std::string(call_form(n->op)) + "(" + expr(n->a) + ", " + expr(n->b) + ")", kAtom};
      }
      case ExprKind::Not: return {"not " + wrap(e.as<NotNode>()->a, kNot), kNot};
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        return {"T.Select(" + expr(n->cond) + ", " + expr(n->true_value) + ", " + expr(n->false_value) + ")", kAtom};
      }
      case ExprKind::Cast: return {"T.Cast(\"" + e.dtype().str() + "\", " + expr(e.as<CastNode>()->value) + ")", kAtom};
      case ExprKind::Call: {
        auto* n = e.as<CallNode>();
        bool short_form = false;
        if (n->op == "if_then_else")
          short_form = n->args.size() == 3 && n->args[1].defined() && n->args[1].dtype() == n->dtype;
        else if (find_intrinsic(n->op))
          short_form = !n->args.empty() && n->args[0].defined() && n->args[0].dtype() == n->dtype;
        if (short_form) return {"T." + n->op + "(" + list(n->args) + ")", kAtom};
        std::string args = n->args.empty() ? "" : ", " + list(n->args);
        return {"T.call(" + quote(n->op) + ", \"" + n->dtype.str() + "\"" + args + ")", kAtom};
      }
      case ExprKind::BufferLoad: {
        auto* n = e.as<BufferLoadNode>();
        std::string s = buffer(n->buffer) + "[" + indices(n->indices) + "]";
        int lanes = 1;
        for (auto& i : n->indices) lanes = std::max<int>(lanes, i.defined() ? i.dtype().lanes : 1);
        if (n->buffer.defined() && n->dtype == n->buffer->dtype.with_lanes(lanes)) return {s, kAtom};
        return {"T.BufferLoad(\"" + n->dtype.str() + "\", " + s + ")", kAtom};
      }
      case ExprKind::Ramp: {
        auto* n = e.as<RampNode>();
        return {"T.Ramp(" + expr(n->base) + ", " + expr(n->stride) + ", " + std::to_string(n->lanes) + ")", kAtom};
      }
      case ExprKind::Broadcast: {
        auto* n = e.as<BroadcastNode>();
        return {"T.Broadcast(" + expr(n->value) + ", " + std::to_string(n->lanes) + ")", kAtom};
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        std::string value = expr(n->value);
        return {"T.Let(" + binding(n->var, value) + ", " + expr(n->body) + ")", kAtom};
      }
      case ExprKind::Reduce: {
        auto* n = e.as<ReduceNode>();
        std::string axes;
        for (auto& ax : n->axes) {
          std::string name = var(ax.var);
          axes += (axes.empty() ? "" : ", ") + name + ": " + iter_var_call(ax, nullptr);
        }
        std::string s = "T.Reduce(\"" + std::string(reduce_op_name(n->op)) + "\", [" + axes + "], " + expr(n->source);
        if (n->condition.defined()) s += ", where=" + expr(n->condition);
        return {s + ")", kAtom};
      }
    }
    return {"None", kAtom};
  }
  std::string binding(const Var& v, const std::string& value) {
    return var(v) + ": T." + v.dtype().str() + " = " + value;
  }

  // ---- buffers, regions, annotations ----------------------------------------------------------
  // The arguments of T.Buffer / T.alloc_buffer / T.allocate; `data` names the owner of a shared pointer.
  std::string buffer_args(const Buffer& b, bool print_data) {
    std::string s = tuple(b->shape) + ", \"" + b->dtype.str() + "\"";
    if (!b->strides.empty()) s += ", strides=" + tuple(b->strides);
    if (!is_index_const(b->elem_offset, 0)) s += ", elem_offset=" + expr(b->elem_offset);
    if (b->scope != "global") s += ", scope=" + quote(b->scope);
    if (b->align_bytes != 0) s += ", align=" + std::to_string(b->align_bytes);
    if (print_data) s += ", data=" + var(b->data);
    return s;
  }
  std::string range(const Range& r) {
    if (is_index_const(r.extent, 1)) return expr(r.min);
    if (is_index_const(r.min, 0)) return "0:" + expr(r.extent);
    auto *mn = as_int_imm(r.min), *ext = as_int_imm(r.extent);
    if (mn && ext && r.min.dtype() == DataType::int_(64) && r.extent.dtype() == DataType::int_(64))
      return std::to_string(mn->value) + ":" + std::to_string(int64_t(uint64_t(mn->value) + uint64_t(ext->value)));
    if (r.min.defined() && r.extent.defined() && r.min.dtype() == r.extent.dtype()) {
      std::string m = expr(r.min);
      return m + ":" + wrap(r.min, kAdd) + " + " + wrap(r.extent, kAdd + 1);
    }
    return "T.Range(" + expr(r.min) + ", " + expr(r.extent) + ")";
  }
  std::string region(const BufferRegion& r) {
    std::string s = buffer(r.buffer) + "[";
    if (r.region.empty()) s += "()";
    for (size_t i = 0; i < r.region.size(); ++i) s += (i ? ", " : "") + range(r.region[i]);
    return s + "]";
  }
  std::string annotations(const Annotations& a) {
    std::string s = "{";
    for (auto& [k, v] : a) s += (s.size() > 1 ? ", " : "") + quote(k) + ": " + expr(v);
    return s + "}";
  }

  // ---- statements -----------------------------------------------------------------------------
  void line(int indent, const std::string& text) {
    out_.append(size_t(indent * kIndent), ' ');
    out_ += text;
    out_ += '\n';
  }
  void view_decls(const void* scope, int indent) {
    auto it = scan_.views.find(scope);
    if (it == scan_.views.end()) return;
    for (auto& b : it->second) {
      auto owner = scan_.data_owner.find(b->data.get());
      bool shares = owner != scan_.data_owner.end() && !owner->second.same_as(b);
      std::string name = buffer(b);
      line(indent, name + " = T.Buffer(" + buffer_args(b, shares) + ")");
    }
  }
  // A statement list: a SeqStmt of two or more prints flat; anything else is one statement.
  void body(const Stmt& s, int indent) {
    if (auto* q = s.defined() ? s.as<SeqStmtNode>() : nullptr; q && q->seq.size() >= 2) {
      for (size_t i = 0; i < q->seq.size(); ++i) stmt(q->seq[i], indent, i + 1 == q->seq.size());
    } else {
      stmt(s, indent, true);
    }
  }
  void stmt(const Stmt& s, int indent, bool tail) {
    if (!s.defined()) return line(indent, "pass");
    switch (s.kind()) {
      case StmtKind::For: {
        auto* n = s.as<ForNode>();
        std::string head = "for " + var(n->loop_var) + " in T." + for_kind_name(n->for_kind) + "(" + expr(n->min) + ", " +
                           expr(n->extent);
        if (!n->thread_tag.empty()) head += ", thread=" + quote(n->thread_tag);
        if (!n->annotations.empty()) head += ", annotations=" + annotations(n->annotations);
        line(indent, head + dtype_kw(n->loop_var.dtype()) + "):");
        return body(n->body, indent + 1);
      }
      case StmtKind::BufferStore: {
        auto* n = s.as<BufferStoreNode>();
        return line(indent, buffer(n->buffer) + "[" + indices(n->indices) + "] = " + expr(n->value));
      }
      case StmtKind::Allocate: {
        auto* n = s.as<AllocateNode>();
        std::string args = buffer_args(n->buffer, false);
        line(indent, "with T.allocate(" + args + ") as " + buffer(n->buffer) + ":");
        view_decls(n, indent + 1);
        return body(n->body, indent + 1);
      }
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        line(indent, "if " + expr(n->cond) + ":");
        body(n->then_case, indent + 1);
        if (n->else_case.defined()) {
          line(indent, "else:");
          body(n->else_case, indent + 1);
        }
        return;
      }
      case StmtKind::Seq: {
        line(indent, "with T.seq():");
        auto& seq = s.as<SeqStmtNode>()->seq;
        if (seq.empty()) line(indent + 1, "pass");
        for (size_t i = 0; i < seq.size(); ++i) stmt(seq[i], indent + 1, i + 1 == seq.size());
        return;
      }
      case StmtKind::LetStmt: {
        auto* n = s.as<LetStmtNode>();
        std::string value = expr(n->value);
        if (tail) {
          line(indent, binding(n->var, value));
          return body(n->body, indent);
        }
        line(indent, "with T.LetStmt(" + binding(n->var, value) + "):");
        return body(n->body, indent + 1);
      }
      case StmtKind::Evaluate: return line(indent, "T.evaluate(" + expr(s.as<EvaluateNode>()->value) + ")");
      case StmtKind::Block: return block(*s.as<BlockNode>(), nullptr, indent);
      case StmtKind::BlockRealize: {
        auto* n = s.as<BlockRealizeNode>();
        if (!n->block.defined()) internal_error("BlockRealize without a block");
        return block(*n->block.get(), n, indent);
      }
    }
  }
  void block(const BlockNode& b, const BlockRealizeNode* realize, int indent) {
    line(indent, "with T.block(" + quote(b.name) + (realize ? "" : ", no_realize=True") + "):");
    int in = indent + 1;
    for (size_t i = 0; i < b.iter_vars.size(); ++i) {
      const Expr* value = realize && i < realize->iter_values.size() ? &realize->iter_values[i] : nullptr;
      std::string call = iter_var_call(b.iter_vars[i], value);
      line(in, var(b.iter_vars[i].var) + " = " + call);
    }
    if (realize && !is_true_const(realize->predicate)) line(in, "T.where(" + expr(realize->predicate) + ")");
    for (auto& buf : b.alloc_buffers) {
      std::string args = buffer_args(buf, false);
      line(in, buffer(buf) + " = T.alloc_buffer(" + args + ")");
    }
    view_decls(&b, in);
    for (auto [label, regions] : {std::pair{"T.reads(", &b.reads}, std::pair{"T.writes(", &b.writes}}) {
      if (regions->empty()) continue;
      std::string s = label;
      for (size_t i = 0; i < regions->size(); ++i) s += (i ? ", " : "") + region((*regions)[i]);
      line(in, s + ")");
    }
    if (!b.annotations.empty()) line(in, "T.block_attr(" + annotations(b.annotations) + ")");
    if (b.init.defined()) {
      line(in, "with T.init():");
      body(b.init, in + 1);
    }
    body(b.body, in);
  }

  // ---- functions ------------------------------------------------------------------------------
  // `key` is the name the function is defined under (its IRModule key, or its own name).
  std::string func(const PrimFunc& f, const std::string& key, int indent) {
    scan_ = Scan();
    for (size_t i = 0; i < f->params.size(); ++i) {
      const Buffer* b = i < f->param_buffers.size() && f->param_buffers[i].defined() ? &f->param_buffers[i] : nullptr;
      if (b) scan_.def_buffer(*b, nullptr);
      else scan_.def_var(f->params[i]);
    }
    scan_.annotations(f->attrs);
    scan_.stmt(f->body);

    std::string def_name = is_identifier(key) ? key : "func", kw;
    if (f->name != def_name) kw += "name=" + quote(f->name);
    if (def_name != key) kw += (kw.empty() ? "" : ", ") + std::string("key=") + quote(key);
    line(indent, kw.empty() ? "@T.prim_func" : "@T.prim_func(" + kw + ")");
    std::string sig = "def " + def_name + "(";
    for (size_t i = 0; i < f->params.size(); ++i) {
      const Buffer* b = i < f->param_buffers.size() && f->param_buffers[i].defined() ? &f->param_buffers[i] : nullptr;
      sig += i ? ", " : "";
      if (b) {
        std::string n = buffer(*b);
        sig += n + ": T.Buffer(" + buffer_args(*b, false) + ")";
      } else {
        std::string n = var(f->params[i]);
        sig += n + ": T." + f->params[i].dtype().str();
      }
    }
    line(indent, sig + "):");
    int in = indent + 1;
    for (auto& v : scan_.free_vars) {
      std::string n = var(v);
      line(in, n + " = T." + v.dtype().str() + "()");
    }
    if (!f->attrs.empty()) line(in, "T.func_attr(" + annotations(f->attrs) + ")");
    view_decls(nullptr, in);
    body(f->body, in);
    return std::move(out_);
  }

  std::string stmt_text(const Stmt& s) {
    body(s, 0);
    return std::move(out_);
  }

 private:
  std::unordered_map<const void*, std::string> names_;
  std::unordered_set<std::string> used_;
  Scan scan_;
  std::string out_;
};

}  // namespace printer_detail

inline std::string to_text(const Expr& e) { return printer_detail::Printer().expr(e); }
inline std::string to_text(const Stmt& s) { return printer_detail::Printer().stmt_text(s); }
inline std::string to_text(const PrimFunc& f) {
  if (!f.defined()) return "None\n";
  return printer_detail::Printer().func(f, f->name, 0);
}
inline std::string to_text(const IRModule& m) {
  std::string out = "@I.ir_module\nclass Module:\n";
  bool first = true;
  for (auto& [name, f] : m.functions()) {
    if (!first) out += "\n";
    first = false;
    if (f.defined() && f->kind == FuncKind::Prim) {
      PrimFunc pf(std::static_pointer_cast<const PrimFuncNode>(f.ptr()));
      out += printer_detail::Printer().func(pf, name, 1);
    } else {
      out += "    # " + name + ": a Relax function (not printable as TensorIR)\n";
    }
  }
  if (first) out += "    pass\n";
  return out;
}

inline std::ostream& operator<<(std::ostream& os, const Expr& e) { return os << to_text(e); }
inline std::ostream& operator<<(std::ostream& os, const Stmt& s) { return os << to_text(s); }
inline std::ostream& operator<<(std::ostream& os, const PrimFunc& f) { return os << to_text(f); }
inline std::ostream& operator<<(std::ostream& os, const IRModule& m) { return os << to_text(m); }

}  // namespace kiln::ir
