// A float constant cannot index a tensor either.
// expect-error: te: tensor indices must be integer expressions
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto C = te::compute({4}, [&](te::Index) { return A(0.5); }, "C");
  (void)C;
}
