// tests/tensor_testing.hpp: random tensors and tolerant comparison, for differential tests.
#pragma once
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "kiln/ir/ir.hpp"
#include "kiln/runtime/float16.hpp"
#include "kiln/runtime/tensor.hpp"

namespace kiln::testing {

using runtime::Tensor;

// Evaluates a shape expression (constants, variables, + - * floordiv) under variable values.
inline int64_t eval_shape(const ir::Expr& e, const std::map<std::string, int64_t>& vars) {
  using namespace ir;
  if (auto* i = e.as<IntImmNode>()) return i->value;
  if (auto* v = e.as<VarNode>()) {
    auto it = vars.find(v->name);
    KILN_USER_CHECK(it != vars.end(), "test gives no value for shape variable '", v->name, "'");
    return it->second;
  }
  if (auto* b = e.as<BinaryNode>()) {
    int64_t x = eval_shape(b->a, vars), y = eval_shape(b->b, vars);
    switch (b->op) {
      case BinaryOp::Add: return x + y;
      case BinaryOp::Sub: return x - y;
      case BinaryOp::Mul: return x * y;
      case BinaryOp::FloorDiv: return x >= 0 ? x / y : -((-x + y - 1) / y);
      default: break;
    }
  }
  internal_error("shape expression not understood by the test harness");
}

inline std::vector<int64_t> eval_shape(const std::vector<ir::Expr>& shape, const std::map<std::string, int64_t>& vars) {
  std::vector<int64_t> out;
  for (auto& d : shape) out.push_back(eval_shape(d, vars));
  return out;
}

// Element i of a CPU tensor as double (compact tensors).
inline double get(const Tensor& t, int64_t i) {
  DataType d = t.dtype();
  const void* p = t.data();
  switch (d.code) {
    case TypeCode::Bool: return static_cast<const uint8_t*>(p)[i];
    case TypeCode::Int:
      switch (d.bits) {
        case 8: return static_cast<const int8_t*>(p)[i];
        case 16: return static_cast<const int16_t*>(p)[i];
        case 32: return static_cast<const int32_t*>(p)[i];
        default: return double(static_cast<const int64_t*>(p)[i]);
      }
    case TypeCode::UInt:
      switch (d.bits) {
        case 8: return static_cast<const uint8_t*>(p)[i];
        case 16: return static_cast<const uint16_t*>(p)[i];
        case 32: return static_cast<const uint32_t*>(p)[i];
        default: return double(static_cast<const uint64_t*>(p)[i]);
      }
    case TypeCode::Float:
      switch (d.bits) {
        case 16: return runtime::half_bits_to_float(static_cast<const uint16_t*>(p)[i]);
        case 32: return static_cast<const float*>(p)[i];
        default: return static_cast<const double*>(p)[i];
      }
    case TypeCode::BFloat: return runtime::bf16_bits_to_float(static_cast<const uint16_t*>(p)[i]);
    default: internal_error("get() on a ", d.str(), " tensor");
  }
}

inline void set(const Tensor& t, int64_t i, double v) {
  DataType d = t.dtype();
  void* p = t.data();
  switch (d.code) {
    case TypeCode::Bool: static_cast<uint8_t*>(p)[i] = v != 0; return;
    case TypeCode::Int:
      switch (d.bits) {
        case 8: static_cast<int8_t*>(p)[i] = int8_t(v); return;
        case 16: static_cast<int16_t*>(p)[i] = int16_t(v); return;
        case 32: static_cast<int32_t*>(p)[i] = int32_t(v); return;
        default: static_cast<int64_t*>(p)[i] = int64_t(v); return;
      }
    case TypeCode::UInt:
      switch (d.bits) {
        case 8: static_cast<uint8_t*>(p)[i] = uint8_t(v); return;
        case 16: static_cast<uint16_t*>(p)[i] = uint16_t(v); return;
        case 32: static_cast<uint32_t*>(p)[i] = uint32_t(v); return;
        default: static_cast<uint64_t*>(p)[i] = uint64_t(v); return;
      }
    case TypeCode::Float:
      switch (d.bits) {
        case 16: static_cast<uint16_t*>(p)[i] = runtime::float_to_half_bits(float(v)); return;
        case 32: static_cast<float*>(p)[i] = float(v); return;
        default: static_cast<double*>(p)[i] = v; return;
      }
    case TypeCode::BFloat: static_cast<uint16_t*>(p)[i] = runtime::float_to_bf16_bits(float(v)); return;
    default: internal_error("set() on a ", d.str(), " tensor");
  }
}

// A tensor of random values in [lo, hi] (integers: whole numbers in that range).
inline Tensor random_tensor(std::vector<int64_t> shape, DataType dtype, std::mt19937_64& rng, double lo, double hi) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  std::uniform_real_distribution<double> real(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = real(rng);
    if (dtype.is_bool()) v = v > (lo + hi) / 2;
    else if (!dtype.is_float()) v = std::floor(v + 0.5);
    set(t, i, v);
  }
  return t;
}

inline Tensor clone(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), t.dtype());
  std::memcpy(c.data(), t.data(), t.nbytes());
  return c;
}

// Relative tolerance by type. Same operation order on both sides gives exact results for most
// programs; the slack covers libm differences between vector and scalar paths.
inline double tolerance(DataType t) {
  if (t.is_bfloat16()) return 1e-2;
  if (t.is_float16()) return 2e-3;
  if (t.is_float() && t.bits == 32) return 2e-5;
  if (t.is_float()) return 1e-12;
  return 0;
}

// Empty string when equal within tolerance, else a description of the first few mismatches.
inline std::string compare(const Tensor& expected, const Tensor& actual, const std::string& what) {
  if (expected.shape() != actual.shape() || expected.dtype() != actual.dtype())
    return what + ": shape or dtype differs";
  double tol = tolerance(expected.dtype());
  std::ostringstream os;
  int bad = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double e = get(expected, i), a = get(actual, i);
    bool ok = (std::isnan(e) && std::isnan(a)) || e == a || std::fabs(e - a) <= tol * std::max(1.0, std::fabs(e));
    if (!ok && bad++ < 5) os << what << "[" << i << "]: expected " << e << ", got " << a << "\n";
  }
  if (bad) os << what << ": " << bad << " of " << expected.numel() << " elements differ\n";
  return os.str();
}

}  // namespace kiln::testing
