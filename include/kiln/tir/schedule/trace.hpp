// kiln/tir/schedule/trace.hpp: the record of a schedule's primitive calls.
//
// Every call on a tir::Schedule (lookups included) appends one Instruction: its kind, its inputs
// (random-variable handles and attributes) and its outputs (the handles it created). A Trace
// serializes to JSON and back, prints as C++ code that reproduces the schedule, and replays on
// the unscheduled function (Trace::apply_to, defined in schedule.hpp).
#pragma once
#include <cstdint>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/ir/ir.hpp"

namespace kiln::tir {

class Schedule;

// One input or output of an instruction: a block, loop or sampled-integer handle (by id), or an
// attribute.
struct TraceValue {
  enum class Kind : uint8_t { Block, Loop, Expr, Int, Float, Str, Null };
  Kind kind = Kind::Null;
  int64_t i = 0;  // handle id or integer
  double f = 0;
  std::string s;
  static TraceValue block(int64_t id) { return {Kind::Block, id, 0, {}}; }
  static TraceValue loop(int64_t id) { return {Kind::Loop, id, 0, {}}; }
  static TraceValue expr(int64_t id) { return {Kind::Expr, id, 0, {}}; }
  static TraceValue integer(int64_t v) { return {Kind::Int, v, 0, {}}; }
  static TraceValue real(double v) { return {Kind::Float, 0, v, {}}; }
  static TraceValue str(std::string v) { return {Kind::Str, 0, 0, std::move(v)}; }
  static TraceValue null() { return {}; }
  bool is_rv() const { return kind == Kind::Block || kind == Kind::Loop || kind == Kind::Expr; }
  static const char* kind_name(Kind k) {
    switch (k) {
      case Kind::Block: return "a block handle";
      case Kind::Loop: return "a loop handle";
      case Kind::Expr: return "a sampled-integer handle";
      case Kind::Int: return "an integer";
      case Kind::Float: return "a float";
      case Kind::Str: return "a string";
      case Kind::Null: return "null";
    }
    return "?";
  }
  bool operator==(const TraceValue& o) const { return kind == o.kind && i == o.i && f == o.f && s == o.s; }
};

struct Instruction {
  std::string kind;
  std::vector<TraceValue> inputs, outputs;
  // What a sampling instruction chose (empty for the others); replay makes the same choice.
  std::vector<int64_t> decision;
  bool operator==(const Instruction& o) const {
    return kind == o.kind && inputs == o.inputs && outputs == o.outputs && decision == o.decision;
  }
};

namespace trace_detail {

inline std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (c == '\t') o += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else o += c;
  }
  return o + "\"";
}

inline std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A value is written as a one-key object saying what it is: {"block": 0}, {"loop": 3},
// {"int": 8}, {"float": 0.5}, {"str": "C"}, or null.
inline std::string value_json(const TraceValue& v) {
  switch (v.kind) {
    case TraceValue::Kind::Block: return "{\"block\": " + std::to_string(v.i) + "}";
    case TraceValue::Kind::Loop: return "{\"loop\": " + std::to_string(v.i) + "}";
    case TraceValue::Kind::Expr: return "{\"expr\": " + std::to_string(v.i) + "}";
    case TraceValue::Kind::Int: return "{\"int\": " + std::to_string(v.i) + "}";
    case TraceValue::Kind::Float: return "{\"float\": " + format_double(v.f) + "}";
    case TraceValue::Kind::Str: return "{\"str\": " + json_string(v.s) + "}";
    case TraceValue::Kind::Null: return "null";
  }
  return "null";
}

