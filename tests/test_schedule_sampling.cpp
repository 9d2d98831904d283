// The sampling primitives: the seeded random state (same seed, same schedule; fork gives another
// stream), recorded decisions that replay whatever the seed, the distributions of
// sample_perfect_tile and sample_categorical, sample_compute_location, split by sampled
// factors, the printed C++ of sampling instructions, and the errors.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "schedule_testing.hpp"

using namespace kiln;
using namespace kiln::te;
using testing::contains_all;
using testing::error_of;

namespace {

ir::PrimFunc add_one(int64_t n) {
  auto A = placeholder<f32>({n}, "A");
  auto C = compute({n}, [&](Index i) { return A(i) + 1.0; }, "C");
  return create_prim_func({A, C});
}
ir::PrimFunc matmul(int64_t M, int64_t N, int64_t K) {
  auto A = placeholder<f32>({M, K}, "A");
  auto B = placeholder<f32>({K, N}, "B");
  auto k = reduce_axis(K, "k");
  auto C = compute({M, N}, [&](Index i, Index j) { return sum(A(i, k) * B(k, j), k); }, "C");
  return create_prim_func({A, B, C});
}
ir::PrimFunc scale_symbolic() {
  auto m = var("m");
  auto A = placeholder<f32>({m}, "A");
  auto C = compute({m}, [&](Index i) { return A(i) * 2.0; }, "C");
  return create_prim_func({A, C});
}
// Two blocks: S = row sums of A, C = S / 64.
ir::PrimFunc mean_rows() {
  auto A = placeholder<f32>({6, 64}, "A");
  auto k = reduce_axis(64, "k");
  auto S = compute({6}, [&](Index i) { return sum(A(i, k), k); }, "S");
  auto C = compute({6}, [&](Index i) { return S(i) / 64.0; }, "C");
  return create_prim_func({A, C});
}

// Tiles every loop of matmul's block and samples a categorical: the sampled part of a schedule.
void sample_matmul(tir::Schedule& s) {
  auto loops = s.get_loops(s.get_block("C"));
  for (auto& l : loops) s.split(l, s.sample_perfect_tile(l, 3, 8));
  s.sample_categorical({0, 16, 64, 512}, {0.25, 0.25, 0.25, 0.25});
}

// The factors of every sample_perfect_tile and the index of every sample_categorical in a trace.
std::vector<std::vector<int64_t>> decisions(const tir::Trace& t) {
  std::vector<std::vector<int64_t>> out;
  for (auto& in : t.instructions())
    if (!in.decision.empty()) out.push_back(in.decision);
  return out;
}

}  // namespace

// ---- the random state ---------------------------------------------------------------------------

TEST_CASE("the random engine is splitmix64: the same numbers on every platform") {
  uint64_t state = tir::RandomEngine::state_of_seed(42);
  tir::RandomEngine r(state);
  CHECK(r.next() == 1552145602316812589ULL);
  CHECK(r.next() == 10983570552481309232ULL);
  CHECK(r.next() == 11247917069865731239ULL);
  CHECK(r.next() == 6809159937835417195ULL);
  // uniform_int stays in [lo, hi) and reaches both ends; uniform_real stays in [0, 1).
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    int64_t v = r.uniform_int(-3, 4);
    CHECK((v >= -3 && v < 4));
    seen.insert(v);
    double d = r.uniform_real();
    CHECK((d >= 0 && d < 1));
  }
  CHECK(seen.size() == 7);
}

