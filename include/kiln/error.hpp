// kiln/error.hpp: the two kinds of error kiln throws.
//
// UserError: something the user got wrong (a bad schedule, a shape mismatch, an unknown target).
// Its message names what was wrong, where, and what would be legal.
// InternalError: a bug in kiln itself. Both derive from kiln::Error (a std::runtime_error).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kiln {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct UserError : Error {
  using Error::Error;
};
struct InternalError : Error {
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

template <typename... Args>
[[noreturn]] void user_error(Args&&... args) {
  throw UserError(detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void internal_error(Args&&... args) {
  throw InternalError(detail::concat("kiln internal error (please report): ", std::forward<Args>(args)...));
}

}  // namespace kiln

// KILN_ICHECK(cond, msg...): an invariant of kiln itself; failing it is a bug, never user input.
#define KILN_ICHECK(cond, ...)                                                              \
  do {                                                                                      \
    if (!(cond)) ::kiln::internal_error(__FILE__, ":", __LINE__, ": check `", #cond,       \
                                        "` failed. " __VA_OPT__(, ) __VA_ARGS__);           \
  } while (0)
// KILN_USER_CHECK(cond, msg...): a precondition on user input.
#define KILN_USER_CHECK(cond, ...)                      \
  do {                                                  \
    if (!(cond)) ::kiln::user_error(__VA_ARGS__);       \
  } while (0)