// A reader for exactly the JSON that to_json writes (any whitespace allowed).
class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}

  std::vector<Instruction> trace() {
    std::vector<Instruction> out;
    expect('{');
    bool first = true;
    while (!peek('}')) {
      if (!first) expect(',');
      first = false;
      std::string key = string();
      expect(':');
      if (key == "version") {
        int64_t v = integer();
        if (v != 1) fail("unsupported trace version " + std::to_string(v) + " (this kiln reads version 1)");
      } else if (key == "insts") {
        expect('[');
        bool f2 = true;
        while (!peek(']')) {
          if (!f2) expect(',');
          f2 = false;
          out.push_back(instruction());
        }
        expect(']');
      } else fail("unknown key '" + key + "'");
    }
    expect('}');
    ws();
    if (pos_ != s_.size()) fail("trailing characters after the trace");
    return out;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) {
    user_error("Trace::from_json: ", what, " at character ", pos_);
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string() {
    expect('"');
    std::string o;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        o += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      if (e == 'n') o += '\n';
      else if (e == 't') o += '\t';
      else if (e == 'u') {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        o += char(std::stoi(s_.substr(pos_, 4), nullptr, 16));
        pos_ += 4;
      } else o += e;
    }
    expect('"');
    return o;
  }
  std::string number_text() {
    ws();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' || s_[pos_] == '+' ||
                                s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
      ++pos_;
    if (start == pos_) fail("expected a number");
    return s_.substr(start, pos_ - start);
  }
  int64_t integer() {
    std::string t = number_text();
    try {
      size_t used = 0;
      int64_t v = std::stoll(t, &used);
      if (used != t.size()) fail("expected an integer, got '" + t + "'");
      return v;
    } catch (const std::logic_error&) {
      fail("integer out of range: '" + t + "'");
    }
  }
  TraceValue value() {
    ws();
    if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
      return TraceValue::null();
    }
    expect('{');
    std::string key = string();
    expect(':');
    TraceValue v;
    if (key == "block") v = TraceValue::block(integer());
    else if (key == "loop") v = TraceValue::loop(integer());
    else if (key == "expr") v = TraceValue::expr(integer());
    else if (key == "int") v = TraceValue::integer(integer());
    else if (key == "float") v = TraceValue::real(std::strtod(number_text().c_str(), nullptr));
    else if (key == "str") v = TraceValue::str(string());
    else fail("unknown value kind '" + key + "' (expected block, loop, expr, int, float or str)");
    expect('}');
    return v;
  }
  std::vector<TraceValue> values() {
    std::vector<TraceValue> out;
    expect('[');
    bool first = true;
    while (!peek(']')) {
      if (!first) expect(',');
      first = false;
      out.push_back(value());
    }
    expect(']');
    return out;
  }
  Instruction instruction() {
    Instruction inst;
    expect('{');
    bool first = true;
    while (!peek('}')) {
      if (!first) expect(',');
      first = false;
      std::string key = string();
      expect(':');
      if (key == "kind") inst.kind = string();
      else if (key == "inputs") inst.inputs = values();
      else if (key == "outputs") inst.outputs = values();
      else if (key == "decision") {
        expect('[');
        bool f2 = true;
        while (!peek(']')) {
          if (!f2) expect(',');
          f2 = false;
          inst.decision.push_back(integer());
        }
        expect(']');
      }
      else fail("unknown instruction key '" + key + "'");
    }
    expect('}');
    if (inst.kind.empty()) fail("an instruction has no kind");
    return inst;
  }
};

inline std::string rv_name(const TraceValue& v) {
  if (v.kind == TraceValue::Kind::Loop && v.i == -2) return "tir::LoopRV::root()";
  const char* prefix = v.kind == TraceValue::Kind::Block ? "b" : v.kind == TraceValue::Kind::Loop ? "l" : "v";
  return prefix + std::to_string(v.i);
}

inline std::string cpp_value(const TraceValue& v) {
  switch (v.kind) {
    case TraceValue::Kind::Block: case TraceValue::Kind::Loop: case TraceValue::Kind::Expr: return rv_name(v);
    case TraceValue::Kind::Int: return std::to_string(v.i);
    case TraceValue::Kind::Float: return format_double(v.f);
    case TraceValue::Kind::Str: return json_string(v.s);  // a JSON string is a valid C++ literal here
    case TraceValue::Kind::Null: return "std::nullopt";
  }
  return "";
}

}  // namespace trace_detail

class Trace {
 public:
  Trace() = default;
  explicit Trace(std::vector<Instruction> insts) : insts_(std::move(insts)) {}

  const std::vector<Instruction>& instructions() const { return insts_; }
  void append(Instruction i) { insts_.push_back(std::move(i)); }
  size_t size() const { return insts_.size(); }

  std::string to_json() const {
    std::string o = "{\"version\": 1, \"insts\": [";
    for (size_t k = 0; k < insts_.size(); ++k) {
      const Instruction& in = insts_[k];
      o += k ? ",\n  " : "\n  ";
      o += "{\"kind\": " + trace_detail::json_string(in.kind) + ", \"inputs\": [";
      for (size_t j = 0; j < in.inputs.size(); ++j) o += (j ? ", " : "") + trace_detail::value_json(in.inputs[j]);
      o += "], \"outputs\": [";
      for (size_t j = 0; j < in.outputs.size(); ++j) o += (j ? ", " : "") + trace_detail::value_json(in.outputs[j]);
      o += "]";
      if (!in.decision.empty()) {
        o += ", \"decision\": [";
        for (size_t j = 0; j < in.decision.size(); ++j) o += (j ? ", " : "") + std::to_string(in.decision[j]);
        o += "]";
      }
      o += "}";
    }
    return o + (insts_.empty() ? "]}" : "\n]}");
  }
  static Trace from_json(const std::string& json) { return Trace(trace_detail::Reader(json).trace()); }

  // C++ statements that redo the schedule on a tir::Schedule named `s` (defined in
  // instruction.hpp: primitives may register their own C++ form).
  std::string to_cpp() const;

  // Replays the trace on `f` (the function it was recorded on, unscheduled); returns the result.
  ir::PrimFunc apply_to(const ir::PrimFunc& f) const;
  // Replays the trace on a schedule, continuing its own trace.
  void apply_to(Schedule& s) const;

 private:
  std::vector<Instruction> insts_;
};

}  // namespace kiln::tir
