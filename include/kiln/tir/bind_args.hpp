// kiln/tir/bind_args.hpp: the call boundary of a PrimFunc, shared by the interpreter and every backend.
//
// bind_arguments checks what a caller passes (count, kind, dtype, rank, shape, compactness, device,
// alignment) against the function's parameters and binds the symbolic sizes (Vars in parameter
// buffers' shapes that are not parameters) from the tensors' shapes. A size Var that is a whole
// dimension is bound where it first appears; later appearances and dimensions that are expressions
// of size Vars (n * 2) are checked against it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/ir/functor.hpp"
#include "kiln/runtime/arg.hpp"

namespace kiln::tir {

namespace detail {

// Shape expressions as a user wrote them: "n", "128", "n*2", "floordiv(n, 4)" (inner sums parenthesized).
inline std::string shape_expr_str(const ir::Expr& e, bool top = true) {
  using namespace ir;
  if (!e.defined()) return "?";
  if (auto* i = e.as<IntImmNode>()) return std::to_string(i->value);
  if (auto* v = e.as<VarNode>()) return v->name;
  if (auto* c = e.as<CastNode>()) return shape_expr_str(c->value, top);
  if (auto* b = e.as<BinaryNode>()) {
    const char* infix = b->op == BinaryOp::Add ? " + " : b->op == BinaryOp::Sub ? " - " : b->op == BinaryOp::Mul ? "*" : nullptr;
    if (!infix)
      return std::string(binary_op_name(b->op)) + "(" + shape_expr_str(b->a) + ", " + shape_expr_str(b->b) + ")";
    std::string s = shape_expr_str(b->a, false) + infix + shape_expr_str(b->b, false);
    return top ? s : "(" + s + ")";
  }
  return "<expr>";
}
inline std::string shape_str(const std::vector<ir::Expr>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + shape_expr_str(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

inline void collect_vars(const ir::Expr& e, std::vector<ir::Var>& out, std::unordered_set<const ir::VarNode*>& seen) {
  struct Collector : ir::ExprVisitor {
    std::vector<ir::Var>* out;
    std::unordered_set<const ir::VarNode*>* seen;
    void visit_var(const ir::VarNode& n, const ir::Expr& e) override {
      if (seen->insert(&n).second) out->push_back(ir::Var(std::static_pointer_cast<const ir::VarNode>(e.ptr())));
    }
  } c;
  c.out = &out;
  c.seen = &seen;
  c.visit(e);
}

// Evaluates an integer shape expression; nullopt names the first unbound Var in `missing`.
inline std::optional<int64_t> eval_shape_expr(const ir::Expr& e, const std::unordered_map<const ir::VarNode*, int64_t>& vals,
                                              std::string& missing) {
  using namespace ir;
  if (auto* i = e.as<IntImmNode>()) return i->value;
  if (auto* v = e.as<VarNode>()) {
    auto it = vals.find(v);
    if (it == vals.end()) {
      if (missing.empty()) missing = v->name;
      return std::nullopt;
    }
    return it->second;
  }
  if (auto* c = e.as<CastNode>()) return eval_shape_expr(c->value, vals, missing);
  if (auto* b = e.as<BinaryNode>()) {
    auto x = eval_shape_expr(b->a, vals, missing), y = eval_shape_expr(b->b, vals, missing);
    if (!x || !y) return std::nullopt;
    int64_t p = *x, q = *y;
    auto u = [](int64_t z) { return uint64_t(z); };
    switch (b->op) {
      case BinaryOp::Add: return int64_t(u(p) + u(q));
      case BinaryOp::Sub: return int64_t(u(p) - u(q));
      case BinaryOp::Mul: return int64_t(u(p) * u(q));
      case BinaryOp::Min: return std::min(p, q);
      case BinaryOp::Max: return std::max(p, q);
      case BinaryOp::Div: case BinaryOp::Mod: case BinaryOp::FloorDiv: case BinaryOp::FloorMod: {
        if (q == 0) user_error("shape expression ", shape_expr_str(e), " divides by zero");
        if (q == -1) return b->op == BinaryOp::Div || b->op == BinaryOp::FloorDiv ? int64_t(0 - u(p)) : 0;
        int64_t d = p / q, m = p % q;
        if ((b->op == BinaryOp::FloorDiv || b->op == BinaryOp::FloorMod) && m != 0 && ((m < 0) != (q < 0))) {
          d -= 1;
          m += q;
        }
        return b->op == BinaryOp::Div || b->op == BinaryOp::FloorDiv ? d : m;
      }
      default: break;
    }
  }
  user_error("shape expression ", shape_expr_str(e),
             " cannot be evaluated at the call boundary; legal: integer constants, size variables, + - * min max "
             "div mod floordiv floormod");
}

inline bool fits_in(int64_t v, DataType t) {
  if (t.is_bool()) return v == 0 || v == 1;
  if (t.bits >= 64) return true;
  if (t.is_uint()) return v >= 0 && v < (int64_t(1) << t.bits);
  int64_t lim = int64_t(1) << (t.bits - 1);
  return v >= -lim && v < lim;
}

}  // namespace detail

// Symbolic size variables of f: Vars in param buffers' shape/strides/elem_offset that are not
// params, in order of first appearance (buffers in param order; shape, then strides, then offset).
inline std::vector<ir::Var> shape_vars(const ir::PrimFunc& f) {
  std::unordered_set<const ir::VarNode*> seen;
  for (auto& p : f->params) seen.insert(p.get());
  std::vector<ir::Var> out;
  for (auto& b : f->param_buffers) {
    if (!b.defined()) continue;
    for (auto& d : b->shape) detail::collect_vars(d, out, seen);
    for (auto& s : b->strides) detail::collect_vars(s, out, seen);
    detail::collect_vars(b->elem_offset, out, seen);
  }
  return out;
}

struct BoundArgs {
  std::vector<runtime::Arg> args;                              // as passed, one per param
  std::unordered_map<const ir::VarNode*, int64_t> int_values;  // int scalar params + shape vars
  std::unordered_map<const ir::VarNode*, double> float_values; // float scalar params
  std::vector<int64_t> shape_var_values;                       // parallel to shape_vars(f)
};

// Checks count, kind, dtype, rank, shape (against constants and symbolic vars), compactness
// (buffer strides empty => tensor must be compact; Var strides are bound like shape vars),
// device, data alignment (buffer->align_bytes), and throws kiln::UserError naming the function,
// the argument (index and name), what was expected and what was passed.
inline BoundArgs bind_arguments(const ir::PrimFunc& f, const std::vector<runtime::Arg>& args,
                                runtime::Device expected = runtime::Device::cpu()) {
  using namespace ir;
  const std::string kernel = "kernel '" + f->name + "'";
  const size_t n = f->params.size();
  auto param_name = [&](size_t i) { return f->param_buffers[i].defined() ? f->param_buffers[i]->name : f->params[i].name(); };
  auto arg_str = [&](size_t i) { return kernel + ": argument " + std::to_string(i) + " ('" + param_name(i) + "')"; };
  if (args.size() != n) {
    std::string names;
    for (size_t i = 0; i < n; ++i) names += (i ? ", " : "") + param_name(i);
    user_error(kernel, " takes ", n, " argument", n == 1 ? "" : "s", " (", names, ") but was called with ", args.size());
  }

  BoundArgs out;
  out.args = args;
  // Where each size Var got its value, for messages: "n = 64 bound by argument 0 ('A') dim 0".
  std::unordered_map<const VarNode*, std::string> origin;

  // Scalars first: a buffer shape may use a scalar parameter.
  for (size_t i = 0; i < n; ++i) {
    if (f->param_buffers[i].defined()) continue;
    const Var& v = f->params[i];
    DataType t = v.dtype();
    const auto& a = args[i];
    if (a.is_tensor())
      user_error(arg_str(i), " is a scalar of type ", t.str(), " but was passed a tensor of shape ",
                 runtime::shape_str(a.tensor().shape()), "; pass a number");
    if (t.is_float()) {
      if (auto* d = std::get_if<double>(&a.value)) out.float_values[v.get()] = *d;
      else out.float_values[v.get()] = double(std::get<int64_t>(a.value));
    } else if (t.is_integer() || t.is_bool()) {
      auto* iv = std::get_if<int64_t>(&a.value);
      if (!iv) user_error(arg_str(i), " is a scalar of type ", t.str(), " but was passed the float ", std::get<double>(a.value),
                          "; pass an integer");
      if (!detail::fits_in(*iv, t)) user_error(arg_str(i), " is a scalar of type ", t.str(), " but ", *iv, " does not fit in it");
      out.int_values[v.get()] = *iv;
      origin[v.get()] = "argument " + std::to_string(i) + " ('" + v.name() + "')";
    } else {
      user_error(arg_str(i), " has type ", t.str(), ", which cannot be passed; legal scalar parameters are ints, uints, ",
                 "bools and floats");
    }
  }

  struct Deferred {
    size_t arg;
    const char* what;  // "dim" or "stride"
    size_t index;
    Expr expr;
    int64_t actual;
  };
  std::vector<Deferred> deferred;
  auto expected_shape = [&](size_t i) {
    const Buffer& b = f->param_buffers[i];
    std::string s = detail::shape_str(b->shape);
    std::vector<Var> vars;
    std::unordered_set<const VarNode*> seen;
    for (auto& d : b->shape) detail::collect_vars(d, vars, seen);
    std::string with;
    for (auto& v : vars) {
      auto it = out.int_values.find(v.get());
      if (it == out.int_values.end()) continue;
      with += (with.empty() ? " with " : ", ") + v.name() + " = " + std::to_string(it->second) + " bound by " + origin[v.get()];
    }
    return s + with;
  };

  for (size_t i = 0; i < n; ++i) {
    const Buffer& b = f->param_buffers[i];
    if (!b.defined()) continue;
    const auto& a = args[i];
    if (!a.is_tensor())
      user_error(arg_str(i), " must be a ", b->dtype.str(), " tensor of shape ", detail::shape_str(b->shape), " but was passed ",
                 a.kind_name() == std::string("integer") ? "the integer " : "the float ",
                 std::holds_alternative<int64_t>(a.value) ? std::to_string(std::get<int64_t>(a.value))
                                                          : std::to_string(std::get<double>(a.value)));
    const runtime::Tensor& t = a.tensor();
    if (t.dtype() != b->dtype)
      user_error(arg_str(i), " has the wrong element type: expected ", b->dtype.str(), ", got ", t.dtype().str());
    if (t.device() != expected)
      user_error(arg_str(i), " is on ", t.device().str(), " but this kernel runs on ", expected.str(), "; copy it to ",
                 expected.str(), " first");
    if (size_t(t.ndim()) != b->shape.size())
      user_error(arg_str(i), " has ", t.ndim(), " dimension", t.ndim() == 1 ? "" : "s", " (shape ",
                 runtime::shape_str(t.shape()), ") but expected ", b->shape.size(), ": ", detail::shape_str(b->shape));
    for (int64_t d : t.shape())
      if (d < 0) user_error(arg_str(i), " has a negative dimension: shape ", runtime::shape_str(t.shape()));

    // Binds or checks one dimension (or stride) against the tensor's.
    auto match = [&](const Expr& e, int64_t actual, const char* what, size_t k) {
      if (auto* v = e.as<VarNode>()) {
        auto it = out.int_values.find(v);
        if (it == out.int_values.end()) {
          out.int_values[v] = actual;
          origin[v] = "argument " + std::to_string(i) + " ('" + b->name + "') " + what + " " + std::to_string(k);
          return;
        }
        if (it->second == actual) return;
      } else if (auto* c = e.as<IntImmNode>()) {
        if (c->value == actual) return;
      } else {
        deferred.push_back({i, what, k, e, actual});
        return;
      }
      if (std::string(what) == "dim")
        user_error(arg_str(i), " has shape ", runtime::shape_str(t.shape()), " but expected ", expected_shape(i));
      user_error(arg_str(i), " has strides ", runtime::shape_str(t.strides()), " but expected ", detail::shape_str(b->strides),
                 ": stride ", k, " should be ", detail::shape_expr_str(e));
    };
    for (size_t k = 0; k < b->shape.size(); ++k) match(b->shape[k], t.shape()[k], "dim", k);

    if (b->strides.empty()) {
      // Compact row-major; strides of extent-1 dimensions and of empty tensors do not matter.
      bool compact = true;
      if (t.numel() > 0) {
        int64_t acc = 1;
        for (size_t k = t.shape().size(); k-- > 0;) {
          if (t.shape()[k] != 1 && t.strides()[k] != acc) compact = false;
          acc *= t.shape()[k];
        }
      }
      if (!compact)
        user_error(arg_str(i), " is not compact (shape ", runtime::shape_str(t.shape()), ", strides ",
                   runtime::shape_str(t.strides()), ") but the kernel expects a compact row-major tensor with strides ",
                   runtime::shape_str(runtime::Tensor::compact_strides(t.shape())), "; pass a compact tensor (e.g. a copy)");
    } else {
      if (b->strides.size() != b->shape.size())
        user_error(kernel, ": parameter buffer '", b->name, "' has ", b->shape.size(), " dimensions but ", b->strides.size(),
                   " strides");
      for (size_t k = 0; k < b->strides.size(); ++k) match(b->strides[k], t.strides()[k], "stride", k);
    }
    // A tensor's data pointer is its first element: a symbolic elem_offset is 0, a constant one must be.
    if (auto* v = b->elem_offset.as<VarNode>()) {
      if (!out.int_values.count(v)) {
        out.int_values[v] = 0;
        origin[v] = "argument " + std::to_string(i) + " (data pointer)";
      }
    } else if (b->elem_offset.defined() && !is_const_int(b->elem_offset, 0)) {
      user_error(kernel, ": parameter buffer '", b->name, "' has elem_offset ", detail::shape_expr_str(b->elem_offset),
                 "; parameter buffers must start at their data pointer (elem_offset 0 or a variable)");
    }

    if (t.numel() > 0) {
      if (t.data() == nullptr) user_error(arg_str(i), " has shape ", runtime::shape_str(t.shape()), " but no data (null pointer)");
      int natural = std::max(1, b->dtype.bytes());
      int align = std::max(natural, b->align_bytes);
      auto addr = reinterpret_cast<uintptr_t>(t.data());
      if (addr % uintptr_t(align) != 0)
        user_error(arg_str(i), ": data pointer ", t.data(), " is not aligned to ", align, " bytes as the kernel assumes",
                   b->align_bytes > natural ? " (buffer align_bytes = " + std::to_string(b->align_bytes) + ")" : std::string(),
                   "; pass memory from Tensor::empty (64-byte aligned) or a copy");
    }
  }

  for (auto& d : deferred) {
    std::string missing;
    auto v = detail::eval_shape_expr(d.expr, out.int_values, missing);
    const Buffer& b = f->param_buffers[d.arg];
    if (!v)
      user_error(kernel, ": cannot infer size variable '", missing, "': it appears in ", d.what, " ", d.index, " of argument ",
                 d.arg, " ('", b->name, "') only inside the expression ", detail::shape_expr_str(d.expr),
                 ", never as a whole dimension of a parameter; make some parameter's dimension exactly '", missing,
                 "' or pass it as a scalar parameter");
    if (*v != d.actual) {
      const auto& t = args[d.arg].tensor();
      if (std::string(d.what) == "dim")
        user_error(arg_str(d.arg), " has shape ", runtime::shape_str(t.shape()), " but expected ", expected_shape(d.arg), ": dim ",
                   d.index, " should be ", detail::shape_expr_str(d.expr), " = ", *v);
      user_error(arg_str(d.arg), " has strides ", runtime::shape_str(t.strides()), " but expected ",
                 detail::shape_str(b->strides), ": stride ", d.index, " should be ", detail::shape_expr_str(d.expr), " = ", *v);
    }
  }

  for (auto& v : shape_vars(f)) {
    auto it = out.int_values.find(v.get());
    if (it == out.int_values.end())
      user_error(kernel, ": cannot infer size variable '", v.name(), "' from the arguments; it must appear as a whole ",
                 "dimension (or stride) of some parameter buffer");
    out.shape_var_values.push_back(it->second);
  }
  return out;
}

}  // namespace kiln::tir
