// Index arithmetic with a float constant does not silently truncate.
// expect-error: te: a floating-point constant cannot be combined with an integer expression
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({8}, "A");
  auto C = te::compute({4}, [&](te::Index i) { return A(i * 1.5); }, "C");
  (void)C;
}
