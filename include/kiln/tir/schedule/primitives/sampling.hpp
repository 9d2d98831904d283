// kiln/tir/schedule/primitives/sampling.hpp: seed, fork_seed, sample_perfect_tile,
// sample_categorical, sample_compute_location, and split by sampled factors.
//
// The sampling primitives are how a tuner describes a space of schedules: each draws from the
// schedule's seeded random state (random.hpp), returns the choice as a handle (ExprRV, LoopRV) and
// records it in the trace as the instruction's decision. Replaying a trace makes the recorded
// choices again whatever the seed, and a caller may pass a decision to force one.
#pragma once
#include <algorithm>
#include <cmath>

#include "kiln/tir/schedule/random.hpp"
#include "kiln/tir/schedule/schedule.hpp"

namespace kiln::tir {

namespace sampling_detail {

// Perfect tilings need the extent's prime factorization; trial division stays fast up to 2^40.
inline constexpr int64_t max_tile_extent = int64_t(1) << 40;
inline constexpr int64_t max_tile_factors = 64;

// The prime factorization of x >= 1: (prime, exponent) pairs, ascending.
inline std::vector<std::pair<int64_t, int>> factorize(int64_t x) {
  std::vector<std::pair<int64_t, int>> out;
  for (int64_t p = 2; p * p <= x; ++p) {
    if (x % p) continue;
    int e = 0;
    while (x % p == 0) x /= p, ++e;
    out.push_back({p, e});
  }
  if (x > 1) out.push_back({x, 1});
  return out;
}

// C(n, k) as a double (counts of tilings can exceed 64 bits; only their ratios matter).
inline double choose(int n, int k) {
  double r = 1;
  for (int i = 1; i <= k; ++i) r = r * double(n - k + i) / double(i);
  return r;
}

// The number of ordered ways to write a number with these prime exponents as a product of
// `parts` positive factors: for each prime, the compositions of its exponent into `parts` parts.
inline double tilings(const std::vector<int>& exponents, int parts) {
  double r = 1;
  for (int e : exponents) r *= choose(e + parts - 1, parts - 1);
  return r;
}

// A uniformly random composition of e into `parts` non-negative parts (stars and bars: the
// parts - 1 bars take a uniformly random subset of the e + parts - 1 slots).
inline std::vector<int> random_composition(RandomEngine& rng, int e, int parts) {
  int slots = e + parts - 1;
  std::vector<int> pos(static_cast<size_t>(slots));
  for (int i = 0; i < slots; ++i) pos[size_t(i)] = i;
  for (int i = 0; i < parts - 1; ++i) std::swap(pos[size_t(i)], pos[size_t(rng.uniform_int(i, slots))]);
  std::vector<int> bars(pos.begin(), pos.begin() + (parts - 1));
  std::sort(bars.begin(), bars.end());
  std::vector<int> out;
  int prev = -1;
  for (int b : bars) {
    out.push_back(b - prev - 1);
    prev = b;
  }
  out.push_back(slots - prev - 1);
  return out;
}

// n factors with product `extent` and innermost (last) factor <= max_inner, uniformly among all
// such tilings: the innermost factor d is drawn with weight = the number of tilings of extent / d
// into n - 1 factors, then those n - 1 factors uniformly, one prime at a time.
inline std::vector<int64_t> sample_perfect_tile(RandomEngine& rng, int64_t extent, int n, int64_t max_inner) {
  if (n == 1) return {extent};  // the only tiling (the caller checked extent <= max_inner)
  auto primes = factorize(extent);
  // The divisors d <= max_inner, with the exponents of extent / d.
  std::vector<int64_t> divisors{1};
  std::vector<std::vector<int>> rest_exponents{{}};
  for (auto& [p, e] : primes) rest_exponents[0].push_back(e);
  for (size_t i = 0; i < primes.size(); ++i) {
    size_t count = divisors.size();
    for (size_t j = 0; j < count; ++j) {
      int64_t d = divisors[j];
      for (int k = 1; k <= primes[i].second; ++k) {
        d *= primes[i].first;
        divisors.push_back(d);
        rest_exponents.push_back(rest_exponents[j]);
        rest_exponents.back()[i] -= k;
      }
    }
  }
  std::vector<double> weights;
  for (size_t j = 0; j < divisors.size(); ++j)
    weights.push_back(divisors[j] <= max_inner ? tilings(rest_exponents[j], n - 1) : 0.0);
  size_t pick = rng.discrete(weights);
  std::vector<int64_t> out(size_t(n), 1);
  out.back() = divisors[pick];
  for (size_t i = 0; i < primes.size(); ++i) {
    std::vector<int> parts = random_composition(rng, rest_exponents[pick][i], n - 1);
    for (int k = 0; k < n - 1; ++k)
      for (int r = 0; r < parts[size_t(k)]; ++r) out[size_t(k)] *= primes[i].first;
  }
  return out;
}

inline std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return "{" + s + "}";
}

// The C++ names a printed trace uses for a handle.
inline std::string cpp(const TraceValue& v) { return trace_detail::cpp_value(v); }

inline std::string perfect_tile_cpp(const Instruction& in) {
  std::string call = "s.sample_perfect_tile(" + cpp(in.inputs.at(0)) + ", " + cpp(in.inputs.at(1)) + ", " +
                     cpp(in.inputs.at(2)) + ", std::vector<int64_t>" + list(in.decision) + ")";
  if (in.outputs.empty()) return call + ";\n";
  std::string tiles = "tiles_" + cpp(in.outputs[0]);
  std::string o = "auto " + tiles + " = " + call + ";\n";
  for (size_t j = 0; j < in.outputs.size(); ++j)
    o += "auto " + cpp(in.outputs[j]) + " = " + tiles + "[" + std::to_string(j) + "];\n";
  return o;
}

inline std::string categorical_cpp(const Instruction& in) {
  std::string cands, probs;
  for (auto& v : in.inputs) {
    if (v.kind == TraceValue::Kind::Int) cands += (cands.empty() ? "" : ", ") + cpp(v);
    else probs += (probs.empty() ? "" : ", ") + cpp(v);
  }
  std::string call = "s.sample_categorical(std::vector<int64_t>{" + cands + "}, std::vector<double>{" + probs + "}, " +
                     std::to_string(in.decision.empty() ? 0 : in.decision[0]) + ")";
  return in.outputs.empty() ? call + ";\n" : "auto " + cpp(in.outputs[0]) + " = " + call + ";\n";
}

inline std::string compute_location_cpp(const Instruction& in) {
  std::string call = "s.sample_compute_location(" + cpp(in.inputs.at(0)) + ", " +
                     std::to_string(in.decision.empty() ? 0 : in.decision[0]) + ")";
  // The root is not a variable: later instructions print it as tir::LoopRV::root().
  bool root = in.outputs.empty() || (in.outputs[0].kind == TraceValue::Kind::Loop && in.outputs[0].i == LoopRV::root().id);
  return root ? call + ";\n" : "auto " + cpp(in.outputs[0]) + " = " + call + ";\n";
}

// The decision of a replayed sampling instruction that records one index.
inline std::optional<int64_t> single_decision(const ReplayInputs& in) {
  const auto& d = in.decision();
  if (d.empty()) return std::nullopt;  // a hand-written trace without a decision samples afresh
  KILN_USER_CHECK(d.size() == 1, "trace: instruction '", in.instruction().kind, "' has a decision of ", d.size(),
                  " values; it records one index");
  return d[0];
}

}  // namespace sampling_detail

