// kiln/tir/transform/flatten_buffers.hpp: multi-dimensional buffer accesses -> 1-D accesses.
//
// Every load and store of buffer B[i0, ..., ik] becomes a load/store of a flat view F[idx] with
//   idx = B.elem_offset + i0 * s0 + ... + ik * sk
// where s are B's strides (row-major from the shape when B.strides is empty). F is compact, 1-D,
// with offset 0 and B's `data` var, dtype, scope and alignment, so a backend needs nothing but a
// base pointer and one index. One view per buffer. Allocate statements get the flat view too.
// Param buffers of the PrimFunc keep their shapes (the call boundary checks tensors against them).
// Vector indices keep their shape: a Ramp in the last position stays a Ramp of the flat index,
// which is what backends recognise as a contiguous vector access.
#pragma once
#include <unordered_map>

#include "kiln/ir/ir.hpp"

namespace kiln::tir {
namespace detail {

// Index arithmetic that folds constants and keeps Ramp/Broadcast forms, so that the flat index of
// a plain program reads like hand-written code even before the simplifier runs.
class FlatIndexBuilder {
 public:
  explicit FlatIndexBuilder(DataType t) : t_(t) {}

  // `e` (an index, shape, stride or offset) in the index type, keeping its lanes.
  ir::Expr convert(const ir::Expr& e) const {
    DataType et = e.dtype();
    if (et.element_of() == t_) return e;
    if (auto* i = ir::as_int_imm(e)) return ir::int_imm(i->value, t_);
    if (auto* r = e.as<ir::RampNode>()) return ir::ramp(convert(r->base), convert(r->stride), r->lanes);
    if (auto* b = e.as<ir::BroadcastNode>()) return ir::broadcast(convert(b->value), b->lanes);
    return ir::cast(t_.with_lanes(et.lanes), e);
  }

  ir::Expr mul(const ir::Expr& x, const ir::Expr& stride) const {  // stride is scalar
    if (ir::is_const_int(stride, 1)) return x;
    if (auto* r = x.as<ir::RampNode>()) return ir::ramp(mul_scalar(r->base, stride), mul_scalar(r->stride, stride), r->lanes);
    if (auto* b = x.as<ir::BroadcastNode>()) return ir::broadcast(mul_scalar(b->value, stride), b->lanes);
    if (x.dtype().is_vector()) return ir::mul(x, ir::broadcast(stride, x.dtype().lanes));
    return mul_scalar(x, stride);
  }

  ir::Expr add(const ir::Expr& a, const ir::Expr& b) const {  // a may be undefined (empty sum)
    if (!a.defined()) return b;
    int la = a.dtype().lanes, lb = b.dtype().lanes;
    if (la == 1 && lb == 1) return add_scalar(a, b);
    if (la > 1 && lb > 1 && la != lb)
      user_error("buffer indices have different vector lengths (", la, " and ", lb,
                 "); all vector indices of one access must have the same number of lanes");
    auto *ra = a.as<ir::RampNode>(), *rb = b.as<ir::RampNode>();
    auto *ba = a.as<ir::BroadcastNode>(), *bb = b.as<ir::BroadcastNode>();
    if (ra && rb) return ir::ramp(add_scalar(ra->base, rb->base), add_scalar(ra->stride, rb->stride), la);
    if (ra && (bb || lb == 1)) return ir::ramp(add_scalar(ra->base, bb ? bb->value : b), ra->stride, la);
    if (rb && (ba || la == 1)) return ir::ramp(add_scalar(ba ? ba->value : a, rb->base), rb->stride, lb);
    if ((ba || la == 1) && (bb || lb == 1)) {
      int lanes = std::max(la, lb);
      return ir::broadcast(add_scalar(ba ? ba->value : a, bb ? bb->value : b), lanes);
    }
    int lanes = std::max(la, lb);
    return ir::add(la == 1 ? ir::broadcast(a, lanes) : a, lb == 1 ? ir::broadcast(b, lanes) : b);
  }

