// kiln/runtime/device_api.hpp: memory and synchronization of one kind of device.
//
// Each device runtime (CPU here; CUDA, Vulkan, Hexagon in their backends) implements DeviceAPI and
// registers it by DeviceType. Runtimes that need a driver register only once the driver loaded
// (dlopen), so asking for an absent device is a clear UserError, never a crash.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/runtime/device.hpp"
#include "kiln/runtime/tensor.hpp"

namespace kiln::runtime {

class DeviceAPI {
 public:
  virtual ~DeviceAPI() = default;
  virtual std::string name() const = 0;
  // nbytes may be 0 (returns a valid, unique pointer); alignment is a power of two.
  virtual void* alloc(Device dev, size_t nbytes, size_t alignment) = 0;
  virtual void free(Device dev, void* ptr) = 0;
  virtual void copy_to_device(const void* host_src, void* dev_dst, size_t nbytes, Device dev) = 0;
  virtual void copy_from_device(const void* dev_src, void* host_dst, size_t nbytes, Device dev) = 0;
  virtual void synchronize(Device dev) = 0;
};

class CPUDeviceAPI : public DeviceAPI {
 public:
  std::string name() const override { return "cpu"; }
  void* alloc(Device, size_t nbytes, size_t alignment) override {
    KILN_USER_CHECK(alignment != 0 && (alignment & (alignment - 1)) == 0, "cpu alloc: alignment ", alignment,
                    " is not a power of two");
    alignment = std::max(alignment, sizeof(void*));
    size_t bytes = (std::max<size_t>(nbytes, 1) + alignment - 1) / alignment * alignment;
    void* p = std::aligned_alloc(alignment, bytes);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void free(Device, void* ptr) override { std::free(ptr); }
  void copy_to_device(const void* src, void* dst, size_t nbytes, Device) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
  void copy_from_device(const void* src, void* dst, size_t nbytes, Device) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
  void synchronize(Device) override {}
};

namespace detail {
struct DeviceAPIRegistry {
  std::mutex mutex;
  std::map<DeviceType, std::shared_ptr<DeviceAPI>> apis{{DeviceType::CPU, std::make_shared<CPUDeviceAPI>()}};
};
inline DeviceAPIRegistry& device_api_registry() {
  static DeviceAPIRegistry registry;
  return registry;
}
inline bool known_device_type(DeviceType t) { return std::string(device_type_name(t)) != "unknown"; }
inline std::string missing_runtime_reason(DeviceType t) {
  switch (t) {
    case DeviceType::CUDA:
    case DeviceType::CUDAHost: return "this build has no CUDA runtime (none is available in this version of kiln)";
    case DeviceType::Vulkan: return "this build has no Vulkan runtime (none is available in this version of kiln)";
    case DeviceType::Hexagon: return "this build has no Hexagon runtime (none is available in this version of kiln)";
    default: return "no runtime for it is registered";
  }
}
}  // namespace detail

// Registers (or replaces) the runtime of a device type; a backend calls this once its driver loaded.
inline void register_device_api(DeviceType type, std::shared_ptr<DeviceAPI> api) {
  KILN_USER_CHECK(detail::known_device_type(type), "register_device_api: unknown device type ", int(type));
  KILN_USER_CHECK(api != nullptr, "register_device_api(", device_type_name(type), "): the DeviceAPI is null");
  auto& r = detail::device_api_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.apis[type] = std::move(api);
}

inline bool has_device_api(DeviceType type) {
  auto& r = detail::device_api_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.apis.count(type) != 0;
}

// The runtime of a device type; UserError when this program has none.
inline std::shared_ptr<DeviceAPI> device_api(DeviceType type) {
  KILN_USER_CHECK(detail::known_device_type(type), "no device API for device type ", int(type),
                  ": unknown device type; known: cpu (1), cuda (2), cuda_host (3), vulkan (7), hexagon (16)");
  auto& r = detail::device_api_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.apis.find(type);
  if (it == r.apis.end()) {
    std::string have;
    for (auto& [t, api] : r.apis) have += (have.empty() ? "" : ", ") + std::string(device_type_name(t));
    user_error("no device API for ", device_type_name(type), ": ", detail::missing_runtime_reason(type),
               "; devices available: ", have);
  }
  return it->second;
}
inline std::shared_ptr<DeviceAPI> device_api(Device dev) { return device_api(dev.type); }

// A new compact tensor in the memory of `dev`, freed through its DeviceAPI.
inline Tensor alloc_tensor(std::vector<int64_t> shape, DataType dtype, Device dev) {
  if (dev.type == DeviceType::CPU) return Tensor::empty(std::move(shape), dtype, dev);
  std::shared_ptr<DeviceAPI> api = device_api(dev);
  KILN_USER_CHECK(dtype.lanes == 1, "tensor element type must be scalar, got ", dtype.str());
  for (auto d : shape) KILN_USER_CHECK(d >= 0, "negative dimension in tensor shape ", shape_str(shape));
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  void* p = api->alloc(dev, size_t(numel) * size_t(dtype.bytes()), Tensor::kAlignment);
  std::shared_ptr<void> holder(p, [api, dev](void* q) { api->free(dev, q); });
  return Tensor::view(p, std::move(shape), dtype, {}, dev, std::move(holder));
}

// Copies between two compact tensors of the same shape and dtype, at least one of them on the CPU.
inline void copy_tensor(const Tensor& src, const Tensor& dst) {
  KILN_USER_CHECK(src.defined() && dst.defined(), "copy_tensor: undefined tensor");
  KILN_USER_CHECK(src.shape() == dst.shape() && src.dtype() == dst.dtype(), "copy_tensor: source is ",
                  src.dtype().str(), shape_str(src.shape()), " but destination is ", dst.dtype().str(),
                  shape_str(dst.shape()));
  KILN_USER_CHECK(src.is_contiguous() && dst.is_contiguous(), "copy_tensor: both tensors must be compact (strides ",
                  shape_str(src.strides()), " and ", shape_str(dst.strides()), ")");
  bool src_cpu = src.device().type == DeviceType::CPU, dst_cpu = dst.device().type == DeviceType::CPU;
  if (src_cpu && dst_cpu) {
    if (src.nbytes()) std::memmove(dst.data(), src.data(), src.nbytes());
  } else if (src_cpu) {
    device_api(dst.device())->copy_to_device(src.data(), dst.data(), src.nbytes(), dst.device());
  } else if (dst_cpu) {
    device_api(src.device())->copy_from_device(src.data(), dst.data(), src.nbytes(), src.device());
  } else {
    user_error("copy_tensor from ", src.device().str(), " to ", dst.device().str(),
               ": device-to-device copies go through the CPU; copy to a CPU tensor first");
  }
}

}  // namespace kiln::runtime
