// kiln/tir/transform/vectorize_loops.hpp: vectorized loops -> straight-line vector code (TVM's
// VectorizeLoop).
//
// Runs on lowered, flattened IR (after flatten_buffers: every access is 1-D). A loop
//   for v in min..min+L vectorized: body          (L a constant, 2 <= L <= kMaxVectorLanes)
// becomes `body` computed once on L lanes: v becomes Ramp(min, 1, L), and every expression that
// depends on v becomes an L-lane vector expression; lane-invariant subexpressions stay scalar and
// are Broadcast where they meet a vector operand. In detail:
//   - loads and stores take the vector index: Ramp(base, 1, L) is a contiguous access, Ramp with
//     another stride or any other vector index is a gather/scatter (the code generator decides);
//     v + c, v - c, c * v, Ramp + Ramp and narrowing integer casts of Ramps stay Ramps (exact in
//     wrapping arithmetic), so flat indices keep their stride; a widening cast of a Ramp (an int32
//     loop variable in an int64 index) is a Ramp only when its base and stride are constants and no
//     lane wraps; otherwise it stays a Cast (a gather/scatter; see the dependence rule below);
//   - arithmetic, comparisons (to bool vectors), logical ops, Not, Select, Cast and the math
//     intrinsics (ir/intrinsics.hpp) work lane-wise;
//   - Let/LetStmt of a lane-dependent value binds a fresh vector variable;
//   - IfThenElse statements and lazy if_then_else calls with a lane-invariant condition keep their
//     scalar condition (every lane takes the same branch, so the lanes read are the ones the serial
//     loop reads); a lazy if_then_else with a lane-dependent condition becomes a Select only when its
//     branches cannot fault (no loads, no integer division): both are then computed and the right
//     lane kept, which is what the serial loop's lazy evaluation yields.
// A loop with L = 1 is replaced by its body with v = min.
//
// Anything else leaves the loop exactly as it was (ForKind::Vectorized, which the LLVM backend
// emits as a serial loop with the llvm.loop.vectorize.enable hint, so LLVM's loop vectorizer can
// still try, with its own legality checks). The loop stays when its body has
//   - an inner loop, an Allocate, an already-vector expression (nested vectorization), a Reduce or
//     a block, a call that is not an intrinsic or if_then_else, an Evaluate of a vector;
//   - an IfThenElse statement with a lane-dependent condition (lanes would take different paths);
//   - a lazy if_then_else with a lane-dependent condition whose branches load or divide: a vector
//     load would read lanes the serial program never reads (padding reads out of bounds there);
//   - a store whose index does not depend on the lane (every iteration writes the same element: a
//     reduction or a value carried from one iteration to the next);
//   - a loop-carried dependence through memory: vector code runs each statement for all lanes
//     before the next statement, while the loop runs all statements for one iteration before the
//     next iteration. That reordering is exact when, for each buffer the body stores to, every
//     other access of that buffer (load or store) either uses the identical index (then one lane
//     owns each element, and the store index must be a Ramp with a constant non-zero stride so no
//     two lanes share an element), or provably touches disjoint elements (two Ramps with the same
//     constant stride whose bases differ by a constant that no lane offset bridges). Stores that
//     are never read back in the body may share any identical index (the last lane's last store
//     wins either way). Any other pair (a load at i - 1 of a buffer stored at i, a gather of a
//     stored buffer, stores at overlapping indices, an index that itself reads a stored buffer)
//     keeps the loop. Buffers are identified by their `data` variable (flattened views share it);
//   - more than kMaxVectorLanes lanes (very wide vectors only cost compile time; LLVM picks its own
//     width for the hinted loop).
// Vectorization is all or nothing per loop, so a vectorized body computes exactly what the serial
// loop computes, bit for bit: the same operations at the same types, lane by lane.
#pragma once
#include <cstdlib>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/arith/simplify.hpp"
#include "kiln/ir/ir.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/transform/check_vectorized_loops.hpp"

namespace kiln::tir {

// Vectorized loops wider than this stay loops (hinted to LLVM's vectorizer).
inline constexpr int kMaxVectorLanes = 256;

namespace detail {

// Rewrites the body of one vectorized loop for `lanes` lanes. `failed` is set (with a reason, for
// debugging) when the body cannot be vectorized; the result is then meaningless.
class LaneVectorizer : public ir::StmtExprMutator {
 public:
  using ir::StmtExprMutator::mutate;

  LaneVectorizer(const ir::Var& v, const ir::Expr& min, int lanes) : var_(v.get()), lanes_(lanes) {
    DataType t = v.dtype();
    ramp_ = ir::ramp(min.dtype() == t ? min : ir::cast(t, min), ir::int_imm(1, t), lanes);
  }

