// tests/schedule_fuzz.hpp: the differential schedule fuzzer (random legal schedules of the corpus
// programs, checked against the interpreter), shared by test_schedule_fuzz (fixed seeds, CI) and
// fuzz_schedules (the open-ended campaign).
//
// A schedule is generated from a seed by repeatedly choosing a move with sample_categorical and
// applying it with random handles and arguments. Each primitive call may be refused (a UserError);
// a refusal is counted and must leave the function and the trace exactly as they were. Anything
// else (another exception, a refusal that changed the schedule) is a failure of the generator
// stage. The finished schedule is then checked: its trace replays to the same function, survives
// a JSON round trip and prints as C++, and the scheduled function, JIT-compiled with LLVM, gives
// the interpreter's results on the unscheduled function. A failing trace is shrunk (instructions
// dropped one at a time while it still replays and still fails the same way) before it is reported.
#pragma once
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "kiln/backend/llvm.hpp"
#include "kiln/build.hpp"
#include "kiln/ir/printer.hpp"
#include "kiln/ir/structural.hpp"
#include "kiln/tir/interpreter.hpp"
#include "kiln/tir/schedule/random.hpp"
#include "kiln/tir/schedule/schedule.hpp"
#include "tensor_testing.hpp"

namespace kiln::fuzz {

// ---- moves -------------------------------------------------------------------------------------

enum class Move {
  SplitPerfect, SplitConstant, Fuse, Reorder, Parallel, Vectorize, Unroll, AddUnitLoop, Annotate, ComputeAt,
  ReverseComputeAt, ComputeInline, ReverseComputeInline, CacheRead, CacheWrite, CacheInplace, Reindex,
  DecomposeReduction, Rfactor, Merge, LoopPartition, SetScope, StorageAlign, Blockize, PadEinsum,
  DecomposePadding, RollingBuffer, Count
};

inline const std::vector<std::string>& move_names() {
  static const std::vector<std::string> names = {
      "split(perfect tile)", "split(constant)", "fuse", "reorder", "parallel", "vectorize", "unroll", "add_unit_loop",
      "annotate", "compute_at", "reverse_compute_at", "compute_inline", "reverse_compute_inline", "cache_read",
      "cache_write", "cache_inplace", "reindex", "decompose_reduction", "rfactor", "merge", "loop_partition",
      "set_scope", "storage_align", "blockize", "pad_einsum", "decompose_padding", "rolling_buffer"};
  return names;
}

// Relative frequencies: the loop moves that make schedules interesting come more often.
inline const std::vector<double>& move_weights() {
  static const std::vector<double> w = {6, 3, 3, 3, 2, 2, 2, 1, 1, 4, 3, 3, 3, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1};
  return w;
}

struct MoveCount {
  int64_t accepted = 0, refused = 0, unbuilt = 0;  // unbuilt: refused with "not built yet"
};
using Stats = std::map<std::string, MoveCount>;

inline std::string stats_table(const Stats& stats) {
  std::ostringstream os;
  os << std::left << std::setw(24) << "move" << std::right << std::setw(10) << "accepted" << std::setw(10) << "refused"
     << "  (of which \"not built yet\")\n";
  for (auto& name : move_names()) {
    auto it = stats.find(name);
    MoveCount c = it == stats.end() ? MoveCount{} : it->second;
    os << std::left << std::setw(24) << name << std::right << std::setw(10) << c.accepted << std::setw(10) << c.refused
       << std::setw(10) << c.unbuilt << "\n";
  }
  return os.str();
}

// ---- the generator -----------------------------------------------------------------------------

// Builds a random schedule of `f` from `seed`. `failure` is set (with a "[move]" tag) when a
// primitive misbehaved while generating; `failing_call` is then the C++ of the call, to be run
// after the trace so far.
class Generator {
 public:
  Generator(const ir::PrimFunc& f, uint64_t seed, int steps, Stats& stats) : s_(f), steps_(steps), stats_(stats) {
    s_.seed(int64_t(seed & 0x7fffffffffffffffULL));
    rng_state_ = uint64_t(s_.fork_seed());
  }

  tir::Schedule& schedule() { return s_; }
  const std::string& failure() const { return failure_; }
  const std::string& failing_call() const { return failing_call_; }

