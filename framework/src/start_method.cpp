#include "proctor/start_method.hpp"

#include <atomic>

namespace proctor {

namespace {

std::atomic<start_method>& default_method() {
  static std::atomic<start_method> method{start_method::forkserver};
  return method;
}

} // namespace

std::string_view to_string(start_method m) noexcept {
  switch (m) {
    case start_method::fork:
      return "fork";
    case start_method::spawn:
      return "spawn";
    case start_method::forkserver:
      return "forkserver";
  }
  return "?";
}

std::optional<start_method> parse_start_method(std::string_view name) noexcept {
  for (auto m : {start_method::fork, start_method::spawn, start_method::forkserver})
    if (to_string(m) == name)
      return m;
  return std::nullopt;
}

void set_start_method(start_method m) noexcept {
  default_method().store(m);
}

start_method get_start_method() noexcept {
  return default_method().load();
}

} // namespace proctor