  bool failed = false;
  const char* reason = "";

  ir::Expr mutate(const ir::Expr& e) override {
    using namespace ir;
    if (failed || !e.defined()) return e;
    if (!e.dtype().is_scalar()) return fail(e, "the body already has vector expressions");
    switch (e.kind()) {
      case ExprKind::Var: {
        if (e.get() == var_) return ramp_;
        auto it = vector_vars_.find(e.get());
        return it == vector_vars_.end() ? e : it->second;
      }
      case ExprKind::IntImm: case ExprKind::FloatImm: case ExprKind::StringImm: return e;
      case ExprKind::Binary: {
        auto* n = e.as<BinaryNode>();
        Expr a = mutate(n->a), b = mutate(n->b);
        if (failed) return e;
        if (is_scalar(a) && is_scalar(b)) return a.same_as(n->a) && b.same_as(n->b) ? e : binary(n->op, a, b);
        return vector_binary(n->op, a, b);
      }
      case ExprKind::Not: {
        Expr a = mutate(e.as<NotNode>()->a);
        return a.same_as(e.as<NotNode>()->a) ? e : logical_not(a);
      }
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        Expr c = mutate(n->cond), t = mutate(n->true_value), f = mutate(n->false_value);
        if (failed) return e;
        if (is_scalar(c) && is_scalar(t) && is_scalar(f))
          return c.same_as(n->cond) && t.same_as(n->true_value) && f.same_as(n->false_value) ? e : select(c, t, f);
        return select(widen(c), widen(t), widen(f));
      }
      case ExprKind::Cast: {
        auto* n = e.as<CastNode>();
        Expr v = mutate(n->value);
        if (failed || v.same_as(n->value)) return e;
        // Truncating (or same-width) integer casts are ring homomorphisms: a Ramp stays a Ramp.
        // A widening cast is not (the narrow lanes may wrap): a Ramp only when provably exact.
        if (auto* r = v.as<RampNode>(); r && n->dtype.is_integer() && n->dtype.bits <= r->base.dtype().bits)
          return ramp(cast(n->dtype, r->base), cast(n->dtype, r->stride), lanes_);
        if (Expr w = widen_constant_ramp(v, n->dtype); w.defined()) return w;
        return cast(n->dtype.with_lanes(v.dtype().lanes), v);
      }
      case ExprKind::Call: return vector_call(e);
      case ExprKind::BufferLoad: {
        auto* n = e.as<BufferLoadNode>();
        auto [idx, changed] = mutate_all(n->indices);
        if (failed || !changed) return e;
        bool vec = false;
        for (auto& i : idx) vec |= !is_scalar(i);
        if (vec)
          for (auto& i : idx) i = widen(i);
        return buffer_load(n->buffer, std::move(idx));
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        Expr v = mutate(n->value);
        if (failed) return e;
        Var bound = bind(n->var, v);
        Expr b = mutate(n->body);
        vector_vars_.erase(n->var.get());
        if (failed) return e;
        return v.same_as(n->value) && b.same_as(n->body) ? e : let(bound, v, b);
      }
      case ExprKind::Ramp: case ExprKind::Broadcast: return fail(e, "the body already has vector expressions");
      case ExprKind::Reduce: return fail(e, "a Reduce expression remains");
    }
    return e;
  }

  ir::Stmt mutate(const ir::Stmt& s) override {
    using namespace ir;
    if (failed || !s.defined()) return s;
    switch (s.kind()) {
      case StmtKind::For: return fail(s, "an inner loop");
      case StmtKind::Allocate: return fail(s, "an allocation inside the loop");
      case StmtKind::Block: case StmtKind::BlockRealize: return fail(s, "a block remains");
      case StmtKind::BufferStore: {
        auto* n = s.as<BufferStoreNode>();
        Expr v = mutate(n->value);
        auto [idx, changed] = mutate_all(n->indices);
        if (failed) return s;
        bool vec = false;
        for (auto& i : idx) vec |= !is_scalar(i);
        if (!vec) return fail(s, "a store to an element that does not depend on the lane (reduction)");
        for (auto& i : idx) i = widen(i);
        return Stmt(std::make_shared<const BufferStoreNode>(n->buffer, widen(v), std::move(idx)));
      }
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        Expr c = mutate(n->cond);
        if (!failed && !is_scalar(c)) return fail(s, "an if statement whose condition depends on the lane");
        Stmt t = mutate(n->then_case), f = mutate(n->else_case);
        if (failed) return s;
        return c.same_as(n->cond) && t.same_as(n->then_case) && f.same_as(n->else_case) ? s : if_then_else(c, t, f);
      }
      case StmtKind::LetStmt: {
        auto* n = s.as<LetStmtNode>();
        Expr v = mutate(n->value);
        if (failed) return s;
        Var bound = bind(n->var, v);
        Stmt b = mutate(n->body);
        vector_vars_.erase(n->var.get());
        if (failed) return s;
        return v.same_as(n->value) && b.same_as(n->body) ? s : let_stmt(bound, v, b);
      }
      case StmtKind::Evaluate: {
        auto* n = s.as<EvaluateNode>();
        Expr v = mutate(n->value);
        if (!failed && !is_scalar(v)) return fail(s, "an Evaluate of a lane-dependent value");
        return failed || v.same_as(n->value) ? s : evaluate(v);
      }
      default: return ir::StmtExprMutator::mutate(s);  // Seq
    }
  }

