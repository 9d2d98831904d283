// kiln/ir/buffer.hpp: a multi-dimensional view of memory with a storage scope.
#pragma once
#include <string>
#include <vector>

#include "kiln/ir/expr.hpp"

namespace kiln::ir {

// A Buffer is identified by its node: two buffers named "A" are different buffers.
// `strides` empty means compact row-major. `scope` says where the memory lives: "global" (device
// main memory), "shared" (GPU shared memory), "local" (registers / thread private), and
// device-specific scopes added by backends.
struct BufferNode {
  std::string name;
  Var data;  // handle to the start of the memory
  DataType dtype;
  std::vector<Expr> shape;
  std::vector<Expr> strides;
  Expr elem_offset;  // in elements; IntImm 0 unless the buffer is a view
  std::string scope = "global";
  // Alignment in bytes the generated code may assume for `data`; 0 = the element's natural
  // alignment. Checked at the call boundary for parameters.
  int align_bytes = 0;
};

inline Expr int_imm(int64_t v, DataType t = DataType::int_(64));

inline Buffer make_buffer(std::string name, DataType dtype, std::vector<Expr> shape, std::string scope = "global",
                          std::vector<Expr> strides = {}, Expr elem_offset = Expr()) {
  auto n = std::make_shared<BufferNode>();
  n->data = Var(name + "_data", DataType::handle());
  n->name = std::move(name);
  n->dtype = dtype;
  n->shape = std::move(shape);
  n->strides = std::move(strides);
  n->elem_offset = elem_offset.defined() ? elem_offset : int_imm(0);
  n->scope = std::move(scope);
  return Buffer(std::shared_ptr<const BufferNode>(std::move(n)));
}

inline bool is_known_scope(const std::string& s) {
  return s == "global" || s == "shared" || s == "shared.dyn" || s == "local" || s == "warp" || s == "global.texture" ||
         s == "vtcm";  // Hexagon's tightly coupled memory
}

// A rectangular region of a buffer: what a block reads or writes.
struct BufferRegion {
  Buffer buffer;
  std::vector<Range> region;
};

}  // namespace kiln::ir
