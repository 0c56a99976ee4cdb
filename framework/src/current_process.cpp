#include "proctor/current_process.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "exit_request.hpp"
#include "runtime.hpp"

namespace proctor {

process_info current_process() {
  return detail::runtime::get().self();
}

std::optional<process_info> parent_process() {
  return detail::runtime::get().parent();
}

bool parent_is_alive() {
  auto parent = detail::runtime::get().parent();
  return parent && ::kill(parent->pid, 0) == 0;
}

unsigned cpu_count() noexcept {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

void exit(int code) {
  if (detail::runtime::get().is_child())
    throw detail::exit_request{code};
  std::exit(code);
}

} // namespace proctor