TEST_CASE("the same seed samples the same trace; other seeds and forked seeds sample differently") {
  auto traced = [](int64_t seed) {
    tir::Schedule s(matmul(64, 48, 96));
    s.seed(seed);
    sample_matmul(s);
    return s.trace();
  };
  CHECK(traced(7).instructions() == traced(7).instructions());
  CHECK(decisions(traced(7)) != decisions(traced(8)));

  // A forked seed starts another stream: the parent's next samples and the child's differ.
  tir::Schedule parent(matmul(64, 48, 96));
  parent.seed(7);
  int64_t child_seed = parent.fork_seed();
  CHECK(child_seed >= 0);
  CHECK(child_seed != parent.fork_seed());  // each fork is a new seed
  tir::Schedule child(matmul(64, 48, 96));
  child.seed(child_seed);
  sample_matmul(parent);
  sample_matmul(child);
  CHECK(decisions(parent.trace()) != decisions(child.trace()));
  CHECK(decisions(parent.trace()) != decisions(traced(7)));  // forking advanced the parent's state

  // The state travels with a copy of the schedule: a copy samples what the original would.
  tir::Schedule a(matmul(64, 48, 96));
  a.seed(3);
  tir::Schedule b = a;
  sample_matmul(a);
  sample_matmul(b);
  CHECK(decisions(a.trace()) == decisions(b.trace()));

  // seed(-1) is nondeterministic: two such schedules practically never agree on 9 tilings.
  tir::Schedule r1(matmul(64, 48, 96)), r2(matmul(64, 48, 96));
  r1.seed(-1);
  r2.seed(-1);
  sample_matmul(r1);
  sample_matmul(r2);
  CHECK(decisions(r1.trace()) != decisions(r2.trace()));
}

// ---- decisions and replay -----------------------------------------------------------------------

TEST_CASE("a replayed trace makes the recorded choices whatever the replaying schedule's seed") {
  ir::PrimFunc f = matmul(64, 48, 96);
  tir::Schedule s(f);
  s.seed(11);
  sample_matmul(s);
  tir::Schedule other(f);
  other.seed(99999);
  s.trace().apply_to(other);
  CHECK(ir::structural_equal(other.func(), s.func()));
  CHECK(decisions(other.trace()) == decisions(s.trace()));
  // The decisions survive JSON, and the scheduled matmul computes what the interpreter does.
  tir::Trace back = tir::Trace::from_json(s.trace().to_json());
  CHECK(decisions(back) == decisions(s.trace()));
  CHECK(testing::check_schedule(f, s) == 3);
}

TEST_CASE("a given decision is used instead of sampling") {
  tir::Schedule s(add_one(64));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto tiles = s.sample_perfect_tile(i, 3, 16, std::vector<int64_t>{2, 4, 8});
  CHECK(s.get(tiles[0]) == 2);
  CHECK(s.get(tiles[1]) == 4);
  CHECK(s.get(tiles[2]) == 8);
  CHECK(s.trace().instructions().back().decision == std::vector<int64_t>{2, 4, 8});
  auto v = s.sample_categorical({3, 5, 9}, {1, 1, 0}, 2);  // a forced decision may pick a zero-probability value
  CHECK(s.get(v) == 9);
  CHECK(s.trace().instructions().back().decision == std::vector<int64_t>{2});
}

// ---- distributions ------------------------------------------------------------------------------

TEST_CASE("perfect tiles multiply to the extent and keep the innermost factor in bounds") {
  int64_t checked = 0;
  for (int64_t extent : {1, 7, 12, 64, 96, 1000, 1024, 4096 * 3}) {
    for (int64_t n = 1; n <= 5; ++n)
      for (int64_t max_inner : {1, 4, 16, 64}) {
        if (n == 1 && extent > max_inner) continue;  // no tiling exists (an error, tested below)
        tir::Schedule s(add_one(extent));
        s.seed(extent * 100 + n * 10 + max_inner);
        auto [i] = s.get_loops<1>(s.get_block("C"));
        for (int k = 0; k < 40; ++k) {
          auto tiles = s.sample_perfect_tile(i, n, max_inner);
          REQUIRE(int64_t(tiles.size()) == n);
          int64_t product = 1;
          for (auto& t : tiles) {
            CHECK(s.get(t) >= 1);
            product *= s.get(t);
          }
          CHECK(product == extent);
          CHECK(s.get(tiles.back()) <= max_inner);
          ++checked;
        }
      }
  }
  CHECK(checked > 4000);
}

