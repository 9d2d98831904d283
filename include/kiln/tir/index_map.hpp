// kiln/tir/index_map.hpp: tir::IndexMap, a map from N indices to M indices (layout transforms).
//
//   tir::IndexMap pack([](te::Index i, te::Index j) { return std::vector<te::Index>{j, i / 4, i % 4}; });
//   pack.to_text()                   // "(i0, i1) => (i1, i0 // 4, i0 % 4)"
//   pack.map_shape({10, 6})          // {6, 3, 4}: 10 rows become 3 x 4, two of them padding
//
// The function is called once with one te::Index per input and returns the outputs (a
// std::vector, std::array or std::tuple of te::Index, or a single te::Index). Indices are never
// negative, so te's truncating / and % mean the same as floordiv and floormod there and are
// stored as those. Maps travel through traces as text ("(i, j) => (j, i // 4, i % 4)": + - *,
// //, %, min(a, b), max(a, b) over integer constants and the input names).
//
// inverse() works for the maps a layout uses: each output a mixed-radix sum of pieces
// (floormod(floordiv(i, lower), extent)) of the inputs, every piece of every input used exactly
// once. That covers permutations, packing (i // 4, i % 4), fusing (i * 6 + j) and their mixes.
#pragma once
#include <algorithm>
#include <array>
#include <concepts>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/arith/interval.hpp"
#include "kiln/arith/simplify.hpp"
#include "kiln/ir/functor.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/te/expr.hpp"

namespace kiln::tir {

class IndexMap;

namespace index_map_detail {

constexpr size_t kMaxInputs = 8;

// The number of te::Index arguments f takes (the smallest count it can be called with).
template <typename F, size_t N>
constexpr bool invocable_with_n() {
  return []<size_t... I>(std::index_sequence<I...>) {
    return std::is_invocable_v<F&, decltype((void(I), std::declval<te::Index>()))...>;
  }(std::make_index_sequence<N>());
}
template <typename F, size_t N = 1>
constexpr size_t arity() {
  if constexpr (N > kMaxInputs) return 0;
  else if constexpr (invocable_with_n<F, N>()) return N;
  else return arity<F, N + 1>();
}

template <typename T>
ir::Expr to_index_expr(const T& x) {
  if constexpr (std::is_integral_v<T>) return ir::int_imm(int64_t(x));
  else {
    static_assert(std::is_same_v<T, te::Index>, "tir::IndexMap: outputs must be te::Index expressions (or integers)");
    return x.node();
  }
}

template <typename R>
std::vector<ir::Expr> outputs_of(const R& r) {
  std::vector<ir::Expr> out;
  if constexpr (std::is_same_v<R, te::Index>) out.push_back(r.node());
  else if constexpr (requires { std::tuple_size<R>::value; }) {
    std::apply([&](const auto&... x) { (out.push_back(to_index_expr(x)), ...); }, r);
  } else {
    static_assert(requires { r.begin(); }, "tir::IndexMap: the function must return a std::vector<te::Index>, a "
                                           "std::array, a std::tuple or a single te::Index");
    for (const auto& x : r) out.push_back(to_index_expr(x));
  }
  return out;
}

// te's / and % truncate; on the non-negative indices of a map, by a positive constant, they are
// floordiv and floormod, which the rest of the IR (and the simplifier) prefers.
inline ir::Expr to_floor_ops(const ir::Expr& e) {
  struct M : ir::ExprMutator {
    ir::Expr mutate(const ir::Expr& x) override {
      ir::Expr r = ir::ExprMutator::mutate(x);
      if (auto* b = r.as<ir::BinaryNode>(); b && (b->op == ir::BinaryOp::Div || b->op == ir::BinaryOp::Mod)) {
        auto c = ir::const_int(b->b);
        if (c && *c > 0) return b->op == ir::BinaryOp::Div ? ir::floordiv(b->a, b->b) : ir::floormod(b->a, b->b);
      }
      return r;
    }
  } m;
  return m.mutate(e);
}

// ---- printing ---------------------------------------------------------------------------------
// Text (cpp = false) or a C++ te expression (cpp = true).
inline std::string print(const ir::Expr& e, bool cpp, int* prec_out = nullptr) {
  int prec = 3;
  std::string s;
  if (auto* i = ir::as_int_imm(e)) {
    s = std::to_string(i->value);
    if (i->value < 0) prec = 0;
  } else if (auto* v = e.as<ir::VarNode>()) {
    s = v->name;
  } else if (auto* b = e.as<ir::BinaryNode>()) {
    int pa = 0, pb = 0;
    std::string a = print(b->a, cpp, &pa), c = print(b->b, cpp, &pb);
    const char* fn = nullptr;
    const char* op = nullptr;
    int p = 0;
    switch (b->op) {
      case ir::BinaryOp::Add: op = "+"; p = 1; break;
      case ir::BinaryOp::Sub: op = "-"; p = 1; break;
      case ir::BinaryOp::Mul: op = "*"; p = 2; break;
      case ir::BinaryOp::FloorDiv: if (cpp) fn = "te::floordiv"; else { op = "//"; p = 2; } break;
      case ir::BinaryOp::FloorMod: if (cpp) fn = "te::floormod"; else { op = "%"; p = 2; } break;
      case ir::BinaryOp::Min: fn = cpp ? "te::min" : "min"; break;
      case ir::BinaryOp::Max: fn = cpp ? "te::max" : "max"; break;
      default: internal_error("IndexMap: unexpected operator ", ir::binary_op_name(b->op));
    }
    if (fn) s = std::string(fn) + "(" + a + ", " + c + ")";
    else {
      if (pa < p) a = "(" + a + ")";
      if (pb <= p) c = "(" + c + ")";
      s = a + " " + op + " " + c;
      prec = p;
    }
  } else {
    internal_error("IndexMap: unexpected expression ", ir::to_text(e));
  }
  if (prec_out) *prec_out = prec;
  return s;
}

// ---- reading the text form --------------------------------------------------------------------
class TextReader {
 public:
  explicit TextReader(const std::string& s) : s_(s) {}