inline void Schedule::seed(int64_t seed) { rand_state_ = RandomEngine::state_of_seed(seed); }

inline int64_t Schedule::fork_seed() { return RandomEngine(rand_state_).fork(); }

inline std::vector<ExprRV> Schedule::sample_perfect_tile(const LoopRV& loop, int64_t n, int64_t max_innermost_factor,
                                                         std::optional<std::vector<int64_t>> decision) {
  namespace sd = sampling_detail;
  auto loc = locate(loop, "sample_perfect_tile");
  auto* l = loc.stmt.as<ir::ForNode>();
  std::string where = "sample_perfect_tile: loop '" + l->loop_var.name() + "'";
  if (n < 1 || n > sd::max_tile_factors)
    user_error(where, ": n = ", n, " factors were asked for; n is the number of loops the tiling splits into, from 1 to ",
               sd::max_tile_factors);
  if (max_innermost_factor < 1)
    user_error(where, ": max_innermost_factor is ", max_innermost_factor,
               "; it bounds the innermost factor and must be at least 1");
  ir::Expr ext = arith::simplify(l->extent);
  std::optional<int64_t> extent = ir::const_int(ext);
  if (!extent)
    user_error(where, " has the symbolic extent ", ir::to_text(ext),
               "; a perfect tiling needs a constant extent. Split it by a constant first, e.g. ",
               "s.split(loop, {std::nullopt, 16}), and tile the constant inner loop");
  if (*extent < 1) user_error(where, " has the extent ", *extent, ", which has no tiling; a perfect tile needs an extent >= 1");
  if (*extent > sd::max_tile_extent)
    user_error(where, " has the extent ", *extent, ", above the ", sd::max_tile_extent,
               " sample_perfect_tile can factorize; split it by a constant first");
  if (n == 1 && *extent > max_innermost_factor)
    user_error(where, ": with n = 1 the only factor is the extent ", *extent, ", which is above max_innermost_factor = ",
               max_innermost_factor, "; use n >= 2 or a larger max_innermost_factor");
  std::vector<int64_t> factors;
  if (decision) {
    factors = *decision;
    std::string given = " (decision " + sd::list(factors) + ")";
    if (int64_t(factors.size()) != n)
      user_error(where, ": the decision has ", factors.size(), " factors but n = ", n, given);
    int64_t product = 1;
    for (size_t k = 0; k < factors.size(); ++k) {
      if (factors[k] < 1) user_error(where, ": factor ", k, " of the decision is ", factors[k], "; factors are >= 1", given);
      if (product > *extent / factors[k] || *extent % (product * factors[k]) != 0)
        user_error(where, ": the decision's factors do not multiply to the loop's extent ", *extent, given,
                   "; a perfect tiling's factors multiply exactly to the extent");
      product *= factors[k];
    }
    if (product != *extent)
      user_error(where, ": the decision's factors multiply to ", product, ", not to the loop's extent ", *extent, given,
                 "; a perfect tiling's factors multiply exactly to the extent");
    if (factors.back() > max_innermost_factor)
      user_error(where, ": the decision's innermost factor ", factors.back(), " is above max_innermost_factor = ",
                 max_innermost_factor, given);
  } else {
    RandomEngine rng(rand_state_);
    factors = sd::sample_perfect_tile(rng, *extent, int(n), max_innermost_factor);
  }
  std::vector<ExprRV> out;
  std::vector<TraceValue> outs;
  for (int64_t f : factors) {
    out.push_back(new_expr(f));
    outs.push_back(TraceValue::expr(out.back().id));
  }
  record("sample_perfect_tile",
         {TraceValue::loop(loop.id), TraceValue::integer(n), TraceValue::integer(max_innermost_factor)}, outs, factors);
  return out;
}

