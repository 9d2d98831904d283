// kiln/tir/schedule/instruction.hpp: handles, and the registry of instruction kinds.
//
// Each primitive file registers the kinds it records: how to replay one recorded call on a
// Schedule, and (when the default form does not fit its signature) how to print it as C++. The
// registry keeps each primitive in one file instead of a central switch.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/tir/schedule/trace.hpp"

namespace kiln::tir {

class Schedule;

// Handles into a Schedule's table. LoopRV::root() stands for "the root of the function" where a
// loop is expected (compute_at to it leaves a block where it is; sample_compute_location returns it).
struct BlockRV {
  int64_t id = -1;
};
struct LoopRV {
  int64_t id = -1;
  static LoopRV root() { return LoopRV{-2}; }
  bool is_root() const { return id == -2; }
};
// An integer chosen by a sampling primitive (sample_perfect_tile, sample_categorical).
struct ExprRV {
  int64_t id = -1;
  ExprRV() = default;
  // Explicit, so that split(loop, {8}) means a constant factor, not handle 8.
  explicit ExprRV(int64_t handle) : id(handle) {}
};

// The inputs of one recorded instruction, with handle ids mapped to the replaying schedule's.
class ReplayInputs {
 public:
  ReplayInputs(const Instruction& in, const std::map<int64_t, int64_t>& rvs) : in_(in), rvs_(rvs) {}

  const Instruction& instruction() const { return in_; }
  size_t size() const { return in_.inputs.size(); }
  const TraceValue& value(size_t j) const {
    KILN_USER_CHECK(j < in_.inputs.size(), "trace: instruction '", in_.kind, "' has ", in_.inputs.size(),
                    " inputs; input ", j, " is missing");
    return in_.inputs[j];
  }
  bool is_block(size_t j) const { return j < size() && in_.inputs[j].kind == TraceValue::Kind::Block; }
  bool is_null(size_t j) const { return j < size() && in_.inputs[j].kind == TraceValue::Kind::Null; }
  BlockRV block(size_t j) const { return BlockRV{handle(j, TraceValue::Kind::Block)}; }
  LoopRV loop(size_t j) const {
    if (j < size() && in_.inputs[j].kind == TraceValue::Kind::Loop && in_.inputs[j].i == LoopRV::root().id) return LoopRV::root();
    return LoopRV{handle(j, TraceValue::Kind::Loop)};
  }
  ExprRV expr(size_t j) const { return ExprRV{handle(j, TraceValue::Kind::Expr)}; }
  int64_t integer(size_t j) const { return of_kind(j, TraceValue::Kind::Int).i; }
  double real(size_t j) const { return of_kind(j, TraceValue::Kind::Float).f; }
  const std::string& str(size_t j) const { return of_kind(j, TraceValue::Kind::Str).s; }
  // Inputs j, j+1, ... to the end, as loops.
  std::vector<LoopRV> loops_from(size_t j) const {
    std::vector<LoopRV> out;
    for (size_t k = j; k < size(); ++k) out.push_back(loop(k));
    return out;
  }
  const std::vector<int64_t>& decision() const { return in_.decision; }

 private:
  const Instruction& in_;
  const std::map<int64_t, int64_t>& rvs_;

  const TraceValue& of_kind(size_t j, TraceValue::Kind k) const {
    const TraceValue& v = value(j);
    KILN_USER_CHECK(v.kind == k, "trace: instruction '", in_.kind, "' input ", j, " should be ", TraceValue::kind_name(k),
                    ", not ", TraceValue::kind_name(v.kind));
    return v;
  }
  int64_t handle(size_t j, TraceValue::Kind k) const {
    const TraceValue& v = of_kind(j, k);
    auto it = rvs_.find(v.i);
    KILN_USER_CHECK(it != rvs_.end(), "trace: instruction '", in_.kind, "' uses handle ", v.i,
                    " before any instruction created it");
    return it->second;
  }
};

struct InstructionKind {
  // Re-runs the call on `s`; returns the ids of the handles it created, in output order.
  std::function<std::vector<int64_t>(Schedule& s, const ReplayInputs& in)> replay;
  // The C++ statement that redoes the call on a schedule named `s`; empty: the default form.
  std::function<std::string(const Instruction&)> to_cpp;
};

inline std::map<std::string, InstructionKind>& instruction_registry() {
  static std::map<std::string, InstructionKind> kinds;
  return kinds;
}
inline bool register_instruction(const std::string& kind, InstructionKind k) {
  KILN_ICHECK(!instruction_registry().count(kind), "instruction kind '", kind, "' registered twice");
  instruction_registry()[kind] = std::move(k);
  return true;
}
inline const InstructionKind* find_instruction(const std::string& kind) {
  auto it = instruction_registry().find(kind);
  return it == instruction_registry().end() ? nullptr : &it->second;
}
inline std::string instruction_kind_names() {
  std::string o;
  for (auto& [k, v] : instruction_registry()) o += (o.empty() ? "" : ", ") + k;
  return o;
}

inline std::string Trace::to_cpp() const {
  using trace_detail::cpp_value;
  using trace_detail::rv_name;
  std::string o;
  for (auto& in : insts_) {
    if (const InstructionKind* k = find_instruction(in.kind); k && k->to_cpp) {
      o += k->to_cpp(in);
      continue;
    }
    std::string args;
    auto arg = [&](size_t j) { return cpp_value(in.inputs[j]); };
    std::string outs;
    for (size_t j = 0; j < in.outputs.size(); ++j) outs += (j ? ", " : "") + rv_name(in.outputs[j]);
    if (in.kind == "split") {
      std::string factors;
      for (size_t j = 1; j < in.inputs.size(); ++j) factors += (j > 1 ? ", " : "") + arg(j);
      args = arg(0) + ", {" + factors + "}";
    } else if (in.kind == "fuse" || in.kind == "reorder") {
      for (size_t j = 0; j < in.inputs.size(); ++j) args += (j ? ", " : "") + arg(j);
      args = "{" + args + "}";
    } else {
      for (size_t j = 0; j < in.inputs.size(); ++j) args += (j ? ", " : "") + arg(j);
    }
    // Calls that return a std::vector are printed with their <N> form, which returns an array.
    bool returns_vector = in.kind == "get_loops" || in.kind == "split" || in.kind == "get_child_blocks" ||
                          in.kind == "get_producers" || in.kind == "get_consumers" || in.kind == "get_output_blocks";
    if (in.outputs.empty()) o += "s." + in.kind + "(" + args + ");\n";
    else if (returns_vector || in.outputs.size() > 1)
      o += "auto [" + outs + "] = s." + in.kind + "<" + std::to_string(in.outputs.size()) + ">(" + args + ");\n";
    else
      o += "auto " + outs + " = s." + in.kind + "(" + args + ");\n";
  }
  return o;
}

}  // namespace kiln::tir