  std::pair<std::vector<ir::Var>, std::vector<ir::Expr>> read() {
    std::vector<ir::Var> in;
    expect('(');
    while (!peek(')')) {
      if (!in.empty()) expect(',');
      std::string n = name();
      for (auto& v : in)
        if (v.name() == n) fail("the input '" + n + "' is named twice");
      in.emplace_back(n, DataType::int_(64));
    }
    expect(')');
    if (in.empty()) fail("an index map needs at least one input");
    vars_ = &in;
    ws();
    if (s_.compare(pos_, 2, "=>") != 0) fail("expected '=>'");
    pos_ += 2;
    std::vector<ir::Expr> out;
    if (peek('(')) {
      // "(a, b)" is a list of outputs, "(a) + 1" or "(a)" a single expression.
      size_t save = pos_;
      ++pos_;
      out.push_back(expr());
      if (peek(',')) {
        while (accept(',')) out.push_back(expr());
        expect(')');
      } else {
        pos_ = save;
        out = {expr()};
      }
    } else {
      out.push_back(expr());
    }
    ws();
    if (pos_ != s_.size()) fail("unexpected text after the outputs");
    return {in, out};
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
  const std::vector<ir::Var>* vars_ = nullptr;
  int depth_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    user_error("IndexMap::from_text: ", what, " at character ", pos_, " of \"", s_,
               "\"; the form is \"(i, j) => (j, i // 4, i % 4)\" with + - * // % min(a, b) max(a, b)");
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool peek(char c) {
    ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool accept(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  static bool is_name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
  }
  std::string name() {
    ws();
    size_t start = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_], pos_ == start)) ++pos_;
    if (start == pos_) fail("expected a name");
    return s_.substr(start, pos_ - start);
  }
  ir::Expr expr() {
    if (++depth_ > 200) fail("expression nested too deeply");
    ir::Expr a = term();
    while (true) {
      if (accept('+')) a = ir::add(a, term());
      else if (peek('-')) {
        ++pos_;
        a = ir::sub(a, term());
      } else break;
    }
    --depth_;
    return a;
  }
  ir::Expr term() {
    ir::Expr a = unary();
    while (true) {
      ws();
      if (s_.compare(pos_, 2, "//") == 0) {
        pos_ += 2;
        a = ir::floordiv(a, unary());
      } else if (accept('*')) a = ir::mul(a, unary());
      else if (accept('%')) a = ir::floormod(a, unary());
      else break;
    }
    return a;
  }
  ir::Expr unary() {
    if (accept('-')) {
      ir::Expr x = unary();
      if (auto c = ir::const_int(x)) return ir::int_imm(-*c);
      return ir::sub(ir::int_imm(0), x);
    }
    return atom();
  }
  ir::Expr atom() {
    ws();
    if (accept('(')) {
      ir::Expr e = expr();
      expect(')');
      return e;
    }
    if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ - start > 18) fail("integer constant too large");
      return ir::int_imm(std::stoll(s_.substr(start, pos_ - start)));
    }
    if (pos_ >= s_.size() || !is_name_char(s_[pos_], true)) fail("expected an expression");
    std::string n = name();
    if ((n == "min" || n == "max") && peek('(')) {
      expect('(');
      ir::Expr a = expr();
      expect(',');
      ir::Expr b = expr();
      expect(')');
      return n == "min" ? ir::min(a, b) : ir::max(a, b);
    }
    for (auto& v : *vars_)
      if (v.name() == n) return v;
    fail("'" + n + "' is not an input of the map");
  }
};

