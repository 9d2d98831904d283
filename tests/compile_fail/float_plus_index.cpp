// A float expression and an index are different types: cast the index.
// expect-error: te: operands have different dtypes; use te::cast<T>
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto C = te::compute({4}, [&](te::Index i) { return A(i) + i; }, "C");
  (void)C;
}