  void run() {
    std::vector<int64_t> ids;
    for (size_t k = 0; k < move_names().size(); ++k) ids.push_back(int64_t(k));
    for (int step = 0; step < steps_ && failure_.empty(); ++step) {
      tir::ExprRV choice;
      if (!attempt("(choose a move)", "sample_categorical", [&] { choice = s_.sample_categorical(ids, move_weights()); }))
        return;
      Move m = Move(s_.get(choice));
      move_ = move_names()[size_t(m)];
      ok_ = true;
      attempted_ = unbuilt_ = false;
      play(m);
      if (!failure_.empty()) return;
      if (attempted_) {
        MoveCount& c = stats_[move_];
        (ok_ ? c.accepted : c.refused) += 1;
        c.unbuilt += unbuilt_;
      }
    }
  }

 private:
  tir::Schedule s_;
  int steps_;
  Stats& stats_;
  uint64_t rng_state_ = 0;
  std::string failure_, failing_call_, move_;
  bool ok_ = true, attempted_ = false, unbuilt_ = false;

  tir::RandomEngine rng() { return tir::RandomEngine(rng_state_); }
  int64_t rand(int64_t lo, int64_t hi) { return rng().uniform_int(lo, hi); }  // [lo, hi)
  bool coin(double p = 0.5) { return rng().uniform_real() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[size_t(rand(0, int64_t(v.size())))]; }

  static std::string name(const tir::BlockRV& b) { return "b" + std::to_string(b.id); }
  static std::string name(const tir::LoopRV& l) { return l.is_root() ? "tir::LoopRV::root()" : "l" + std::to_string(l.id); }
  static std::string name(const tir::ExprRV& v) { return "v" + std::to_string(v.id); }
  template <typename T>
  static std::string names(const std::vector<T>& v) {
    std::string o;
    for (auto& x : v) o += (o.empty() ? "" : ", ") + name(x);
    return "{" + o + "}";
  }
  static std::string str(const std::string& s) { return "\"" + s + "\""; }

  // Runs one primitive call. A UserError is a refusal, which must leave the schedule unchanged;
  // any other exception is a failure. Returns whether the call went through.
  // A lookup (`counts` false) does not make the move count as attempted.
  bool attempt(const std::string& move, const std::string& call, const std::function<void()>& f, bool counts = true) {
    if (!failure_.empty()) return false;
    ir::PrimFunc before = s_.func();
    size_t trace_size = s_.trace().size();
    attempted_ |= counts;
    try {
      f();
      return true;
    } catch (const UserError& e) {
      bool same_func = s_.func().same_as(before) || ir::structural_equal(s_.func(), before);
      if (!same_func || s_.trace().size() != trace_size) {
        failing_call_ = call;
        failure_ = "[move] " + move + ": `" + call + "` was refused (" + e.what() + ") but " +
                   (same_func ? "the trace grew from " + std::to_string(trace_size) + " to " + std::to_string(s_.trace().size()) +
                                    " instructions"
                              : "the function changed:\n" + ir::to_text(s_.func()));
      }
      ok_ = false;
      unbuilt_ |= std::string(e.what()).find("not built yet") != std::string::npos;
      return false;
    } catch (const std::exception& e) {
      failing_call_ = call;
      failure_ = "[move] " + move + ": `" + call + "` threw a non-user error: " + e.what() + "\nfunction before:\n" +
                 ir::to_text(before);
    } catch (...) {
      failing_call_ = call;
      failure_ = "[move] " + move + ": `" + call + "` threw something that is not a std::exception";
    }
    ok_ = false;
    return false;
  }
  bool act(const std::string& call, const std::function<void()>& f) { return attempt(move_, call, f); }
  bool lookup(const std::string& call, const std::function<void()>& f) { return attempt(move_, call, f, false); }

