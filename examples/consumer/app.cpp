// A program in a separate project that uses an installed kiln through pkg-config (Meson or CMake).
// It uses only the header-only core: the typed DSL and the reference interpreter, no backend.
#include <kiln/kiln.hpp>

#include <cstdio>

int main() {
  using namespace kiln;
  auto A = te::placeholder<f32>({4}, "A");
  auto B = te::compute({4}, [&](te::Index i) { return A(i) * 2.0f + 1.0f; }, "B");
  ir::PrimFunc f = te::create_prim_func({A, B});
  runtime::Tensor a = runtime::Tensor::zeros({4}, DataType::float_(32));
  runtime::Tensor b = runtime::Tensor::zeros({4}, DataType::float_(32));
  for (int i = 0; i < 4; ++i) a.data_as<float>()[i] = float(i);
  tir::interpret(f, {a, b});
  bool ok = true;
  for (int i = 0; i < 4; ++i) ok = ok && b.data_as<float>()[i] == 2.0f * float(i) + 1.0f;
  std::printf("kiln consumer: B = 2*A + 1 -> %s\n", ok ? "OK" : "WRONG");
  return ok ? 0 : 1;
}
