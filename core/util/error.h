#pragma once
// Errors in core are exceptions that carry their context (file, tensor, key, offset, shape);
// the CLI and GUI catch them at the boundary and show the message as is.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace quench {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown when the user asked for something malformed (bad recipe, bad arguments); the CLI maps
// it to exit code 2 where it concerns the command line, 1 otherwise.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

// Thrown by long jobs when their cancel callback asked them to stop.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
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
[[noreturn]] void fail(Args&&... args) {
  throw Error(detail::concat(std::forward<Args>(args)...));
}

}  // namespace quench

#define QUENCH_CHECK(cond, ...) \
  do {                          \
    if (!(cond)) ::quench::fail(__VA_ARGS__); \
  } while (0)