  ir::Expr mul_scalar(const ir::Expr& a, const ir::Expr& b) const {
    auto ca = ir::const_int(a), cb = ir::const_int(b);
    if (ca && cb) return ir::int_imm(int64_t(uint64_t(*ca) * uint64_t(*cb)), t_);
    if (ca == 1) return b;
    if (cb == 1) return a;
    return ir::mul(a, b);
  }
  ir::Expr add_scalar(const ir::Expr& a, const ir::Expr& b) const {
    auto ca = ir::const_int(a), cb = ir::const_int(b);
    if (ca && cb) return ir::int_imm(int64_t(uint64_t(*ca) + uint64_t(*cb)), t_);
    if (ca == 0) return b;
    if (cb == 0) return a;
    return ir::add(a, b);
  }
  ir::Expr sub_scalar(const ir::Expr& a, const ir::Expr& b) const {
    auto ca = ir::const_int(a), cb = ir::const_int(b);
    if (ca && cb) return ir::int_imm(int64_t(uint64_t(*ca) - uint64_t(*cb)), t_);
    if (cb == 0) return a;
    return ir::sub(a, b);
  }

 private:
  DataType t_;
};

class BufferFlattener : public ir::StmtExprMutator {
 public:
  using ir::StmtExprMutator::mutate;

  ir::Expr mutate_buffer_load(const ir::Expr& e) override {
    auto* n = e.as<ir::BufferLoadNode>();
    auto idx = mutate_all(n->indices).first;
    const ir::Buffer& flat = flat_of(n->buffer);
    ir::Expr i = flat_index(n->buffer, idx);
    if (flat.same_as(n->buffer) && i.same_as(n->indices[0])) return e;  // already lowered
    return ir::buffer_load(flat, {i});
  }
  ir::Stmt mutate_buffer_store(const ir::Stmt& s) override {
    auto* n = s.as<ir::BufferStoreNode>();
    ir::Expr value = mutate(n->value);
    auto idx = mutate_all(n->indices).first;
    const ir::Buffer& flat = flat_of(n->buffer);
    ir::Expr i = flat_index(n->buffer, idx);
    if (flat.same_as(n->buffer) && i.same_as(n->indices[0]) && value.same_as(n->value)) return s;
    return ir::buffer_store(flat, value, {i});
  }
  ir::Stmt mutate_allocate(const ir::Stmt& s) override {
    auto* n = s.as<ir::AllocateNode>();
    const ir::Buffer& flat = flat_of(n->buffer);
    ir::Stmt body = mutate(n->body);
    return flat.same_as(n->buffer) && body.same_as(n->body) ? s : ir::allocate(flat, body);
  }

 private:
  static bool already_flat(const ir::BufferNode& b) {
    return b.shape.size() == 1 && b.strides.empty() && ir::is_const_int(b.elem_offset, 0);
  }

  // The type flat indices of `b` are computed in: int32 when every index and every symbolic
  // shape/stride/offset is at most 32 bits wide and the constant parts of the buffer's extent
  // fit in int32 (so no term can overflow), else int64.
  static DataType index_type(const ir::BufferNode& b, const std::vector<ir::Expr>& indices) {
    int bits = 32;
    int64_t span = 1;  // a bound on |offset| + the elements the constant dims and strides cover
    bool span_ok = true;
    auto scale = [&](int64_t c) {
      if (c == INT64_MIN || __builtin_mul_overflow(span, std::max<int64_t>(1, c < 0 ? -c : c), &span)) span_ok = false;
    };
    // Constants never force a wider type by their own type (int_imm defaults to int64); constant
    // dims and strides count towards the span instead.
    auto consider = [&](const ir::Expr& e, const char* what, bool sizes_span) {
      if (!e.defined()) return;
      DataType t = e.dtype();
      if (!t.is_integer())
        user_error("buffer '", b.name, "': ", what, " has type ", t.str(), "; buffer ", what,
                   "s must be integers (int32 or int64)");
      if (auto c = ir::const_int(e)) {
        if (sizes_span) scale(*c);
      } else {
        bits = std::max<int>(bits, t.bits);
      }
    };
    for (auto& i : indices) consider(i, "index", false);
    for (auto& d : b.shape) consider(d, "shape", true);
    for (auto& s : b.strides) consider(s, "stride", true);
    consider(b.elem_offset, "elem_offset", false);
    if (auto off = ir::const_int(b.elem_offset); off && span_ok) {
      int64_t mag = *off == INT64_MIN ? INT64_MAX : (*off < 0 ? -*off : *off);
      if (__builtin_add_overflow(span, mag, &span)) span_ok = false;
    }
    if (!span_ok || span > INT32_MAX) bits = 64;
    return DataType::int_(bits);
  }

