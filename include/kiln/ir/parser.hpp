// kiln/ir/parser.hpp: reads back the text kiln/ir/printer.hpp writes.
//
// A hand-written recursive-descent parser over Python-like tokens (indentation opens and closes
// blocks). It accepts exactly the printer's language, documented at the top of printer.hpp, and
// guarantees structural_equal(parse_prim_func(to_text(f)), f). Mistakes in the text are
// kiln::UserError: "IR text, line L, column C: expected ..., found ..." followed by the line.
#pragma once
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kiln/ir/function.hpp"
#include "kiln/ir/intrinsics.hpp"
#include "kiln/ir/op.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"

namespace kiln::ir {
namespace parser_detail {

enum class Tok : uint8_t { Name, Int, Float, String, Op, Newline, Indent, Dedent, End };

struct Token {
  Tok kind;
  std::string text;  // for String: the decoded value
  int line, col;
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) {
    size_t start = 0;
    while (start <= src.size()) {
      size_t end = src.find('\n', start);
      if (end == std::string_view::npos) end = src.size();
      lines_.push_back(src.substr(start, end - start));
      start = end + 1;
    }
  }
  const std::vector<std::string_view>& lines() const { return lines_; }

  std::vector<Token> run() {
    std::vector<Token> out;
    std::vector<int> indents{0};
    int depth = 0;  // open brackets: newlines inside them join lines
    for (size_t ln = 0; ln < lines_.size(); ++ln) {
      std::string_view l = lines_[ln];
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      size_t i = 0;
      if (depth == 0) {
        while (i < l.size() && l[i] == ' ') ++i;
        if (i < l.size() && l[i] == '\t') fail(int(ln), int(i), "spaces for indentation", "a tab");
        if (i == l.size() || l[i] == '#') continue;  // blank or comment-only line
        int ind = int(i);
        if (ind > indents.back()) {
          indents.push_back(ind);
          out.push_back({Tok::Indent, "", int(ln) + 1, ind + 1});
        }
        while (ind < indents.back()) {
          indents.pop_back();
          out.push_back({Tok::Dedent, "", int(ln) + 1, ind + 1});
        }
        if (ind != indents.back())
          fail(int(ln), ind, "an indentation of " + std::to_string(indents.back()) + " spaces",
               std::to_string(ind) + " spaces");
      }
      while (i < l.size()) {
        char c = l[i];
        int col = int(i);
        if (c == ' ') { ++i; continue; }
        if (c == '#') break;
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
          size_t j = i;
          while (j < l.size() && (std::isalnum(static_cast<unsigned char>(l[j])) || l[j] == '_')) ++j;
          out.push_back({Tok::Name, std::string(l.substr(i, j - i)), int(ln) + 1, col + 1});
          i = j;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
          size_t j = i;
          bool is_float = false;
          while (j < l.size() && std::isdigit(static_cast<unsigned char>(l[j]))) ++j;
          if (j < l.size() && l[j] == '.') {
            is_float = true;
            ++j;
            while (j < l.size() && std::isdigit(static_cast<unsigned char>(l[j]))) ++j;
          }
          if (j < l.size() && (l[j] == 'e' || l[j] == 'E')) {
            is_float = true;
            ++j;
            if (j < l.size() && (l[j] == '+' || l[j] == '-')) ++j;
            if (j == l.size() || !std::isdigit(static_cast<unsigned char>(l[j])))
              fail(int(ln), int(j), "digits of an exponent", describe(l, j));
            while (j < l.size() && std::isdigit(static_cast<unsigned char>(l[j]))) ++j;
          }
          out.push_back({is_float ? Tok::Float : Tok::Int, std::string(l.substr(i, j - i)), int(ln) + 1, col + 1});
          i = j;
        } else if (c == '"') {
          std::string value;
          size_t j = i + 1;
          for (;;) {
            if (j >= l.size()) fail(int(ln), int(j), "a closing '\"'", "end of line");
            char d = l[j];
            if (d == '"') break;
            if (d != '\\') { value += d; ++j; continue; }
            if (j + 1 >= l.size()) fail(int(ln), int(j), "an escape sequence", "end of line");
            char e = l[j + 1];
            if (e == 'n') value += '\n';
            else if (e == 't') value += '\t';
            else if (e == '"' || e == '\\') value += e;
            else if (e == 'x' && j + 3 < l.size() && std::isxdigit(static_cast<unsigned char>(l[j + 2])) &&
                     std::isxdigit(static_cast<unsigned char>(l[j + 3]))) {
              value += char(std::stoi(std::string(l.substr(j + 2, 2)), nullptr, 16));
              j += 2;
            } else {
              fail(int(ln), int(j), "one of the escapes \\n \\t \\\" \\\\ \\xHH", describe(l, j));
            }
            j += 2;
          }
          out.push_back({Tok::String, value, int(ln) + 1, col + 1});
          i = j + 1;
        } else {
          static const char* two[] = {"==", "!=", "<=", ">=", "//"};
          std::string op(1, c);
          for (auto* t : two)
            if (l.substr(i, 2) == t) op = t;
          if (op.size() == 1 && std::string_view("()[]{},:.=<>+-*/%@").find(c) == std::string_view::npos)
            fail(int(ln), col, "a token", describe(l, i));
          if (c == '(' || c == '[' || c == '{') ++depth;
          if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
          out.push_back({Tok::Op, op, int(ln) + 1, col + 1});
          i += op.size();
        }
      }
      if (depth == 0 && !out.empty() && out.back().kind != Tok::Newline && out.back().kind != Tok::Indent &&
          out.back().kind != Tok::Dedent)
        out.push_back({Tok::Newline, "", int(ln) + 1, int(l.size()) + 1});
    }
    int last = int(lines_.size());
    while (indents.size() > 1) {
      indents.pop_back();
      out.push_back({Tok::Dedent, "", last, 1});
    }
    out.push_back({Tok::End, "", last, 1});
    return out;
  }