 private:
  static bool is_scalar(const ir::Expr& e) { return !e.defined() || e.dtype().is_scalar(); }
  ir::Expr widen(const ir::Expr& e) const { return is_scalar(e) && e.defined() ? ir::broadcast(e, lanes_) : e; }

  template <typename T>
  T fail(const T& x, const char* why) {
    if (!failed) reason = why;
    failed = true;
    return x;
  }

  // The variable a let binds in the vector body: a fresh vector variable for a lane-dependent value.
  ir::Var bind(const ir::Var& v, const ir::Expr& value) {
    if (!bound_.insert(v.get()).second) fail(value, "a variable is bound twice in the loop body");
    if (is_scalar(value)) return v;
    ir::Var vv(v->name, value.dtype());
    vector_vars_[v.get()] = vv;
    return vv;
  }

  // a op b where at least one side is a vector. Integer +, - and * keep Ramp forms (they are exact
  // in wrapping arithmetic, which is a ring), so flat indices stay recognisably strided.
  ir::Expr vector_binary(ir::BinaryOp op, const ir::Expr& a, const ir::Expr& b) {
    using ir::BinaryOp;
    if (a.dtype().element_of().is_integer()) {
      auto *ra = a.as<ir::RampNode>(), *rb = b.as<ir::RampNode>();
      bool sa = is_scalar(a), sb = is_scalar(b);
      switch (op) {
        case BinaryOp::Add:
          if (ra && sb) return ir::ramp(ra->base + b, ra->stride, lanes_);
          if (sa && rb) return ir::ramp(a + rb->base, rb->stride, lanes_);
          if (ra && rb) return ir::ramp(ra->base + rb->base, ra->stride + rb->stride, lanes_);
          break;
        case BinaryOp::Sub:
          if (ra && sb) return ir::ramp(ra->base - b, ra->stride, lanes_);
          if (sa && rb) return ir::ramp(a - rb->base, ir::make_const(rb->stride.dtype(), 0) - rb->stride, lanes_);
          if (ra && rb) return ir::ramp(ra->base - rb->base, ra->stride - rb->stride, lanes_);
          break;
        case BinaryOp::Mul:
          if (ra && sb) return ir::ramp(ra->base * b, ra->stride * b, lanes_);
          if (sa && rb) return ir::ramp(a * rb->base, a * rb->stride, lanes_);
          break;
        default: break;
      }
    }
    return ir::binary(op, widen(a), widen(b));
  }

  // cast<to>(Ramp(b, s)) as Ramp(b, s) in `to`, for a signed widening cast of a Ramp with constant
  // base and stride whose lanes all fit the narrow type (typically an int32 loop variable from 0 in
  // an int64 index); undefined otherwise.
  ir::Expr widen_constant_ramp(const ir::Expr& v, DataType to) const {
    auto* r = v.as<ir::RampNode>();
    DataType from = v.dtype().element_of();
    if (!r || !from.is_int() || !to.is_int() || to.bits <= from.bits) return {};
    auto b = ir::const_int(r->base), st = ir::const_int(r->stride);
    if (!b || !st) return {};
    using arith::detail::i128;
    i128 lo = -(i128(1) << (from.bits - 1)), hi = (i128(1) << (from.bits - 1)) - 1;
    i128 first = *b, last = i128(*b) + i128(*st) * (lanes_ - 1);
    if (first < lo || first > hi || last < lo || last > hi) return {};
    return ir::ramp(ir::int_imm(*b, to.element_of()), ir::int_imm(*st, to.element_of()), lanes_);
  }

