// tests/corpus.hpp: the differential corpus of tensor-expression programs.
//
// Each case builds a PrimFunc with the typed DSL. Tests run every case through a backend and
// through the reference interpreter on the same random inputs and require the same outputs.
// Later suites (schedules, fuzzing) reuse the same corpus.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/te/te.hpp"

namespace kiln::corpus {

struct Case {
  std::string name;
  std::function<ir::PrimFunc()> build;
  // Values for the symbolic size variables, one map per call; empty = one call, no variables.
  std::vector<std::map<std::string, int64_t>> sizes = {{}};
  // Inputs drawn from [lo, hi]; integer inputs also clamp into their type.
  double lo = -1.0, hi = 1.0;
  // Optional per-parameter integer range override (for index tensors): name -> [lo, hi].
  std::map<std::string, std::pair<int64_t, int64_t>> int_ranges = {};
};

using namespace kiln::te;

// conv2d NCHW with stride, padding, dilation and groups, written the way a user would.
inline ir::PrimFunc conv2d_nchw(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s, int64_t stride,
                                int64_t pad, int64_t dil, int64_t groups) {
  auto X = placeholder<f32>({n, c, h, w}, "X");
  auto W = placeholder<f32>({k, c / groups, r, s}, "W");
  int64_t hp = h + 2 * pad, wp = w + 2 * pad;
  auto P = compute({n, c, hp, wp}, [&](Index b, Index ch, Index y, Index x) {
    return if_then_else(y >= pad && y < h + pad && x >= pad && x < w + pad, X(b, ch, y - pad, x - pad), Expr<f32>(0.0));
  }, "pad");
  int64_t oh = (hp - dil * (r - 1) - 1) / stride + 1, ow = (wp - dil * (s - 1) - 1) / stride + 1;
  int64_t cpg = c / groups, kpg = k / groups;
  auto rc = reduce_axis(cpg, "rc");
  auto ry = reduce_axis(r, "ry");
  auto rx = reduce_axis(s, "rx");
  auto Y = compute({n, k, oh, ow}, [&](Index b, Index o, Index y, Index x) {
    Index g = floordiv(o, kpg);
    return sum(P(b, g * cpg + rc, y * stride + ry * dil, x * stride + rx * dil) * W(o, rc, ry, rx), {rc, ry, rx});
  }, "conv");
  return create_prim_func({X, W, Y});
}

inline std::vector<Case> all_cases() {
  std::vector<Case> cases;
  auto add = [&](Case c) { cases.push_back(std::move(c)); };

  // ---- elementwise with broadcasting ------------------------------------------------------------
  add({"add_broadcast_row", [] {
         auto A = placeholder<f32>({17, 33}, "A");
         auto B = placeholder<f32>({33}, "B");
         auto C = compute({17, 33}, [&](Index i, Index j) { return A(i, j) + B(j); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"mul_broadcast_col_f64", [] {
         auto A = placeholder<f64>({9, 20}, "A");
         auto B = placeholder<f64>({9, 1}, "B");
         auto C = compute({9, 20}, [&](Index i, Index j) { return A(i, j) * B(i, 0) - 0.25; }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"relu_leaky_select", [] {
         auto A = placeholder<f32>({1000}, "A");
         auto C = compute({1000}, [&](Index i) { return select(A(i) > 0.0, A(i), A(i) * 0.1); }, "C");
         return create_prim_func({A, C});
       }});
  add({"clip_min_max", [] {
         auto A = placeholder<f32>({4, 50}, "A");
         auto C = compute({4, 50}, [&](Index i, Index j) { return te::min(te::max(A(i, j), Expr<f32>(-0.5)), Expr<f32>(0.5)); }, "C");
         return create_prim_func({A, C});
       }});
  add({"gelu_erf_tanh_exp", [] {
         auto A = placeholder<f32>({257}, "A");
         auto C = compute({257}, [&](Index i) {
           auto x = A(i);
           return x * 0.5 * (erf(x * 0.70710678) + 1.0) + tanh(x) * exp(x) - sigmoid(x);
         }, "C");
         return create_prim_func({A, C});
       }});
  add({"math_positive_inputs", [] {
         auto A = placeholder<f32>({128}, "A");
         auto B = placeholder<f32>({128}, "B");
         auto C = compute({128}, [&](Index i) {
           return log(A(i)) + sqrt(A(i)) + rsqrt(B(i)) + pow(A(i), B(i)) + log2(B(i)) + exp2(A(i));
         }, "C");
         return create_prim_func({A, B, C});
       }, {{}}, 0.1, 4.0});
  add({"math_rounding", [] {
         auto A = placeholder<f32>({200}, "A");
         auto C = compute({200}, [&](Index i) {
           auto x = A(i) * 7.3;
           return floor(x) + ceil(x) * 2.0 + round(x) * 3.0 + trunc(x) * 5.0 + fabs(x) + fma(x, x, Expr<f32>(1.0));
         }, "C");
         return create_prim_func({A, C});
       }});
  add({"batch_norm_inference", [] {
         auto X = placeholder<f32>({2, 8, 5, 5}, "X");
         auto M = placeholder<f32>({8}, "mean");
         auto V = placeholder<f32>({8}, "var");
         auto G = placeholder<f32>({8}, "gamma");
         auto B = placeholder<f32>({8}, "beta");
         auto Y = compute({2, 8, 5, 5}, [&](Index n, Index c, Index h, Index w) {
           return (X(n, c, h, w) - M(c)) * rsqrt(fabs(V(c)) + 1e-5) * G(c) + B(c);
         }, "Y");
         return create_prim_func({X, M, V, G, B, Y});
       }});

  // ---- reductions over each axis ----------------------------------------------------------------
  add({"sum_axis0", [] {
         auto A = placeholder<f32>({31, 12}, "A");
         auto k = reduce_axis(31, "k");
         auto C = compute({12}, [&](Index j) { return sum(A(k, j), k); }, "C");
         return create_prim_func({A, C});
       }});
  add({"sum_axis1", [] {
         auto A = placeholder<f32>({12, 31}, "A");
         auto k = reduce_axis(31, "k");
         auto C = compute({12}, [&](Index i) { return sum(A(i, k), k); }, "C");
         return create_prim_func({A, C});
       }});
  add({"max_axis_middle", [] {
         auto A = placeholder<f32>({3, 40, 6}, "A");
         auto k = reduce_axis(40, "k");
         auto C = compute({3, 6}, [&](Index i, Index j) { return te::max(A(i, k, j), k); }, "C");
         return create_prim_func({A, C});
       }});
  add({"min_and_prod", [] {
         auto A = placeholder<f64>({10, 7}, "A");
         auto k = reduce_axis(7, "k");
         auto k2 = reduce_axis(7, "k2");
         auto Mn = compute({10}, [&](Index i) { return te::min(A(i, k), k); }, "Mn");
         auto Pr = compute({10}, [&](Index i) { return prod(A(i, k2) + 1.0, k2); }, "Pr");
         auto C = compute({10}, [&](Index i) { return Mn(i) + Pr(i); }, "C");
         return create_prim_func({A, C});
       }});
  add({"sum_all_two_axes", [] {
         auto A = placeholder<f32>({13, 21}, "A");
         auto i = reduce_axis(13, "i");
         auto j = reduce_axis(21, "j");
         auto C = compute({1}, [&](Index) { return sum(A(i, j), {i, j}); }, "C");
         return create_prim_func({A, C});
       }});
  add({"mean_axis_last", [] {
         auto A = placeholder<f32>({6, 64}, "A");
         auto k = reduce_axis(64, "k");
         auto S = compute({6}, [&](Index i) { return sum(A(i, k), k); }, "S");
         auto C = compute({6}, [&](Index i) { return S(i) / 64.0; }, "C");
         return create_prim_func({A, C});
       }});
  add({"sum_where_lower_triangular", [] {
         auto A = placeholder<f32>({24, 24}, "A");
         auto B = placeholder<f32>({24, 8}, "B");
         auto k = reduce_axis(24, "k");
         auto C = compute({24, 8}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), {k}, k <= i); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"sum_reduce_axis_with_offset", [] {
         auto A = placeholder<f32>({40}, "A");
         auto k = reduce_axis(5, 30, "k");  // k in [5, 35)
         auto C = compute({5}, [&](Index i) { return sum(A(k) * A(k - 5 + i), k); }, "C");
         return create_prim_func({A, C});
       }});

  // ---- matmul family ------------------------------------------------------------------------------
  add({"matmul", [] {
         auto A = placeholder<f32>({37, 29}, "A");
         auto B = placeholder<f32>({29, 45}, "B");
         auto k = reduce_axis(29, "k");
         auto C = compute({37, 45}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"matmul_transposed_b", [] {
         auto A = placeholder<f32>({16, 40}, "A");
         auto B = placeholder<f32>({24, 40}, "B");
         auto k = reduce_axis(40, "k");
         auto C = compute({16, 24}, [&](Index i, Index j) { return sum(A(i, k) * B(j, k), k); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"matmul_bias_relu", [] {
         auto A = placeholder<f32>({32, 48}, "A");
         auto B = placeholder<f32>({48, 40}, "B");
         auto bias = placeholder<f32>({40}, "bias");
         auto k = reduce_axis(48, "k");
         auto M = compute({32, 40}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "M");
         auto C = compute({32, 40}, [&](Index i, Index j) { return te::max(M(i, j) + bias(j), Expr<f32>(0.0)); }, "C");
         return create_prim_func({A, B, bias, C});
       }});
  add({"batch_matmul", [] {
         auto A = placeholder<f32>({3, 11, 14}, "A");
         auto B = placeholder<f32>({3, 14, 9}, "B");
         auto k = reduce_axis(14, "k");
         auto C = compute({3, 11, 9}, [&](Index b, Index i, Index j) { return sum(A(b, i, k) * B(b, k, j), k); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"matmul_f64", [] {
         auto A = placeholder<f64>({20, 30}, "A");
         auto B = placeholder<f64>({30, 10}, "B");
         auto k = reduce_axis(30, "k");
         auto C = compute({20, 10}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"matmul_symbolic_m", [] {
         auto m = var("m");
         auto A = placeholder<f32>({m, 19}, "A");
         auto B = placeholder<f32>({19, 23}, "B");
         auto k = reduce_axis(19, "k");
         auto C = compute({m, 23}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
         return create_prim_func({A, B, C});
       }, {{{"m", 1}}, {{"m", 5}}, {{"m", 33}}}});
  add({"matmul_int8_acc_int32", [] {
         auto A = placeholder<i8>({16, 64}, "A");
         auto B = placeholder<i8>({64, 12}, "B");
         auto k = reduce_axis(64, "k");
         auto C = compute({16, 12}, [&](Index i, Index j) { return sum(cast<i32>(A(i, k)) * cast<i32>(B(k, j)), k); }, "C");
         return create_prim_func({A, B, C});
       }, {{}}, -128, 127});
  add({"matmul_bf16_acc_f32", [] {
         auto A = placeholder<bf16>({12, 20}, "A");
         auto B = placeholder<bf16>({20, 8}, "B");
         auto k = reduce_axis(20, "k");
         auto C = compute({12, 8}, [&](Index i, Index j) { return sum(cast<f32>(A(i, k)) * cast<f32>(B(k, j)), k); }, "C");
         return create_prim_func({A, B, C});
       }});

  // ---- convolutions and pooling -----------------------------------------------------------------
  add({"conv2d_nchw_pad1", [] { return conv2d_nchw(1, 4, 10, 10, 6, 3, 3, 1, 1, 1, 1); }});
  add({"conv2d_nchw_stride2_dilation2", [] { return conv2d_nchw(2, 3, 13, 11, 4, 3, 3, 2, 2, 2, 1); }});
  add({"conv2d_nchw_groups2", [] { return conv2d_nchw(1, 4, 8, 8, 6, 3, 3, 1, 1, 1, 2); }});
  add({"conv2d_nchw_1x1", [] { return conv2d_nchw(1, 16, 7, 7, 8, 1, 1, 1, 0, 1, 1); }});
  add({"conv2d_nhwc_pad", [] {
         auto X = placeholder<f32>({1, 9, 9, 5}, "X");
         auto W = placeholder<f32>({3, 3, 5, 7}, "W");
         auto P = compute({1, 11, 11, 5}, [&](Index b, Index y, Index x, Index c) {
           return if_then_else(y >= 1 && y < 10 && x >= 1 && x < 10, X(b, y - 1, x - 1, c), Expr<f32>(0.0));
         }, "pad");
         auto ry = reduce_axis(3, "ry");
         auto rx = reduce_axis(3, "rx");
         auto rc = reduce_axis(5, "rc");
         auto Y = compute({1, 9, 9, 7}, [&](Index b, Index y, Index x, Index o) {
           return sum(P(b, y + ry, x + rx, rc) * W(ry, rx, rc, o), {ry, rx, rc});
         }, "conv");
         return create_prim_func({X, W, Y});
       }});
  add({"depthwise_conv2d", [] {
         auto X = placeholder<f32>({1, 6, 12, 12}, "X");
         auto W = placeholder<f32>({6, 1, 3, 3}, "W");
         auto ry = reduce_axis(3, "ry");
         auto rx = reduce_axis(3, "rx");
         auto Y = compute({1, 6, 10, 10}, [&](Index b, Index c, Index y, Index x) {
           return sum(X(b, c, y + ry, x + rx) * W(c, 0, ry, rx), {ry, rx});
         }, "dwconv");
         return create_prim_func({X, W, Y});
       }});
  add({"max_pool_2x2_s2", [] {
         auto X = placeholder<f32>({2, 3, 8, 10}, "X");
         auto ry = reduce_axis(2, "ry");
         auto rx = reduce_axis(2, "rx");
         auto Y = compute({2, 3, 4, 5}, [&](Index b, Index c, Index y, Index x) {
           return te::max(X(b, c, y * 2 + ry, x * 2 + rx), {ry, rx});
         }, "pool");
         return create_prim_func({X, Y});
       }});
  add({"avg_pool_3x3_pad1", [] {
         auto X = placeholder<f32>({1, 4, 7, 7}, "X");
         auto P = compute({1, 4, 9, 9}, [&](Index b, Index c, Index y, Index x) {
           return if_then_else(y >= 1 && y < 8 && x >= 1 && x < 8, X(b, c, y - 1, x - 1), Expr<f32>(0.0));
         }, "pad");
         auto ry = reduce_axis(3, "ry");
         auto rx = reduce_axis(3, "rx");
         auto S = compute({1, 4, 7, 7}, [&](Index b, Index c, Index y, Index x) { return sum(P(b, c, y + ry, x + rx), {ry, rx}); }, "S");
         auto Y = compute({1, 4, 7, 7}, [&](Index b, Index c, Index y, Index x) { return S(b, c, y, x) * (1.0 / 9.0); }, "avg");
         return create_prim_func({X, Y});
       }});
  add({"global_avg_pool", [] {
         auto X = placeholder<f32>({2, 5, 6, 6}, "X");
         auto ry = reduce_axis(6, "ry");
         auto rx = reduce_axis(6, "rx");
         auto Y = compute({2, 5}, [&](Index b, Index c) { return sum(X(b, c, ry, rx) / 36.0, {ry, rx}); }, "gap");
         return create_prim_func({X, Y});
       }});

  // ---- normalizations -----------------------------------------------------------------------------
  add({"softmax_rows", [] {
         auto n = var("n");
         auto A = placeholder<f32>({n, 50}, "A");
         auto k1 = reduce_axis(50, "k1");
         auto k2 = reduce_axis(50, "k2");
         auto M = compute({n}, [&](Index i) { return te::max(A(i, k1), k1); }, "rowmax");
         auto E = compute({n, 50}, [&](Index i, Index j) { return exp(A(i, j) - M(i)); }, "e");
         auto S = compute({n}, [&](Index i) { return sum(E(i, k2), k2); }, "rowsum");
         auto C = compute({n, 50}, [&](Index i, Index j) { return E(i, j) / S(i); }, "softmax");
         return create_prim_func({A, C});
       }, {{{"n", 1}}, {{"n", 7}}}, -5.0, 5.0});
  add({"layer_norm", [] {
         auto A = placeholder<f32>({6, 96}, "A");
         auto G = placeholder<f32>({96}, "gamma");
         auto B = placeholder<f32>({96}, "beta");
         auto k1 = reduce_axis(96, "k1");
         auto k2 = reduce_axis(96, "k2");
         auto Mean = compute({6}, [&](Index i) { return sum(A(i, k1) * (1.0 / 96.0), k1); }, "mean");
         auto Var = compute({6}, [&](Index i) {
           return sum((A(i, k2) - Mean(i)) * (A(i, k2) - Mean(i)) * (1.0 / 96.0), k2);
         }, "var");
         auto C = compute({6, 96}, [&](Index i, Index j) {
           return (A(i, j) - Mean(i)) * rsqrt(Var(i) + 1e-5) * G(j) + B(j);
         }, "ln");
         return create_prim_func({A, G, B, C});
       }});

  // ---- layout ---------------------------------------------------------------------------------------
  add({"transpose_2d", [] {
         auto A = placeholder<f32>({13, 29}, "A");
         auto C = compute({29, 13}, [&](Index i, Index j) { return A(j, i); }, "T");
         return create_prim_func({A, C});
       }});
  add({"permute_3d_021", [] {
         auto A = placeholder<i32>({4, 5, 6}, "A");
         auto C = compute({4, 6, 5}, [&](Index a, Index b, Index c) { return A(a, c, b); }, "P");
         return create_prim_func({A, C});
       }, {{}}, -1000, 1000});
  add({"reshape_flatten_nchw", [] {
         auto A = placeholder<f32>({2, 3, 4, 5}, "A");
         auto C = compute({2, 60}, [&](Index b, Index f) {
           return A(b, floordiv(f, 20), floormod(floordiv(f, 5), 4), floormod(f, 5));
         }, "flat");
         return create_prim_func({A, C});
       }});
  add({"reshape_split_then_merge", [] {
         auto A = placeholder<f32>({24}, "A");
         auto B = compute({4, 6}, [&](Index i, Index j) { return A(i * 6 + j) * 2.0; }, "B");
         auto C = compute({6, 4}, [&](Index i, Index j) { return B(floordiv(i * 4 + j, 6), floormod(i * 4 + j, 6)); }, "C");
         return create_prim_func({A, C});
       }});
  add({"concat_axis1", [] {
         auto A = placeholder<f32>({5, 7}, "A");
         auto B = placeholder<f32>({5, 4}, "B");
         auto C = compute({5, 11}, [&](Index i, Index j) { return if_then_else(j < 7, A(i, j), B(i, j - 7)); }, "cat");
         return create_prim_func({A, B, C});
       }});
  add({"pad_constant", [] {
         auto A = placeholder<f32>({6, 6}, "A");
         auto C = compute({10, 8}, [&](Index i, Index j) {
           return if_then_else(i >= 2 && i < 8 && j >= 1 && j < 7, A(i - 2, j - 1), Expr<f32>(-3.5));
         }, "pad");
         return create_prim_func({A, C});
       }});
  add({"upsample_nearest_2x", [] {
         auto A = placeholder<f32>({1, 2, 5, 5}, "A");
         auto C = compute({1, 2, 10, 10}, [&](Index b, Index c, Index y, Index x) { return A(b, c, floordiv(y, 2), floordiv(x, 2)); }, "up");
         return create_prim_func({A, C});
       }});
  add({"roll_floormod_negative", [] {
         auto n = var("n");
         auto A = placeholder<f32>({n}, "A");
         auto C = compute({n}, [&](Index i) { return A(floormod(i - 3, n)); }, "roll");
         return create_prim_func({A, C});
       }, {{{"n", 4}}, {{"n", 11}}}});

  // ---- gather-style indexing ------------------------------------------------------------------------
  add({"gather_rows_int32_index", [] {
         auto A = placeholder<f32>({10, 6}, "A");
         auto idx = placeholder<i32>({7}, "idx");
         auto C = compute({7, 6}, [&](Index i, Index j) { return A(idx(i), j); }, "gather");
         return create_prim_func({A, idx, C});
       }, {{}}, -1, 1, {{"idx", {0, 9}}}});
  add({"embedding_lookup_int64", [] {
         auto T = placeholder<f32>({20, 8}, "table");
         auto ids = placeholder<i64>({3, 4}, "ids");
         auto C = compute({3, 4, 8}, [&](Index b, Index s, Index d) { return T(ids(b, s), d); }, "emb");
         return create_prim_func({T, ids, C});
       }, {{}}, -1, 1, {{"ids", {0, 19}}}});

  // ---- integer and narrow-float variants ------------------------------------------------------------
  add({"int8_wraparound_add_mul", [] {
         auto A = placeholder<i8>({256}, "A");
         auto B = placeholder<i8>({256}, "B");
         auto C = compute({256}, [&](Index i) { return A(i) * B(i) + A(i) - B(i) * 3; }, "C");
         return create_prim_func({A, B, C});
       }, {{}}, -128, 127});
  add({"uint8_min_max_sub", [] {
         auto A = placeholder<u8>({100}, "A");
         auto B = placeholder<u8>({100}, "B");
         auto C = compute({100}, [&](Index i) { return te::max(A(i), B(i)) - te::min(A(i), B(i)) + A(i) * 2; }, "C");
         return create_prim_func({A, B, C});
       }, {{}}, 0, 255});
  add({"int32_trunc_and_floor_div_mod", [] {
         auto A = placeholder<i32>({64}, "A");
         auto C = compute({64}, [&](Index i) {
           auto a = A(i);
           return truncdiv(a, 7) * 1000 + truncmod(a, 7) * 100 + floordiv(a, 5) * 10 + floormod(a, 5);
         }, "C");
         return create_prim_func({A, C});
       }, {{}}, -500, 500});
  add({"int64_select_compare", [] {
         auto A = placeholder<i64>({50}, "A");
         auto B = placeholder<i64>({50}, "B");
         auto C = compute({50}, [&](Index i) { return select(A(i) < B(i) || A(i) == 0, A(i) * B(i), abs(A(i) - B(i))); }, "C");
         return create_prim_func({A, B, C});
       }, {{}}, -100000, 100000});
  add({"float16_elementwise", [] {
         auto A = placeholder<f16>({300}, "A");
         auto B = placeholder<f16>({300}, "B");
         auto C = compute({300}, [&](Index i) { return A(i) * B(i) + A(i) * 0.5 - exp(B(i)); }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"float16_sum_acc_f32", [] {
         auto A = placeholder<f16>({8, 128}, "A");
         auto k = reduce_axis(128, "k");
         auto S = compute({8}, [&](Index i) { return sum(cast<f32>(A(i, k)), k); }, "S");
         auto C = compute({8}, [&](Index i) { return cast<f16>(S(i)); }, "C");
         return create_prim_func({A, C});
       }});
  add({"bfloat16_elementwise", [] {
         auto A = placeholder<bf16>({200}, "A");
         auto B = placeholder<bf16>({200}, "B");
         auto C = compute({200}, [&](Index i) { return A(i) * B(i) - tanh(A(i)) + 1.0; }, "C");
         return create_prim_func({A, B, C});
       }});
  add({"cast_chain_all_types", [] {
         auto A = placeholder<f32>({64}, "A");
         auto C = compute({64}, [&](Index i) {
           auto x = A(i) * 100.0;
           auto a = cast<f32>(cast<i8>(x)) + cast<f32>(cast<i16>(x)) + cast<f32>(cast<i64>(x));
           auto b = cast<f32>(cast<f16>(x)) + cast<f32>(cast<bf16>(x)) + cast<f32>(cast<f64>(x));
           auto c = cast<f32>(cast<u8>(fabs(x))) + cast<f32>(cast<u32>(fabs(x)));
           return a + b + c;
         }, "C");
         return create_prim_func({A, C});
       }});
  add({"bool_mask_output", [] {
         auto A = placeholder<f32>({40}, "A");
         auto B = placeholder<f32>({40}, "B");
         auto C = compute({40}, [&](Index i) { return A(i) > B(i) && !(A(i) < 0.0); }, "mask");
         return create_prim_func({A, B, C});
       }});

  // ---- symbolic shapes ----------------------------------------------------------------------------
  add({"symbolic_2d_elementwise", [] {
         auto n = var("n");
         auto m = var("m");
         auto A = placeholder<f32>({n, m}, "A");
         auto B = placeholder<f32>({m}, "B");
         auto C = compute({n, m}, [&](Index i, Index j) { return A(i, j) * B(j) + cast<f32>(i + j); }, "C");
         return create_prim_func({A, B, C});
       }, {{{"n", 1}, {"m", 1}}, {{"n", 3}, {"m", 17}}, {{"n", 16}, {"m", 5}}}});
  add({"symbolic_reduce_extent", [] {
         auto n = var("n");
         auto A = placeholder<f32>({4, n}, "A");
         auto k = reduce_axis(n, "k");
         auto C = compute({4}, [&](Index i) { return sum(A(i, k), k); }, "C");
         return create_prim_func({A, C});
       }, {{{"n", 1}}, {{"n", 9}}, {{"n", 100}}}});
  add({"symbolic_shape_expression", [] {
         auto n = var("n");
         auto A = placeholder<f32>({n + 2}, "A");
         auto C = compute({n}, [&](Index i) { return A(i) + A(i + 1) + A(i + 2); }, "C");
         return create_prim_func({A, C});
       }, {{{"n", 1}}, {{"n", 30}}}});
  return cases;
}

}  // namespace kiln::corpus
