// kiln/tir/transform/legalize_narrow_floats.hpp: float16/bfloat16 math -> float32 math.
//
// kiln's numeric rule is that narrow floats are storage types: every operation on them is done
// in float32 and rounded back to the narrow type right after (per-op rounding, as the reference
// interpreter does). This pass makes that explicit so backends never see narrow arithmetic:
//   a + b             -> cast<f16>(cast<f32>(a) + cast<f32>(b))
//   a < b             -> cast<f32>(a) < cast<f32>(b)                  (exact, no rounding back)
//   exp(a)            -> cast<f16>(exp(cast<f32>(a)))
//   cast<i32>(a)      -> cast<i32>(cast<f32>(a))                       (casts to f16/bf16 stay: one rounding)
// Loads, stores, selects, lets and broadcasts keep the narrow type; vector lanes are preserved.
#pragma once
#include "kiln/ir/ir.hpp"

namespace kiln::tir {

inline bool is_narrow_float(DataType t) { return t.is_float16() || t.is_bfloat16(); }

namespace detail {

class NarrowFloatLegalizer : public ir::StmtExprMutator {
 public:
  using ir::StmtExprMutator::mutate;

  ir::Expr mutate(const ir::Expr& e) override {
    if (!e.defined()) return e;
    if (auto* n = e.as<ir::BinaryNode>(); n && is_narrow_float(n->a.dtype())) {
      ir::Expr r = ir::binary(n->op, widen(mutate(n->a)), widen(mutate(n->b)));
      return ir::is_comparison(n->op) ? r : ir::cast(n->dtype, r);
    }
    if (auto* n = e.as<ir::CallNode>(); n && ir::find_intrinsic(n->op) && involves_narrow(*n)) {
      std::vector<ir::Expr> args;
      for (auto& a : n->args) args.push_back(widen(mutate(a)));
      DataType t = is_narrow_float(n->dtype) ? f32(n->dtype) : n->dtype;
      return ir::cast(n->dtype, ir::call(t, n->op, std::move(args)));
    }
    if (auto* n = e.as<ir::CastNode>()) {
      DataType from = n->value.dtype(), to = n->dtype;
      // Only casts *from* narrow types: a cast to a narrow type is a single rounding that every
      // target does directly (f64 -> f16 through f32 would round twice).
      if (is_narrow_float(from) && to != f32(to)) return ir::cast(to, ir::cast(f32(from), mutate(n->value)));
    }
    return ir::ExprMutator::mutate(e);
  }

 private:
  static DataType f32(DataType t) { return DataType::float_(32, t.lanes); }
  static ir::Expr widen(const ir::Expr& x) { return is_narrow_float(x.dtype()) ? ir::cast(f32(x.dtype()), x) : x; }
  static bool involves_narrow(const ir::CallNode& n) {
    if (is_narrow_float(n.dtype)) return true;
    for (auto& a : n.args)
      if (is_narrow_float(a.dtype())) return true;
    return false;
  }
};

}  // namespace detail

inline ir::Stmt legalize_narrow_floats(const ir::Stmt& s) { return detail::NarrowFloatLegalizer().mutate(s); }
inline ir::PrimFunc legalize_narrow_floats(const ir::PrimFunc& f) {
  return ir::with_body(f, legalize_narrow_floats(f->body));
}

}  // namespace kiln::tir
