// The compute function takes one Index per dimension of the shape.
// expect-error: te::compute: the function must take exactly one te::Index per dimension
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto C = te::compute({4, 4}, [&](te::Index i) { return A(i); }, "C");
  (void)C;
}
