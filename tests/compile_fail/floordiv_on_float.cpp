// floordiv is integer division.
// expect-error: te: floordiv needs integer operands
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto C = te::compute({4}, [&](te::Index i) { return te::floordiv(A(i), 2); }, "C");
  (void)C;
}
