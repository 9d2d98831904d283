// kiln/tir/intrin/x86.hpp: tensor intrinsics for x86 CPUs, registered when this header is included.
//
//   "x86.avx2.fp32_outer_product"    C[4, 8]  += A[4, 4] * B[4, 8]     (float32; 16 ymm FMAs)
//   "x86.avx512.fp32_outer_product"  C[4, 16] += A[4, 4] * B[4, 16]    (float32; 16 zmm FMAs)
//       desc: for i, j, k: C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]   (vk a reduction)
//       impl: for each k, for each row i: C[i, 0:L] = fma(broadcast(A[i, k]), B[k, 0:L], C[i, 0:L]),
//       i.e. the sum of 4 outer products of a column of A and a row of B. fma rounds once, so
//       results may differ from separate * and + in the last bit.
//   "x86.avx2.int8_dot"              C[8]  += sum_k u8 A[k] * s8 B[j * 4 + k]   (int32 accumulator)
//   "x86.avx512.vnni_int8_dot"       C[16] += sum_k u8 A[k] * s8 B[j * 4 + k]   (vpdpbusd)
//       desc: for j, k(4): C[vj] = C[vj] + int32(A[vk]) * int32(B[vj * 4 + vk])
//       B is the 4-byte-packed layout vpdpbusd reads: lane j takes bytes 4j..4j+3. The AVX2 impl is
//       exact widening arithmetic (no saturation); the AVX-512 one calls llvm.x86.avx512.vpdpbusd.512
//       (needs avx512vnni; building it for a CPU without it is a UserError). Both are exact: int32
//       accumulation wraps like the description's.
// The AVX-512 intrinsics need a target with the feature to build ("llvm -mcpu=skylake-avx512",
// "llvm -mcpu=cascadelake" for VNNI); the fp32 one is plain vector code, which LLVM also compiles
// (as two ymm halves) for AVX2 CPUs.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kiln/ir/intrinsics.hpp"
#include "kiln/tir/tensor_intrin.hpp"

