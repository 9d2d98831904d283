// Tests of kiln::Target: parsing, canonical printing and every error message.
#include <doctest/doctest.h>

#include <string>

#include "error_testing.hpp"
#include "kiln/target.hpp"

using kiln::Target;

using kiln::testing::contains;
using kiln::testing::error_of;

TEST_CASE("target: kinds and options parse") {
  Target llvm("llvm");
  CHECK(llvm.kind() == "llvm");
  CHECK(llvm.attrs().empty());
  CHECK(llvm.is_cpu());
  CHECK(llvm.str() == "llvm");

  Target native("llvm -mcpu=native");
  CHECK(native.has_attr("mcpu"));
  CHECK(native.has_attr("-mcpu"));
  CHECK(native.attr("mcpu") == "native");
  CHECK_FALSE(native.has_attr("mattr"));
  CHECK(native.attr_or("mattr", "none") == "none");

  Target full("llvm -mcpu=znver4 -mattr=+avx2,-fma -mtriple=x86_64-unknown-linux-gnu -opt-level=2");
  CHECK(full.attr("mattr") == "+avx2,-fma");
  CHECK(full.attr("mtriple") == "x86_64-unknown-linux-gnu");
  CHECK(full.attr("opt-level") == "2");

  Target cuda("cuda -arch=sm_80");
  CHECK(cuda.kind() == "cuda");
  CHECK_FALSE(cuda.is_cpu());
  CHECK(cuda.attr("arch") == "sm_80");
  CHECK(Target("cuda -arch=sm_90a").attr("arch") == "sm_90a");

  Target vk("vulkan");
  CHECK(vk.kind() == "vulkan");
  CHECK(Target("vulkan -device=1").attr("device") == "1");

  Target hex("hexagon -mcpu=hexagonv68 -mattr=+hvxv68,+hvx-length128b");
  CHECK(hex.kind() == "hexagon");
  CHECK(hex.is_cpu());
  CHECK(hex.attr("mcpu") == "hexagonv68");

  Target spaced("  llvm    -mcpu=native  ");
  CHECK(spaced.str() == "llvm -mcpu=native");
}

TEST_CASE("target: str() round-trips and is canonical") {
  for (const char* s : {"llvm", "llvm -mcpu=native", "llvm -mcpu=skylake -mattr=+avx2,-fma", "cuda -arch=sm_80",
                        "vulkan", "vulkan -device=0", "hexagon -mcpu=hexagonv68",
                        "llvm -mcpu=x -mattr=+a -mtriple=aarch64-linux-gnu -opt-level=0"}) {
    Target t(s);
    CHECK(t.str() == s);
    CHECK(Target(t.str()) == t);
  }
  // Option order does not matter: str() prints the kind's canonical order.
  Target a("llvm -opt-level=3 -mcpu=native");
  Target b("llvm -mcpu=native -opt-level=3");
  CHECK(a == b);
  CHECK(a.str() == "llvm -mcpu=native -opt-level=3");
  CHECK(Target("llvm") != Target("llvm -mcpu=native"));
}

TEST_CASE("target: host") {
  Target h = Target::host();
  CHECK(h.kind() == "llvm");
  CHECK(h.attr("mcpu") == "native");
  CHECK(Target(h.str()) == h);
}

TEST_CASE("target: implicit construction from strings") {
  auto kind_of = [](const Target& t) { return t.kind(); };
  CHECK(kind_of("cuda") == "cuda");
  CHECK(kind_of(std::string("vulkan")) == "vulkan");
}

TEST_CASE("target: error messages") {
  std::string e = error_of([] { Target("opencl"); });
  CHECK(contains(e, "unknown target kind 'opencl'"));
  CHECK(contains(e, "llvm, cuda, vulkan, hexagon"));
  CHECK(contains(e, "\"llvm -mcpu=native\""));

  e = error_of([] { Target(""); });
  CHECK(contains(e, "empty target string"));
  CHECK(contains(e, "llvm, cuda, vulkan, hexagon"));
  CHECK(contains(error_of([] { Target("   "); }), "empty target string"));
  CHECK(contains(error_of([] { Target(static_cast<const char*>(nullptr)); }), "empty target string"));

  e = error_of([] { Target("llvm -mcpuu=native"); });
  CHECK(contains(e, "unknown option '-mcpuu'"));
  CHECK(contains(e, "for target kind 'llvm'"));
  CHECK(contains(e, "-mcpu=native, -mattr=+avx2,-fma, -mtriple=x86_64-unknown-linux-gnu, -opt-level=3"));

  e = error_of([] { Target("cuda -mcpu=sm_80"); });
  CHECK(contains(e, "unknown option '-mcpu'"));
  CHECK(contains(e, "legal options for cuda: -arch=sm_80"));

  e = error_of([] { Target("vulkan -arch=sm_80"); });
  CHECK(contains(e, "legal options for vulkan: -device=0"));

  e = error_of([] { Target("hexagon -arch=v68"); });
  CHECK(contains(e, "legal options for hexagon: -mcpu=hexagonv68, -mattr=+hvxv68,+hvx-length128b"));

  e = error_of([] { Target("llvm mcpu=native"); });
  CHECK(contains(e, "malformed option 'mcpu=native'"));
  CHECK(contains(e, "-name=value"));

  e = error_of([] { Target("llvm -mcpu"); });
  CHECK(contains(e, "option '-mcpu'"));
  CHECK(contains(e, "needs a value, as in -mcpu=native"));
  CHECK(contains(error_of([] { Target("llvm -mcpu="); }), "needs a value"));

  e = error_of([] { Target("llvm -mcpu=a -mcpu=b"); });
  CHECK(contains(e, "option -mcpu given twice"));

  e = error_of([] { Target("llvm -opt-level=4"); });
  CHECK(contains(e, "bad value '4' for option -opt-level"));
  CHECK(contains(e, "0, 1, 2 or 3"));

  e = error_of([] { Target("llvm -mattr=avx2"); });
  CHECK(contains(e, "bad value 'avx2' for option -mattr"));
  CHECK(contains(e, "'+' (enable) or '-' (disable)"));
  CHECK(contains(error_of([] { Target("llvm -mattr=+avx2,"); }), "bad value '+avx2,'"));

  e = error_of([] { Target("cuda -arch=80"); });
  CHECK(contains(e, "bad value '80' for option -arch"));
  CHECK(contains(e, "-arch=sm_80"));

  e = error_of([] { Target("vulkan -device=gpu"); });
  CHECK(contains(e, "a device index >= 0"));

  e = error_of([] { Target("hexagon -mcpu=v68"); });
  CHECK(contains(e, "hexagonv<version>"));

  e = error_of([] { (void)Target("llvm -mcpu=native").attr("mattr"); });
  CHECK(contains(e, "target 'llvm -mcpu=native' has no option -mattr"));
  CHECK(contains(e, "it has: -mcpu=native"));
  CHECK(contains(error_of([] { (void)Target("llvm").attr("mcpu"); }), "it has: (none)"));
}
