// tests/error_testing.hpp: checking kiln::UserError messages by their text.
#pragma once
#include <string>
#include <vector>

#include "kiln/error.hpp"

namespace kiln::testing {

// The message of the kiln::UserError that `f` throws; "" when it throws none. Any other
// exception propagates, so the test fails on it.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// True when every one of `parts` occurs in `text`.
inline bool contains_all(const std::string& text, const std::vector<std::string>& parts) {
  for (auto& p : parts)
    if (!contains(text, p)) return false;
  return true;
}

}  // namespace kiln::testing