  // "IR text, line L, column C: expected X, found Y" and the line with a caret under the column.
  [[noreturn]] void fail(int line0, int col0, const std::string& expected, const std::string& found) const {
    user_error(message(lines_, line0 + 1, col0 + 1, expected, found));
  }
  static std::string message(const std::vector<std::string_view>& lines, int line, int col, const std::string& expected,
                             const std::string& found) {
    std::string text = line >= 1 && line <= int(lines.size()) ? std::string(lines[size_t(line - 1)]) : "";
    return "IR text, line " + std::to_string(line) + ", column " + std::to_string(col) + ": expected " + expected +
           ", found " + found + "\n  " + text + "\n  " + std::string(size_t(std::max(col - 1, 0)), ' ') + "^";
  }

 private:
  static std::string describe(std::string_view l, size_t j) {
    return j < l.size() ? "'" + std::string(1, l[j]) + "'" : "end of line";
  }
  std::vector<std::string_view> lines_;
};

class Parser {
 public:
  explicit Parser(std::string_view src) : lexer_(src), toks_(lexer_.run()) {}

  PrimFunc parse_single_function() {
    auto [key, f] = function();
    expect_kind(Tok::End, "the end of the text after the function");
    return f;
  }
  IRModule parse_module() {
    expect_op("@", "'@I.ir_module'");
    expect_name("I", "'@I.ir_module'");
    expect_op(".", "'.'");
    expect_name("ir_module", "'ir_module'");
    expect_kind(Tok::Newline, "end of line");
    expect_name("class", "'class Module:'");
    expect_name_token("a module name");
    expect_op(":", "':'");
    expect_kind(Tok::Newline, "end of line");
    expect_kind(Tok::Indent, "an indented function");
    IRModule m;
    if (at_name("pass")) {
      next();
      expect_kind(Tok::Newline, "end of line");
    }
    while (peek().kind != Tok::Dedent && peek().kind != Tok::End) {
      const Token& at = peek();
      auto [key, f] = function();
      if (m.contains(key)) fail(at, "a new function name", "a second function '" + key + "'");
      m.add(key, f);
    }
    expect_kind(Tok::Dedent, "the end of the module");
    expect_kind(Tok::End, "the end of the text after the module");
    return m;
  }

 private:
  struct Entry {
    Var var;
    Buffer buffer;
  };

