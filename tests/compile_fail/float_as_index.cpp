// A float expression cannot index a tensor.
// expect-error: te: tensor indices must be integer expressions
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto B = te::placeholder<f32>({4}, "B");
  auto C = te::compute({4}, [&](te::Index i) { return A(B(i)); }, "C");
  (void)C;
}
