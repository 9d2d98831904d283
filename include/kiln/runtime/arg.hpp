// kiln/runtime/arg.hpp: one argument of a kernel call: a tensor or a scalar.
#pragma once
#include <cstdint>
#include <type_traits>
#include <variant>

#include "kiln/runtime/tensor.hpp"

namespace kiln::runtime {

struct Arg {
  std::variant<Tensor, int64_t, double> value;
  Arg(Tensor t) : value(std::move(t)) {}
  template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  Arg(I i) : value(int64_t(i)) {}
  template <typename F, std::enable_if_t<std::is_floating_point_v<F>, int> = 0>
  Arg(F f) : value(double(f)) {}

  bool is_tensor() const { return std::holds_alternative<Tensor>(value); }
  const Tensor& tensor() const { return std::get<Tensor>(value); }
  const char* kind_name() const { return is_tensor() ? "tensor" : std::holds_alternative<int64_t>(value) ? "integer" : "float"; }
};

}  // namespace kiln::runtime
