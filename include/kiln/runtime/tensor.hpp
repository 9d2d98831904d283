// kiln/runtime/tensor.hpp: an n-dimensional array on a device, owning its memory or viewing
// someone else's.
//
// Shapes and strides are in elements. Owned CPU memory is 64-byte aligned (a full AVX-512
// register / cache line), which generated kernels may assume for tensors kiln allocated.
#pragma once
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <vector>

#include "kiln/ir/dtype.hpp"
#include "kiln/runtime/device.hpp"

namespace kiln::runtime {

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

class Tensor {
 public:
  static constexpr size_t kAlignment = 64;

  Tensor() = default;

  // A new, uninitialized tensor owning its memory.
  static Tensor empty(std::vector<int64_t> shape, DataType dtype, Device dev = Device::cpu()) {
    KILN_USER_CHECK(dev.type == DeviceType::CPU, "Tensor::empty on ", dev.str(),
                    ": only CPU memory is allocated by Tensor::empty; device memory comes from the device's runtime");
    KILN_USER_CHECK(dtype.lanes == 1, "tensor element type must be scalar, got ", dtype.str());
    for (auto d : shape) KILN_USER_CHECK(d >= 0, "negative dimension in tensor shape ", shape_str(shape));
    Tensor t;
    t.shape_ = std::move(shape);
    t.dtype_ = dtype;
    t.device_ = dev;
    t.strides_ = compact_strides(t.shape_);
    size_t bytes = std::max<size_t>(1, size_t(t.numel()) * size_t(dtype.bytes()));
    bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) throw std::bad_alloc();
    t.holder_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    t.data_ = p;
    return t;
  }
  static Tensor zeros(std::vector<int64_t> shape, DataType dtype) {
    Tensor t = empty(std::move(shape), dtype);
    std::memset(t.data_, 0, size_t(t.numel()) * size_t(dtype.bytes()));
    return t;
  }
  // A tensor viewing memory someone else owns. `keep_alive` (optional) is held as long as the view.
  static Tensor view(void* data, std::vector<int64_t> shape, DataType dtype, std::vector<int64_t> strides = {},
                     Device dev = Device::cpu(), std::shared_ptr<void> keep_alive = nullptr) {
    Tensor t;
    t.data_ = data;
    t.shape_ = std::move(shape);
    t.strides_ = strides.empty() ? compact_strides(t.shape_) : std::move(strides);
    KILN_USER_CHECK(t.strides_.size() == t.shape_.size(), "view with ", t.shape_.size(), " dimensions but ",
                    t.strides_.size(), " strides");
    t.dtype_ = dtype;
    t.device_ = dev;
    t.holder_ = std::move(keep_alive);
    return t;
  }

  bool defined() const { return data_ != nullptr || numel() == 0; }
  void* data() const { return data_; }
  template <typename T>
  T* data_as() const { return static_cast<T*>(data_); }
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  int64_t shape(int i) const { return shape_.at(size_t(i)); }
  int ndim() const { return int(shape_.size()); }
  DataType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int64_t numel() const { return std::accumulate(shape_.begin(), shape_.end(), int64_t(1), std::multiplies<>()); }
  size_t nbytes() const { return size_t(numel()) * size_t(dtype_.bytes()); }
  bool is_contiguous() const { return strides_ == compact_strides(shape_); }
  bool owns_memory() const { return holder_ != nullptr; }
  const std::shared_ptr<void>& holder() const { return holder_; }

  // Element access for tests and examples (CPU, any strides). Index count must match ndim.
  template <typename T>
  T& at(std::initializer_list<int64_t> idx) const {
    KILN_USER_CHECK(int(idx.size()) == ndim(), "Tensor::at with ", idx.size(), " indices on a ", ndim(), "-d tensor");
    int64_t off = 0;
    int d = 0;
    for (int64_t i : idx) {
      KILN_USER_CHECK(i >= 0 && i < shape_[size_t(d)], "index ", i, " out of range for dimension ", d, " of size ",
                      shape_[size_t(d)]);
      off += i * strides_[size_t(d++)];
    }
    return data_as<T>()[off];
  }

  static std::vector<int64_t> compact_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size());
    int64_t acc = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      s[i] = acc;
      acc *= shape[i];
    }
    return s;
  }

 private:
  void* data_ = nullptr;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
  DataType dtype_ = DataType::float_(32);
  Device device_;
  std::shared_ptr<void> holder_;
};

}  // namespace kiln::runtime
