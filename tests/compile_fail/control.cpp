// Control: the legal counterparts of every compile-fail snippet compile.
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto n = te::var("n");
  auto A = te::placeholder<f32>({n, 4}, "A");
  auto B = te::placeholder<f64>({4}, "B");
  auto I = te::placeholder<i32>({4}, "I");
  auto k = te::reduce_axis(4, "k");
  auto C = te::compute({n, 4}, [&](te::Index i, te::Index j) {
    auto x = A(i, j) + te::cast<f32>(B(j)) + te::cast<f32>(i) + te::exp(te::cast<f32>(I(j)));
    return te::select(x > 0.0 && x < 1.0, x, x * 0.5) + A(i, te::floordiv(I(j), 2)) + A(i, j * 2 % 4);
  }, "C");
  auto S = te::compute({n}, [&](te::Index i) { return te::sum(C(i, k), k); }, "S");
  auto f = te::create_prim_func({A, B, I, S});
  (void)f;
}
