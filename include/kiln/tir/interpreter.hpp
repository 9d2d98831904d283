// kiln/tir/interpreter.hpp: the reference interpreter of TensorIR and lowered IR, kiln's oracle.
//
// interpret(f, args) checks and binds the arguments (bind_arguments), compiles the body once into a
// tree of closures whose variables live in numbered slots, and runs it in place on the tensors.
// It runs both forms: blocks (BlockRealize/Block with init, predicates, alloc_buffers) and lowered
// IR (flattened buffers that share the `data` Var of a parameter buffer, Allocate, vectors).
// Memory is found through a buffer's `data` Var, never through Buffer identity.
//
// Semantics (the ones every backend must match): integers wrap modulo 2^bits; Div/Mod truncate,
// FloorDiv/FloorMod floor; integer division by zero is a UserError; float32 is computed in float,
// float16/bfloat16 in float and rounded back after every operation; float min/max ignore a NaN
// operand; Select evaluates both operands, if_then_else only the taken one; all loops run serially
// in order (also parallel, vectorized and thread-bound ones); vectors are computed lane by lane,
// a vector store evaluating all lanes before writing any. Fresh allocations are poisoned (NaN for
// floats, 0xA5 bytes otherwise); every load and store is bounds-checked (UserError, never a crash).
// Float -> int casts truncate toward zero; NaN gives 0 and out-of-range values saturate to int64
// before wrapping to the target width (C leaves both undefined). And/Or evaluate their second
// operand only when needed.
#pragma once
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kiln/ir/intrinsics.hpp"
#include "kiln/runtime/float16.hpp"
#include "kiln/tir/bind_args.hpp"

