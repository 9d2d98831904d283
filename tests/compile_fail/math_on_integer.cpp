// exp is defined on floating-point expressions only.
// expect-error: te: exp needs a floating-point expression
#include "kiln/te/te.hpp"
using namespace kiln;
int main() {
  auto A = te::placeholder<i32>({4}, "A");
  auto C = te::compute({4}, [&](te::Index i) { return te::exp(A(i)); }, "C");
  (void)C;
}
