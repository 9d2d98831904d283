// kiln/target.hpp: what to compile for, as a short string: "llvm -mcpu=native", "cuda -arch=sm_80".
//
// A Target is a kind plus options. Every option is checked against the kind's list, so a typo is a
// UserError at construction instead of a silently ignored flag deep in a backend. str() prints the
// kind then the options in the kind's canonical order, so Target(t.str()) == t.
#pragma once
#include <cctype>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/error.hpp"

namespace kiln {

namespace detail {

// One legal option of a target kind: its name (without the leading '-'), an example value, and a
// validator that returns an empty string when the value is fine, otherwise what would be legal.
struct TargetOption {
  const char* name;
  const char* example;
  std::string (*check)(std::string_view value);
};
struct TargetKindInfo {
  const char* kind;
  const char* example;
  bool is_cpu;
  std::vector<TargetOption> options;
};

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}
inline std::string check_any(std::string_view) { return {}; }
inline std::string check_mattr(std::string_view v) {
  // "+avx2,-fma": every feature is +name or -name.
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string_view f = v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (f.size() < 2 || (f[0] != '+' && f[0] != '-'))
      return "a comma-separated list of features, each starting with '+' (enable) or '-' (disable), as in "
             "-mattr=+avx2,-fma";
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return {};
}
inline std::string check_opt_level(std::string_view v) {
  if (v == "0" || v == "1" || v == "2" || v == "3") return {};
  return "0, 1, 2 or 3";
}
inline std::string check_cuda_arch(std::string_view v) {
  if (v.size() > 3 && v.substr(0, 3) == "sm_" && all_digits(v.substr(3, v.size() - 3 - (v.back() == 'a')))) return {};
  return "sm_<compute capability>, as in -arch=sm_80 or -arch=sm_90a";
}
inline std::string check_device_index(std::string_view v) {
  if (all_digits(v) && v.size() < 9) return {};
  return "a device index >= 0, as in -device=0";
}
inline std::string check_hexagon_cpu(std::string_view v) {
  if (v.size() > 8 && v.substr(0, 8) == "hexagonv" && all_digits(v.substr(8))) return {};
  return "hexagonv<version>, as in -mcpu=hexagonv68";
}

inline const std::vector<TargetKindInfo>& target_kinds() {
  static const std::vector<TargetKindInfo> kinds = {
      {"llvm",
       "llvm -mcpu=native",
       true,
       {{"mcpu", "native", check_any},
        {"mattr", "+avx2,-fma", check_mattr},
        {"mtriple", "x86_64-unknown-linux-gnu", check_any},
        {"opt-level", "3", check_opt_level}}},
      {"cuda", "cuda -arch=sm_80", false, {{"arch", "sm_80", check_cuda_arch}}},
      {"vulkan", "vulkan -device=0", false, {{"device", "0", check_device_index}}},
      {"hexagon",
       "hexagon -mcpu=hexagonv68",
       true,
       {{"mcpu", "hexagonv68", check_hexagon_cpu}, {"mattr", "+hvxv68,+hvx-length128b", check_mattr}}},
  };
  return kinds;
}

inline const TargetKindInfo* find_target_kind(std::string_view kind) {
  for (auto& k : target_kinds())
    if (kind == k.kind) return &k;
  return nullptr;
}

inline std::string known_target_kinds() {
  std::string s;
  for (auto& k : target_kinds()) s += (s.empty() ? "" : ", ") + std::string(k.kind);
  return s;
}

inline std::string legal_options(const TargetKindInfo& k) {
  std::string s;
  for (auto& o : k.options) s += (s.empty() ? "" : ", ") + std::string("-") + o.name + "=" + o.example;
  return s;
}

inline std::string_view strip_dashes(std::string_view key) {
  while (!key.empty() && key.front() == '-') key.remove_prefix(1);
  return key;
}

}  // namespace detail

class Target {
 public:
  // Implicit so that kiln::build(mod, "llvm") reads naturally.
  Target(std::string_view spec) { parse(spec); }  // NOLINT(google-explicit-constructor)
  Target(const char* spec) : Target(std::string_view(spec ? spec : "")) {}
  Target(const std::string& spec) : Target(std::string_view(spec)) {}

  // The machine this process runs on. The LLVM backend resolves "native" to the host CPU and its features.
  static Target host() { return Target("llvm -mcpu=native"); }

