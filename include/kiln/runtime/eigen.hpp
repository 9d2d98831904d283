// kiln/runtime/eigen.hpp: zero-copy views between Eigen objects and runtime::Tensor.
// The only kiln header that includes Eigen (dense and the unsupported Tensor module).
//
//   Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> a(64, 32);
//   mod["main"](kiln::eigen::view(a), ...);          // the kernel reads and writes a's memory
//   auto m = kiln::eigen::as_eigen_matrix<float>(t);  // an Eigen::Map over a tensor's memory
//
// Eigen's default layout is column-major. A column-major matrix becomes a *strided* 2-D view
// (shape (rows, cols), strides (1, rows)); kernels built for compact buffers reject it with a
// message about strides, so use Eigen::RowMajor matrices for kernel arguments, or a transposed
// shape. Views do not keep the Eigen object alive: it must outlive the tensor.
#pragma once
#include <array>
#include <type_traits>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "kiln/error.hpp"
#include "kiln/runtime/tensor.hpp"

namespace kiln::eigen {

namespace detail {
template <class T>
concept KilnScalar = requires { dtype_of<std::remove_const_t<T>>::value; };

template <class Scalar>
void* mutable_data(Scalar* p) {
  return const_cast<void*>(static_cast<const void*>(p));
}
}  // namespace detail

// A 2-D view (1-D for compile-time vectors) of a Matrix, Array, Map, Ref or Block with direct access.
template <class Derived>
runtime::Tensor view(const Eigen::DenseBase<Derived>& m) {
  static_assert(bool(Derived::Flags & Eigen::DirectAccessBit),
                "kiln::eigen::view needs an Eigen object with storage (Matrix, Array, Map, Ref, Block), not an "
                "expression: evaluate it into a matrix first");
  using Scalar = typename Derived::Scalar;
  static_assert(detail::KilnScalar<Scalar>, "kiln::eigen::view: Eigen scalar type has no kiln DataType");
  const Derived& d = m.derived();
  void* data = detail::mutable_data(d.data());
  DataType dtype = dtype_v<std::remove_const_t<Scalar>>;
  if constexpr (Derived::IsVectorAtCompileTime) {
    return runtime::Tensor::view(data, {int64_t(d.size())}, dtype, {int64_t(d.innerStride())});
  } else if constexpr (bool(Derived::IsRowMajor)) {
    return runtime::Tensor::view(data, {int64_t(d.rows()), int64_t(d.cols())}, dtype,
                                 {int64_t(d.outerStride()), int64_t(d.innerStride())});
  } else {
    // Column-major: element (i, j) is at i * innerStride + j * outerStride.
    return runtime::Tensor::view(data, {int64_t(d.rows()), int64_t(d.cols())}, dtype,
                                 {int64_t(d.innerStride()), int64_t(d.outerStride())});
  }
}
// A view of a temporary matrix would dangle.
template <class Derived>
runtime::Tensor view(Eigen::PlainObjectBase<Derived>&&) = delete;

namespace detail {
template <class Scalar, class Dims>
runtime::Tensor tensor_view(Scalar* data, const Dims& dims, bool row_major) {
  static_assert(KilnScalar<Scalar>, "kiln::eigen::view: Eigen scalar type has no kiln DataType");
  std::vector<int64_t> shape(dims.size());
  for (size_t i = 0; i < shape.size(); ++i) shape[i] = int64_t(dims[i]);
  std::vector<int64_t> strides(shape.size());
  int64_t acc = 1;
  if (row_major) {
    for (size_t i = shape.size(); i-- > 0;) strides[i] = acc, acc *= shape[i];
  } else {
    for (size_t i = 0; i < shape.size(); ++i) strides[i] = acc, acc *= shape[i];
  }
  return runtime::Tensor::view(mutable_data(data), std::move(shape), dtype_v<std::remove_const_t<Scalar>>,
                               std::move(strides));
}
}  // namespace detail

// Views of Eigen::Tensor and Eigen::TensorMap. RowMajor tensors give compact views; ColMajor (Eigen's
// default) gives strided views whose first dimension has stride 1.
template <class T, int N, int Options, class Index>
runtime::Tensor view(Eigen::Tensor<T, N, Options, Index>& t) {
  return detail::tensor_view(t.data(), t.dimensions(), (Options & Eigen::RowMajor) != 0);
}
template <class T, int N, int Options, class Index>
runtime::Tensor view(const Eigen::Tensor<T, N, Options, Index>& t) {
  return detail::tensor_view(t.data(), t.dimensions(), (Options & Eigen::RowMajor) != 0);
}
template <class T, int N, int Options, class Index>
runtime::Tensor view(Eigen::Tensor<T, N, Options, Index>&&) = delete;
template <class PlainTensor, int MapOptions, template <class> class MakePointer>
runtime::Tensor view(const Eigen::TensorMap<PlainTensor, MapOptions, MakePointer>& t) {
  return detail::tensor_view(t.data(), t.dimensions(), (PlainTensor::Options & Eigen::RowMajor) != 0);
}

// A row-major Eigen::Map over a CPU tensor's memory (rank 2, or rank 1 as a column vector).
template <class T>
using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

template <class T>
MatrixMap<T> as_eigen_matrix(const runtime::Tensor& t) {
  static_assert(detail::KilnScalar<T>, "as_eigen_matrix<T>: T has no kiln DataType");
  KILN_USER_CHECK(t.defined(), "as_eigen_matrix: the tensor is undefined");
  DataType want = dtype_v<std::remove_const_t<T>>;
  KILN_USER_CHECK(t.dtype() == want, "as_eigen_matrix<", want.str(), ">: the tensor's dtype is ", t.dtype().str());
  KILN_USER_CHECK(t.ndim() == 1 || t.ndim() == 2, "as_eigen_matrix: the tensor has rank ", t.ndim(), " (shape ",
                  runtime::shape_str(t.shape()), "); a matrix view needs rank 2 (or rank 1, as a column)");
  KILN_USER_CHECK(t.device().type == runtime::DeviceType::CPU, "as_eigen_matrix: the tensor is on ", t.device().str(),
                  "; copy it to the CPU first");
  KILN_USER_CHECK(t.is_contiguous(), "as_eigen_matrix: the tensor of shape ", runtime::shape_str(t.shape()),
                  " has strides ", runtime::shape_str(t.strides()), "; a Map needs compact row-major strides ",
                  runtime::shape_str(runtime::Tensor::compact_strides(t.shape())));
  Eigen::Index rows = Eigen::Index(t.shape(0)), cols = t.ndim() == 2 ? Eigen::Index(t.shape(1)) : 1;
  return MatrixMap<T>(t.data_as<T>(), rows, cols);
}

}  // namespace kiln::eigen