// ---- inverting --------------------------------------------------------------------------------
// floormod(floordiv(input, lower), extent); `top`: the piece holds all the high digits of the
// input (its extent is ceildiv(input extent, lower), the last piece may be partly padding).
struct Piece {
  size_t input;
  int64_t lower;
  ir::Expr extent;
  bool top;
};
struct Term {
  int64_t coef;
  Piece piece;
};
struct Sum {
  std::vector<Term> terms;
  int64_t offset = 0;
};

class Decomposer {
 public:
  Decomposer(const std::vector<ir::Var>& inputs, const std::vector<ir::Expr>& extents)
      : inputs_(inputs), extents_(extents) {}
  std::string why;  // set when decompose returns false

  bool decompose(const ir::Expr& e, Sum& out) {
    if (auto c = ir::const_int(e)) {
      out = Sum{{}, *c};
      return true;
    }
    if (auto* v = e.as<ir::VarNode>()) {
      for (size_t k = 0; k < inputs_.size(); ++k)
        if (inputs_[k].get() == v) {
          out = Sum{{Term{1, Piece{k, 1, extents_[k], true}}}, 0};
          return true;
        }
      return refuse("it uses '" + v->name + "', which is not an input of the map");
    }
    auto* b = e.as<ir::BinaryNode>();
    if (!b) return refuse("'" + print(e, false) + "' is not an affine index expression");
    Sum a, c;
    switch (b->op) {
      case ir::BinaryOp::Add:
        if (!decompose(b->a, a) || !decompose(b->b, c)) return false;
        a.terms.insert(a.terms.end(), c.terms.begin(), c.terms.end());
        out = Sum{a.terms, a.offset + c.offset};
        return true;
      case ir::BinaryOp::Sub:
        if (!ir::const_int(b->b)) return refuse("'" + print(e, false) + "' subtracts an index");
        if (!decompose(b->a, a)) return false;
        out = Sum{a.terms, a.offset - *ir::const_int(b->b)};
        return true;
      case ir::BinaryOp::Mul: {
        auto ca = ir::const_int(b->a), cb = ir::const_int(b->b);
        if (!ca && !cb) return refuse("'" + print(e, false) + "' multiplies two indices");
        int64_t k = cb ? *cb : *ca;
        if (k <= 0) return refuse("'" + print(e, false) + "' multiplies by " + std::to_string(k) + " (not positive)");
        if (!decompose(cb ? b->a : b->b, a)) return false;
        for (auto& t : a.terms) t.coef *= k;
        out = Sum{a.terms, a.offset * k};
        return true;
      }
      case ir::BinaryOp::FloorDiv: case ir::BinaryOp::FloorMod: {
        bool div = b->op == ir::BinaryOp::FloorDiv;
        auto cb = ir::const_int(b->b);
        if (!cb || *cb <= 0) return refuse("'" + print(e, false) + "' divides by something that is not a positive constant");
        if (!decompose(b->a, a)) return false;
        if (a.terms.size() != 1 || a.offset != 0)
          return refuse("'" + print(e, false) + "' divides a sum of several terms (fused, then split)");
        Term t = a.terms[0];
        if (t.coef != 1) {
          if (div && t.coef % *cb == 0) {
            out = Sum{{Term{t.coef / *cb, t.piece}}, 0};
            return true;
          }
          return refuse("'" + print(e, false) + "' divides a scaled index");
        }
        Piece p;
        if (!split(t.piece, *cb, div, p, e)) return false;
        out = Sum{{Term{1, p}}, 0};
        return true;
      }
      default: return refuse("'" + print(e, false) + "' uses " + ir::binary_op_name(b->op) + ", which is not invertible");
    }
  }