  // Lookups (recorded in the trace; they do not refuse on a valid function).
  std::vector<std::string> block_names() {
    std::vector<std::string> out;
    for (auto& b : tir::schedule_detail::all_blocks(s_.func())) {
      const std::string& n = tir::schedule_detail::block_of(b.stmt)->name;
      if (n != "root") out.push_back(n);
    }
    return out;
  }
  std::optional<tir::BlockRV> any_block() {
    auto names = block_names();
    if (names.empty()) return std::nullopt;
    std::optional<tir::BlockRV> b;
    std::string n = pick(names);
    if (!lookup("s.get_block(" + str(n) + ")", [&] { b = s_.get_block(n); })) return std::nullopt;
    return b;
  }
  std::vector<tir::LoopRV> loops_of(const tir::BlockRV& b) {
    std::vector<tir::LoopRV> out;
    lookup("s.get_loops(" + name(b) + ")", [&] { out = s_.get_loops(b); });
    return out;
  }
  std::optional<tir::LoopRV> any_loop() {
    for (int tries = 0; tries < 4; ++tries) {
      auto b = any_block();
      if (!b) return std::nullopt;
      auto loops = loops_of(*b);
      if (!loops.empty()) return pick(loops);
    }
    return std::nullopt;
  }
  // any_loop with the loop's constant extent (-1 when symbolic), from the same random draws.
  std::optional<std::pair<tir::LoopRV, int64_t>> any_loop_with_extent() {
    for (int tries = 0; tries < 4; ++tries) {
      auto b = any_block();
      if (!b) return std::nullopt;
      auto loops = loops_of(*b);
      if (loops.empty()) continue;
      size_t j = size_t(rand(0, int64_t(loops.size())));
      auto located = tir::schedule_detail::find_block(s_.func(), s_.block_name(*b));
      auto stmts = tir::schedule_detail::enclosing_loops(located.ancestors);
      if (j >= stmts.size()) return std::nullopt;
      auto ext = ir::const_int(arith::simplify(stmts[j].as<ir::ForNode>()->extent));
      return std::make_pair(loops[j], ext ? *ext : int64_t(-1));
    }
    return std::nullopt;
  }
  const ir::BlockNode* block_node(const tir::BlockRV& b) {
    auto loc = tir::schedule_detail::find_block(s_.func(), s_.block_name(b));
    return tir::schedule_detail::block_of(loc.stmt);
  }
  std::string scope() { return coin() ? "global" : "local"; }
  std::string factors_text(const std::vector<std::optional<int64_t>>& fs) {
    std::string o;
    for (auto& f : fs) o += (o.empty() ? "" : ", ") + (f ? std::to_string(*f) : std::string("std::nullopt"));
    return "{" + o + "}";
  }
  std::vector<std::optional<int64_t>> constant_factors() {
    int64_t f = rand(2, 10);
    switch (rand(0, 4)) {
      case 0: return {std::nullopt, f};
      case 1: return {f, std::nullopt};
      case 2: return {rand(1, 4), std::nullopt, f};
      default: return {f, rand(1, 40)};  // may be too small: refused
    }
  }

