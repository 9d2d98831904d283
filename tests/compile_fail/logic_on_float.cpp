// && needs bool operands (comparisons), not numbers.
// expect-error: te: && and \|\| need bool operands
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto C = te::compute({4}, [&](te::Index i) { return A(i) && A(i); }, "C");
  (void)C;
}