namespace kiln::tir {

namespace interp {

union Slot {
  int64_t i;
  double f;
};

struct Mem {
  unsigned char* base = nullptr;
  int64_t bytes = 0;
};

struct Ctx {
  std::vector<Slot> slots;
  std::vector<Mem> mems;
  int lane = 0;  // the lane being computed inside a vector expression
};

using IFn = std::function<int64_t(Ctx&)>;  // ints, uints (as bits) and bools, normalized to their type
using FFn = std::function<double(Ctx&)>;   // floats of every width, held exactly in a double
using SFn = std::function<void(Ctx&)>;

// A compiled expression: `i` for integer and bool types, `f` for float types.
struct CExpr {
  DataType t;
  IFn i;
  FFn f;
};

// An integer operand: a scalar variable's slot or a constant is read directly, anything else
// through its closure (saves a call on the common index expressions).
struct IOp {
  int slot = -1;
  bool constant = false;
  int64_t value = 0;
  IFn fn;
  int64_t operator()(Ctx& c) const {
    if (slot >= 0) return c.slots[size_t(slot)].i;
    if (constant) return value;
    return fn(c);
  }
};

// ---- integers ---------------------------------------------------------------------------------
// Truncates to `bits` and sign- or zero-extends back to 64 (sh = 64 - bits).
template <bool Signed>
inline int64_t wrap(uint64_t v, int sh) {
  if constexpr (Signed) return int64_t(v << sh) >> sh;
  else return int64_t((v << sh) >> sh);
}
inline int wrap_shift(DataType t) { return t.is_bool() ? 63 : 64 - t.bits; }
inline int64_t wrap_to(DataType t, uint64_t v) {
  if (t.is_bool()) return v != 0;
  return t.is_int() ? wrap<true>(v, wrap_shift(t)) : wrap<false>(v, wrap_shift(t));
}

// ---- floats -----------------------------------------------------------------------------------
enum class FK { F16, BF16, F32, F64 };
inline FK float_kind(DataType t) {
  if (t.is_bfloat16()) return FK::BF16;
  if (t.bits == 16) return FK::F16;
  if (t.bits == 32) return FK::F32;
  KILN_USER_CHECK(t.bits == 64, "float type ", t.str(), " is not supported by the interpreter");
  return FK::F64;
}
template <FK K>
using ComputeT = std::conditional_t<K == FK::F64, double, float>;

// Rounds a result computed in ComputeT<K> to the type K, held in a double.
template <FK K>
inline double fin(ComputeT<K> r) {
  if constexpr (K == FK::F16) return runtime::round_to_half(r);
  else if constexpr (K == FK::BF16) return runtime::round_to_bfloat16(r);
  else return double(r);
}
// Rounds any double (an exact value of some other type) once to type K.
template <FK K>
inline double conv(double d) {
  if constexpr (K == FK::F16) return runtime::half_bits_to_float(runtime::double_to_half_bits(d));
  else if constexpr (K == FK::BF16) return runtime::bfloat16_bits_to_float(runtime::double_to_bfloat16_bits(d));
  else if constexpr (K == FK::F32) return double(float(d));
  else return d;
}
inline double conv_to(DataType t, double d) {
  switch (float_kind(t)) {
    case FK::F16: return conv<FK::F16>(d);
    case FK::BF16: return conv<FK::BF16>(d);
    case FK::F32: return conv<FK::F32>(d);
    case FK::F64: return d;
  }
  return d;
}
template <typename F>
inline auto with_float_kind(DataType t, F&& f) {
  switch (float_kind(t)) {
    case FK::F16: return f(std::integral_constant<FK, FK::F16>{});
    case FK::BF16: return f(std::integral_constant<FK, FK::BF16>{});
    case FK::F32: return f(std::integral_constant<FK, FK::F32>{});
    case FK::F64: break;
  }
  return f(std::integral_constant<FK, FK::F64>{});
}

// Float -> integer: truncate toward zero; NaN -> 0; saturate to the 64-bit range, then wrap.
inline int64_t float_to_int(double d, DataType t) {
  if (t.is_bool()) return d != 0;
  if (std::isnan(d)) return 0;
  d = std::trunc(d);
  uint64_t bits;
  if (t.is_uint() && t.bits == 64 && d >= 9223372036854775808.0) bits = d >= 18446744073709551616.0 ? ~uint64_t(0) : uint64_t(d);
  else if (d >= 9223372036854775808.0) bits = uint64_t(std::numeric_limits<int64_t>::max());
  else if (d < -9223372036854775808.0) bits = uint64_t(std::numeric_limits<int64_t>::min());
  else bits = uint64_t(int64_t(d));
  return wrap_to(t, bits);
}
// Integer (as stored) -> float type t, rounded once.
inline double int_to_float(int64_t v, DataType from, DataType t) {
  bool u = from.is_uint() && from.bits == 64;
  switch (float_kind(t)) {
    case FK::F32: return u ? double(float(uint64_t(v))) : double(float(v));
    case FK::F64: return u ? double(uint64_t(v)) : double(v);
    default: return conv_to(t, u ? double(uint64_t(v)) : double(v));
  }
}

// ---- memory -----------------------------------------------------------------------------------
template <typename T>
inline T load_raw(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void store_raw(unsigned char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

inline int64_t load_int(const unsigned char* p, DataType t) {
  switch (t.code) {
    case TypeCode::Bool: return *p != 0;
    case TypeCode::Int:
      switch (t.bits) {
        case 8: return load_raw<int8_t>(p);
        case 16: return load_raw<int16_t>(p);
        case 32: return load_raw<int32_t>(p);
        default: return load_raw<int64_t>(p);
      }
    default:
      switch (t.bits) {
        case 8: return load_raw<uint8_t>(p);
        case 16: return load_raw<uint16_t>(p);
        case 32: return load_raw<uint32_t>(p);
        default: return load_raw<int64_t>(p);
      }
  }
}
inline void store_int(unsigned char* p, DataType t, int64_t v) {
  switch (t.bytes()) {
    case 1: *p = uint8_t(v); return;
    case 2: store_raw<uint16_t>(p, uint16_t(v)); return;
    case 4: store_raw<uint32_t>(p, uint32_t(v)); return;
    default: store_raw<int64_t>(p, v); return;
  }
}
inline double load_float(const unsigned char* p, FK k) {
  switch (k) {
    case FK::F16: return runtime::half_bits_to_float(load_raw<uint16_t>(p));
    case FK::BF16: return runtime::bfloat16_bits_to_float(load_raw<uint16_t>(p));
    case FK::F32: return load_raw<float>(p);
    case FK::F64: break;
  }
  return load_raw<double>(p);
}
inline void store_float(unsigned char* p, FK k, double v) {
  switch (k) {
    case FK::F16: store_raw<uint16_t>(p, runtime::double_to_half_bits(v)); return;
    case FK::BF16: store_raw<uint16_t>(p, runtime::double_to_bfloat16_bits(v)); return;
    case FK::F32: store_raw<float>(p, float(v)); return;
    case FK::F64: store_raw<double>(p, v); return;
  }
}

// Fills fresh memory so that reading it before writing shows: NaN for floats, 0xA5 bytes otherwise.
inline void poison(unsigned char* p, int64_t count, DataType t) {
  if (!t.is_float()) {
    std::memset(p, 0xA5, size_t(count) * size_t(t.bytes()));
    return;
  }
  FK k = float_kind(t);
  double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t i = 0; i < count; ++i) store_float(p + i * t.bytes(), k, nan);
}

// Memory of one Allocate / alloc_buffer execution; restores what the data Var meant before.
struct AllocationScope {
  Ctx& c;
  int mem;
  Mem saved;
  std::unique_ptr<unsigned char[]> storage;
  AllocationScope(Ctx& ctx, int m, int64_t count, DataType t) : c(ctx), mem(m), saved(ctx.mems[size_t(m)]) {
    int64_t bytes = count * t.bytes();
    storage.reset(new unsigned char[size_t(std::max<int64_t>(bytes, 1))]);
    poison(storage.get(), count, t);
    c.mems[size_t(m)] = Mem{storage.get(), bytes};
  }
  ~AllocationScope() { c.mems[size_t(mem)] = saved; }
  AllocationScope(const AllocationScope&) = delete;
  AllocationScope& operator=(const AllocationScope&) = delete;
};

inline std::string tuple_str(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

// How to find the element of one buffer access: shape, strides and offset, constant when possible.
struct Access {
  std::string buffer;
  const char* what;  // "load from" / "store to"
  DataType elem;
  int mem = 0;
  std::vector<IOp> index, shape, stride;
  IOp elem_offset;
  int elem_shift = 0;  // log2 of the element size
  bool constant_layout = false;
  std::vector<int64_t> cshape, cstride;
  int64_t coffset = 0;

  [[noreturn]] void fail_dim(Ctx& c, size_t d, int64_t idx, int64_t ext) const {
    std::vector<int64_t> all, shp;
    for (auto& i : index) all.push_back(i(c));
    for (size_t k = 0; k < index.size(); ++k) shp.push_back(constant_layout ? cshape[k] : shape[k](c));
    user_error("out-of-bounds ", what, " buffer '", buffer, "': index ", tuple_str(all), " is outside its shape ", tuple_str(shp),
               " (dim ", d, ": ", idx, " is not in [0, ", ext, ")",
               c.lane || index.size() ? (" at vector lane " + std::to_string(c.lane)) : std::string(), ")");
  }
  [[noreturn]] void fail_mem(int64_t off, const Mem& m) const {
    user_error("out-of-bounds ", what, " buffer '", buffer, "': element offset ", off, " is outside its memory of ",
               m.bytes / std::max(1, elem.bytes()), " ", elem.str(), " elements");
  }
  // Pointer to the element at the current indices (lane c.lane of vector indices), bounds-checked.
  unsigned char* address(Ctx& c) const {
    int64_t off;
    if (constant_layout) {
      off = coffset;
      for (size_t d = 0; d < index.size(); ++d) {
        int64_t i = index[d](c);
        if (i < 0 || i >= cshape[d]) fail_dim(c, d, i, cshape[d]);
        off += i * cstride[d];
      }
    } else {
      off = elem_offset(c);
      for (size_t d = 0; d < index.size(); ++d) {
        int64_t i = index[d](c), ext = shape[d](c);
        if (i < 0 || i >= ext) fail_dim(c, d, i, ext);
        off += i * stride[d](c);
      }
    }
    const Mem& m = c.mems[size_t(mem)];
    if (off < 0 || off >= (m.bytes >> elem_shift)) fail_mem(off, m);
    return m.base + (off << elem_shift);
  }
};

// Compiles a PrimFunc body into closures. Variables get slots; data Vars get memory slots.
class Compiler {
 public:
  explicit Compiler(std::string func) : func_(std::move(func)) {}

  int bind_var(const ir::Var& v) {
    auto it = slot_.find(v.get());
    int s;
    if (it != slot_.end()) s = it->second;
    else {
      s = num_slots_;
      num_slots_ += std::max<int>(1, v.dtype().lanes);
      slot_[v.get()] = s;
    }
    ++in_scope_[v.get()];
    return s;
  }
  void unbind_var(const ir::Var& v) { --in_scope_[v.get()]; }
  int bind_mem(const ir::Var& data) {
    auto it = mem_.find(data.get());
    int m;
    if (it != mem_.end()) m = it->second;
    else {
      m = num_mems_++;
      mem_[data.get()] = m;
    }
    ++mem_in_scope_[data.get()];
    return m;
  }
  void unbind_mem(const ir::Var& data) { --mem_in_scope_[data.get()]; }
  int num_slots() const { return num_slots_; }
  int num_mems() const { return num_mems_; }

  // ---- expressions ----------------------------------------------------------------------------
  CExpr expr(const ir::Expr& e) {
    using namespace ir;
    KILN_ICHECK(e.defined(), "interpreting an undefined expression");
    DataType t = e.dtype();
    switch (e.kind()) {
      case ExprKind::IntImm: {
        int64_t v = e.as<IntImmNode>()->value;
        if (t.is_float()) {
          double d = conv_to(t, double(v));
          return fexpr(t, [d](Ctx&) { return d; });
        }
        int64_t w = wrap_to(t.element_of(), uint64_t(v));
        return iexpr(t, [w](Ctx&) { return w; });
      }
      case ExprKind::FloatImm: {
        double v = e.as<FloatImmNode>()->value;
        if (!t.is_float()) {
          int64_t w = float_to_int(v, t.element_of());
          return iexpr(t, [w](Ctx&) { return w; });
        }
        double d = conv_to(t, v);
        return fexpr(t, [d](Ctx&) { return d; });
      }
      case ExprKind::StringImm: user_error("interpreter: a string constant cannot be used as a value in kernel '", func_, "'");
      case ExprKind::Var: return var(e);
      case ExprKind::Binary: return binary(*e.as<BinaryNode>());
      case ExprKind::Not: {
        IFn a = as_int(expr(e.as<NotNode>()->a));
        return iexpr(t, [a](Ctx& c) -> int64_t { return !a(c); });
      }
      case ExprKind::Select: {
        auto* n = e.as<SelectNode>();
        IFn cnd = as_int(expr(n->cond));
        CExpr x = expr(n->true_value), y = expr(n->false_value);
        if (t.is_float())
          return fexpr(t, [cnd, a = x.f, b = y.f](Ctx& c) {
            bool k = cnd(c) != 0;
            double va = a(c), vb = b(c);  // both sides are evaluated
            return k ? va : vb;
          });
        return iexpr(t, [cnd, a = x.i, b = y.i](Ctx& c) {
          bool k = cnd(c) != 0;
          int64_t va = a(c), vb = b(c);
          return k ? va : vb;
        });
      }
      case ExprKind::Cast: return cast(t, expr(e.as<CastNode>()->value));
      case ExprKind::Call: return call(*e.as<CallNode>());
      case ExprKind::BufferLoad: return load(*e.as<BufferLoadNode>());
      case ExprKind::Ramp: {
        auto* n = e.as<RampNode>();
        KILN_USER_CHECK(!t.is_float(), "interpreter: ramp of ", t.str(), " in kernel '", func_, "': ramps must be integer");
        IFn b = as_int(expr(n->base)), s = as_int(expr(n->stride));
        DataType et = t.element_of();
        return iexpr(t, [b, s, et](Ctx& c) { return wrap_to(et, uint64_t(b(c)) + uint64_t(c.lane) * uint64_t(s(c))); });
      }
      case ExprKind::Broadcast: {
        CExpr v = expr(e.as<BroadcastNode>()->value);
        v.t = t;
        return v;
      }
      case ExprKind::Let: {
        auto* n = e.as<LetNode>();
        CExpr value = expr(n->value);
        int s = bind_var(n->var);
        CExpr body = expr(n->body);
        unbind_var(n->var);
        bool vec = n->var.dtype().lanes > 1;
        if (value.t.is_float()) {
          FFn v = value.f;
          set_then(body, [v, s, vec](Ctx& c) { c.slots[size_t(s + (vec ? c.lane : 0))].f = v(c); });
        } else {
          IFn v = value.i;
          set_then(body, [v, s, vec](Ctx& c) { c.slots[size_t(s + (vec ? c.lane : 0))].i = v(c); });
        }
        return body;
      }
      case ExprKind::Reduce:
        internal_error("interpreter: kernel '", func_, "' contains a Reduce expression; te::create_prim_func should have ",
                       "removed it (reductions become blocks with init and update)");
    }
    internal_error("interpreter: unknown expression kind");
  }

  // ---- statements -----------------------------------------------------------------------------
  SFn stmt(const ir::Stmt& s) {
    using namespace ir;
    KILN_ICHECK(s.defined(), "interpreting an undefined statement");
    switch (s.kind()) {
      case StmtKind::For: {
        auto* n = s.as<ForNode>();
        IOp mn = iop(n->min), ext = iop(n->extent);
        int v = bind_var(n->loop_var);
        SFn body = stmt(n->body);
        unbind_var(n->loop_var);
        DataType t = n->loop_var.dtype();
        KILN_USER_CHECK(t.is_integer() && t.lanes == 1, "loop variable '", n->loop_var.name(), "' has type ", t.str(),
                        "; loop variables must be scalar integers");
        return [mn, ext, v, body, t](Ctx& c) {
          int64_t lo = mn(c), count = ext(c);
          for (int64_t k = 0; k < count; ++k) {
            c.slots[size_t(v)].i = wrap_to(t, uint64_t(lo) + uint64_t(k));
            body(c);
          }
        };
      }
      case StmtKind::BufferStore: return store(*s.as<BufferStoreNode>());
      case StmtKind::Allocate: {
        auto* n = s.as<AllocateNode>();
        auto size = alloc_size(n->buffer);
        int m = bind_mem(n->buffer->data);
        SFn body = stmt(n->body);
        unbind_mem(n->buffer->data);
        DataType t = n->buffer->dtype;
        return [size, m, body, t](Ctx& c) {
          AllocationScope scope(c, m, size(c), t);
          body(c);
        };
      }
      case StmtKind::IfThenElse: {
        auto* n = s.as<IfThenElseNode>();
        IFn cnd = as_int(expr(n->cond));
        SFn then_s = stmt(n->then_case);
        if (!n->else_case.defined())
          return [cnd, then_s](Ctx& c) {
            if (cnd(c)) then_s(c);
          };
        SFn else_s = stmt(n->else_case);
        return [cnd, then_s, else_s](Ctx& c) {
          if (cnd(c)) then_s(c);
          else else_s(c);
        };
      }
      case StmtKind::Seq: {
        std::vector<SFn> parts;
        for (auto& x : s.as<SeqStmtNode>()->seq) parts.push_back(stmt(x));
        return [parts](Ctx& c) {
          for (auto& p : parts) p(c);
        };
      }
      case StmtKind::LetStmt: {
        auto* n = s.as<LetStmtNode>();
        CExpr value = expr(n->value);
        int v = bind_var(n->var);
        SFn body = stmt(n->body);
        unbind_var(n->var);
        int lanes = n->var.dtype().lanes;
        if (value.t.is_float())
          return [f = value.f, v, lanes, body](Ctx& c) {
            for (c.lane = 0; c.lane < lanes; ++c.lane) c.slots[size_t(v + c.lane)].f = f(c);
            c.lane = 0;
            body(c);
          };
        return [f = value.i, v, lanes, body](Ctx& c) {
          for (c.lane = 0; c.lane < lanes; ++c.lane) c.slots[size_t(v + c.lane)].i = f(c);
          c.lane = 0;
          body(c);
        };
      }
      case StmtKind::Evaluate: {
        auto* n = s.as<EvaluateNode>();
        if (n->value.as<StringImmNode>() || n->value.as<IntImmNode>()) return [](Ctx&) {};
        CExpr v = expr(n->value);
        int lanes = v.t.lanes;
        if (v.t.is_float())
          return [f = v.f, lanes](Ctx& c) {
            for (c.lane = 0; c.lane < lanes; ++c.lane) (void)f(c);
            c.lane = 0;
          };
        return [f = v.i, lanes](Ctx& c) {
          for (c.lane = 0; c.lane < lanes; ++c.lane) (void)f(c);
          c.lane = 0;
        };
      }
      case StmtKind::BlockRealize: return block_realize(*s.as<BlockRealizeNode>());
      case StmtKind::Block:
        user_error("interpreter: block '", static_cast<const BlockNode*>(s.get())->name, "' in kernel '", func_,
                   "' is not inside a BlockRealize; a Block runs only where a BlockRealize binds its iteration variables");
    }
    internal_error("interpreter: unknown statement kind");
  }

 private:
  static CExpr iexpr(DataType t, IFn f) { return CExpr{t, std::move(f), nullptr}; }
  static CExpr fexpr(DataType t, FFn f) { return CExpr{t, nullptr, std::move(f)}; }
  IFn as_int(const CExpr& e) {
    KILN_USER_CHECK(!e.t.is_float(), "interpreter: kernel '", func_, "' uses a ", e.t.str(),
                    " value where an integer or bool is needed");
    return e.i;
  }
  IOp iop(const ir::Expr& e) {
    IOp op;
    DataType t = e.dtype();
    if (auto* v = e.as<ir::VarNode>(); v && t.lanes == 1 && !t.is_float() && slot_.count(v) && in_scope_[v] > 0) {
      op.slot = slot_[v];
    } else if (auto* i = e.as<ir::IntImmNode>(); i && !t.is_float()) {
      op.constant = true;
      op.value = wrap_to(t.element_of(), uint64_t(i->value));
    } else {
      op.fn = as_int(expr(e));
    }
    return op;
  }
  // Runs `pre` before evaluating `e` (binding a Let variable).
  static void set_then(CExpr& e, std::function<void(Ctx&)> pre) {
    if (e.t.is_float()) e.f = [pre, f = e.f](Ctx& c) { pre(c); return f(c); };
    else e.i = [pre, f = e.i](Ctx& c) { pre(c); return f(c); };
  }

  CExpr var(const ir::Expr& e) {
    auto* v = e.as<ir::VarNode>();
    DataType t = e.dtype();
    auto it = slot_.find(v);
    if (it == slot_.end() || in_scope_[v] <= 0) {
      if (t.is_handle())
        user_error("interpreter: kernel '", func_, "' uses the handle '", v->name, "' as a value; only loads and stores ",
                   "may use a buffer's data");
      user_error("interpreter: variable '", v->name, "' (", t.str(), ") is used in kernel '", func_,
                 "' outside any statement that defines it (a parameter, size variable, loop, let or block iteration ",
                 "variable)");
    }
    int s = it->second;
    if (t.lanes > 1) {
      if (t.is_float()) return fexpr(t, [s](Ctx& c) { return c.slots[size_t(s + c.lane)].f; });
      return iexpr(t, [s](Ctx& c) { return c.slots[size_t(s + c.lane)].i; });
    }
    if (t.is_float()) return fexpr(t, [s](Ctx& c) { return c.slots[size_t(s)].f; });
    return iexpr(t, [s](Ctx& c) { return c.slots[size_t(s)].i; });
  }

  std::string div_error(const ir::BinaryNode& n) {
    return "integer division by zero in " + detail::shape_expr_str(ir::binary(n.op, n.a, n.b)) + " (" + n.a.dtype().str() +
           ") in kernel '" + func_ + "'";
  }

  template <bool S>
  IFn int_binary(const ir::BinaryNode& n, IOp a, IOp b, DataType t) {
    using ir::BinaryOp;
    int sh = wrap_shift(t);
    auto lt = [](int64_t x, int64_t y) {
      if constexpr (S) return x < y;
      else return uint64_t(x) < uint64_t(y);
    };
    auto divide = [sh, msg = std::make_shared<std::string>(div_error(n))](int64_t x, int64_t y, BinaryOp op) -> int64_t {
      if (y == 0) throw UserError(*msg);
      bool is_div = op == BinaryOp::Div || op == BinaryOp::FloorDiv;
      if constexpr (!S) return wrap<false>(is_div ? uint64_t(x) / uint64_t(y) : uint64_t(x) % uint64_t(y), sh);
      if (y == -1) return is_div ? wrap<true>(0 - uint64_t(x), sh) : 0;
      int64_t q = x / y, r = x % y;
      if ((op == BinaryOp::FloorDiv || op == BinaryOp::FloorMod) && r != 0 && ((r < 0) != (y < 0))) {
        q -= 1;
        r += y;
      }
      return is_div ? wrap<true>(uint64_t(q), sh) : r;
    };
    switch (n.op) {
      case BinaryOp::Add: return [a, b, sh](Ctx& c) { return wrap<S>(uint64_t(a(c)) + uint64_t(b(c)), sh); };
      case BinaryOp::Sub: return [a, b, sh](Ctx& c) { return wrap<S>(uint64_t(a(c)) - uint64_t(b(c)), sh); };
      case BinaryOp::Mul: return [a, b, sh](Ctx& c) { return wrap<S>(uint64_t(a(c)) * uint64_t(b(c)), sh); };
      case BinaryOp::Div: case BinaryOp::Mod: case BinaryOp::FloorDiv: case BinaryOp::FloorMod: {
        BinaryOp op = n.op;
        return [a, b, divide, op](Ctx& c) {
          int64_t x = a(c);
          return divide(x, b(c), op);
        };
      }
      case BinaryOp::Min: return [a, b, lt](Ctx& c) { int64_t x = a(c), y = b(c); return lt(y, x) ? y : x; };
      case BinaryOp::Max: return [a, b, lt](Ctx& c) { int64_t x = a(c), y = b(c); return lt(x, y) ? y : x; };
      case BinaryOp::EQ: return [a, b](Ctx& c) -> int64_t { return a(c) == b(c); };
      case BinaryOp::NE: return [a, b](Ctx& c) -> int64_t { return a(c) != b(c); };
      case BinaryOp::LT: return [a, b, lt](Ctx& c) -> int64_t { int64_t x = a(c); return lt(x, b(c)); };
      case BinaryOp::LE: return [a, b, lt](Ctx& c) -> int64_t { int64_t x = a(c); return !lt(b(c), x); };
      case BinaryOp::GT: return [a, b, lt](Ctx& c) -> int64_t { int64_t x = a(c); return lt(b(c), x); };
      case BinaryOp::GE: return [a, b, lt](Ctx& c) -> int64_t { int64_t x = a(c); return !lt(x, b(c)); };
      case BinaryOp::And: return [a, b](Ctx& c) -> int64_t { return a(c) && b(c); };
      case BinaryOp::Or: return [a, b](Ctx& c) -> int64_t { return a(c) || b(c); };
    }
    internal_error("interpreter: unknown binary operator");
  }

  template <FK K>
  CExpr float_binary(ir::BinaryOp op, FFn a, FFn b, DataType t) {
    using ir::BinaryOp;
    using T = ComputeT<K>;
    DataType bt = DataType::boolean(t.lanes);
    switch (op) {
      case BinaryOp::Add: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(x + T(b(c))); });
      case BinaryOp::Sub: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(x - T(b(c))); });
      case BinaryOp::Mul: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(x * T(b(c))); });
      case BinaryOp::Div: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(x / T(b(c))); });
      case BinaryOp::Mod: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(std::fmod(x, T(b(c)))); });
      case BinaryOp::FloorDiv: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(std::floor(x / T(b(c)))); });
      case BinaryOp::FloorMod:
        return fexpr(t, [a, b](Ctx& c) {
          T x = T(a(c)), y = T(b(c));
          return fin<K>(x - std::floor(x / y) * y);
        });
      case BinaryOp::Min: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(std::fmin(x, T(b(c)))); });
      case BinaryOp::Max: return fexpr(t, [a, b](Ctx& c) { T x = T(a(c)); return fin<K>(std::fmax(x, T(b(c)))); });
      // Values are exact in double, so comparing doubles compares the narrow values.
      case BinaryOp::EQ: return iexpr(bt, [a, b](Ctx& c) -> int64_t { double x = a(c); return x == b(c); });
      case BinaryOp::NE: return iexpr(bt, [a, b](Ctx& c) -> int64_t { double x = a(c); return x != b(c); });
      case BinaryOp::LT: return iexpr(bt, [a, b](Ctx& c) -> int64_t { double x = a(c); return x < b(c); });
      case BinaryOp::LE: return iexpr(bt, [a, b](Ctx& c) -> int64_t { double x = a(c); return x <= b(c); });
      case BinaryOp::GT: return iexpr(bt, [a, b](Ctx& c) -> int64_t { double x = a(c); return x > b(c); });
      case BinaryOp::GE: return iexpr(bt, [a, b](Ctx& c) -> int64_t { double x = a(c); return x >= b(c); });
      case BinaryOp::And: case BinaryOp::Or: break;
    }
    user_error("interpreter: '", ir::binary_op_name(op), "' on ", t.str(), " operands in kernel '", func_, "' is not defined");
  }

  CExpr binary(const ir::BinaryNode& n) {
    DataType ot = n.a.dtype();
    if (ot.is_float()) {
      CExpr a = expr(n.a), b = expr(n.b);
      return with_float_kind(ot, [&](auto k) { return float_binary<decltype(k)::value>(n.op, a.f, b.f, ot); });
    }
    KILN_USER_CHECK(!ot.is_handle() && !ot.is_void(), "interpreter: '", ir::binary_op_name(n.op), "' on ", ot.str(),
                    " operands in kernel '", func_, "'");
    IOp a = iop(n.a), b = iop(n.b);
    IFn f = ot.is_int() ? int_binary<true>(n, a, b, ot) : int_binary<false>(n, a, b, ot);
    return iexpr(n.dtype, std::move(f));
  }

  CExpr cast(DataType t, const CExpr& v) {
    DataType from = v.t.element_of(), to = t.element_of();
    if (to.is_float()) {
      if (from.is_float())
        return with_float_kind(to, [&](auto k) {
          constexpr FK K = decltype(k)::value;
          return fexpr(t, [f = v.f](Ctx& c) { return conv<K>(f(c)); });
        });
      return fexpr(t, [f = v.i, from, to](Ctx& c) { return int_to_float(f(c), from, to); });
    }
    KILN_USER_CHECK(!to.is_handle() && !to.is_void() && !from.is_handle(), "interpreter: cast from ", from.str(), " to ",
                    to.str(), " in kernel '", func_, "' is not supported");
    if (from.is_float()) return iexpr(t, [f = v.f, to](Ctx& c) { return float_to_int(f(c), to); });
    return iexpr(t, [f = v.i, to](Ctx& c) { return wrap_to(to, uint64_t(f(c))); });
  }

  template <FK K>
  CExpr float_intrinsic(const std::string& name, std::vector<FFn> a, DataType t) {
    using T = ComputeT<K>;
    auto un = [&](auto fn) { return fexpr(t, [x = a[0], fn](Ctx& c) { return fin<K>(fn(T(x(c)))); }); };
    if (name == "exp") return un([](T x) { return std::exp(x); });
    if (name == "log") return un([](T x) { return std::log(x); });
    if (name == "exp2") return un([](T x) { return std::exp2(x); });
    if (name == "log2") return un([](T x) { return std::log2(x); });
    if (name == "log10") return un([](T x) { return std::log10(x); });
    if (name == "sqrt") return un([](T x) { return std::sqrt(x); });
    if (name == "rsqrt") return un([](T x) { return T(1) / std::sqrt(x); });
    if (name == "sin") return un([](T x) { return std::sin(x); });
    if (name == "cos") return un([](T x) { return std::cos(x); });
    if (name == "tan") return un([](T x) { return std::tan(x); });
    if (name == "tanh") return un([](T x) { return std::tanh(x); });
    if (name == "sigmoid") return un([](T x) { return T(1) / (T(1) + std::exp(-x)); });
    if (name == "erf") return un([](T x) { return std::erf(x); });
    if (name == "floor") return un([](T x) { return std::floor(x); });
    if (name == "ceil") return un([](T x) { return std::ceil(x); });
    if (name == "trunc") return un([](T x) { return std::trunc(x); });
    if (name == "round") return un([](T x) { return std::nearbyint(x); });
    if (name == "fabs" || name == "abs") return un([](T x) { return std::fabs(x); });
    if (name == "pow")
      return fexpr(t, [x = a[0], y = a[1]](Ctx& c) { T p = T(x(c)); return fin<K>(std::pow(p, T(y(c)))); });
    if (name == "fma")
      return fexpr(t, [x = a[0], y = a[1], z = a[2]](Ctx& c) {
        T p = T(x(c)), q = T(y(c));
        return fin<K>(std::fma(p, q, T(z(c))));
      });
    internal_error("interpreter: intrinsic '", name, "' has no float implementation");
  }

  CExpr call(const ir::CallNode& n) {
    DataType t = n.dtype;
    if (n.op == "if_then_else") {
      KILN_USER_CHECK(n.args.size() == 3, "interpreter: if_then_else takes 3 arguments (cond, then, else), got ", n.args.size());
      IFn cnd = as_int(expr(n.args[0]));
      CExpr x = expr(n.args[1]), y = expr(n.args[2]);
      if (t.is_float()) return fexpr(t, [cnd, a = x.f, b = y.f](Ctx& c) { return cnd(c) ? a(c) : b(c); });
      return iexpr(t, [cnd, a = x.i, b = y.i](Ctx& c) { return cnd(c) ? a(c) : b(c); });
    }
    const ir::IntrinsicInfo* info = ir::find_intrinsic(n.op);
    if (!info) {
      std::string legal = "if_then_else";
      for (auto& i : ir::kIntrinsics) legal += ", " + std::string(i.name);
      user_error("interpreter: kernel '", func_, "' calls unknown intrinsic '", n.op, "'; legal: ", legal);
    }
    KILN_USER_CHECK(int(n.args.size()) == info->arity, "intrinsic '", n.op, "' takes ", info->arity, " argument",
                    info->arity == 1 ? "" : "s", ", got ", n.args.size());
    std::vector<CExpr> args;
    for (auto& a : n.args) {
      args.push_back(expr(a));
      KILN_USER_CHECK(args.back().t.element_of() == t.element_of(), "intrinsic '", n.op, "' returns ", t.str(),
                      " but has an argument of type ", a.dtype().str());
    }
    if (!t.is_float()) {
      KILN_USER_CHECK(info->integer_ok && !t.is_bool(), "intrinsic '", n.op, "' needs float arguments, got ", t.str());
      DataType et = t.element_of();
      bool is_signed = t.is_int();
      return iexpr(t, [x = args[0].i, et, is_signed](Ctx& c) {
        int64_t v = x(c);
        return is_signed && v < 0 ? wrap_to(et, 0 - uint64_t(v)) : v;
      });
    }
    std::vector<FFn> fs;
    for (auto& a : args) fs.push_back(a.f);
    return with_float_kind(t, [&](auto k) { return float_intrinsic<decltype(k)::value>(n.op, fs, t); });
  }

  int mem_of(const ir::Buffer& b, const char* what) {
    auto it = mem_.find(b->data.get());
    if (it == mem_.end() || mem_in_scope_[b->data.get()] <= 0)
      user_error("interpreter: kernel '", func_, "' ", what, " buffer '", b->name, "' whose memory ('", b->data.name(),
                 "') is not a parameter and not allocated here (by an Allocate or a block's alloc_buffers)");
    return it->second;
  }

  std::shared_ptr<Access> access(const ir::Buffer& b, const std::vector<ir::Expr>& indices, const char* what) {
    auto a = std::make_shared<Access>();
    a->buffer = b->name;
    a->what = what;
    a->elem = b->dtype;
    a->mem = mem_of(b, what);
    KILN_USER_CHECK(indices.size() == b->shape.size(), "buffer '", b->name, "' has ", b->shape.size(),
                    " dimensions but is accessed with ", indices.size(), " indices");
    for (auto& i : indices) a->index.push_back(iop(i));
    a->elem_shift = std::countr_zero(unsigned(std::max(1, b->dtype.bytes())));
    KILN_USER_CHECK(std::has_single_bit(unsigned(std::max(1, b->dtype.bytes()))), "interpreter: buffer '", b->name,
                    "' has elements of ", b->dtype.bytes(), " bytes; only 1, 2, 4 and 8 are supported");
    bool constant = ir::as_int_imm(b->elem_offset) != nullptr || !b->elem_offset.defined();
    for (auto& d : b->shape) constant = constant && ir::as_int_imm(d);
    for (auto& s : b->strides) constant = constant && ir::as_int_imm(s);
    KILN_USER_CHECK(b->strides.empty() || b->strides.size() == b->shape.size(), "buffer '", b->name, "' has ",
                    b->shape.size(), " dimensions but ", b->strides.size(), " strides");
    size_t nd = b->shape.size();
    if (constant) {
      a->constant_layout = true;
      a->coffset = b->elem_offset.defined() ? ir::as_int_imm(b->elem_offset)->value : 0;
      for (auto& d : b->shape) a->cshape.push_back(ir::as_int_imm(d)->value);
      a->cstride.resize(nd);
      int64_t acc = 1;
      for (size_t k = nd; k-- > 0;) {
        a->cstride[k] = b->strides.empty() ? acc : ir::as_int_imm(b->strides[k])->value;
        acc *= a->cshape[k];
      }
      return a;
    }
    for (auto& d : b->shape) a->shape.push_back(iop(d));
    a->elem_offset = b->elem_offset.defined() ? iop(b->elem_offset) : IOp{-1, true, 0, nullptr};
    if (!b->strides.empty()) {
      for (auto& s : b->strides) a->stride.push_back(iop(s));
    } else {
      a->stride.resize(nd);
      for (size_t k = 0; k < nd; ++k) {
        std::vector<IOp> inner(a->shape.begin() + std::ptrdiff_t(k) + 1, a->shape.end());
        a->stride[k].fn = [inner](Ctx& c) {
          int64_t acc = 1;
          for (auto& f : inner) acc *= f(c);
          return acc;
        };
      }
    }
    return a;
  }

  CExpr load(const ir::BufferLoadNode& n) {
    auto a = access(n.buffer, n.indices, "load from");
    DataType t = n.dtype;
    if (t.is_float()) {
      FK k = float_kind(t);
      if (k == FK::F32) return fexpr(t, [a](Ctx& c) { return double(load_raw<float>(a->address(c))); });
      return fexpr(t, [a, k](Ctx& c) { return load_float(a->address(c), k); });
    }
    DataType et = t.element_of();
    if (et == DataType::int_(32)) return iexpr(t, [a](Ctx& c) { return int64_t(load_raw<int32_t>(a->address(c))); });
    return iexpr(t, [a, et](Ctx& c) { return load_int(a->address(c), et); });
  }

  SFn store(const ir::BufferStoreNode& n) {
    auto a = access(n.buffer, n.indices, "store to");
    CExpr v = expr(n.value);
    int lanes = v.t.lanes;
    for (auto& i : n.indices) lanes = std::max<int>(lanes, i.dtype().lanes);
    DataType et = n.buffer->dtype;
    if (lanes == 1) {
      if (et.is_float()) {
        FK k = float_kind(et);
        if (k == FK::F32)
          return [a, f = v.f](Ctx& c) {
            unsigned char* p = a->address(c);
            store_raw<float>(p, float(f(c)));
          };
        return [a, f = v.f, k](Ctx& c) {
          unsigned char* p = a->address(c);
          store_float(p, k, f(c));
        };
      }
      return [a, f = v.i, et](Ctx& c) {
        unsigned char* p = a->address(c);
        store_int(p, et, f(c));
      };
    }
    // Vector store: all lanes' addresses and values first, then the writes.
    auto addrs = std::make_shared<std::vector<unsigned char*>>(size_t(lanes));
    auto vals = std::make_shared<std::vector<Slot>>(size_t(lanes));
    bool is_float = et.is_float();
    FK k = is_float ? float_kind(et) : FK::F32;
    return [a, fv = v.f, iv = v.i, lanes, addrs, vals, is_float, k, et](Ctx& c) {
      for (c.lane = 0; c.lane < lanes; ++c.lane) {
        (*addrs)[size_t(c.lane)] = a->address(c);
        if (is_float) (*vals)[size_t(c.lane)].f = fv(c);
        else (*vals)[size_t(c.lane)].i = iv(c);
      }
      c.lane = 0;
      for (size_t l = 0; l < size_t(lanes); ++l) {
        if (is_float) store_float((*addrs)[l], k, (*vals)[l].f);
        else store_int((*addrs)[l], et, (*vals)[l].i);
      }
    };
  }

  // Element count of a fresh allocation of b, checked.
  // Elements an allocation needs: the product of its shape, or with explicit strides (storage_align
  // pads them) 1 + sum((shape_d - 1) * stride_d), as flatten_buffers allocates.
  std::function<int64_t(Ctx&)> alloc_size(const ir::Buffer& b) {
    std::vector<IFn> dims, strides;
    for (auto& d : b->shape) dims.push_back(as_int(expr(d)));
    for (auto& d : b->strides) strides.push_back(as_int(expr(d)));
    std::string name = b->name;
    int64_t eb = std::max(1, b->dtype.bytes());
    return [dims, strides, name, eb](Ctx& c) {
      int64_t n = 1;
      std::vector<int64_t> shape;
      for (auto& d : dims) shape.push_back(d(c));
      for (int64_t d : shape) {
        if (d < 0) user_error("interpreter: allocation of buffer '", name, "' with negative shape ", tuple_str(shape));
        if (d != 0 && n > (int64_t(1) << 40) / eb / d)
          user_error("interpreter: allocation of buffer '", name, "' with shape ", tuple_str(shape), " is too large");
        n *= d;
      }
      if (!strides.empty() && n > 0) {
        n = 1;
        for (size_t i = 0; i < shape.size() && i < strides.size(); ++i) n += (shape[i] - 1) * strides[i](c);
      }
      return n;
    };
  }

  SFn block_realize(const ir::BlockRealizeNode& r) {
    using namespace ir;
    const BlockNode& b = *r.block.get();
    IOp pred = iop(r.predicate);
    KILN_USER_CHECK(r.iter_values.size() == b.iter_vars.size(), "block '", b.name, "' has ", b.iter_vars.size(),
                    " iteration variables but its BlockRealize binds ", r.iter_values.size());
    std::vector<IOp> values, dmin, dext;
    for (size_t k = 0; k < b.iter_vars.size(); ++k) {
      values.push_back(iop(r.iter_values[k]));
      dmin.push_back(iop(b.iter_vars[k].dom.min));
      dext.push_back(iop(b.iter_vars[k].dom.extent));
    }
    std::vector<int> slots;
    std::vector<size_t> reduce;
    std::vector<std::string> names;
    for (size_t k = 0; k < b.iter_vars.size(); ++k) {
      slots.push_back(bind_var(b.iter_vars[k].var));
      names.push_back(b.iter_vars[k].var.name());
      if (b.iter_vars[k].kind == IterKind::CommReduce) reduce.push_back(k);
    }
    std::vector<std::pair<int, DataType>> allocs;
    std::vector<std::function<int64_t(Ctx&)>> sizes;
    for (auto& buf : b.alloc_buffers) {
      sizes.push_back(alloc_size(buf));
      allocs.push_back({bind_mem(buf->data), buf->dtype});
    }
    SFn init = b.init.defined() ? stmt(b.init) : SFn();
    SFn body = stmt(b.body);
    for (auto& buf : b.alloc_buffers) unbind_mem(buf->data);
    for (auto& iv : b.iter_vars) unbind_var(iv.var);
    std::string block = b.name, func = func_;
    return [=](Ctx& c) {
      if (!pred(c)) return;
      int64_t vals[16];
      std::vector<int64_t> many;
      int64_t* v = vals;
      if (values.size() > 16) {
        many.resize(values.size());
        v = many.data();
      }
      bool first = true;  // every reduction variable at its domain's start: run init
      for (size_t k = 0; k < values.size(); ++k) {
        v[k] = values[k](c);
        int64_t lo = dmin[k](c), ext = dext[k](c);
        if (v[k] < lo || v[k] >= lo + ext)
          user_error("interpreter: block '", block, "' in kernel '", func, "': iteration variable '", names[k], "' is bound to ",
                     v[k], ", outside its domain [", lo, ", ", lo + ext, ")");
      }
      for (size_t r2 : reduce)
        if (v[r2] != dmin[r2](c)) first = false;
      for (size_t k = 0; k < values.size(); ++k) c.slots[size_t(slots[k])].i = v[k];
      std::vector<std::unique_ptr<AllocationScope>> scopes;
      for (size_t k = 0; k < allocs.size(); ++k)
        scopes.push_back(std::make_unique<AllocationScope>(c, allocs[k].first, sizes[k](c), allocs[k].second));
      if (init && first) init(c);
      body(c);
    };
  }

  std::string func_;
  std::unordered_map<const ir::VarNode*, int> slot_, in_scope_;
  std::unordered_map<const ir::VarNode*, int> mem_, mem_in_scope_;
  int num_slots_ = 0, num_mems_ = 0;
};

}  // namespace interp

