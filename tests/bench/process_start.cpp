// process_start, impls `proctor-fork`, `proctor-forkserver`, `proctor-spawn`: make a process whose
// target returns at once, start it and join it.
//   bench_process_start fork|forkserver|spawn COUNT
// Impl `floor-cxx` (process_start and spawn): the C floor's fork, _exit and waitpid, from this
// program, after proctor::init: the OS cost of forking a process that carries what every proctor
// program does (libstdc++, CAF, the node's registry), without anything proctor does at a start.
//   bench_process_start raw COUNT
// Prints the median microseconds of COUNT rounds (after a few warm-up rounds) as a JSON line.
#include <proctor/proctor.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "bench_main.hpp"

namespace {

constexpr int warmup_rounds = 10;

void exit_at_once() {}

/// One make+start+join round in microseconds. Throws if the child does not exit with 0.
double start_and_join(const proctor::context& ctx) {
  double start = bench_now_ns();
  auto p = ctx.make_process(proctor::entry<exit_at_once>);
  p.start();
  p.join();
  double elapsed = bench_now_ns() - start;
  bench::require_clean_exit(p, "child"); // already joined: only checks, outside the timing
  return elapsed / 1e3;
}

/// One fork+_exit+waitpid round in microseconds, as floor_fork.c does it.
double raw_fork_and_wait() {
  double start = bench_now_ns();
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0)
    ::_exit(0);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the child did not exit cleanly");
  return (bench_now_ns() - start) / 1e3;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv); // first: a spawned child runs its target here and never returns
  std::optional<proctor::start_method> method;
  long count = 0;
  bool raw = false;
  if (argc == 3) {
    raw = std::string_view{argv[1]} == "raw";
    method = proctor::parse_start_method(argv[1]);
    count = std::atol(argv[2]);
  }
  if ((!method && !raw) || count <= 0)
    return bench::usage(argv[0], "fork|forkserver|spawn|raw COUNT");
  if (raw)
    return bench::report("process_start", [&] {
      return bench::result{bench::median_of(count, warmup_rounds,
                                            [](std::int64_t) { return raw_fork_and_wait(); }),
                           "us", "lower"};
    });
  return bench::report("process_start", [&] {
    auto ctx = proctor::get_context(*method);
    double us = bench::median_of(count, warmup_rounds,
                                 [&](std::int64_t) { return start_and_join(ctx); });
    return bench::result{us, "us", "lower"};
  });
}