namespace kiln::tir::intrin::x86 {
namespace detail {

struct Axis {
  std::string name;
  int64_t extent;
  ir::IterKind kind;
};

// A desc PrimFunc: loops over `axes` around one block "tile" whose body `body(vars)` builds from
// its iteration variables. The block reads and writes whole buffers (a desc is never run).
inline ir::PrimFunc tile_desc(const std::string& name, const std::vector<ir::Buffer>& params, const std::vector<Axis>& axes,
                              const std::vector<size_t>& written,
                              const std::function<ir::Stmt(const std::vector<ir::Var>&)>& body) {
  ir::BlockNode b;
  b.name = "tile";
  std::vector<ir::Var> loops, vars;
  std::vector<ir::Expr> values;
  for (auto& a : axes) {
    ir::Var l(a.name, DataType::int_(64)), v("v" + a.name, DataType::int_(64));
    b.iter_vars.push_back({v, {ir::int_imm(0), ir::int_imm(a.extent)}, a.kind, ""});
    loops.push_back(l);
    vars.push_back(v);
    values.push_back(l);
  }
  auto whole = [](const ir::Buffer& buf) {
    ir::BufferRegion r{buf, {}};
    for (auto& d : buf->shape) r.region.push_back({ir::int_imm(0), d});
    return r;
  };
  for (size_t i = 0; i < params.size(); ++i) {
    b.reads.push_back(whole(params[i]));
    for (size_t w : written)
      if (w == i) b.writes.push_back(whole(params[i]));
  }
  b.body = body(vars);
  ir::Stmt s = ir::block_realize(values, ir::bool_imm(true), ir::make_block(std::move(b)));
  for (size_t k = axes.size(); k-- > 0;)
    s = ir::for_loop(loops[k], ir::int_imm(0), ir::int_imm(axes[k].extent), ir::ForKind::Serial, s);
  return ir::make_prim_func(name, params, s);
}

inline ir::Expr i64(int64_t v) { return ir::int_imm(v); }
inline ir::Expr lanes_of(int64_t base, int lanes) { return ir::ramp(i64(base), i64(1), lanes); }

// C[4, L] += A[4, 4] * B[4, L], float32.
inline void register_fp32_outer_product(const std::string& name, int L) {
  DataType f32 = DataType::float_(32);
  auto params = [&] {
    return std::vector<ir::Buffer>{ir::make_buffer("A", f32, {i64(4), i64(4)}), ir::make_buffer("B", f32, {i64(4), i64(L)}),
                                   ir::make_buffer("C", f32, {i64(4), i64(L)})};
  };
  auto dp = params();
  ir::PrimFunc desc = tile_desc(name + ".desc", dp,
                                {{"i", 4, ir::IterKind::DataPar}, {"j", L, ir::IterKind::DataPar}, {"k", 4, ir::IterKind::CommReduce}},
                                {2}, [&](const std::vector<ir::Var>& v) {
                                  ir::Expr c = ir::buffer_load(dp[2], {v[0], v[1]});
                                  ir::Expr ab = ir::mul(ir::buffer_load(dp[0], {v[0], v[2]}), ir::buffer_load(dp[1], {v[2], v[1]}));
                                  return ir::buffer_store(dp[2], ir::add(c, ab), {v[0], v[1]});
                                });
  auto ip = params();
  std::vector<ir::Stmt> code;
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 4; ++i) {
      ir::Expr a = ir::broadcast(ir::buffer_load(ip[0], {i64(i), i64(k)}), L);
      ir::Expr b = ir::buffer_load(ip[1], {i64(k), lanes_of(0, L)});
      ir::Expr c = ir::buffer_load(ip[2], {i64(i), lanes_of(0, L)});
      code.push_back(ir::buffer_store(ip[2], ir::call(f32.with_lanes(L), "fma", {a, b, c}), {i64(i), lanes_of(0, L)}));
    }
  register_tensor_intrin(name, desc, ir::make_prim_func(name + ".impl", ip, ir::seq(code)));
}

// C[L] += sum over k < 4 of u8 A[k] * s8 B[j * 4 + k], int32.
inline void register_int8_dot(const std::string& name, int L, bool vnni) {
  DataType u8 = DataType::uint(8), s8 = DataType::int_(8), i32 = DataType::int_(32);
  auto params = [&] {
    return std::vector<ir::Buffer>{ir::make_buffer("A", u8, {i64(4)}), ir::make_buffer("B", s8, {i64(4 * L)}),
                                   ir::make_buffer("C", i32, {i64(L)})};
  };
  auto dp = params();
  ir::PrimFunc desc = tile_desc(name + ".desc", dp, {{"j", L, ir::IterKind::DataPar}, {"k", 4, ir::IterKind::CommReduce}}, {2},
                                [&](const std::vector<ir::Var>& v) {
                                  ir::Expr a = ir::cast(i32, ir::buffer_load(dp[0], {v[1]}));
                                  ir::Expr b = ir::cast(i32, ir::buffer_load(dp[1], {ir::add(ir::mul(v[0], i64(4)), v[1])}));
                                  ir::Expr c = ir::buffer_load(dp[2], {v[0]});
                                  return ir::buffer_store(dp[2], ir::add(c, ir::mul(a, b)), {v[0]});
                                });
  auto ip = params();
  ir::Expr acc = ir::buffer_load(ip[2], {lanes_of(0, L)});
  ir::Expr value;
  if (vnni) {
    // vpdpbusd: lane j += sum_k zext(a byte 4j+k) * sext(b byte 4j+k); a repeats A[0..3] per lane.
    ir::Expr a_idx = ir::floormod(ir::ramp(i64(0), i64(1), 4 * L), ir::broadcast(i64(4), 4 * L));
    value = ir::call(i32.with_lanes(L), std::string(ir::kCallLLVMIntrin),
                     {ir::string_imm("llvm.x86.avx512.vpdpbusd.512"), ir::string_imm("+avx512vnni"), acc,
                      ir::buffer_load(ip[0], {a_idx}), ir::buffer_load(ip[1], {lanes_of(0, 4 * L)})});
  } else {
    value = acc;
    for (int64_t k = 0; k < 4; ++k) {
      ir::Expr a = ir::cast(i32.with_lanes(L), ir::broadcast(ir::buffer_load(ip[0], {i64(k)}), L));
      ir::Expr b = ir::cast(i32.with_lanes(L), ir::buffer_load(ip[1], {ir::ramp(i64(k), i64(4), L)}));
      value = ir::add(value, ir::mul(a, b));
    }
  }
  ir::Stmt code = ir::buffer_store(ip[2], value, {lanes_of(0, L)});
  register_tensor_intrin(name, desc, ir::make_prim_func(name + ".impl", ip, code));
}

}  // namespace detail

inline const bool registered = [] {
  detail::register_fp32_outer_product("x86.avx2.fp32_outer_product", 8);
  detail::register_fp32_outer_product("x86.avx512.fp32_outer_product", 16);
  detail::register_int8_dot("x86.avx2.int8_dot", 8, false);
  detail::register_int8_dot("x86.avx512.vnni_int8_dot", 16, true);
  return true;
}();

}  // namespace kiln::tir::intrin::x86