  // True when evaluating e can neither read memory nor divide integers (so computing it for a
  // lane that the serial loop would not evaluate it for is harmless).
  static bool speculable(const ir::Expr& e) {
    struct V : ir::ExprVisitor {
      bool ok = true;
      void visit(const ir::Expr& x) override {
        if (!ok || !x.defined()) return;
        if (x.kind() == ir::ExprKind::BufferLoad) { ok = false; return; }
        if (auto* b = x.as<ir::BinaryNode>(); b && !b->a.dtype().is_float() &&
            (b->op == ir::BinaryOp::Div || b->op == ir::BinaryOp::Mod || b->op == ir::BinaryOp::FloorDiv ||
             b->op == ir::BinaryOp::FloorMod)) {
          ok = false;
          return;
        }
        ir::ExprVisitor::visit(x);
      }
    } v;
    v.visit(e);
    return v.ok;
  }

  ir::Expr vector_call(const ir::Expr& e) {
    auto* n = e.as<ir::CallNode>();
    bool lazy = n->op == "if_then_else" && n->args.size() == 3;
    if (!lazy && !ir::find_intrinsic(n->op)) {
      auto [args, changed] = mutate_all(n->args);
      for (auto& a : args)
        if (!is_scalar(a)) return fail(e, "a call that is not an intrinsic depends on the lane");
      return failed || !changed ? e : ir::call(n->dtype, n->op, std::move(args));
    }
    auto [args, changed] = mutate_all(n->args);
    if (failed || !changed) return e;
    bool vec = false;
    for (auto& a : args) vec |= !is_scalar(a);
    if (!vec) return ir::call(n->dtype, n->op, std::move(args));
    if (lazy && !is_scalar(args[0])) {
      // Lanes pick different branches: both are computed, which is only safe when they cannot fault.
      if (!speculable(n->args[1]) || !speculable(n->args[2]))
        return fail(e, "a lazy if_then_else with a lane-dependent condition whose branches load or divide");
      return ir::select(args[0], widen(args[1]), widen(args[2]));
    }
    for (size_t i = lazy ? 1 : 0; i < args.size(); ++i) args[i] = widen(args[i]);
    return ir::call(n->dtype.with_lanes(lanes_), n->op, std::move(args));
  }

  const ir::VarNode* var_;
  int lanes_;
  ir::Expr ramp_;
  std::unordered_map<const void*, ir::Var> vector_vars_;
  std::unordered_set<const void*> bound_;
};

// The loop-carried dependence check on a vectorized body (see the top of the file).
class VectorDependenceCheck : public ir::StmtExprVisitor {
 public:
  explicit VectorDependenceCheck(int lanes) : lanes_(lanes) {}

  void visit_buffer_load(const ir::BufferLoadNode& n) override {
    record(n.buffer, n.indices, false);
    ir::ExprVisitor::visit_buffer_load(n);
  }
  void visit_buffer_store(const ir::BufferStoreNode& n) override {
    record(n.buffer, n.indices, true);
    ir::StmtExprVisitor::visit_buffer_store(n);
  }

  // True when the vector body computes what the serial loop computes.
  bool independent() {
    for (auto& [data, list] : accesses_) {
      bool stored = false;
      for (auto& a : list) stored |= a.store;
      if (!stored) continue;
      for (auto& a : list) {
        if (a.dtype != list[0].dtype || !a.index.defined()) return false;  // reinterpreting views, or not 1-D
        // An index that reads a stored buffer may name different elements at different statements
        // even when it is written the same way.
        for (const void* r : a.reads)
          if (stored_.count(r)) return false;
      }
      for (size_t p = 0; p < list.size(); ++p) {
        if (!list[p].store) continue;
        for (size_t q = 0; q < list.size(); ++q) {
          if (q == p) continue;
          const ir::Expr &x = list[p].index, &y = list[q].index;
          if (ir::structural_equal(x, y)) {
            if (!list[q].store && !injective(x)) return false;
          } else if (!disjoint(x, y)) {
            return false;
          }
        }
      }
    }
    return true;
  }

 private:
  struct Access {
    ir::Expr index;  // simplified; undefined when the access is not 1-D
    DataType dtype;
    bool store;
    std::vector<const void*> reads;  // data vars of the buffers the index loads from
  };