  const ir::Buffer& flat_of(const ir::Buffer& b) {
    auto it = flat_.find(b.get());
    if (it != flat_.end()) return it->second;
    KILN_USER_CHECK(b->strides.empty() || b->strides.size() == b->shape.size(), "buffer '", b->name, "' has ",
                    b->shape.size(), " dimensions but ", b->strides.size(), " strides; give one stride per dimension");
    ir::Buffer flat = b;
    if (!already_flat(*b)) {
      // The extent keeps the declared type of the shape (a size, not an index).
      int bits = 32;
      for (auto& d : b->shape) bits = std::max<int>(bits, d.dtype().bits);
      for (auto& s : b->strides) bits = std::max<int>(bits, s.dtype().bits);
      FlatIndexBuilder ib(DataType::int_(bits));
      ir::Expr extent = ib.convert(ir::int_imm(1));
      if (b->strides.empty()) {
        for (auto& d : b->shape) extent = ib.mul_scalar(extent, ib.convert(d));
      } else {
        // A strided buffer spans 1 + sum((shape_d - 1) * stride_d) elements.
        for (size_t d = 0; d < b->shape.size(); ++d) {
          ir::Expr last = ib.sub_scalar(ib.convert(b->shape[d]), ib.convert(ir::int_imm(1)));
          extent = ib.add_scalar(extent, ib.mul_scalar(last, ib.convert(b->strides[d])));
        }
      }
      auto n = std::make_shared<ir::BufferNode>(*b.get());
      n->shape = {extent};
      n->strides = {};
      n->elem_offset = ir::int_imm(0);
      flat = ir::Buffer(std::shared_ptr<const ir::BufferNode>(std::move(n)));
    }
    return flat_.emplace(b.get(), flat).first->second;
  }

  ir::Expr flat_index(const ir::Buffer& b, const std::vector<ir::Expr>& indices) {
    KILN_USER_CHECK(indices.size() == b->shape.size(), "buffer '", b->name, "' has ", b->shape.size(),
                    " dimensions but is accessed with ", indices.size(), " indices");
    FlatIndexBuilder ib(index_type(*b, indices));
    if (already_flat(*b)) return ib.convert(indices[0]);
    std::vector<ir::Expr> strides(indices.size());
    if (b->strides.empty()) {
      ir::Expr s = ib.convert(ir::int_imm(1));
      for (size_t d = indices.size(); d-- > 0;) {
        strides[d] = s;
        s = ib.mul_scalar(s, ib.convert(b->shape[d]));
      }
    } else {
      for (size_t d = 0; d < indices.size(); ++d) strides[d] = ib.convert(b->strides[d]);
    }
    ir::Expr offset = b->elem_offset.defined() ? ib.convert(b->elem_offset) : ir::int_imm(0);
    ir::Expr idx = ir::is_const_int(offset, 0) ? ir::Expr() : offset;
    for (size_t d = 0; d < indices.size(); ++d) idx = ib.add(idx, ib.mul(ib.convert(indices[d]), strides[d]));
    return idx.defined() ? idx : ib.convert(ir::int_imm(0));
  }

  std::unordered_map<const ir::BufferNode*, ir::Buffer> flat_;
};

}  // namespace detail

inline ir::Stmt flatten_buffers(const ir::Stmt& s) { return detail::BufferFlattener().mutate(s); }
inline ir::PrimFunc flatten_buffers(const ir::PrimFunc& f) { return ir::with_body(f, flatten_buffers(f->body)); }

}  // namespace kiln::tir
