// kiln/ir/function.hpp: PrimFunc (a tensor-level function) and IRModule (functions by name).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "kiln/ir/stmt.hpp"

namespace kiln::ir {

enum class FuncKind : uint8_t { Prim, Relax };

struct BaseFuncNode {
  const FuncKind kind;
  explicit BaseFuncNode(FuncKind k) : kind(k) {}
  virtual ~BaseFuncNode() = default;
};
class BaseFunc : public NodeRef<BaseFuncNode> {
 public:
  using NodeRef::NodeRef;
};

// A PrimFunc takes buffers and scalars. params[i] is a scalar Var, or, when param_buffers[i] is
// defined, the handle of that buffer. Symbolic dimensions (Vars in buffer shapes that are not
// params) are bound from the shapes of the tensors passed at call time.
struct PrimFuncNode : BaseFuncNode {
  static constexpr FuncKind kKind = FuncKind::Prim;
  std::string name;
  std::vector<Var> params;
  std::vector<Buffer> param_buffers;
  Stmt body;
  Annotations attrs;
  PrimFuncNode() : BaseFuncNode(kKind) {}
};
class PrimFunc : public BaseFunc {
 public:
  PrimFunc() = default;
  explicit PrimFunc(std::shared_ptr<const PrimFuncNode> p) : BaseFunc(std::move(p)) {}
  const PrimFuncNode* get() const { return static_cast<const PrimFuncNode*>(BaseFunc::get()); }
  const PrimFuncNode* operator->() const { return get(); }
};

inline PrimFunc make_prim_func(std::string name, std::vector<Buffer> buffers, Stmt body, std::vector<Var> scalars = {},
                               Annotations attrs = {}) {
  auto n = std::make_shared<PrimFuncNode>();
  n->name = std::move(name);
  for (auto& b : buffers) {
    n->params.push_back(b->data);
    n->param_buffers.push_back(b);
  }
  for (auto& v : scalars) {
    n->params.push_back(v);
    n->param_buffers.push_back(Buffer());
  }
  n->body = std::move(body);
  n->attrs = std::move(attrs);
  return PrimFunc(std::shared_ptr<const PrimFuncNode>(std::move(n)));
}

inline PrimFunc with_body(const PrimFunc& f, Stmt body) {
  if (body.same_as(f->body)) return f;
  auto n = std::make_shared<PrimFuncNode>(*f.get());
  n->body = std::move(body);
  return PrimFunc(std::shared_ptr<const PrimFuncNode>(std::move(n)));
}

// Functions by name. Deterministic order (std::map) so printing and hashing are stable.
class IRModule {
 public:
  IRModule() = default;
  explicit IRModule(std::map<std::string, BaseFunc> funcs) : funcs_(std::move(funcs)) {}
  static IRModule from_prim_func(const PrimFunc& f, const std::string& name = "main") {
    IRModule m;
    m.add(name, f);
    return m;
  }
  void add(const std::string& name, BaseFunc f) { funcs_[name] = std::move(f); }
  bool contains(const std::string& name) const { return funcs_.count(name) != 0; }
  const BaseFunc& operator[](const std::string& name) const {
    auto it = funcs_.find(name);
    if (it == funcs_.end()) {
      std::string known;
      for (auto& [k, v] : funcs_) known += (known.empty() ? "" : ", ") + k;
      user_error("IRModule has no function named '", name, "'; it has: ", known.empty() ? "(none)" : known);
    }
    return it->second;
  }
  PrimFunc prim_func(const std::string& name) const {
    const BaseFunc& f = (*this)[name];
    KILN_USER_CHECK(f->kind == FuncKind::Prim, "function '", name, "' is not a PrimFunc");
    return PrimFunc(std::static_pointer_cast<const PrimFuncNode>(f.ptr()));
  }
  const std::map<std::string, BaseFunc>& functions() const { return funcs_; }

 private:
  std::map<std::string, BaseFunc> funcs_;
};

}  // namespace kiln::ir