  void record(const ir::Buffer& b, const std::vector<ir::Expr>& indices, bool store) {
    ir::Expr idx = indices.size() == 1 ? arith::simplify(indices[0]) : ir::Expr();
    struct Loads : ir::ExprVisitor {
      std::vector<const void*> data;
      void visit_buffer_load(const ir::BufferLoadNode& n) override {
        data.push_back(n.buffer->data.get());
        ir::ExprVisitor::visit_buffer_load(n);
      }
    } loads;
    for (auto& i : indices) loads.visit(i);
    accesses_[b->data.get()].push_back({idx, b->dtype, store, std::move(loads.data)});
    if (store) stored_.insert(b->data.get());
  }

  // A Ramp with a constant stride s != 0 whose lanes cannot wrap onto each other.
  std::optional<int64_t> const_stride(const ir::Expr& e) const {
    auto* r = e.as<ir::RampNode>();
    if (!r) return std::nullopt;
    auto s = ir::const_int(r->stride);
    if (!s || *s == 0 || *s == INT64_MIN) return std::nullopt;
    int bits = r->stride.dtype().bits;
    uint64_t span = uint64_t(std::llabs(*s)) * uint64_t(lanes_);
    if (bits < 64 ? span >= (uint64_t(1) << (bits - 1)) : span / uint64_t(lanes_) != uint64_t(std::llabs(*s)))
      return std::nullopt;
    return s;
  }
  bool injective(const ir::Expr& e) const { return const_stride(e).has_value(); }

  // x and y (x a store index: a vector) never name the same element, for any values of the
  // variables: both Ramps with the same constant stride s and bases differing by a constant d
  // with d not a multiple of s or |d / s| >= lanes; or y a scalar b_y with b_y - b_x not a
  // multiple of s or outside [0, s * lanes).
  bool disjoint(const ir::Expr& x, const ir::Expr& y) const {
    auto sx = const_stride(x);
    if (!sx) return false;
    auto* rx = x.as<ir::RampNode>();
    if (y.dtype().is_scalar()) {
      auto d = difference(y, rx->base);
      if (!d) return false;
      return *d % *sx != 0 || *d / *sx < 0 || *d / *sx >= lanes_;
    }
    auto sy = const_stride(y);
    auto* ry = y.as<ir::RampNode>();
    if (!sy || *sy != *sx || ry->lanes != rx->lanes) return false;
    auto d = difference(rx->base, ry->base);
    if (!d) return false;
    return *d % *sx != 0 || *d / *sx >= lanes_ || *d / *sx <= -lanes_;
  }

  // a - b when it is a constant. Signed indices of different widths (an int32 constant index next
  // to an int64 one) are compared at the wider type, which holds both values exactly.
  static std::optional<int64_t> difference(ir::Expr a, ir::Expr b) {
    DataType ta = a.dtype(), tb = b.dtype();
    if (!ta.is_int() || !tb.is_int()) return std::nullopt;
    if (ta.bits < tb.bits) a = ir::cast(tb, a);
    if (tb.bits < ta.bits) b = ir::cast(ta, b);
    return ir::const_int(arith::simplify(ir::sub(a, b)));
  }

  int lanes_;
  std::unordered_map<const void*, std::vector<Access>> accesses_;
  std::unordered_set<const void*> stored_;
};

class LoopVectorizer : public ir::StmtExprMutator {
 public:
  using ir::StmtExprMutator::mutate;

  ir::Stmt mutate_for(const ir::Stmt& s) override {
    ir::Stmt loop = ir::StmtExprMutator::mutate_for(s);  // inner loops first
    auto* n = loop.as<ir::ForNode>();
    if (n->for_kind != ir::ForKind::Vectorized) return loop;
    auto extent = fold_const_int(n->extent);
    if (!extent || *extent <= 0 || *extent > kMaxVectorLanes) return loop;
    int lanes = int(*extent);
    if (lanes == 1) {
      ir::VarMap m;
      m[n->loop_var.get()] = n->min.dtype() == n->loop_var.dtype() ? n->min : ir::cast(n->loop_var.dtype(), n->min);
      return ir::substitute(n->body, m);
    }
    LaneVectorizer vec(n->loop_var, n->min, lanes);
    ir::Stmt body = vec.mutate(n->body);
    if (vec.failed) return loop;
    VectorDependenceCheck dep(lanes);
    dep.visit(body);
    if (!dep.independent()) return loop;
    return body;
  }
};

}  // namespace detail

// Replaces each vectorized loop with constant extent by vector code where that is exact; other
// loops (and vectorized loops that cannot be vectorized exactly) are left as they are.
inline ir::Stmt vectorize_loops(const ir::Stmt& s) { return detail::LoopVectorizer().mutate(s); }
inline ir::PrimFunc vectorize_loops(const ir::PrimFunc& f) { return ir::with_body(f, vectorize_loops(f->body)); }

}  // namespace kiln::tir