TEST_CASE("perfect tiles are uniform over all tilings (extent 12, 3 factors, innermost <= 4)") {
  // The tilings, by brute force: (a, b, c) with a * b * c = 12 and c <= 4. There are 15.
  std::map<std::vector<int64_t>, int> count;
  for (int64_t a = 1; a <= 12; ++a)
    for (int64_t b = 1; b <= 12; ++b)
      for (int64_t c = 1; c <= 4; ++c)
        if (a * b * c == 12) count[{a, b, c}] = 0;
  REQUIRE(count.size() == 15);
  tir::Schedule s(add_one(12));
  s.seed(2024);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  const int draws = 15000;
  for (int k = 0; k < draws; ++k) {
    auto tiles = s.sample_perfect_tile(i, 3, 4);
    std::vector<int64_t> v{s.get(tiles[0]), s.get(tiles[1]), s.get(tiles[2])};
    REQUIRE(count.count(v));
    ++count[v];
  }
  // Each tiling is expected 1000 times; the standard deviation is about 31.
  for (auto& [tiling, n] : count) {
    INFO("tiling {" << tiling[0] << ", " << tiling[1] << ", " << tiling[2] << "} drawn " << n << " times");
    CHECK((n > 850 && n < 1150));
  }
}

TEST_CASE("sample_categorical follows the probabilities (normalized by their sum)") {
  tir::Schedule s(add_one(8));
  s.seed(5);
  std::map<int64_t, int> count;
  const int draws = 20000;
  for (int k = 0; k < draws; ++k) ++count[s.get(s.sample_categorical({10, 20, 30, 40}, {1, 2, 7, 0}))];
  CHECK(count[40] == 0);
  CHECK(std::abs(count[10] / double(draws) - 0.1) < 0.015);
  CHECK(std::abs(count[20] / double(draws) - 0.2) < 0.015);
  CHECK(std::abs(count[30] / double(draws) - 0.7) < 0.015);
}

// ---- compute location ---------------------------------------------------------------------------

TEST_CASE("sample_compute_location returns the root or a loop where compute_at is legal") {
  ir::PrimFunc f = mean_rows();
  std::set<std::string> locations;
  for (int64_t seed = 0; seed < 12; ++seed) {
    tir::Schedule s(f);
    s.seed(seed);
    auto S = s.get_block("S");
    tir::LoopRV l = s.sample_compute_location(S);
    const auto& in = s.trace().instructions().back();
    CHECK(in.kind == "sample_compute_location");
    REQUIRE(in.decision.size() == 1);
    CHECK((in.decision[0] == 0) == l.is_root());
    if (l.is_root()) {
      locations.insert("root");
      continue;
    }
    locations.insert(s.loop_name(l));
    s.compute_at(S, l);  // legal by construction
    testing::check_schedule(f, s);
  }
  CHECK(locations.count("root"));
  // Decision 0 is always the root (stay where it is).
  tir::Schedule s(f);
  CHECK(s.sample_compute_location(s.get_block("S"), 0).is_root());
  CHECK(s.trace().to_cpp() == "auto b0 = s.get_block(\"S\");\ns.sample_compute_location(b0, 0);\n");
}

// ---- split by sampled factors -------------------------------------------------------------------

