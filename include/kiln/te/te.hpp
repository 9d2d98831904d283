// kiln/te/te.hpp: the typed tensor-expression DSL in one include.
//
//   auto n = te::var("n");
//   auto A = te::placeholder<f32>({n, 64}, "A");                    // te::Tensor<f32, 2>
//   auto k = te::reduce_axis(64, "k");
//   auto S = te::compute({n}, [&](te::Index i) { return te::sum(A(i, k), k); }, "S");
//   ir::PrimFunc f = te::create_prim_func({A, S});
#pragma once
#include "kiln/te/compute.hpp"
#include "kiln/te/create_prim_func.hpp"
#include "kiln/te/expr.hpp"
#include "kiln/te/math.hpp"
#include "kiln/te/reduce.hpp"
#include "kiln/te/tensor.hpp"