  // ---- tokens ---------------------------------------------------------------------------------
  const Token& peek(size_t k = 0) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::Newline: return "end of line";
      case Tok::Indent: return "an indented line";
      case Tok::Dedent: return "the end of an indented block";
      case Tok::End: return "end of input";
      case Tok::String: return printer_detail::quote(t.text);
      default: return "'" + t.text + "'";
    }
  }
  [[noreturn]] void fail(const Token& at, const std::string& expected, const std::string& found) const {
    user_error(Lexer::message(lexer_.lines(), at.line, at.col, expected, found));
  }
  [[noreturn]] void fail_here(const std::string& expected) const { fail(peek(), expected, describe(peek())); }
  bool at_op(std::string_view op, size_t k = 0) const { return peek(k).kind == Tok::Op && peek(k).text == op; }
  bool at_name(std::string_view n, size_t k = 0) const { return peek(k).kind == Tok::Name && peek(k).text == n; }
  bool accept_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  void expect_op(std::string_view op, const std::string& what) {
    if (!at_op(op)) fail_here(what);
    next();
  }
  void expect_name(std::string_view n, const std::string& what) {
    if (!at_name(n)) fail_here(what);
    next();
  }
  const Token& expect_name_token(const std::string& what) {
    if (peek().kind != Tok::Name) fail_here(what);
    return next();
  }
  void expect_kind(Tok k, const std::string& what) {
    if (peek().kind != k) fail_here(what);
    next();
  }
  const Token& expect_string(const std::string& what) {
    if (peek().kind != Tok::String) fail_here(what);
    return next();
  }
  // `T.<name>`: checks the prefix and returns the name token.
  const Token& t_attr(const std::string& what) {
    expect_name("T", what);
    expect_op(".", what);
    return expect_name_token(what);
  }
  // T.<name> ahead without consuming.
  bool at_t(std::string_view n, size_t k = 0) const { return at_name("T", k) && at_op(".", k + 1) && at_name(n, k + 2); }

  DataType dtype_of(const Token& t) {
    try {
      return DataType::parse(t.text);
    } catch (const UserError&) {
      fail(t, "a data type (bool, int8..int64, uint8..uint64, float16/32/64, bfloat16, optionally with lanes as in "
              "float32x4)",
           describe(t));
    }
  }
  DataType dtype_string(const std::string& what) { return dtype_of(expect_string(what)); }

  // ---- scopes ---------------------------------------------------------------------------------
  void push() { scopes_.emplace_back(); }
  void pop() { scopes_.pop_back(); }
  void bind(const std::string& name, Entry e) { scopes_.back()[name] = std::move(e); }
  const Entry* lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (auto f = it->find(name); f != it->end()) return &f->second;
    return nullptr;
  }
  Buffer lookup_buffer(const Token& t) {
    const Entry* e = lookup(t.text);
    if (!e || !e->buffer.defined()) fail(t, "a declared buffer", describe(t));
    return e->buffer;
  }

  // ---- expressions ----------------------------------------------------------------------------
  Expr need(Expr e, const Token& at) {
    if (!e.defined()) fail(at, "an expression", "None");
    return e;
  }
  Expr value() {
    const Token& at = peek();
    return need(expr(), at);
  }
  Expr make_binary(BinaryOp op, const Expr& a, const Expr& b, const Token& at) {
    if (!a.defined() || !b.defined()) fail(at, "two operands", "None");
    if (a.dtype() != b.dtype())
      fail(at, std::string("operands of '") + binary_op_name(op) + "' of one type",
           a.dtype().str() + " and " + b.dtype().str());
    return Expr(std::make_shared<const BinaryNode>(op, a, b, result_type(op, a.dtype())));
  }
  // Nesting is bounded so that hostile text cannot overflow the stack.
  static constexpr int kMaxDepth = 500;
  struct Depth {
    Parser* p;
    explicit Depth(Parser* parser) : p(parser) {
      if (++p->depth_ > kMaxDepth) p->fail_here("nesting at most " + std::to_string(kMaxDepth) + " levels deep");
    }
    ~Depth() { --p->depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
  };
  Expr expr() {
    Depth d(this);
    return or_expr();
  }
  Expr or_expr() {
    Expr a = and_expr();
    while (at_name("or")) {
      const Token& at = next();
      a = make_binary(BinaryOp::Or, a, and_expr(), at);
    }
    return a;
  }
  Expr and_expr() {
    Expr a = not_expr();
    while (at_name("and")) {
      const Token& at = next();
      a = make_binary(BinaryOp::And, a, not_expr(), at);
    }
    return a;
  }
  Expr not_expr() {
    if (at_name("not")) {
      Depth d(this);
      const Token& at = next();
      return Expr(std::make_shared<const NotNode>(need(not_expr(), at)));
    }
    return cmp_expr();
  }
  Expr cmp_expr() {
    Expr a = add_expr();
    static const std::pair<const char*, BinaryOp> ops[] = {{"==", BinaryOp::EQ}, {"!=", BinaryOp::NE}, {"<", BinaryOp::LT},
                                                           {"<=", BinaryOp::LE}, {">", BinaryOp::GT},  {">=", BinaryOp::GE}};
    for (auto& [text, op] : ops)
      if (at_op(text)) {
        const Token& at = next();
        Expr r = make_binary(op, a, add_expr(), at);
        for (auto& [t2, o2] : ops)
          if (at_op(t2)) fail_here("one comparison (parenthesize chained comparisons)");
        return r;
      }
    return a;
  }
  Expr add_expr() {
    Expr a = mul_expr();
    while (at_op("+") || at_op("-")) {
      const Token& at = next();
      a = make_binary(at.text == "+" ? BinaryOp::Add : BinaryOp::Sub, a, mul_expr(), at);
    }
    return a;
  }
  Expr mul_expr() {
    Expr a = unary_expr();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& at = next();
      BinaryOp op = at.text == "*" ? BinaryOp::Mul : at.text == "/" ? BinaryOp::Div : at.text == "//" ? BinaryOp::FloorDiv
                                                                                                  : BinaryOp::FloorMod;
      a = make_binary(op, a, unary_expr(), at);
    }
    return a;
  }
  // Integer literal text (digits) to a value; `negative` applies a leading '-'.
  int64_t int_value(const Token& t, bool negative, bool as_uint64) {
    uint64_t v = 0;
    auto res = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    uint64_t limit = as_uint64 && !negative ? std::numeric_limits<uint64_t>::max()
                                            : uint64_t(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0);
    if (res.ec != std::errc() || v > limit) fail(t, "an integer within range", describe(t));
    return negative ? int64_t(uint64_t(0) - v) : int64_t(v);
  }
  Expr unary_expr() {
    if (at_op("-")) {
      next();
      if (peek().kind != Tok::Int) fail_here("an integer literal after '-' (negation is written 0 - x)");
      return int_imm(int_value(next(), true, false), DataType::int_(64));
    }
    return atom();
  }
  std::vector<Expr> index_list() {
    std::vector<Expr> out;
    if (at_op("(") && at_op(")", 1)) {
      next();
      next();
      return out;
    }
    do out.push_back(value());
    while (accept_op(","));
    return out;
  }
  Expr load(const Buffer& b, const Token& at) {
    expect_op("[", "'['");
    auto idx = index_list();
    expect_op("]", "']'");
    if (idx.size() != b->shape.size())
      fail(at, std::to_string(b->shape.size()) + " indices for buffer '" + b->name + "'", std::to_string(idx.size()));
    int lanes = 1;
    for (auto& i : idx) lanes = std::max<int>(lanes, i.dtype().lanes);
    return Expr(std::make_shared<const BufferLoadNode>(b->dtype.with_lanes(lanes), b, std::move(idx)));
  }
  std::vector<Expr> call_args() {
    std::vector<Expr> args;
    expect_op("(", "'('");
    if (!at_op(")")) {
      do args.push_back(expr());
      while (accept_op(","));
    }
    expect_op(")", "')' closing the call");
    return args;
  }
  Expr atom() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Int: next(); return int_imm(int_value(t, false, false), DataType::int_(64));
      case Tok::String: next(); return string_imm(t.text);
      case Tok::Op:
        if (t.text == "(") {
          next();
          Expr e = expr();
          expect_op(")", "')'");
          return e;
        }
        fail_here("an expression");
      case Tok::Name: break;
      default: fail_here("an expression");
    }
    if (t.text == "True" || t.text == "False") {
      next();
      return bool_imm(t.text == "True");
    }
    if (t.text == "None") {
      next();
      return Expr();
    }
    if (t.text == "T") return t_expr();
    next();
    const Entry* e = lookup(t.text);
    if (!e) fail(t, "a declared variable or buffer", describe(t));
    if (e->var.defined()) return e->var;
    if (accept_op(".")) {
      expect_name("data", "'data' (the buffer's data pointer)");
      return e->buffer->data;
    }
    if (!at_op("[")) fail_here("'[' or '.data' after buffer '" + t.text + "'");
    return load(e->buffer, t);
  }
  Expr immediate(DataType t) {
    expect_op("(", "'('");
    Expr out;
    bool neg = accept_op("-");
    const Token& v = peek();
    if (t.element_of().is_float()) {
      double d = 0;
      if (v.kind == Tok::String && !neg) {
        if (v.text == "inf") d = std::numeric_limits<double>::infinity();
        else if (v.text == "-inf") d = -std::numeric_limits<double>::infinity();
        else if (v.text == "nan") d = std::numeric_limits<double>::quiet_NaN();
        else fail(v, "\"inf\", \"-inf\" or \"nan\"", describe(v));
      } else if (v.kind == Tok::Int || v.kind == Tok::Float) {
        auto res = std::from_chars(v.text.data(), v.text.data() + v.text.size(), d);
        if (res.ec != std::errc()) fail(v, "a finite float literal", describe(v));
        if (neg) d = -d;
      } else {
        fail_here("a number");
      }
      next();
      out = Expr(std::make_shared<const FloatImmNode>(t, d));
    } else if (t.is_handle() || t.is_void()) {
      fail(v, "a numeric type", t.str());
    } else {
      if (v.kind != Tok::Int) fail_here("an integer literal");
      next();
      out = int_imm(int_value(v, neg, t.is_uint() && t.bits == 64), t);
    }
    expect_op(")", "')'");
    return out;
  }
  IterVar axis(const std::string& name, bool with_value, Expr* value) {
    const Token& kind_tok = expect_name_token("an iteration kind (spatial, reduce, opaque, thread)");
    IterVar iv;
    if (kind_tok.text == "spatial") iv.kind = IterKind::DataPar;
    else if (kind_tok.text == "reduce") iv.kind = IterKind::CommReduce;
    else if (kind_tok.text == "opaque") iv.kind = IterKind::Opaque;
    else if (kind_tok.text == "thread") iv.kind = IterKind::ThreadIndex;
    else fail(kind_tok, "an iteration kind (spatial, reduce, opaque, thread)", describe(kind_tok));
    expect_op("(", "'('");
    iv.dom.extent = expr();
    if (with_value) {
      expect_op(",", "',' and the bound value");
      *value = expr();
    }
    iv.dom.min = int_imm(0, DataType::int_(64));
    DataType dt = DataType::int_(64);
    while (accept_op(",")) {
      const Token& kw = expect_name_token("a keyword argument (min, thread, dtype)");
      expect_op("=", "'='");
      if (kw.text == "min") iv.dom.min = expr();
      else if (kw.text == "thread") iv.thread_tag = expect_string("a thread tag string").text;
      else if (kw.text == "dtype") dt = dtype_string("a dtype string");
      else fail(kw, "a keyword argument (min, thread, dtype)", describe(kw));
    }
    expect_op(")", "')'");
    iv.var = Var(name, dt);
    return iv;
  }

  Expr t_expr() {
    const Token& at = peek();
    const Token& name = t_attr("T.<function>");
    const std::string& n = name.text;
    bool is_dtype = false;
    DataType dt;
    try {
      dt = DataType::parse(n);
      is_dtype = true;
    } catch (const UserError&) {}
    if (is_dtype) return immediate(dt);
    if (n == "Cast") {
      expect_op("(", "'('");
      DataType t = dtype_string("a dtype string");
      expect_op(",", "','");
      Expr v = expr();
      expect_op(")", "')'");
      return Expr(std::make_shared<const CastNode>(t, v));
    }
    if (n == "Select") {
      auto a = call_args();
      if (a.size() != 3) fail(name, "3 arguments to T.Select", std::to_string(a.size()));
      return Expr(std::make_shared<const SelectNode>(a[0], need(a[1], name), a[2]));
    }
    if (n == "min" || n == "max" || n == "truncdiv" || n == "truncmod") {
      auto a = call_args();
      if (a.size() != 2) fail(name, "2 arguments to T." + n, std::to_string(a.size()));
      BinaryOp op = n == "min"        ? BinaryOp::Min
                    : n == "max"      ? BinaryOp::Max
                    : n == "truncdiv" ? BinaryOp::Div
                                      : BinaryOp::Mod;
      return make_binary(op, a[0], a[1], name);
    }
    if (n == "if_then_else") {
      auto a = call_args();
      if (a.size() != 3) fail(name, "3 arguments to T.if_then_else", std::to_string(a.size()));
      DataType t = need(a[1], name).dtype();
      return call(t, n, std::move(a));
    }
    if (find_intrinsic(n)) {
      auto a = call_args();
      if (a.empty()) fail(name, "at least one argument to T." + n, "none");
      DataType t = need(a[0], name).dtype();
      return call(t, n, std::move(a));
    }
    if (n == "call") {
      expect_op("(", "'('");
      std::string op = expect_string("the called function's name as a string").text;
      expect_op(",", "','");
      DataType t = dtype_string("the result dtype string");
      std::vector<Expr> args;
      while (accept_op(",")) args.push_back(expr());
      expect_op(")", "')'");
      return call(t, op, std::move(args));
    }
    if (n == "Ramp" || n == "Broadcast") {
      expect_op("(", "'('");
      Expr a = value(), b;
      expect_op(",", "','");
      if (n == "Ramp") {
        b = value();
        expect_op(",", "','");
      }
      if (peek().kind != Tok::Int) fail_here("the lane count");
      int64_t lanes = int_value(next(), false, false);
      if (lanes < 1 || lanes > 65535) fail(peek(), "a lane count in [1, 65535]", std::to_string(lanes));
      expect_op(")", "')'");
      return n == "Ramp" ? Expr(std::make_shared<const RampNode>(a, b, int(lanes)))
                         : Expr(std::make_shared<const BroadcastNode>(a, int(lanes)));
    }
    if (n == "Let") {
      expect_op("(", "'('");
      auto [var, val] = binding();
      expect_op(",", "','");
      push();
      bind(var->name, {var, {}});
      Expr body = value();
      pop();
      expect_op(")", "')'");
      return Expr(std::make_shared<const LetNode>(var, val, body));
    }
    if (n == "Reduce") {
      expect_op("(", "'('");
      const Token& op_tok = expect_string("a reduction (\"sum\", \"prod\", \"max\", \"min\")");
      ReduceOp op = ReduceOp::Sum;
      if (op_tok.text == "sum") op = ReduceOp::Sum;
      else if (op_tok.text == "prod") op = ReduceOp::Prod;
      else if (op_tok.text == "max") op = ReduceOp::Max;
      else if (op_tok.text == "min") op = ReduceOp::Min;
      else fail(op_tok, "a reduction (\"sum\", \"prod\", \"max\", \"min\")", describe(op_tok));
      expect_op(",", "','");
      expect_op("[", "'[' starting the reduction axes");
      push();
      std::vector<IterVar> axes;
      if (!at_op("]")) {
        do {
          const Token& v = expect_name_token("an axis name");
          expect_op(":", "':'");
          expect_name("T", "'T.axis.<kind>(...)'");
          expect_op(".", "'.'");
          expect_name("axis", "'axis'");
          expect_op(".", "'.'");
          axes.push_back(axis(v.text, false, nullptr));
          bind(v.text, {axes.back().var, {}});
        } while (accept_op(","));
      }
      expect_op("]", "']'");
      expect_op(",", "','");
      Expr source = value(), cond;
      if (accept_op(",")) {
        expect_name("where", "'where='");
        expect_op("=", "'='");
        cond = value();
      }
      pop();
      expect_op(")", "')'");
      return Expr(std::make_shared<const ReduceNode>(op, source, std::move(axes), cond));
    }
    if (n == "BufferLoad") {
      expect_op("(", "'('");
      DataType t = dtype_string("a dtype string");
      expect_op(",", "','");
      const Token& b = expect_name_token("a buffer name");
      Expr l = load(lookup_buffer(b), b);
      expect_op(")", "')'");
      auto* node = l.as<BufferLoadNode>();
      return Expr(std::make_shared<const BufferLoadNode>(t, node->buffer, node->indices));
    }
    fail(at, "a T.<function> the printer writes (a dtype, Cast, Select, min, max, truncdiv, truncmod, if_then_else, "
             "an intrinsic, call, Ramp, Broadcast, Let, Reduce, BufferLoad)",
         "'T." + n + "'");
  }

  // `x: T.int32 = value`; the value is parsed before x exists.
  std::pair<Var, Expr> binding() {
    const Token& name = expect_name_token("a variable name");
    expect_op(":", "':'");
    DataType t = dtype_of(t_attr("a type annotation T.<dtype>"));
    expect_op("=", "'='");
    Expr v = value();
    return {Var(name.text, t), v};
  }

  // ---- buffers --------------------------------------------------------------------------------
  std::vector<Expr> tuple() {
    expect_op("(", "'(' starting a tuple");
    std::vector<Expr> out;
    while (!at_op(")")) {
      out.push_back(value());
      if (!accept_op(",")) break;
    }
    expect_op(")", "')' closing the tuple");
    return out;
  }
  // (shape), "dtype", keyword arguments; the name and data pointer are filled in by the caller.
  std::shared_ptr<BufferNode> buffer_args() {
    auto b = std::make_shared<BufferNode>();
    b->shape = tuple();
    expect_op(",", "',' and the buffer's dtype");
    b->dtype = dtype_string("the buffer's dtype string");
    b->elem_offset = int_imm(0, DataType::int_(64));
    while (accept_op(",")) {
      const Token& kw = expect_name_token("a keyword argument (strides, elem_offset, scope, align, data)");
      expect_op("=", "'='");
      if (kw.text == "strides") b->strides = tuple();
      else if (kw.text == "elem_offset") b->elem_offset = expr();
      else if (kw.text == "scope") b->scope = expect_string("a scope string").text;
      else if (kw.text == "align") {
        if (peek().kind != Tok::Int) fail_here("an alignment in bytes");
        int64_t a = int_value(next(), false, false);
        if (a > (1 << 30)) fail(peek(), "an alignment below 2^30", std::to_string(a));
        b->align_bytes = int(a);
      } else if (kw.text == "data") {
        const Token& at = peek();
        Expr d = expr();
        if (!d.defined() || d.kind() != ExprKind::Var) fail(at, "a data pointer such as A.data", "another expression");
        b->data = Var(std::static_pointer_cast<const VarNode>(d.ptr()));
      } else {
        fail(kw, "a keyword argument (strides, elem_offset, scope, align, data)", describe(kw));
      }
    }
    return b;
  }
  Buffer finish_buffer(std::shared_ptr<BufferNode> b, const std::string& name, Var data = Var()) {
    b->name = name;
    if (data.defined()) b->data = data;
    if (!b->data.defined()) b->data = Var(name + "_data", DataType::handle());
    return Buffer(std::shared_ptr<const BufferNode>(std::move(b)));
  }
  // `A_1 = T.Buffer(...)`: a view declared where its data pointer is in scope.
  bool at_buffer_decl(std::string_view what) const {
    return peek().kind == Tok::Name && at_op("=", 1) && at_t(what, 2);
  }
  void buffer_decl() {
    const Token& name = next();
    next();  // =
    t_attr("T.Buffer");
    expect_op("(", "'('");
    Buffer b = finish_buffer(buffer_args(), name.text);
    expect_op(")", "')'");
    expect_kind(Tok::Newline, "end of line");
    bind(name.text, {{}, b});
  }
  Range range() {
    if (at_t("Range")) {
      t_attr("T.Range");
      auto a = call_args();
      if (a.size() != 2) fail(peek(), "T.Range(min, extent)", std::to_string(a.size()) + " arguments");
      return {a[0], a[1]};
    }
    const Token& at = peek();
    Expr a = value();
    if (!accept_op(":")) return {a, int_imm(1, DataType::int_(64))};
    Expr b = value();
    if (printer_detail::is_index_const(a, 0)) return {a, b};
    auto *ai = as_int_imm(a), *bi = as_int_imm(b);
    if (ai && bi && a.dtype() == DataType::int_(64) && b.dtype() == DataType::int_(64))
      return {a, int_imm(int64_t(uint64_t(bi->value) - uint64_t(ai->value)), DataType::int_(64))};
    auto* add = b.as<BinaryNode>();
    if (!add || add->op != BinaryOp::Add || !structural_equal(add->a, a))
      fail(at, "a slice 'start:start + extent'", to_text(a) + ":" + to_text(b));
    return {a, add->b};
  }
  BufferRegion region() {
    const Token& name = expect_name_token("a buffer region such as A[i, 0:16]");
    BufferRegion r{lookup_buffer(name), {}};
    expect_op("[", "'['");
    if (at_op("(") && at_op(")", 1)) {
      next();
      next();
    } else {
      do r.region.push_back(range());
      while (accept_op(","));
    }
    expect_op("]", "']'");
    if (r.region.size() != r.buffer->shape.size())
      fail(name, std::to_string(r.buffer->shape.size()) + " ranges for buffer '" + name.text + "'",
           std::to_string(r.region.size()));
    return r;
  }
  Annotations dict() {
    Annotations out;
    expect_op("{", "'{'");
    while (!at_op("}")) {
      std::string key = expect_string("a string key").text;
      expect_op(":", "':'");
      out[key] = expr();
      if (!accept_op(",")) break;
    }
    expect_op("}", "'}'");
    return out;
  }

  // ---- statements -----------------------------------------------------------------------------
  static Stmt make_seq(std::vector<Stmt> list) {
    if (list.size() == 1) return list[0];
    return Stmt(std::make_shared<const SeqStmtNode>(std::move(list)));
  }
  // ':' NEWLINE INDENT statements DEDENT, in a new scope.
  Stmt suite(Entry* define = nullptr, const std::string& name = {}) {
    Depth d(this);
    expect_op(":", "':'");
    expect_kind(Tok::Newline, "end of line after ':'");
    expect_kind(Tok::Indent, "an indented block");
    push();
    if (define) bind(name, *define);
    auto list = statements();
    pop();
    expect_kind(Tok::Dedent, "the end of the indented block");
    return make_seq(std::move(list));
  }
  std::vector<Stmt> statements() {
    std::vector<Stmt> out;
    while (peek().kind != Tok::Dedent && peek().kind != Tok::End) {
      if (at_buffer_decl("Buffer")) {
        buffer_decl();
        continue;
      }
      if (peek().kind == Tok::Name && at_op(":", 1) && !at_name("else")) {  // let: the rest is its body
        auto [var, val] = binding();
        expect_kind(Tok::Newline, "end of line");
        push();
        bind(var->name, {var, {}});
        const Token& at = peek();
        auto rest = statements();
        pop();
        if (rest.empty()) fail(at, "a statement after the binding of '" + var->name + "'", describe(at));
        out.push_back(Stmt(std::make_shared<const LetStmtNode>(var, val, make_seq(std::move(rest)))));
        break;
      }
      out.push_back(statement());
    }
    if (out.empty()) fail_here("a statement");
    return out;
  }
  Stmt statement() {
    const Token& t = peek();
    if (at_name("pass")) {
      next();
      expect_kind(Tok::Newline, "end of line");
      return Stmt();
    }
    if (at_name("for")) return for_stmt();
    if (at_name("if")) {
      next();
      Expr c = value();
      Stmt then_case = suite(), else_case;
      if (at_name("else")) {
        next();
        else_case = suite();
      }
      return Stmt(std::make_shared<const IfThenElseNode>(c, then_case, else_case));
    }
    if (at_name("with")) {
      next();
      const Token& what = t_attr("T.block, T.allocate, T.LetStmt or T.seq after 'with'");
      if (what.text == "block") return block();
      if (what.text == "allocate") {
        expect_op("(", "'('");
        auto node = buffer_args();
        expect_op(")", "')'");
        expect_name("as", "'as' and the buffer's name");
        const Token& name = expect_name_token("the allocated buffer's name");
        Buffer b = finish_buffer(node, name.text);
        Entry e{{}, b};
        Stmt body = suite(&e, name.text);
        return Stmt(std::make_shared<const AllocateNode>(b, body));
      }
      if (what.text == "LetStmt") {
        expect_op("(", "'('");
        auto [var, val] = binding();
        expect_op(")", "')'");
        Entry e{var, {}};
        Stmt body = suite(&e, var->name);
        return Stmt(std::make_shared<const LetStmtNode>(var, val, body));
      }
      if (what.text == "seq") {
        expect_op("(", "'('");
        expect_op(")", "')'");
        Stmt body = suite();
        std::vector<Stmt> items;
        if (auto* q = body.defined() ? body.as<SeqStmtNode>() : nullptr) items = q->seq;
        else if (body.defined()) items = {body};
        return Stmt(std::make_shared<const SeqStmtNode>(std::move(items)));
      }
      fail(what, "T.block, T.allocate, T.LetStmt or T.seq", describe(what));
    }
    if (at_t("evaluate")) {
      t_attr("T.evaluate");
      auto a = call_args();
      if (a.size() != 1) fail(t, "one argument to T.evaluate", std::to_string(a.size()));
      expect_kind(Tok::Newline, "end of line");
      return Stmt(std::make_shared<const EvaluateNode>(a[0]));
    }
    if (t.kind == Tok::Name && at_op("[", 1)) {
      next();
      Buffer b = lookup_buffer(t);
      expect_op("[", "'['");
      auto idx = index_list();
      expect_op("]", "']'");
      if (idx.size() != b->shape.size())
        fail(t, std::to_string(b->shape.size()) + " indices for buffer '" + b->name + "'", std::to_string(idx.size()));
      expect_op("=", "'='");
      Expr v = value();
      expect_kind(Tok::Newline, "end of line");
      return Stmt(std::make_shared<const BufferStoreNode>(b, v, std::move(idx)));
    }
    fail_here("a statement (for, with, if, T.evaluate, a store A[...] = v, or a binding x: T.<dtype> = v)");
  }
  Stmt for_stmt() {
    next();  // for
    const Token& name = expect_name_token("a loop variable name");
    expect_name("in", "'in'");
    const Token& kind_tok = t_attr("a loop kind T.serial/parallel/vectorized/unroll/thread_binding");
    ForKind kind = ForKind::Serial;
    bool found = false;
    for (int k = 0; k <= int(ForKind::ThreadBinding); ++k)
      if (kind_tok.text == for_kind_name(ForKind(k))) {
        kind = ForKind(k);
        found = true;
      }
    if (!found) fail(kind_tok, "a loop kind (serial, parallel, vectorized, unroll, thread_binding)", describe(kind_tok));
    expect_op("(", "'('");
    Expr mn = value();
    expect_op(",", "',' and the extent");
    Expr ext = value();
    std::string tag;
    Annotations ann;
    DataType dt = DataType::int_(64);
    while (accept_op(",")) {
      const Token& kw = expect_name_token("a keyword argument (thread, annotations, dtype)");
      expect_op("=", "'='");
      if (kw.text == "thread") tag = expect_string("a thread tag string").text;
      else if (kw.text == "annotations") ann = dict();
      else if (kw.text == "dtype") dt = dtype_string("a dtype string");
      else fail(kw, "a keyword argument (thread, annotations, dtype)", describe(kw));
    }
    expect_op(")", "')'");
    Var v(name.text, dt);
    Entry e{v, {}};
    Stmt body = suite(&e, name.text);
    return Stmt(std::make_shared<const ForNode>(v, mn, ext, kind, body, tag, ann));
  }
  Stmt block() {
    expect_op("(", "'('");
    BlockNode b;
    b.name = expect_string("the block's name string").text;
    bool realize = true;
    if (accept_op(",")) {
      expect_name("no_realize", "'no_realize=True'");
      expect_op("=", "'='");
      expect_name("True", "'True'");
      realize = false;
    }
    expect_op(")", "')'");
    expect_op(":", "':'");
    expect_kind(Tok::Newline, "end of line");
    expect_kind(Tok::Indent, "the block's indented body");
    push();
    std::vector<Expr> values;
    Expr pred = bool_imm(true);
    for (;;) {
      if (peek().kind == Tok::Name && at_op("=", 1) && at_t("axis", 2)) {
        const Token& name = next();
        next();
        t_attr("T.axis");
        expect_op(".", "'.'");
        Expr v;
        b.iter_vars.push_back(axis(name.text, realize, &v));
        if (realize) values.push_back(v);
        bind(name.text, {b.iter_vars.back().var, {}});
      } else if (at_t("where")) {
        t_attr("T.where");
        auto a = call_args();
        if (a.size() != 1) fail(peek(), "one argument to T.where", std::to_string(a.size()));
        pred = a[0];
      } else if (at_t("reads") || at_t("writes")) {
        bool reads = at_t("reads");
        t_attr("T.reads");
        expect_op("(", "'('");
        auto& list = reads ? b.reads : b.writes;
        while (!at_op(")")) {
          list.push_back(region());
          if (!accept_op(",")) break;
        }
        expect_op(")", "')'");
      } else if (at_buffer_decl("alloc_buffer")) {
        const Token& name = next();
        next();
        t_attr("T.alloc_buffer");
        expect_op("(", "'('");
        Buffer buf = finish_buffer(buffer_args(), name.text);
        expect_op(")", "')'");
        b.alloc_buffers.push_back(buf);
        bind(name.text, {{}, buf});
      } else if (at_buffer_decl("Buffer")) {
        buffer_decl();
        continue;
      } else if (at_t("block_attr")) {
        t_attr("T.block_attr");
        expect_op("(", "'('");
        b.annotations = dict();
        expect_op(")", "')'");
      } else if (at_name("with") && at_t("init", 1)) {
        next();
        t_attr("T.init");
        expect_op("(", "'('");
        expect_op(")", "')'");
        b.init = suite();
        continue;
      } else {
        break;
      }
      expect_kind(Tok::Newline, "end of line");
    }
    b.body = make_seq(statements());
    pop();
    expect_kind(Tok::Dedent, "the end of the block");
    Block blk(std::make_shared<const BlockNode>(std::move(b)));
    if (!realize) return blk;
    return Stmt(std::make_shared<const BlockRealizeNode>(std::move(values), pred, blk));
  }

  // ---- functions ------------------------------------------------------------------------------
  std::pair<std::string, PrimFunc> function() {
    expect_op("@", "'@T.prim_func'");
    t_attr("'@T.prim_func'");
    if (toks_[pos_ - 1].text != "prim_func") fail(toks_[pos_ - 1], "'@T.prim_func'", describe(toks_[pos_ - 1]));
    std::string name, key;
    bool has_name = false, has_key = false;
    if (accept_op("(")) {
      while (!at_op(")")) {
        const Token& kw = expect_name_token("name= or key=");
        expect_op("=", "'='");
        if (kw.text == "name") name = expect_string("a name string").text, has_name = true;
        else if (kw.text == "key") key = expect_string("a key string").text, has_key = true;
        else fail(kw, "name= or key=", describe(kw));
        if (!accept_op(",")) break;
      }
      expect_op(")", "')'");
    }
    expect_kind(Tok::Newline, "end of line");
    expect_name("def", "'def'");
    const std::string& def_name = expect_name_token("the function's name").text;
    if (!has_name) name = def_name;
    if (!has_key) key = def_name;

    // Symbolic shape variables are declared in the body (`n = T.int64()`) but used in the
    // signature: read those declarations first, then come back for the parameters.
    size_t params_at = pos_;
    expect_op("(", "'('");
    for (int depth = 1; depth > 0;) {
      const Token& t = next();
      if (t.kind == Tok::End) fail(t, "')' closing the parameter list", describe(t));
      if (t.kind == Tok::Op && (t.text == "(" || t.text == "[" || t.text == "{")) ++depth;
      if (t.kind == Tok::Op && (t.text == ")" || t.text == "]" || t.text == "}")) --depth;
    }
    expect_op(":", "':'");
    expect_kind(Tok::Newline, "end of line");
    expect_kind(Tok::Indent, "the function's indented body");
    scopes_.clear();
    push();
    while (peek().kind == Tok::Name && at_op("=", 1) && at_name("T", 2) && at_op(".", 3) && at_op("(", 5) &&
           at_op(")", 6)) {
      const Token& n = next();
      next();
      DataType t = dtype_of(t_attr("T.<dtype>()"));
      next();
      next();
      expect_kind(Tok::Newline, "end of line");
      bind(n.text, {Var(n.text, t), {}});
    }
    size_t body_at = pos_;
    pos_ = params_at;

    auto node = std::make_shared<PrimFuncNode>();
    node->name = name;
    expect_op("(", "'('");
    while (!at_op(")")) {
      const Token& p = expect_name_token("a parameter name");
      expect_op(":", "':' and the parameter's type");
      if (at_t("Buffer")) {
        t_attr("T.Buffer");
        expect_op("(", "'('");
        auto args = buffer_args();
        expect_op(")", "')'");
        Buffer b = finish_buffer(args, p.text);
        node->params.push_back(b->data);
        node->param_buffers.push_back(b);
        bind(p.text, {{}, b});
      } else {
        Var v(p.text, dtype_of(t_attr("T.Buffer(...) or T.<dtype>")));
        node->params.push_back(v);
        node->param_buffers.push_back(Buffer());
        bind(p.text, {v, {}});
      }
      if (!accept_op(",")) break;
    }
    expect_op(")", "')' closing the parameter list");
    pos_ = body_at;
    if (at_t("func_attr")) {
      t_attr("T.func_attr");
      expect_op("(", "'('");
      node->attrs = dict();
      expect_op(")", "')'");
      expect_kind(Tok::Newline, "end of line");
    }
    node->body = make_seq(statements());
    expect_kind(Tok::Dedent, "the end of the function");
    scopes_.clear();
    return {key, PrimFunc(std::shared_ptr<const PrimFuncNode>(std::move(node)))};
  }

  Lexer lexer_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::vector<std::unordered_map<std::string, Entry>> scopes_;
};

}  // namespace parser_detail

// Parses one `@T.prim_func` as printed by to_text(PrimFunc).
inline PrimFunc parse_prim_func(std::string_view text) { return parser_detail::Parser(text).parse_single_function(); }
// Parses an `@I.ir_module` as printed by to_text(IRModule).
inline IRModule parse_module(std::string_view text) { return parser_detail::Parser(text).parse_module(); }

}  // namespace kiln::ir
