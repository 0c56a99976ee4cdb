#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace proctor::supervise {

/// A process, named by its pid and start time, so that a reused pid is not taken for it.
struct process_id {
  pid_t pid = 0;
  std::uint64_t start_time = 0; ///< In clock ticks since boot (/proc/<pid>/stat, field 22).
};

/// The processes below this one (children, grandchildren, ...), read from /proc; the forkserver
/// zygote and its helpers (spare, reaper) are left out (they live as long as this process), the
/// zygote's other children are not.
[[nodiscard]] std::vector<process_id> descendants();

/// Waits up to `limit` until none of `procs` runs any more (gone, or a zombie); returns the ones
/// that still run.
[[nodiscard]] std::vector<process_id> wait_until_gone(std::vector<process_id> procs,
                                                      std::chrono::milliseconds limit);

} // namespace proctor::supervise