 private:
  const std::vector<ir::Var>& inputs_;
  const std::vector<ir::Expr>& extents_;

  bool refuse(std::string w) {
    why = std::move(w);
    return false;
  }
  bool split(const Piece& s, int64_t c, bool div, Piece& out, const ir::Expr& e) {
    auto ce = ir::const_int(s.extent);
    if (div) {
      if (s.top) {
        out = Piece{s.input, s.lower * c, arith::simplify(ir::floordiv(s.extent + (c - 1), ir::int_imm(c))), true};
        return true;
      }
      if (ce && *ce % c == 0) {
        out = Piece{s.input, s.lower * c, ir::int_imm(*ce / c), false};
        return true;
      }
    } else {
      if (ce && *ce <= c) {
        out = s;
        return true;
      }
      if (s.top || (ce && *ce % c == 0)) {
        out = Piece{s.input, s.lower, ir::int_imm(c), false};
        return true;
      }
    }
    return refuse("'" + print(e, false) + "' splits a part of '" + inputs_[s.input].name() + "' of extent " +
                  ir::to_text(s.extent) + " by " + std::to_string(c) + ", which does not divide it");
  }
};

}  // namespace index_map_detail

class IndexMap {
 public:
  IndexMap() = default;
  // From the input variables and the output expressions over them.
  IndexMap(std::vector<ir::Var> initial, std::vector<ir::Expr> final) : initial_(std::move(initial)) {
    KILN_USER_CHECK(!initial_.empty(), "tir::IndexMap needs at least one input index");
    KILN_USER_CHECK(!final.empty(), "tir::IndexMap needs at least one output index");
    for (size_t k = 0; k < initial_.size(); ++k) {
      KILN_USER_CHECK(initial_[k].dtype() == DataType::int_(64), "tir::IndexMap: input '", initial_[k].name(),
                      "' is ", initial_[k].dtype().str(), "; index maps work on int64 indices (te::Index)");
      for (size_t o = 0; o < k; ++o)
        KILN_USER_CHECK(!initial_[o].same_as(initial_[k]), "tir::IndexMap: input '", initial_[k].name(), "' is given twice");
    }
    // The text form names the inputs: give inputs whose names are not distinct identifiers new ones.
    ir::VarMap rename;
    for (size_t k = 0; k < initial_.size(); ++k) {
      bool ok = ir::printer_detail::is_identifier(initial_[k].name());
      for (size_t o = 0; o < k; ++o) ok &= initial_[o].name() != initial_[k].name();
      if (ok) continue;
      ir::Var v("i" + std::to_string(k), DataType::int_(64));
      for (size_t o = 0; o < initial_.size(); ++o) ok |= o != k && initial_[o].name() == v.name();
      if (ok) v = ir::Var("i" + std::to_string(k) + "_" + std::to_string(k), DataType::int_(64));
      rename[initial_[k].get()] = v;
      initial_[k] = v;
    }
    for (size_t k = 0; k < final.size(); ++k) {
      ir::Expr e = arith::simplify(index_map_detail::to_floor_ops(ir::substitute(final[k], rename)));
      check_output(e, k);
      final_.push_back(e);
    }
  }
  // From a function of te::Index (see the top of this file); implicit so a lambda can be passed
  // where an IndexMap is expected.
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, IndexMap> && index_map_detail::arity<std::remove_cvref_t<F>>() > 0)
  IndexMap(F&& f) : IndexMap(from_function(f)) {}  // NOLINT: implicit on purpose
  template <typename F>
  static IndexMap from(F&& f) {
    return IndexMap(std::forward<F>(f));
  }
  // Parses the text form that to_text writes.
  static IndexMap from_text(const std::string& text) {
    auto [in, out] = index_map_detail::TextReader(text).read();
    return IndexMap(std::move(in), std::move(out));
  }

  bool defined() const { return !initial_.empty(); }
  const std::vector<ir::Var>& initial_indices() const { return initial_; }
  const std::vector<ir::Expr>& final_indices() const { return final_; }
  size_t num_inputs() const { return initial_.size(); }
  size_t num_outputs() const { return final_.size(); }

  // The outputs at `indices` (one expression per input), simplified knowing `dom`.
  std::vector<ir::Expr> apply(const std::vector<ir::Expr>& indices, const arith::DomMap& dom = {}) const {
    check_defined("apply");
    KILN_USER_CHECK(indices.size() == initial_.size(), "IndexMap::apply: the map ", to_text(), " takes ", initial_.size(),
                    " indices, got ", indices.size());
    ir::VarMap sub;
    for (size_t k = 0; k < indices.size(); ++k) {
      KILN_USER_CHECK(indices[k].defined() && indices[k].dtype() == DataType::int_(64), "IndexMap::apply: index ", k,
                      " is not an int64 expression");
      sub[initial_[k].get()] = indices[k];
    }
    std::vector<ir::Expr> out;
    for (auto& e : final_) out.push_back(arith::simplify(ir::substitute(e, sub), dom));
    return out;
  }

  // The shape of a buffer of shape `shape` after the map: each output's largest value + 1.
  std::vector<ir::Expr> map_shape(const std::vector<ir::Expr>& shape) const {
    check_defined("map_shape");
    check_rank(shape, "map_shape");
    arith::IntervalMap iv;
    arith::DomMap dom;
    for (size_t k = 0; k < shape.size(); ++k) {
      iv[initial_[k]] = {ir::int_imm(0), arith::simplify(shape[k] - 1)};
      dom[initial_[k]] = ir::Range{ir::int_imm(0), shape[k]};
    }
    std::vector<ir::Expr> out;
    for (size_t o = 0; o < final_.size(); ++o) {
      arith::IntervalSet s = arith::eval_interval(final_[o], iv);
      arith::ConstIntBound b = arith::const_int_bound(final_[o], dom);
      if (!s.min.defined() && b.min_value != arith::ConstIntBound::kNegInf) s.min = ir::int_imm(b.min_value);
      if (!s.max.defined() && b.max_value != arith::ConstIntBound::kPosInf) s.max = ir::int_imm(b.max_value);
      if (auto c = ir::const_int(s.max); c && b.max_value < *c) s.max = ir::int_imm(b.max_value);  // the tighter one
      if (!s.min.defined() || !s.max.defined())
        user_error("IndexMap ", to_text(), ": output ", o, " (", print(final_[o]), ") has no bound over the shape (",
                   shape_text(shape), ")");
      if (!arith::can_prove(ir::ge(s.min, ir::int_imm(0))) && b.min_value < 0)
        user_error("IndexMap ", to_text(), ": output ", o, " (", print(final_[o]), ") can be negative (as low as ",
                   ir::to_text(s.min), ") over the shape (", shape_text(shape), "); layouts need indices >= 0");
      out.push_back(arith::simplify(s.max + 1));
    }
    return out;
  }

  // The inverse of a one-to-one map, over the mapped shape: inverse.apply(apply(x)) == x.
  // `padding` is true at the points of map_shape(shape) that no index of `shape` maps to (a
  // bool expression over the inverse's inputs; false when there are none).
  struct Inverse;
  Inverse non_surjective_inverse(const std::vector<ir::Expr>& shape) const;
  // The inverse of a bijective map; refuses maps that leave padding.
  IndexMap inverse(const std::vector<ir::Expr>& shape) const;

  // "(i0, i1) => (i1, i0 // 4, i0 % 4)"
  std::string to_text() const {
    if (!defined()) return "(undefined IndexMap)";
    std::string s = "(";
    for (size_t k = 0; k < initial_.size(); ++k) s += (k ? ", " : "") + initial_[k].name();
    s += ") => (";
    for (size_t k = 0; k < final_.size(); ++k) s += (k ? ", " : "") + print(final_[k]);
    return s + ")";
  }
  // A C++ expression that builds the same map.
  std::string to_cpp() const {
    check_defined("to_cpp");
    std::string s = "tir::IndexMap([](";
    for (size_t k = 0; k < initial_.size(); ++k) s += (k ? ", te::Index " : "te::Index ") + initial_[k].name();
    s += ") { return std::vector<te::Index>{";
    for (size_t k = 0; k < final_.size(); ++k) {
      std::string e = index_map_detail::print(final_[k], true);
      if (ir::const_int(final_[k])) e = "te::Index(" + e + ")";
      s += (k ? ", " : "") + e;
    }
    return s + "}; })";
  }

 private:
  std::vector<ir::Var> initial_;
  std::vector<ir::Expr> final_;

  static std::string print(const ir::Expr& e) { return index_map_detail::print(e, false); }
  static std::string shape_text(const std::vector<ir::Expr>& shape) {
    std::string s;
    for (auto& e : shape) s += (s.empty() ? "" : ", ") + ir::to_text(e);
    return s;
  }
  void check_defined(const char* what) const {
    KILN_USER_CHECK(defined(), "IndexMap::", what, ": the map is empty (default-constructed)");
  }
  void check_rank(const std::vector<ir::Expr>& shape, const char* what) const {
    KILN_USER_CHECK(shape.size() == initial_.size(), "IndexMap::", what, ": the map ", to_text(), " takes ",
                    initial_.size(), " indices but the shape has ", shape.size(), " dimensions");
  }
  void check_output(const ir::Expr& e, size_t k) const {
    KILN_USER_CHECK(e.defined() && e.dtype() == DataType::int_(64), "tir::IndexMap: output ", k,
                    " is not an int64 (te::Index) expression");
    struct Check : ir::ExprVisitor {
      const IndexMap* m;
      size_t k;
      void visit(const ir::Expr& x) override {
        if (auto* b = x.as<ir::BinaryNode>()) {
          switch (b->op) {
            case ir::BinaryOp::Add: case ir::BinaryOp::Sub: case ir::BinaryOp::Mul: case ir::BinaryOp::FloorDiv:
            case ir::BinaryOp::FloorMod: case ir::BinaryOp::Min: case ir::BinaryOp::Max: break;
            default:
              user_error("tir::IndexMap: output ", k, " uses '", ir::binary_op_name(b->op),
                         "'; index maps use + - * floordiv floormod (or / and % by positive constants) min max");
          }
          ir::ExprVisitor::visit(x);
          return;
        }
        if (x.as<ir::IntImmNode>()) return;
        if (auto* v = x.as<ir::VarNode>()) {
          for (auto& i : m->initial_)
            if (i.get() == v) return;
          user_error("tir::IndexMap: output ", k, " uses '", v->name, "', which is not an input of the map; ",
                     "index maps are functions of their inputs only");
        }
        user_error("tir::IndexMap: output ", k, " (", ir::to_text(x),
                   ") is not index arithmetic; index maps use + - * floordiv floormod min max on inputs and constants");
      }
    } c;
    c.m = this;
    c.k = k;
    c.visit(e);
  }

  template <typename F>
  static IndexMap from_function(F& f) {
    constexpr size_t n = index_map_detail::arity<std::remove_cvref_t<F>>();
    std::vector<ir::Var> vars;
    for (size_t k = 0; k < n; ++k) vars.emplace_back("i" + std::to_string(k), DataType::int_(64));
    auto result = [&]<size_t... I>(std::index_sequence<I...>) { return f(te::Index(vars[I])...); }(std::make_index_sequence<n>());
    return IndexMap(vars, index_map_detail::outputs_of(result));
  }
};

