// A rank-2 tensor takes exactly two indices.
// expect-error: te: wrong number of indices
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4, 5}, "A");
  auto C = te::compute({4}, [&](te::Index i) { return A(i); }, "C");
  (void)C;
}
