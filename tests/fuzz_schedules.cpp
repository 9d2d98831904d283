// fuzz_schedules: the open-ended differential schedule fuzzing campaign (tests/schedule_fuzz.hpp).
//
//   fuzz_schedules --minutes N --seed S --out DIR [--program NAME] [--steps K] [--target T]
//
// Generates random schedules of the corpus programs (or of one program) from seeds S, S+1, ...
// until N minutes have passed, checks each against the interpreter, and writes a reproducer
// DIR/<program>-<seed>.json (program, seed, failure text, shrunk trace) for every failure, printing
// the C++ of the shrunk trace as well. Exit code 1 when anything failed, 2 on bad arguments.
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include "schedule_fuzz.hpp"

using namespace kiln;

namespace {

// What is being fuzzed, for the crash handler (a crash cannot be caught, but it can be named).
char g_current[256] = "";

void on_crash(int sig) {
  const char* a = "\nfuzz_schedules: crashed (signal ";
  (void)!write(2, a, std::strlen(a));
  char num[8];
  int n = 0, v = sig;
  do num[n++] = char('0' + v % 10), v /= 10;
  while (v && n < 7);
  while (n) (void)!write(2, &num[--n], 1);
  const char* b = ") while fuzzing ";
  (void)!write(2, b, std::strlen(b));
  (void)!write(2, g_current, std::strlen(g_current));
  (void)!write(2, "\n", 1);
  _exit(3);
}

int usage(const std::string& why) {
  std::cerr << "fuzz_schedules: " << why << "\n"
            << "usage: fuzz_schedules --minutes N --seed S --out DIR [--program NAME] [--steps K] [--target T]\n"
            << "  --minutes N    run for N minutes (may be fractional)\n"
            << "  --seed S       the first seed; pairs use S, S+1, ...\n"
            << "  --out DIR      where reproducers <program>-<seed>.json are written (created if missing)\n"
            << "  --program NAME fuzz only this corpus program\n"
            << "  --steps K      at most K moves per schedule (default 10)\n"
            << "  --target T     compile for this target (default \"llvm\", i.e. O3)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  double minutes = -1;
  uint64_t seed = 0;
  bool have_seed = false;
  std::string out, program;
  int steps = 10;
  std::string target = "llvm";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage("option " + a + " needs a value");
    std::string v = argv[++i];
    try {
      if (a == "--minutes") minutes = std::stod(v);
      else if (a == "--seed") seed = std::stoull(v), have_seed = true;
      else if (a == "--out") out = v;
      else if (a == "--program") program = v;
      else if (a == "--steps") steps = std::stoi(v);
      else if (a == "--target") target = v;
      else return usage("unknown option " + a);
    } catch (const std::exception&) {
      return usage("option " + a + " has the bad value '" + v + "'");
    }
  }
  if (minutes <= 0) return usage("--minutes must be given and positive");
  if (!have_seed) return usage("--seed must be given");
  if (out.empty()) return usage("--out must be given");
  if (steps < 1) return usage("--steps must be at least 1");
  try {
    Target t(target);
  } catch (const UserError& e) {
    return usage(std::string("bad --target: ") + e.what());
  }
  std::vector<corpus::Case> cases = corpus::all_cases();
  std::vector<const corpus::Case*> chosen;
  for (auto& c : cases)
    if (program.empty() || c.name == program) chosen.push_back(&c);
  if (chosen.empty()) {
    std::string names;
    for (auto& c : cases) names += " " + c.name;
    return usage("no corpus program named '" + program + "'; the programs are:" + names);
  }
  std::filesystem::create_directories(out);
  std::signal(SIGSEGV, on_crash);
  std::signal(SIGBUS, on_crash);
  std::signal(SIGFPE, on_crash);
  std::signal(SIGILL, on_crash);
  std::signal(SIGABRT, on_crash);

  std::vector<fuzz::ProgramState> programs;
  for (auto* c : chosen) programs.push_back(fuzz::program_state(*c, target));
  fuzz::Stats stats;
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double next_report = 60;
  int64_t pairs = 0, failures = 0;
  for (uint64_t s = seed; elapsed() < minutes * 60; ++s) {
    fuzz::ProgramState& p = programs[size_t(s % programs.size())];
    std::snprintf(g_current, sizeof g_current, "program %s seed %llu", p.c->name.c_str(), (unsigned long long)s);
    if (auto r = fuzz::fuzz_one(p, s, stats, true, steps)) {
      ++failures;
      std::string path = r->write(out);
      std::cout << "FAILURE " << r->program << " seed " << r->seed << " (" << path << "):\n"
                << r->failure << "\nC++ of the " << (r->extra_call.empty() ? "shrunk " : "") << "trace:\n"
                << r->cpp() << std::endl;
    }
    ++pairs;
    if (elapsed() > next_report) {
      std::cout << "[" << int(elapsed()) << " s] " << pairs << " pairs, " << failures << " failures" << std::endl;
      next_report += 60;
    }
  }
  std::cout << "fuzz_schedules: " << pairs << " (program, schedule) pairs in " << elapsed() << " s, " << failures
            << " failures\n"
            << fuzz::stats_table(stats);
  return failures ? 1 : 0;
}