struct IndexMap::Inverse {
  IndexMap map;
  ir::Expr padding;
};

inline IndexMap::Inverse IndexMap::non_surjective_inverse(const std::vector<ir::Expr>& shape) const {
  using namespace index_map_detail;
  check_defined("inverse");
  check_rank(shape, "inverse");
  std::vector<ir::Expr> extents;
  for (auto& e : shape) extents.push_back(arith::simplify(e));
  auto refuse = [&](const std::string& why) {
    user_error("IndexMap ", to_text(), " is not invertible over the shape (", shape_text(shape), "): ", why,
               "; layouts need one-to-one maps such as (i, j) => (j, i), (i) => (i // 4, i % 4) or (i, j) => (i * n + j)");
  };
  Decomposer d(initial_, extents);
  std::vector<Sum> sums(final_.size());
  for (size_t o = 0; o < final_.size(); ++o) {
    if (!d.decompose(final_[o], sums[o])) refuse("output " + std::to_string(o) + ": " + d.why);
    if (sums[o].offset != 0)
      refuse("output " + std::to_string(o) + " (" + print(final_[o]) + ") adds the constant " +
             std::to_string(sums[o].offset));
  }
  std::vector<ir::Expr> mapped = map_shape(shape);
  std::vector<ir::Var> ys;
  for (size_t o = 0; o < final_.size(); ++o) ys.emplace_back("y" + std::to_string(o), DataType::int_(64));
  // Each output is a mixed-radix number: its terms' coefficients are 1, e1, e1 * e2, ...
  struct Found {
    Piece piece;
    ir::Expr value;  // the piece's value in terms of the outputs
  };
  std::vector<std::vector<Found>> per_input(initial_.size());
  for (size_t o = 0; o < final_.size(); ++o) {
    std::vector<Term> ts = sums[o].terms;
    std::sort(ts.begin(), ts.end(), [](const Term& a, const Term& b) { return a.coef > b.coef; });
    for (size_t t = 0; t < ts.size(); ++t) {
      int64_t expect = 1;
      if (t + 1 < ts.size()) {
        auto inner = ir::const_int(ts[t + 1].piece.extent);
        if (!inner) refuse("output " + std::to_string(o) + " (" + print(final_[o]) + ") scales a part of symbolic extent");
        expect = ts[t + 1].coef * *inner;
      }
      if (ts[t].coef != expect)
        refuse("output " + std::to_string(o) + " (" + print(final_[o]) + ") is not a mixed-radix number: its terms " +
               "overlap or leave gaps, so two indices can map to the same place");
      ir::Expr v = ts[t].coef == 1 ? ir::Expr(ys[o]) : ir::floordiv(ys[o], ir::int_imm(ts[t].coef));
      if (t > 0) v = ir::floormod(v, ts[t].piece.extent);
      per_input[ts[t].piece.input].push_back({ts[t].piece, v});
    }
  }
  std::vector<ir::Expr> back;
  ir::Expr padding = ir::bool_imm(false);
  for (size_t k = 0; k < initial_.size(); ++k) {
    auto& ps = per_input[k];
    std::sort(ps.begin(), ps.end(), [](const Found& a, const Found& b) { return a.piece.lower < b.piece.lower; });
    std::string name = "'" + initial_[k].name() + "'";
    if (ps.empty()) {
      if (!ir::is_const_int(extents[k], 1)) refuse("input " + name + " is not used, so all its values map to the same place");
      back.push_back(ir::int_imm(0));
      continue;
    }
    ir::Expr v;
    int64_t lower = 1;
    for (size_t t = 0; t < ps.size(); ++t) {
      const Piece& p = ps[t].piece;
      if (p.lower != lower)
        refuse("input " + name + (p.lower < lower ? " is used twice (overlapping parts)" : " has a part no output uses"));
      if (p.top != (t + 1 == ps.size()))
        refuse(p.top ? "input " + name + " is used twice (overlapping parts)"
                     : "the high part of input " + name + " is not used, so different values map to the same place");
      ir::Expr part = p.lower == 1 ? ps[t].value : ps[t].value * p.lower;
      v = v.defined() ? v + part : part;
      if (!p.top) lower *= *ir::const_int(p.extent);
    }
    back.push_back(v);
    // Values past the input's extent are padding.
    const Piece& last = ps.back().piece;
    ir::Expr covered = arith::simplify(last.extent * last.lower);
    if (!arith::can_prove(ir::eq(covered, extents[k]))) padding = ir::logical_or(padding, ir::ge(v, extents[k]));
  }
  arith::DomMap dom;
  for (size_t o = 0; o < ys.size(); ++o) dom[ys[o]] = ir::Range{ir::int_imm(0), mapped[o]};
  // Outputs whose pieces span less than the mapped extent (a constant 0 output) are not checked:
  // their only value is 0, which the pieces already account for.
  padding = arith::simplify(padding, dom);
  std::vector<ir::Expr> simplified;
  for (auto& e : back) simplified.push_back(arith::simplify(e, dom));
  return {IndexMap(ys, simplified), padding};
}

inline IndexMap IndexMap::inverse(const std::vector<ir::Expr>& shape) const {
  Inverse inv = non_surjective_inverse(shape);
  if (!ir::is_const_int(inv.padding, 0))
    user_error("IndexMap ", to_text(), " is not a bijection over the shape (", shape_text(shape), "): the mapped shape (",
               shape_text(map_shape(shape)), ") has points no index maps to (where ", ir::to_text(inv.padding),
               "); use non_surjective_inverse, or pick sizes the map divides evenly");
  return inv.map;
}

}  // namespace kiln::tir