TEST_CASE("split by sampled factors: golden IR, replay and numbers") {
  ir::PrimFunc f = add_one(32);
  tir::Schedule s(f);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto tiles = s.sample_perfect_tile(i, 2, 16, std::vector<int64_t>{4, 8});
  auto [io, ii] = s.split<2>(i, {tiles[0], tiles[1]});
  s.vectorize(ii);
  (void)io;
  CHECK(ir::to_text(s.func()) == R"(@T.prim_func
def main(A: T.Buffer((32,), "float32"), C: T.Buffer((32,), "float32")):
    with T.block("root"):
        for i0_0 in T.serial(0, 4):
            for i0_1 in T.vectorized(0, 8):
                with T.block("C"):
                    v_i0 = T.axis.spatial(32, i0_0 * 8 + i0_1)
                    T.reads(A[v_i0])
                    T.writes(C[v_i0])
                    C[v_i0] = A[v_i0] + T.float32(1)
)");
  CHECK(s.trace().instructions()[3].inputs[1].kind == tir::TraceValue::Kind::Expr);
  CHECK(testing::check_schedule(f, s) == 2);
}

TEST_CASE("split by a sampled categorical factor that does not divide the extent adds a predicate") {
  ir::PrimFunc f = add_one(37);
  tir::Schedule s(f);
  s.seed(1);
  auto [i] = s.get_loops<1>(s.get_block("C"));
  auto outer = s.sample_categorical({5}, {1.0});
  auto inner = s.sample_categorical({8}, {1.0});
  auto loops = s.split(i, std::vector<tir::ExprRV>{outer, inner});
  CHECK(loops.size() == 2);
  CHECK(ir::to_text(s.func()).find("T.where(i0_0 * 8 + i0_1 < 37)") != std::string::npos);
  CHECK(testing::check_schedule(f, s) == 2);
}

// ---- printed C++ --------------------------------------------------------------------------------

namespace {
// Exactly the statements the next test expects to_cpp to print: they compile and redo the schedule.
void printed_schedule(tir::Schedule& s) {
  auto b0 = s.get_block("C");
  auto [l1, l2, l3] = s.get_loops<3>(b0);
  auto tiles_v4 = s.sample_perfect_tile(l1, 2, 16, std::vector<int64_t>{8, 8});
  auto v4 = tiles_v4[0];
  auto v5 = tiles_v4[1];
  auto [l6, l7] = s.split<2>(l1, {v4, v5});
  auto v8 = s.sample_categorical(std::vector<int64_t>{1, 2, 4}, std::vector<double>{0.5, 0.25, 0.25}, 2);
  s.sample_compute_location(b0, 0);
  (void)l2, (void)l3, (void)l6, (void)l7, (void)v8;
}
}  // namespace

TEST_CASE("sampling instructions print as C++ that compiles and reproduces the choices") {
  ir::PrimFunc f = matmul(64, 48, 96);
  tir::Schedule s(f);
  s.seed(77);
  auto b = s.get_block("C");
  auto [i, j, k] = s.get_loops<3>(b);
  s.split(i, s.sample_perfect_tile(i, 2, 16, std::vector<int64_t>{8, 8}));
  s.sample_categorical({1, 2, 4}, {0.5, 0.25, 0.25}, 2);
  s.sample_compute_location(b, 0);
  (void)j, (void)k;
  CHECK(s.trace().to_cpp() == R"(auto b0 = s.get_block("C");
auto [l1, l2, l3] = s.get_loops<3>(b0);
auto tiles_v4 = s.sample_perfect_tile(l1, 2, 16, std::vector<int64_t>{8, 8});
auto v4 = tiles_v4[0];
auto v5 = tiles_v4[1];
auto [l6, l7] = s.split<2>(l1, {v4, v5});
auto v8 = s.sample_categorical(std::vector<int64_t>{1, 2, 4}, std::vector<double>{0.5, 0.25, 0.25}, 2);
s.sample_compute_location(b0, 0);
)");
  tir::Schedule again(f);
  again.seed(123);  // the printed decisions fix the choices
  printed_schedule(again);
  CHECK(ir::structural_equal(again.func(), s.func()));
  CHECK(again.trace().instructions() == s.trace().instructions());
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("sample_perfect_tile errors say what is legal") {
  tir::Schedule s(add_one(32));
  auto [i] = s.get_loops<1>(s.get_block("C"));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 0, 16); }),
                     {"sample_perfect_tile", "loop 'i0'", "n = 0", "from 1 to 64"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 2, 0); }),
                     {"sample_perfect_tile", "'i0'", "max_innermost_factor is 0", "at least 1"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 1, 16); }),
                     {"with n = 1 the only factor is the extent 32", "above max_innermost_factor = 16", "n >= 2"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 3, 16, std::vector<int64_t>{4, 8}); }),
                     {"'i0'", "the decision has 2 factors but n = 3", "{4, 8}"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 2, 16, std::vector<int64_t>{4, 4}); }),
                     {"'i0'", "multiply to 16, not to the loop's extent 32", "multiply exactly to the extent"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 2, 16, std::vector<int64_t>{3, 11}); }),
                     {"'i0'", "do not multiply to the loop's extent 32", "{3, 11}"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 2, 16, std::vector<int64_t>{1, 32}); }),
                     {"innermost factor 32 is above max_innermost_factor = 16"}));
  CHECK(contains_all(error_of([&] { s.sample_perfect_tile(i, 2, 16, std::vector<int64_t>{0, 32}); }),
                     {"factor 0 of the decision is 0", "factors are >= 1"}));
  tir::Schedule sym(scale_symbolic());
  auto [m] = sym.get_loops<1>(sym.get_block("C"));
  CHECK(contains_all(error_of([&] { sym.sample_perfect_tile(m, 2, 16); }),
                     {"sample_perfect_tile", "'i0'", "symbolic extent m", "s.split(loop, {std::nullopt, 16})"}));
  // A refusal leaves the schedule as it was.
  CHECK(s.trace().size() == 2);
}