inline ExprRV Schedule::sample_categorical(const std::vector<int64_t>& candidates, const std::vector<double>& probs,
                                           std::optional<int64_t> decision) {
  if (candidates.empty()) user_error("sample_categorical: no candidates were given; give at least one value to choose from");
  if (candidates.size() != probs.size())
    user_error("sample_categorical: ", candidates.size(), " candidates but ", probs.size(),
               " probabilities; give one probability per candidate");
  double total = 0;
  for (size_t k = 0; k < probs.size(); ++k) {
    if (!std::isfinite(probs[k]) || probs[k] < 0)
      user_error("sample_categorical: probability ", k, " is ", probs[k],
                 "; probabilities must be finite and non-negative (they are normalized by their sum)");
    total += probs[k];
  }
  if (!(total > 0)) user_error("sample_categorical: every probability is 0; at least one must be positive");
  int64_t index;
  if (decision) {
    index = *decision;
    if (index < 0 || index >= int64_t(candidates.size()))
      user_error("sample_categorical: the decision ", index, " is not an index into the ", candidates.size(),
                 " candidates; it must be in [0, ", candidates.size(), ")");
  } else {
    RandomEngine rng(rand_state_);
    index = int64_t(rng.discrete(probs));
  }
  ExprRV out = new_expr(candidates[size_t(index)]);
  std::vector<TraceValue> ins;
  for (auto c : candidates) ins.push_back(TraceValue::integer(c));
  for (auto p : probs) ins.push_back(TraceValue::real(p));
  record("sample_categorical", ins, {TraceValue::expr(out.id)}, {index});
  return out;
}

