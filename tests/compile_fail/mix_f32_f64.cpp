// Adding an f32 expression to an f64 expression needs an explicit cast.
// expect-error: te: operands have different dtypes; use te::cast<T>
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<f32>({4}, "A");
  auto B = te::placeholder<f64>({4}, "B");
  auto C = te::compute({4}, [&](te::Index i) { return A(i) + B(i); }, "C");
  (void)C;
}