// Runs f on args in place (outputs are written into the tensors passed). Checks the arguments
// with bind_arguments; every error in the program's execution is a UserError.
inline void interpret(const ir::PrimFunc& f, const std::vector<runtime::Arg>& args) {
  BoundArgs bound = bind_arguments(f, args);
  interp::Compiler comp(f->name);
  struct Init {
    int slot;
    bool is_float;
    interp::Slot value;
  };
  std::vector<Init> inits;
  std::vector<std::pair<int, interp::Mem>> mems;
  for (size_t i = 0; i < f->params.size(); ++i) {
    const ir::Buffer& b = f->param_buffers[i];
    if (b.defined()) {
      const runtime::Tensor& t = args[i].tensor();
      // The memory a (possibly strided) tensor spans: up to its last element.
      int64_t span = t.numel() > 0 ? 1 : 0;
      for (int d = 0; d < t.ndim() && span; ++d) span += (t.shape(d) - 1) * std::max<int64_t>(0, t.strides()[size_t(d)]);
      interp::Mem m{static_cast<unsigned char*>(t.data()), span * t.dtype().bytes()};
      mems.push_back({comp.bind_mem(b->data), m});
      if (!f->params[i].same_as(b->data)) mems.push_back({comp.bind_mem(f->params[i]), m});
      continue;
    }
    const ir::Var& v = f->params[i];
    interp::Slot s;
    if (v.dtype().is_float()) {
      s.f = interp::conv_to(v.dtype(), bound.float_values.at(v.get()));
      inits.push_back({comp.bind_var(v), true, s});
    } else {
      s.i = interp::wrap_to(v.dtype(), uint64_t(bound.int_values.at(v.get())));
      inits.push_back({comp.bind_var(v), false, s});
    }
  }
  for (auto& b : f->param_buffers) {
    if (!b.defined()) continue;
    std::vector<ir::Var> vars;
    std::unordered_set<const ir::VarNode*> seen;
    for (auto& d : b->shape) detail::collect_vars(d, vars, seen);
    for (auto& d : b->strides) detail::collect_vars(d, vars, seen);
    detail::collect_vars(b->elem_offset, vars, seen);
    for (auto& v : vars) {
      if (v.dtype().is_float()) continue;
      interp::Slot s;
      s.i = interp::wrap_to(v.dtype(), uint64_t(bound.int_values.at(v.get())));
      inits.push_back({comp.bind_var(v), false, s});
    }
  }
  interp::SFn body = comp.stmt(f->body);
  interp::Ctx ctx;
  ctx.slots.resize(size_t(comp.num_slots()));
  ctx.mems.resize(size_t(comp.num_mems()));
  for (auto& in : inits) ctx.slots[size_t(in.slot)] = in.value;
  for (auto& [m, mem] : mems) ctx.mems[size_t(m)] = mem;
  body(ctx);
}

}  // namespace kiln::tir