TEST_CASE("sample_categorical, sample_compute_location and sampled-split errors") {
  tir::Schedule s(mean_rows());
  CHECK(contains_all(error_of([&] { s.sample_categorical({}, {}); }), {"sample_categorical", "no candidates"}));
  CHECK(contains_all(error_of([&] { s.sample_categorical({1, 2, 3}, {0.5, 0.5}); }),
                     {"sample_categorical", "3 candidates but 2 probabilities", "one probability per candidate"}));
  CHECK(contains_all(error_of([&] { s.sample_categorical({1, 2}, {0.5, -0.5}); }),
                     {"probability 1 is -0.5", "finite and non-negative"}));
  CHECK(contains_all(error_of([&] { s.sample_categorical({1, 2}, {0, 0}); }), {"every probability is 0"}));
  CHECK(contains_all(error_of([&] { s.sample_categorical({1, 2, 3}, {1, 1, 1}, 3); }),
                     {"the decision 3 is not an index into the 3 candidates", "[0, 3)"}));
  auto S = s.get_block("S");
  CHECK(contains_all(error_of([&] { s.sample_compute_location(S, 99); }),
                     {"sample_compute_location", "block 'S'", "the decision 99", "0 is the root (stay where it is)"}));
  auto [l] = s.get_loops<1>(s.get_block("C"));
  auto v = s.sample_categorical({2}, {1.0});
  CHECK(contains_all(error_of([&] { s.split(l, {v, tir::ExprRV{l.id}}); }),
                     {"split", "factor 1 is handle", "a loop", "must be sampled integers"}));
  CHECK(contains_all(error_of([&] { s.split(l, {v, v}); }),
                     {"split", "'i0'", "the product of the factors is 4, smaller than the loop's extent 6"}));
  // A trace whose sampling instruction records more than one index.
  std::string json = R"({"version": 1, "insts": [
  {"kind": "sample_categorical", "inputs": [{"int": 1}, {"int": 2}, {"float": 0.5}, {"float": 0.5}], "outputs": [{"expr": 0}], "decision": [1, 0]}]})";
  tir::Schedule r(mean_rows());
  CHECK(contains_all(error_of([&] { tir::Trace::from_json(json).apply_to(r); }),
                     {"trace", "'sample_categorical'", "a decision of 2 values", "one index"}));
}