  void play(Move m) {
    using M = Move;
    switch (m) {
      case M::SplitPerfect: {
        auto l = any_loop();
        if (!l) return;
        int64_t n = rand(2, 5), max_inner = pick(std::vector<int64_t>{4, 8, 16, 64});
        std::vector<tir::ExprRV> tiles;
        if (!act("s.sample_perfect_tile(" + name(*l) + ", " + std::to_string(n) + ", " + std::to_string(max_inner) + ")",
                 [&] { tiles = s_.sample_perfect_tile(*l, n, max_inner); }))
          return;
        act("s.split(" + name(*l) + ", " + names(tiles) + ")", [&] { s_.split(*l, tiles); });
        return;
      }
      case M::SplitConstant: {
        auto l = any_loop();
        if (!l) return;
        auto fs = constant_factors();
        act("s.split(" + name(*l) + ", " + factors_text(fs) + ")", [&] { s_.split(*l, fs); });
        return;
      }
      case M::Fuse: {
        auto b = any_block();
        if (!b) return;
        auto loops = loops_of(*b);
        if (loops.size() < 2) return;
        std::vector<tir::LoopRV> chosen;
        if (coin(0.8)) {
          size_t start = size_t(rand(0, int64_t(loops.size()) - 1));
          size_t len = size_t(rand(2, std::min<int64_t>(4, int64_t(loops.size() - start) + 1)));
          chosen.assign(loops.begin() + long(start), loops.begin() + long(start + len));
        } else {
          chosen = {pick(loops), pick(loops)};  // maybe not adjacent, maybe repeated: refused
        }
        act("s.fuse(" + names(chosen) + ")", [&] { s_.fuse(chosen); });
        return;
      }
      case M::Reorder: {
        auto b = any_block();
        if (!b) return;
        auto loops = loops_of(*b);
        if (loops.size() < 2) return;
        std::vector<tir::LoopRV> chosen = loops;
        for (size_t i = chosen.size(); i > 1; --i) std::swap(chosen[i - 1], chosen[size_t(rand(0, int64_t(i)))]);
        chosen.resize(size_t(rand(2, int64_t(chosen.size()) + 1)));
        if (coin(0.1))
          if (auto other = any_loop()) chosen.push_back(*other);  // maybe a loop of another nest: refused
        act("s.reorder(" + names(chosen) + ")", [&] { s_.reorder(chosen); });
        return;
      }
      case M::Parallel: {
        auto l = any_loop();
        if (l) act("s.parallel(" + name(*l) + ")", [&] { s_.parallel(*l); });
        return;
      }
      case M::Vectorize: {
        auto b = any_block();
        if (!b) return;
        auto loops = loops_of(*b);
        if (loops.empty()) return;
        tir::LoopRV l = coin(0.8) ? loops.back() : pick(loops);
        act("s.vectorize(" + name(l) + ")", [&] { s_.vectorize(l); });
        return;
      }
      case M::Unroll: {
        // Not loops above 512 iterations: LLVM takes minutes to unroll 48285 of them (unroll accepts any
        // extent), which would stall the campaign.
        auto l = any_loop_with_extent();
        if (l && l->second <= 512) act("s.unroll(" + name(l->first) + ")", [&] { s_.unroll(l->first); });
        return;
      }
      case M::AddUnitLoop: {
        if (coin()) {
          auto b = any_block();
          if (b) act("s.add_unit_loop(" + name(*b) + ")", [&] { s_.add_unit_loop(*b); });
        } else {
          auto l = any_loop();
          if (l) act("s.add_unit_loop(" + name(*l) + ")", [&] { s_.add_unit_loop(*l); });
        }
        return;
      }
      case M::Annotate: {
        int64_t v = rand(0, 100);
        if (coin()) {
          auto b = any_block();
          if (b) act("s.annotate(" + name(*b) + ", \"fuzz\", " + std::to_string(v) + ")", [&] { s_.annotate(*b, "fuzz", v); });
        } else {
          auto l = any_loop();
          if (l) act("s.annotate(" + name(*l) + ", \"fuzz_note\", \"x\")", [&] { s_.annotate(*l, "fuzz_note", "x"); });
        }
        return;
      }
      case M::ComputeAt: {
        auto b = any_block();
        if (!b) return;
        tir::LoopRV l;
        if (coin(0.75)) {
          if (!act("s.sample_compute_location(" + name(*b) + ")", [&] { l = s_.sample_compute_location(*b); })) return;
        } else {
          auto any = any_loop();
          if (!any) return;
          l = *any;
        }
        bool keep = coin(0.3);
        act("s.compute_at(" + name(*b) + ", " + name(l) + ", " + (keep ? "true" : "false") + ")",
            [&] { s_.compute_at(*b, l, keep); });
        return;
      }
      case M::ReverseComputeAt: {
        auto b = any_block();
        auto l = any_loop();
        if (!b || !l) return;
        bool keep = coin(0.3);
        act("s.reverse_compute_at(" + name(*b) + ", " + name(*l) + ", " + (keep ? "true" : "false") + ")",
            [&] { s_.reverse_compute_at(*b, *l, keep); });
        return;
      }
      case M::ComputeInline: {
        auto b = any_block();
        if (b) act("s.compute_inline(" + name(*b) + ")", [&] { s_.compute_inline(*b); });
        return;
      }
      case M::ReverseComputeInline: {
        auto b = any_block();
        if (b) act("s.reverse_compute_inline(" + name(*b) + ")", [&] { s_.reverse_compute_inline(*b); });
        return;
      }
      case M::CacheRead:
      case M::CacheWrite:
      case M::CacheInplace: {
        auto b = any_block();
        if (!b) return;
        const ir::BlockNode* n = block_node(*b);
        size_t count = m == M::CacheWrite ? n->writes.size() : n->reads.size();
        int64_t idx = coin(0.9) && count > 0 ? rand(0, int64_t(count)) : int64_t(count);  // sometimes out of range
        std::string sc = scope(), args = name(*b) + ", " + std::to_string(idx) + ", " + str(sc) + ")";
        if (m == M::CacheRead) act("s.cache_read(" + args, [&] { s_.cache_read(*b, idx, sc); });
        else if (m == M::CacheWrite) act("s.cache_write(" + args, [&] { s_.cache_write(*b, idx, sc); });
        else act("s.cache_inplace(" + args, [&] { s_.cache_inplace(*b, idx, sc); });
        return;
      }
      case M::Reindex: {
        auto b = any_block();
        if (!b) return;
        bool read = coin();
        const ir::BlockNode* n = block_node(*b);
        size_t count = read ? n->reads.size() : n->writes.size();
        int64_t idx = count ? rand(0, int64_t(count)) : 0;
        auto type = read ? tir::BufferIndexType::Read : tir::BufferIndexType::Write;
        act("s.reindex(" + name(*b) + ", tir::BufferIndexType::" + (read ? "Read" : "Write") + ", " + std::to_string(idx) + ")",
            [&] { s_.reindex(*b, type, idx); });
        return;
      }
      case M::DecomposeReduction: {
        auto b = any_block();
        if (!b) return;
        auto loops = loops_of(*b);
        if (loops.empty()) return;
        tir::LoopRV l = pick(loops);
        act("s.decompose_reduction(" + name(*b) + ", " + name(l) + ")", [&] { s_.decompose_reduction(*b, l); });
        return;
      }
      case M::Rfactor: {
        auto l = any_loop();
        if (!l) return;
        int64_t axis = rand(0, 3);
        act("s.rfactor(" + name(*l) + ", " + std::to_string(axis) + ")", [&] { s_.rfactor(*l, axis); });
        return;
      }
      case M::Merge: {
        auto a = any_loop();
        auto b = any_loop();
        if (!a || !b) return;
        std::vector<tir::LoopRV> ls{*a, *b};
        act("s.merge(" + names(ls) + ")", [&] { s_.merge(ls); });
        return;
      }
      case M::LoopPartition: {
        auto l = any_loop();
        if (!l) return;
        auto fs = constant_factors();
        act("s.loop_partition(" + name(*l) + ", " + factors_text(fs) + ")", [&] { s_.loop_partition(*l, fs); });
        return;
      }
      case M::SetScope: {
        auto b = any_block();
        if (!b) return;
        std::string sc = scope();
        act("s.set_scope(" + name(*b) + ", 0, " + str(sc) + ")", [&] { s_.set_scope(*b, 0, sc); });
        return;
      }
      case M::StorageAlign: {
        auto b = any_block();
        if (!b) return;
        int64_t axis = rand(0, 3), factor = pick(std::vector<int64_t>{4, 8, 16}), offset = rand(0, 4);
        act("s.storage_align(" + name(*b) + ", 0, " + std::to_string(axis) + ", " + std::to_string(factor) + ", " +
                std::to_string(offset) + ")",
            [&] { s_.storage_align(*b, 0, axis, factor, offset); });
        return;
      }
      case M::Blockize: {
        auto l = any_loop();
        if (!l) return;
        bool keep = coin();
        act("s.blockize(" + name(*l) + ", " + (keep ? "true" : "false") + ")", [&] { s_.blockize(*l, keep); });
        return;
      }
      case M::PadEinsum: {
        auto b = any_block();
        if (!b) return;
        std::vector<int64_t> padding;
        for (size_t k = 0; k < block_node(*b)->iter_vars.size(); ++k) padding.push_back(pick(std::vector<int64_t>{1, 1, 4, 8}));
        std::string text;
        for (auto p : padding) text += (text.empty() ? "" : ", ") + std::to_string(p);
        act("s.pad_einsum(" + name(*b) + ", {" + text + "})", [&] { s_.pad_einsum(*b, padding); });
        return;
      }
      case M::DecomposePadding: {
        auto b = any_block();
        if (!b) return;
        auto loops = loops_of(*b);
        if (loops.empty()) return;
        tir::LoopRV l = pick(loops);
        act("s.decompose_padding(" + name(*b) + ", " + name(l) + ")", [&] { s_.decompose_padding(*b, l); });
        return;
      }
      case M::RollingBuffer: {
        auto b = any_block();
        if (b) act("s.rolling_buffer(" + name(*b) + ", 0)", [&] { s_.rolling_buffer(*b, 0); });
        return;
      }
      case M::Count: return;
    }
  }
};

// ---- the checker -------------------------------------------------------------------------------

// Adds the time until it goes out of scope to `total`.
struct ScopedTimer {
  double& total;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~ScopedTimer() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

// The interpreter's results on an unscheduled corpus program (inputs and outputs per size map),
// computed once per program.
struct Reference {
  std::vector<std::vector<runtime::Tensor>> inputs, outputs;
};

inline Reference reference_of(const corpus::Case& c, const ir::PrimFunc& f) {
  Reference r;
  std::mt19937_64 rng(7);
  for (auto& sizes : c.sizes) {
    std::vector<runtime::Tensor> in;
    for (auto& b : f->param_buffers) {
      double lo = c.lo, hi = c.hi;
      if (auto it = c.int_ranges.find(b->name); it != c.int_ranges.end()) {
        lo = double(it->second.first);
        hi = double(it->second.second);
      }
      in.push_back(testing::random_tensor(testing::eval_shape(b->shape, sizes), b->dtype, rng, lo, hi));
    }
    std::vector<runtime::Tensor> out;
    for (auto& t : in) out.push_back(testing::clone(t));
    tir::interpret(f, std::vector<runtime::Arg>(out.begin(), out.end()));
    r.inputs.push_back(std::move(in));
    r.outputs.push_back(std::move(out));
  }
  return r;
}

// Everything the checker keeps across schedules of one program: its reference results and the
// scheduled functions already compiled and found equal (many random schedules coincide).
struct ProgramState {
  const corpus::Case* c = nullptr;
  std::string target = "llvm";  // what the scheduled functions are compiled for
  ir::PrimFunc original;
  Reference ref;
  std::map<size_t, std::vector<ir::PrimFunc>> verified;  // by structural hash
  int64_t jit_runs = 0, jit_reused = 0;
  double generate_seconds = 0, replay_seconds = 0, jit_seconds = 0, run_seconds = 0;  // where the time goes
};

inline ProgramState program_state(const corpus::Case& c, const std::string& target = "llvm") {
  ProgramState p;
  p.c = &c;
  p.target = target;
  p.original = c.build();
  p.ref = reference_of(c, p.original);
  return p;
}

// The failure of a finished schedule ("" when it passes), tagged with its kind: [replay],
// [json], [cpp], [compile], [mismatch], [exception].
inline std::string check_schedule(ProgramState& p, const tir::Schedule& s) {
  const ir::PrimFunc& scheduled = s.func();
  std::string stage = "replay";
  try {
    ScopedTimer t{p.replay_seconds};
    ir::PrimFunc replayed = s.trace().apply_to(p.original);
    if (!ir::structural_equal(replayed, scheduled))
      return "[replay] the trace replays to a different function: " +
             ir::structural_diff(replayed, scheduled).value_or("(no diff)") + "\nreplayed:\n" + ir::to_text(replayed) +
             "scheduled:\n" + ir::to_text(scheduled);
    stage = "json";
    std::string json = s.trace().to_json();
    tir::Trace back = tir::Trace::from_json(json);
    // Equal instructions replay equally, so the replay above covers the trace read back.
    if (!(back.instructions() == s.trace().instructions())) return "[json] the trace changes in a JSON round trip:\n" + json;
    stage = "cpp";
    (void)s.trace().to_cpp();
  } catch (const std::exception& e) {
    return "[" + stage + "] " + e.what();
  }
  size_t h = ir::structural_hash(scheduled);
  for (auto& v : p.verified[h])
    if (ir::structural_equal(v, scheduled)) {
      ++p.jit_reused;
      return "";
    }
  runtime::Module mod;
  try {
    ScopedTimer t{p.jit_seconds};
    mod = kiln::build(ir::IRModule::from_prim_func(scheduled, "main"), Target(p.target));
  } catch (const std::exception& e) {
    return std::string("[compile] the scheduled function does not compile: ") + e.what() + "\n" + ir::to_text(scheduled);
  }
  ++p.jit_runs;
  std::string diffs;
  try {
    ScopedTimer t{p.run_seconds};
    for (size_t k = 0; k < p.ref.inputs.size(); ++k) {
      std::vector<runtime::Tensor> args;
      for (auto& t : p.ref.inputs[k]) args.push_back(testing::clone(t));
      mod["main"].call(std::vector<runtime::Arg>(args.begin(), args.end()));
      for (size_t i = 0; i < args.size(); ++i)
        diffs += testing::compare(p.ref.outputs[k][i], args[i], p.c->name + ":" + p.original->param_buffers[i]->name);
    }
  } catch (const std::exception& e) {
    return std::string("[exception] running the scheduled function threw: ") + e.what() + "\n" + ir::to_text(scheduled);
  }
  if (!diffs.empty()) return "[mismatch] the scheduled function differs from the interpreter:\n" + diffs + ir::to_text(scheduled);
  p.verified[h].push_back(scheduled);
  return "";
}

inline std::string tag_of(const std::string& failure) { return failure.substr(0, failure.find(']') + 1); }

// Drops instructions (last first) while the rest still replays and fails with the same tag.
inline tir::Trace shrink(ProgramState& p, const tir::Trace& trace, const std::string& failure) {
  std::string tag = tag_of(failure);
  std::vector<tir::Instruction> insts = trace.instructions();
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t k = insts.size(); k-- > 0;) {
      std::vector<tir::Instruction> fewer = insts;
      fewer.erase(fewer.begin() + long(k));
      tir::Schedule s(p.original);
      try {
        tir::Trace(fewer).apply_to(s);
      } catch (const std::exception&) {
        continue;  // no longer replays: the instruction is needed
      }
      std::string f = check_schedule(p, s);
      if (!f.empty() && tag_of(f) == tag) {
        insts = std::move(fewer);
        changed = true;
      }
    }
  }
  return tir::Trace(insts);
}

