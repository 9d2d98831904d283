// kiln/build.hpp: kiln::build, from an IRModule to callable compiled code.
//
// Backends are optional headers (kiln/backend/llvm.hpp, ...), each with its own external
// dependency. Including one registers it here, keyed by target kind; build() looks the kind up, so
// the core never depends on LLVM or CUDA, and a missing backend is an error that says what to add.
#pragma once
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/ir/ir.hpp"
#include "kiln/runtime/module.hpp"
#include "kiln/target.hpp"
#include "kiln/tir/lower.hpp"

namespace kiln {

// A backend compiles an IRModule (lowered, for CPU kinds) for one target.
using BackendFn = std::function<runtime::Module(const ir::IRModule& lowered, const Target&)>;

namespace detail {
struct BackendRegistry {
  std::mutex mutex;
  std::map<std::string, BackendFn> backends;
};
// Function-local static: backends register from static initializers of other translation units,
// whose order relative to a namespace-scope map would be unspecified.
inline BackendRegistry& backend_registry() {
  static BackendRegistry registry;
  return registry;
}

// What to tell a user whose build has no backend for `kind`.
inline std::string how_to_enable_backend(const std::string& kind) {
  if (kind == "llvm")
    return "add `#include <kiln/backend/llvm.hpp>` to a source file of your program and link the Meson "
           "dependency 'kiln-llvm' (configure kiln with -Dllvm=enabled; it needs LLVM 19: apt-get install llvm-19-dev)";
  return "the " + kind + " backend is not available in this version of kiln; use target \"llvm\" for the CPU";
}
}  // namespace detail

// Registers (or replaces) the backend for a target kind. Safe to call from static initializers.
inline void register_backend(std::string kind, BackendFn fn) {
  KILN_USER_CHECK(detail::find_target_kind(kind) != nullptr, "register_backend: unknown target kind '", kind,
                  "'; known kinds: ", detail::known_target_kinds());
  KILN_USER_CHECK(fn != nullptr, "register_backend(\"", kind, "\", ...): the backend function is empty");
  auto& r = detail::backend_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.backends[std::move(kind)] = std::move(fn);
}

inline bool has_backend(const std::string& kind) {
  auto& r = detail::backend_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.backends.count(kind) != 0;
}

inline std::vector<std::string> registered_backends() {
  auto& r = detail::backend_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> kinds;
  for (auto& [kind, fn] : r.backends) kinds.push_back(kind);
  return kinds;
}

// Compiles every function of `mod` for `target`. For CPU kinds (llvm, hexagon) each PrimFunc is
// checked with tir::check_cpu_compatible and lowered with tir::lower before the backend sees it;
// GPU backends receive the module unlowered and run their own lowering (thread binding and so on).
inline runtime::Module build(const ir::IRModule& mod, const Target& target) {
  BackendFn backend;
  {
    auto& r = detail::backend_registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.backends.find(target.kind());
    if (it != r.backends.end()) backend = it->second;
  }
  if (!backend) {
    std::string registered;
    for (auto& k : registered_backends()) registered += (registered.empty() ? "" : ", ") + k;
    user_error("kiln::build for target '", target.str(), "': no backend registered for kind '", target.kind(), "'; ",
               detail::how_to_enable_backend(target.kind()),
               ". Backends in this program: ", registered.empty() ? std::string("(none)") : registered);
  }
  KILN_USER_CHECK(!mod.functions().empty(), "kiln::build for target '", target.str(), "': the IRModule has no functions");
  if (!target.is_cpu()) return backend(mod, target);
  ir::IRModule lowered;
  for (auto& [name, func] : mod.functions()) {
    if (func->kind != ir::FuncKind::Prim) {
      lowered.add(name, func);
      continue;
    }
    ir::PrimFunc f = mod.prim_func(name);
    tir::check_cpu_compatible(f);
    lowered.add(name, tir::lower(f));
  }
  runtime::Module out = backend(lowered, target);
  KILN_ICHECK(out.defined(), "the ", target.kind(), " backend returned an undefined module");
  return out;
}

// One PrimFunc, built as a module whose only function is "main".
inline runtime::Module build(const ir::PrimFunc& f, const Target& target) {
  KILN_USER_CHECK(f.defined(), "kiln::build: the PrimFunc is undefined");
  return build(ir::IRModule::from_prim_func(f, "main"), target);
}

}  // namespace kiln
