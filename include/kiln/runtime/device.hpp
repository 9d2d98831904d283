// kiln/runtime/device.hpp: where a tensor lives and code runs.
#pragma once
#include <cstdint>
#include <string>

#include "kiln/error.hpp"

namespace kiln::runtime {

// Device kinds use DLPack's numbering so tensors cross DLPack without translation.
enum class DeviceType : int32_t { CPU = 1, CUDA = 2, CUDAHost = 3, Vulkan = 7, Hexagon = 16 };

inline const char* device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return "cuda";
    case DeviceType::CUDAHost: return "cuda_host";
    case DeviceType::Vulkan: return "vulkan";
    case DeviceType::Hexagon: return "hexagon";
  }
  return "unknown";
}

struct Device {
  DeviceType type = DeviceType::CPU;
  int32_t id = 0;
  static Device cpu(int id = 0) { return {DeviceType::CPU, id}; }
  static Device cuda(int id = 0) { return {DeviceType::CUDA, id}; }
  static Device vulkan(int id = 0) { return {DeviceType::Vulkan, id}; }
  static Device hexagon(int id = 0) { return {DeviceType::Hexagon, id}; }
  std::string str() const { return std::string(device_type_name(type)) + ":" + std::to_string(id); }
  friend bool operator==(Device a, Device b) { return a.type == b.type && a.id == b.id; }
  friend bool operator!=(Device a, Device b) { return !(a == b); }
};

}  // namespace kiln::runtime