struct Reproducer {
  std::string program;
  uint64_t seed = 0;
  std::string failure;
  tir::Trace trace;        // shrunk when the failure is in the finished schedule
  std::string extra_call;  // for a [move] failure: the C++ call that misbehaved after the trace
  std::string json() const {
    return "{\"program\": " + tir::trace_detail::json_string(program) + ", \"seed\": " + std::to_string(seed) +
           ", \"failure\": " + tir::trace_detail::json_string(failure) +
           (extra_call.empty() ? "" : ", \"failing_call\": " + tir::trace_detail::json_string(extra_call)) +
           ",\n\"trace\": " + trace.to_json() + "}\n";
  }
  std::string cpp() const { return trace.to_cpp() + (extra_call.empty() ? "" : extra_call + ";  // misbehaves\n"); }
  // Writes <dir>/<program>-<seed>.json; returns the path.
  std::string write(const std::string& dir) const {
    std::string path = dir + "/" + program + "-" + std::to_string(seed) + ".json";
    std::ofstream(path) << json();
    return path;
  }
};

// Generates and checks one (program, seed) pair; returns the reproducer of a failure, if any.
// `do_shrink` false reports the whole trace (shrinking costs a JIT per attempt).
inline std::optional<Reproducer> fuzz_one(ProgramState& p, uint64_t seed, Stats& stats, bool do_shrink = true,
                                          int max_steps = 10) {
  uint64_t st = seed ^ 0x2545f4914f6cdd1dULL;
  int steps = int(tir::RandomEngine(st).uniform_int(1, max_steps + 1));
  Generator g(p.original, seed, steps, stats);
  std::string failure;
  try {
    ScopedTimer t{p.generate_seconds};
    g.run();
    failure = g.failure();
  } catch (const std::exception& e) {
    failure = std::string("[exception] the generator threw: ") + e.what();
  }
  if (!failure.empty()) return Reproducer{p.c->name, seed, failure, g.schedule().trace(), g.failing_call()};
  failure = check_schedule(p, g.schedule());
  if (failure.empty()) return std::nullopt;
  if (!do_shrink) return Reproducer{p.c->name, seed, failure, g.schedule().trace(), ""};
  tir::Trace small = shrink(p, g.schedule().trace(), failure);
  // The shrunk trace's own failure text (it is what the reproducer shows).
  tir::Schedule s(p.original);
  small.apply_to(s);
  std::string shrunk_failure = check_schedule(p, s);
  return Reproducer{p.c->name, seed, shrunk_failure.empty() ? failure : shrunk_failure, small, ""};
}

}  // namespace kiln::fuzz
