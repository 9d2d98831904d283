// kiln/runtime/module.hpp: compiled code as the application sees it.
//
// A Module is what kiln::build returns: named Functions compiled by some backend. Backends
// implement FunctionNode and ModuleNode; users only hold the Module and Function handles:
//   auto mod = kiln::build(f, Target("llvm"));
//   mod["main"](a, b, c);   // tensors, integers and floats, in parameter order
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/runtime/arg.hpp"

namespace kiln::runtime {

// One compiled function of some backend.
class FunctionNode {
 public:
  virtual ~FunctionNode() = default;
  virtual const std::string& name() const = 0;
  virtual void call(const std::vector<Arg>& args) const = 0;  // checks args via tir::bind_arguments
  virtual double jit_time_ms() const = 0;                     // time to compile this function
};

class Function {
 public:
  Function() = default;
  explicit Function(std::shared_ptr<const FunctionNode> node) : node_(std::move(node)) {}

  bool defined() const { return node_ != nullptr; }
  explicit operator bool() const { return defined(); }
  const FunctionNode* get() const { return node_.get(); }
  const std::shared_ptr<const FunctionNode>& ptr() const { return node_; }

  const std::string& name() const { return node().name(); }
  double jit_time_ms() const { return node().jit_time_ms(); }
  void call(const std::vector<Arg>& args) const { node().call(args); }

  // f(a, b, 3, 0.5): each argument becomes an Arg (a Tensor, an integer or a floating-point value).
  template <class... A>
  void operator()(A&&... args) const {
    call(std::vector<Arg>{Arg(std::forward<A>(args))...});
  }

 private:
  const FunctionNode& node() const {
    KILN_USER_CHECK(node_ != nullptr, "calling an undefined kiln::runtime::Function; get one from a built module, ",
                    "as in kiln::build(mod, target)[\"main\"]");
    return *node_;
  }
  std::shared_ptr<const FunctionNode> node_;
};

class ModuleNode {
 public:
  virtual ~ModuleNode() = default;
  virtual std::vector<std::string> function_names() const = 0;
  virtual Function get_function(const std::string& name) const = 0;  // undefined if absent
  virtual double jit_time_ms() const = 0;                             // whole module
  virtual std::string target_str() const = 0;
};

class Module {
 public:
  Module() = default;
  explicit Module(std::shared_ptr<ModuleNode> node) : node_(std::move(node)) {}

  bool defined() const { return node_ != nullptr; }
  explicit operator bool() const { return defined(); }
  ModuleNode* get() const { return node_.get(); }
  ModuleNode* operator->() const { return &node(); }

  bool contains(const std::string& name) const { return node().get_function(name).defined(); }
  // The function called `name`; a UserError listing the functions the module has when absent.
  Function operator[](const std::string& name) const {
    Function f = node().get_function(name);
    if (!f.defined()) {
      std::string known;
      for (auto& n : node().function_names()) known += (known.empty() ? "'" : ", '") + n + "'";
      user_error("module (target '", node().target_str(), "') has no function named '", name,
                 "'; it has: ", known.empty() ? std::string("(none)") : known);
    }
    return f;
  }
  Function get_function(const std::string& name) const { return (*this)[name]; }
  std::vector<std::string> function_names() const { return node().function_names(); }
  double jit_time_ms() const { return node().jit_time_ms(); }
  std::string target_str() const { return node().target_str(); }

 private:
  ModuleNode& node() const {
    KILN_USER_CHECK(node_ != nullptr, "using an undefined kiln::runtime::Module; get one from kiln::build(mod, target)");
    return *node_;
  }
  std::shared_ptr<ModuleNode> node_;
};

// A ModuleNode over a fixed set of already compiled functions: most backends need nothing more.
class FunctionTableModule : public ModuleNode {
 public:
  FunctionTableModule(std::vector<Function> functions, std::string target_str, double jit_time_ms)
      : target_str_(std::move(target_str)), jit_time_ms_(jit_time_ms) {
    for (auto& f : functions) {
      KILN_ICHECK(f.defined(), "FunctionTableModule given an undefined function");
      std::string name = f.name();
      KILN_ICHECK(functions_.emplace(name, std::move(f)).second, "two functions named '", name, "'");
    }
  }
  std::vector<std::string> function_names() const override {
    std::vector<std::string> names;
    for (auto& [name, f] : functions_) names.push_back(name);
    return names;
  }
  Function get_function(const std::string& name) const override {
    auto it = functions_.find(name);
    return it == functions_.end() ? Function() : it->second;
  }
  double jit_time_ms() const override { return jit_time_ms_; }
  std::string target_str() const override { return target_str_; }

 private:
  std::map<std::string, Function> functions_;
  std::string target_str_;
  double jit_time_ms_;
};

inline Module make_module(std::vector<Function> functions, std::string target_str, double jit_time_ms) {
  return Module(std::make_shared<FunctionTableModule>(std::move(functions), std::move(target_str), jit_time_ms));
}

}  // namespace kiln::runtime