inline LoopRV Schedule::sample_compute_location(const BlockRV& block, std::optional<int64_t> decision) {
  auto loc = locate(block, "sample_compute_location");
  const ir::BlockNode* me = schedule_detail::block_of(loc.stmt);
  // Loops around the block's consumers (blocks reading a buffer it writes), in program order:
  // only there can compute_at move it.
  std::vector<ir::Var> around;
  for (auto& b : schedule_detail::all_blocks(func_)) {
    const ir::BlockNode* other = schedule_detail::block_of(b.stmt);
    if (other == me || !touches(other->reads, me->writes)) continue;
    for (auto& a : b.ancestors)
      if (auto* l = a.as<ir::ForNode>()) {
        bool seen = false;
        for (auto& v : around) seen |= v.same_as(l->loop_var);
        if (!seen) around.push_back(l->loop_var);
      }
  }
  // The legal ones: compute_at on a copy of this schedule accepts them.
  std::vector<ir::Var> candidates;
  for (auto& v : around) {
    Schedule trial = *this;
    try {
      trial.compute_at(block, trial.new_loop(v), false);
      candidates.push_back(v);
    } catch (const UserError&) {
    }
  }
  int64_t index;
  if (decision) {
    index = *decision;
    if (index < 0 || index > int64_t(candidates.size())) {
      std::string names;
      for (auto& v : candidates) names += ", '" + v.name() + "'";
      user_error("sample_compute_location: block '", me->name, "': the decision ", index, " is not one of its ",
                 candidates.size() + 1, " locations; 0 is the root (stay where it is)",
                 candidates.empty() ? std::string(" and there are no legal loops")
                                    : ", 1.." + std::to_string(candidates.size()) + " are the loops " + names.substr(2));
    }
  } else {
    RandomEngine rng(rand_state_);
    index = rng.uniform_int(0, int64_t(candidates.size()) + 1);
  }
  LoopRV out = index == 0 ? LoopRV::root() : new_loop(candidates[size_t(index - 1)]);
  record("sample_compute_location", {TraceValue::block(block.id)}, {TraceValue::loop(out.id)}, {index});
  return out;
}

inline std::vector<LoopRV> Schedule::split_sampled(const LoopRV& loop, const std::vector<ExprRV>& factors) {
  ir::Var v = loop_var(loop, "split");
  std::vector<std::optional<int64_t>> values;
  std::vector<TraceValue> ins{TraceValue::loop(loop.id)};
  for (size_t k = 0; k < factors.size(); ++k) {
    const Entry& e = entry(factors[k].id, "split");
    if (!e.is_expr)
      user_error("split: factor ", k, " is handle ", factors[k].id, ", a ", e.is_block ? "block" : "loop",
                 "; factors given as handles must be sampled integers (from sample_perfect_tile or sample_categorical)");
    values.push_back(e.value);
    ins.push_back(TraceValue::expr(factors[k].id));
  }
  auto r = schedule_detail::split(func_, v, values);
  func_ = r.func;
  std::vector<LoopRV> out;
  std::vector<TraceValue> outs;
  for (auto& nv : r.loops) {
    out.push_back(new_loop(nv));
    outs.push_back(TraceValue::loop(out.back().id));
  }
  record("split", ins, outs);
  return out;
}

inline const bool registered_sampling = [] {
  namespace sd = sampling_detail;
  register_instruction("sample_perfect_tile",
                       {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                          std::optional<std::vector<int64_t>> d;
                          if (!in.decision().empty()) d = in.decision();
                          std::vector<int64_t> ids;
                          for (auto& e : s.sample_perfect_tile(in.loop(0), in.integer(1), in.integer(2), d)) ids.push_back(e.id);
                          return ids;
                        },
                        sd::perfect_tile_cpp});
  register_instruction("sample_categorical",
                       {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                          std::vector<int64_t> cands;
                          std::vector<double> probs;
                          for (size_t j = 0; j < in.size(); ++j) {
                            if (in.value(j).kind == TraceValue::Kind::Int) cands.push_back(in.integer(j));
                            else probs.push_back(in.real(j));
                          }
                          return {s.sample_categorical(cands, probs, sd::single_decision(in)).id};
                        },
                        sd::categorical_cpp});
  register_instruction("sample_compute_location",
                       {[](Schedule& s, const ReplayInputs& in) -> std::vector<int64_t> {
                          return {s.sample_compute_location(in.block(0), sd::single_decision(in)).id};
                        },
                        sd::compute_location_cpp});
  return true;
}();

}  // namespace kiln::tir
