// Differential schedule fuzzing in CI: random schedules (fixed seeds) of every corpus program,
// each JIT-compiled and compared with the interpreter on the unscheduled program, with trace
// replay and JSON round trips checked too (tests/schedule_fuzz.hpp). Zero failures required.
// Set KILN_FUZZ_OUT=dir to also write the reproducers there; the open-ended campaign is the
// fuzz_schedules program.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "schedule_fuzz.hpp"
#include "schedule_testing.hpp"

using namespace kiln;

TEST_CASE("random schedules of every corpus program match the interpreter (2052 fixed-seed pairs)") {
  auto start = std::chrono::steady_clock::now();
  std::vector<corpus::Case> cases = corpus::all_cases();
  // O1: LLVM's O3 pipeline is most of the time per kernel, and schedule bugs show at any level
  // (test_corpus covers O3 code generation). KILN_FUZZ_TARGET overrides the target.
  std::string target = "llvm -opt-level=1";
  if (const char* t = std::getenv("KILN_FUZZ_TARGET")) target = t;
  std::vector<fuzz::ProgramState> programs;
  for (auto& c : cases) programs.push_back(fuzz::program_state(c, target));
  // 57 programs x 36 seeds; KILN_FUZZ_PER_PROGRAM overrides it for a quick local run.
  int per_program = 36;
  if (const char* n = std::getenv("KILN_FUZZ_PER_PROGRAM")) per_program = std::atoi(n);
  fuzz::Stats stats;
  std::vector<fuzz::Reproducer> failures;
  int pairs = 0;
  for (int k = 0; k < per_program; ++k)
    for (size_t i = 0; i < programs.size(); ++i) {
      uint64_t seed = uint64_t(i) * 1000 + uint64_t(k);
      // Shrinking costs a JIT per attempt: only the first few failures are shrunk.
      if (auto r = fuzz::fuzz_one(programs[i], seed, stats, failures.size() < 5)) failures.push_back(*r);
      ++pairs;
    }
  int64_t jit = 0, reused = 0;
  double gen = 0, replay = 0, jit_s = 0, run = 0;
  for (auto& p : programs) {
    jit += p.jit_runs, reused += p.jit_reused;
    gen += p.generate_seconds, replay += p.replay_seconds, jit_s += p.jit_seconds, run += p.run_seconds;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "schedule fuzz: " << pairs << " (program, schedule) pairs over " << programs.size() << " programs (target "
            << target << ") in "
            << secs << " s; " << jit << " JIT compilations, " << reused << " schedules equal to one already checked; "
            << failures.size() << " failures\n"
            << "time: generating " << gen << " s, replay and JSON " << replay << " s, JIT " << jit_s << " s, running " << run
            << " s\n"
            << fuzz::stats_table(stats);
  const char* out = std::getenv("KILN_FUZZ_OUT");
  for (auto& f : failures) {
    std::string where = out ? " (written to " + f.write(out) + ")" : "";
    MESSAGE(f.program << " seed " << f.seed << where << ":\n" << f.failure << "\nC++:\n" << f.cpp());
  }
  if (per_program == 36) CHECK(pairs >= 2000);
  CHECK(failures.empty());
}

TEST_CASE("the fuzzer catches a wrong result, shrinks the trace and writes a reproducer") {
  std::vector<corpus::Case> cases = corpus::all_cases();
  const corpus::Case* c = nullptr;
  for (auto& x : cases)
    if (x.name == "add_broadcast_row") c = &x;
  REQUIRE(c);
  fuzz::ProgramState p = fuzz::program_state(*c, "llvm -opt-level=1");
  // Corrupt the interpreter's answer: every schedule now disagrees with it, whatever it does.
  runtime::Tensor& out = p.ref.outputs[0][2];
  testing::set(out, 5, testing::get(out, 5) + 1.0);
  fuzz::Stats stats;
  auto r = fuzz::fuzz_one(p, 3, stats);
  REQUIRE(r.has_value());
  CHECK(fuzz::tag_of(r->failure) == "[mismatch]");
  CHECK(r->failure.find("add_broadcast_row:C[5]: expected") != std::string::npos);
  CHECK(r->trace.size() == 0);  // no instruction is needed for this failure: the shrinker drops them all
  auto dir = std::filesystem::temp_directory_path() / "kiln-schedule-fuzz-selftest";
  std::filesystem::create_directories(dir);
  std::string path = r->write(dir.string());
  CHECK(path == (dir / "add_broadcast_row-3.json").string());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"program\": \"add_broadcast_row\", \"seed\": 3, \"failure\": \"[mismatch]") != std::string::npos);
  CHECK(text.find("\"trace\": {\"version\": 1, \"insts\": []}") != std::string::npos);
  std::filesystem::remove_all(dir);
}

// Every failure the fuzzer has found stays fixed: tests/schedule_regressions/*.json hold the
// program and the shrunk trace. Replayed today, each trace is either refused with a UserError (the
// primitive now sees the illegal step) or gives a function that replays equally and matches the
// interpreter. A crash, a mismatch or another exception fails.
namespace {
std::string json_field_object(const std::string& text, const std::string& key) {
  size_t at = text.find("\"" + key + "\"");
  REQUIRE(at != std::string::npos);
  size_t open = text.find('{', at);
  int depth = 0;
  bool in_string = false;
  for (size_t i = open; i < text.size(); ++i) {
    char ch = text[i];
    if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') in_string = true;
    else if (ch == '{') ++depth;
    else if (ch == '}' && --depth == 0) return text.substr(open, i - open + 1);
  }
  FAIL("unbalanced JSON object for '" << key << "'");
  return "";
}
std::string json_field_string(const std::string& text, const std::string& key) {
  size_t at = text.find("\"" + key + "\"");
  REQUIRE(at != std::string::npos);
  size_t open = text.find('"', text.find(':', at));
  return text.substr(open + 1, text.find('"', open + 1) - open - 1);
}
}  // namespace

TEST_CASE("fuzz findings stay fixed (tests/schedule_regressions)") {
  namespace fs = std::filesystem;
#ifdef KILN_REGRESSIONS_DIR
  fs::path dir = KILN_REGRESSIONS_DIR;
#else
  fs::path dir = fs::path(__FILE__).parent_path() / "schedule_regressions";
#endif
  REQUIRE(fs::is_directory(dir));
  int refused = 0, correct = 0;
  for (auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string program = json_field_string(text, "program");
    tir::Trace trace = tir::Trace::from_json(json_field_object(text, "trace"));
    const corpus::Case& c = testing::corpus_case(program);
    fuzz::ProgramState p = fuzz::program_state(c);
    tir::Schedule s(p.original);
    std::string refusal;
    try {
      trace.apply_to(s);
    } catch (const UserError& e) {
      refusal = e.what();
    }
    if (!refusal.empty()) {
      ++refused;
      MESSAGE(entry.path().filename().string() << ": refused: " << refusal.substr(0, 160));
      continue;
    }
    std::string failure = fuzz::check_schedule(p, s);
    CHECK_MESSAGE(failure.empty(), entry.path().filename().string() << ": " << failure);
    ++correct;
  }
  MESSAGE(refused << " reproducers refused, " << correct << " now correct");
  CHECK(refused + correct >= 8);
}
