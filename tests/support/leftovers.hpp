#pragma once

#include <sys/types.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace proctor::test {

/// The processes below this one (children, grandchildren...), the forkserver zygote excluded;
/// zombies included.
[[nodiscard]] std::vector<pid_t> descendants();

/// One line per process: "pid state cmdline".
[[nodiscard]] std::string describe(const std::vector<pid_t>& pids);

/// True if `pid` no longer runs: gone, or a zombie. Reaps it if it is a zombie child of ours.
bool is_dead(pid_t pid);

/// Entries of /dev/shm.
[[nodiscard]] std::set<std::string> shm_entries();

/// Snapshots /dev/shm at construction; check() waits (up to `grace`) until no descendant is left
/// and /dev/shm holds nothing new, reaping orphans that came back to this process, and reports
/// what remains. A new proctor segment whose creator (named in the segment's name) is alive and
/// outside this process tree belongs to another test program running at the same time: ignored.
class leftover_guard {
 public:
  leftover_guard();
  /// Empty when nothing is left; otherwise a description for the failure message.
  [[nodiscard]] std::string check(std::chrono::milliseconds grace = std::chrono::seconds(5)) const;

 private:
  std::set<std::string> shm_before_;
};

} // namespace proctor::test

/// Use at the start of every test that starts processes; asserts at the end of the scope...
/// Catch cannot assert in a destructor, so the test calls REQUIRE_NO_LEFTOVERS(guard) last.
#define REQUIRE_NO_LEFTOVERS(guard)                                                               \
  do {                                                                                            \
    auto leftover_report_ = (guard).check();                                                      \
    INFO(leftover_report_);                                                                       \
    REQUIRE(leftover_report_.empty());                                                            \
  } while (false)
