// kiln/runtime/dlpack.hpp: zero-copy exchange of tensors with other frameworks through DLPack.
//
//   runtime::Tensor t = dlpack::from_dlpack(managed);   // takes ownership; calls managed->deleter once
//   DLManagedTensor* m = dlpack::to_dlpack(t);          // shares t's memory; the consumer calls m->deleter
//
// When <dlpack/dlpack.h> is available its structs are used, so pointers cross without casts.
// Otherwise the DLPack v0.8 structs are declared here with the same field layout (the ABI is the
// C struct layout, so a DLManagedTensor* from any DLPack producer can be passed in).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/runtime/tensor.hpp"

#if __has_include(<dlpack/dlpack.h>)
#include <dlpack/dlpack.h>
namespace kiln::dlpack {
using ::DLDataType;
using ::DLDevice;
using ::DLManagedTensor;
using ::DLTensor;
}  // namespace kiln::dlpack
#else
namespace kiln::dlpack {
enum DLDeviceType : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
};
struct DLDevice {
  DLDeviceType device_type;
  int32_t device_id;
};
enum DLDataTypeCode : uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; null means compact row-major
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
}  // namespace kiln::dlpack
#endif

namespace kiln::dlpack {

namespace detail {

inline DataType to_kiln_dtype(const DLDataType& t) {
  auto fail = [&]() -> DataType {
    user_error("DLPack tensor has unsupported dtype (code ", int(t.code), ", bits ", int(t.bits), ", lanes ",
               int(t.lanes), "); kiln supports bool (8 bits), int/uint 8/16/32/64, float 16/32/64 and bfloat16, ",
               "with lanes 1");
  };
  if (t.lanes != 1) return fail();
  bool common_bits = t.bits == 8 || t.bits == 16 || t.bits == 32 || t.bits == 64;
  switch (t.code) {
    case kDLInt: return common_bits ? DataType::int_(t.bits) : fail();
    case kDLUInt: return common_bits ? DataType::uint(t.bits) : fail();
    case kDLFloat: return (common_bits && t.bits != 8) ? DataType::float_(t.bits) : fail();
    case kDLBfloat: return t.bits == 16 ? DataType::bfloat16() : fail();
    case kDLBool: return t.bits == 8 ? DataType::boolean() : fail();
    default: return fail();
  }
}

inline DLDataType to_dl_dtype(DataType t) {
  KILN_USER_CHECK(t.lanes == 1, "to_dlpack: vector element type ", t.str(), " is not supported");
  DLDataType d{};
  d.lanes = 1;
  d.bits = t.bits;
  switch (t.code) {
    case TypeCode::Int: d.code = kDLInt; break;
    case TypeCode::UInt: d.code = kDLUInt; break;
    case TypeCode::Float: d.code = kDLFloat; break;
    case TypeCode::BFloat: d.code = kDLBfloat; break;
    case TypeCode::Bool: d.code = kDLBool; d.bits = 8; break;  // one byte per element, as kiln stores it
    case TypeCode::Handle: user_error("to_dlpack: a tensor of ", t.str(), " cannot be exported");
  }
  return d;
}

inline runtime::Device to_kiln_device(const DLDevice& d) {
  switch (int(d.device_type)) {
    case 1: return {runtime::DeviceType::CPU, d.device_id};
    case 2: return {runtime::DeviceType::CUDA, d.device_id};
    case 3: return {runtime::DeviceType::CUDAHost, d.device_id};
    case 7: return {runtime::DeviceType::Vulkan, d.device_id};
    case 16: return {runtime::DeviceType::Hexagon, d.device_id};
    default:
      user_error("DLPack tensor on unsupported device type ", int(d.device_type),
                 "; kiln supports cpu (1), cuda (2), cuda_host (3), vulkan (7) and hexagon (16)");
  }
}

// Owns what an exported DLManagedTensor points to: a copy of the Tensor (sharing its memory) and
// the shape and strides arrays.
struct ExportContext {
  runtime::Tensor tensor;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  DLManagedTensor managed{};
};

}  // namespace detail

// A view of a DLTensor someone else keeps alive (no ownership is taken). `keep_alive` is held
// by the returned tensor. Honours strides and byte_offset.
inline runtime::Tensor from_dlpack(const DLTensor& t, std::shared_ptr<void> keep_alive = nullptr) {
  KILN_USER_CHECK(t.ndim >= 0, "DLPack tensor has ndim ", t.ndim);
  KILN_USER_CHECK(t.ndim == 0 || t.shape != nullptr, "DLPack tensor with ndim ", t.ndim, " has a null shape");
  DataType dtype = detail::to_kiln_dtype(t.dtype);
  runtime::Device dev = detail::to_kiln_device(t.device);
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
  int64_t numel = 1;
  for (auto d : shape) {
    KILN_USER_CHECK(d >= 0, "DLPack tensor has a negative dimension in shape ", runtime::shape_str(shape));
    numel *= d;
  }
  KILN_USER_CHECK(t.data != nullptr || numel == 0, "DLPack tensor of shape ", runtime::shape_str(shape),
                  " has a null data pointer");
  std::vector<int64_t> strides = t.strides ? std::vector<int64_t>(t.strides, t.strides + t.ndim)
                                           : runtime::Tensor::compact_strides(shape);
  void* data = t.data ? static_cast<void*>(static_cast<char*>(t.data) + t.byte_offset) : nullptr;
  return runtime::Tensor::view(data, std::move(shape), dtype, std::move(strides), dev, std::move(keep_alive));
}

// Takes ownership of `managed` (zero copy): its deleter is called exactly once, when the last
// Tensor sharing the memory is gone. On a UserError (unsupported dtype or device) nothing is
// consumed: the caller still owns `managed` and must call its deleter.
inline runtime::Tensor from_dlpack(DLManagedTensor* managed) {
  KILN_USER_CHECK(managed != nullptr, "from_dlpack: null DLManagedTensor");
  runtime::Tensor view = from_dlpack(managed->dl_tensor);  // validates before taking ownership
  std::shared_ptr<void> owner(managed, [](void* p) {
    auto* m = static_cast<DLManagedTensor*>(p);
    if (m->deleter) m->deleter(m);
  });
  return runtime::Tensor::view(view.data(), view.shape(), view.dtype(), view.strides(), view.device(),
                               std::move(owner));
}

// Exports `t` without copying. The result shares ownership of t's memory: it stays valid after t
// is destroyed, until the consumer calls result->deleter(result).
inline DLManagedTensor* to_dlpack(const runtime::Tensor& t) {
  KILN_USER_CHECK(t.defined(), "to_dlpack: the tensor is undefined");
  DLDataType dtype = detail::to_dl_dtype(t.dtype());
  auto ctx = std::make_unique<detail::ExportContext>();
  ctx->tensor = t;
  ctx->shape = t.shape();
  ctx->strides = t.strides();
  DLTensor& d = ctx->managed.dl_tensor;
  d.data = t.data();
  d.device.device_type = static_cast<decltype(d.device.device_type)>(int32_t(t.device().type));
  d.device.device_id = t.device().id;
  d.ndim = int32_t(t.ndim());
  d.dtype = dtype;
  d.shape = ctx->shape.data();
  d.strides = ctx->strides.data();
  d.byte_offset = 0;
  ctx->managed.manager_ctx = ctx.get();
  ctx->managed.deleter = [](DLManagedTensor* self) { delete static_cast<detail::ExportContext*>(self->manager_ctx); };
  return &ctx.release()->managed;
}

}  // namespace kiln::dlpack