  const std::string& kind() const { return kind_; }
  // Whether kernels for this target are compiled through the CPU lowering path (llvm, hexagon).
  bool is_cpu() const { return detail::find_target_kind(kind_)->is_cpu; }

  // Options by name, with or without the leading '-': attr("mcpu") == attr("-mcpu").
  bool has_attr(std::string_view key) const { return attrs_.count(std::string(detail::strip_dashes(key))) != 0; }
  const std::string& attr(std::string_view key) const {
    auto it = attrs_.find(std::string(detail::strip_dashes(key)));
    if (it == attrs_.end())
      user_error("target '", str(), "' has no option -", detail::strip_dashes(key), "; it has: ",
                 attrs_.empty() ? std::string("(none)") : options_str());
    return it->second;
  }
  std::string attr_or(std::string_view key, std::string fallback) const {
    return has_attr(key) ? attr(key) : fallback;
  }
  const std::map<std::string, std::string>& attrs() const { return attrs_; }

  std::string str() const { return attrs_.empty() ? kind_ : kind_ + " " + options_str(); }

  friend bool operator==(const Target& a, const Target& b) { return a.kind_ == b.kind_ && a.attrs_ == b.attrs_; }
  friend bool operator!=(const Target& a, const Target& b) { return !(a == b); }

 private:
  void parse(std::string_view spec) {
    std::vector<std::string_view> words;
    for (size_t i = 0; i < spec.size();) {
      while (i < spec.size() && std::isspace(static_cast<unsigned char>(spec[i]))) ++i;
      size_t start = i;
      while (i < spec.size() && !std::isspace(static_cast<unsigned char>(spec[i]))) ++i;
      if (i > start) words.push_back(spec.substr(start, i - start));
    }
    if (words.empty())
      user_error("empty target string; a target is a kind (", detail::known_target_kinds(),
                 ") followed by options, as in \"llvm -mcpu=native\"");
    const detail::TargetKindInfo* info = detail::find_target_kind(words[0]);
    if (!info)
      user_error("unknown target kind '", words[0], "' in target \"", spec, "\"; known kinds: ",
                 detail::known_target_kinds(), " (for example \"llvm -mcpu=native\" or \"cuda -arch=sm_80\")");
    kind_ = info->kind;
    for (size_t w = 1; w < words.size(); ++w) {
      std::string_view word = words[w];
      size_t eq = word.find('=');
      std::string_view key = word.substr(0, eq);
      if (key.size() < 2 || key[0] != '-')
        user_error("malformed option '", word, "' in target \"", spec, "\": options look like -name=value; legal for ",
                   kind_, ": ", legal_or_none(*info));
      key = detail::strip_dashes(key);
      const detail::TargetOption* opt = nullptr;
      for (auto& o : info->options)
        if (key == o.name) opt = &o;
      if (!opt)
        user_error("unknown option '-", key, "' for target kind '", kind_, "' in \"", spec, "\"; legal options for ",
                   kind_, ": ", legal_or_none(*info));
      if (eq == std::string_view::npos || eq + 1 == word.size())
        user_error("option '-", key, "' in target \"", spec, "\" needs a value, as in -", opt->name, "=", opt->example);
      std::string_view value = word.substr(eq + 1);
      if (std::string legal = opt->check(value); !legal.empty())
        user_error("bad value '", value, "' for option -", key, " in target \"", spec, "\"; legal: ", legal);
      if (!attrs_.emplace(std::string(key), std::string(value)).second)
        user_error("option -", key, " given twice in target \"", spec, "\"");
    }
  }

  static std::string legal_or_none(const detail::TargetKindInfo& info) {
    return info.options.empty() ? std::string("(none)") : detail::legal_options(info);
  }

  // Options in the kind's canonical order, so str() is the same however the user ordered them.
  std::string options_str() const {
    std::string s;
    for (auto& o : detail::find_target_kind(kind_)->options) {
      auto it = attrs_.find(o.name);
      if (it != attrs_.end()) s += (s.empty() ? "-" : " -") + it->first + "=" + it->second;
    }
    return s;
  }

  std::string kind_;
  std::map<std::string, std::string> attrs_;
};

inline std::ostream& operator<<(std::ostream& os, const Target& t) { return os << t.str(); }

}  // namespace kiln
