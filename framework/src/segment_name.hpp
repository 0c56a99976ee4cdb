#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "unique_fd.hpp"

namespace proctor::detail {

/// The process that created a segment: its pid and its start time (clock ticks after boot, from
/// /proc/<pid>/stat), which together stay unique when pids are reused.
struct segment_run {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  friend bool operator==(const segment_run&, const segment_run&) = default;
};

/// "proctor-", the prefix of every segment name in /dev/shm.
inline constexpr std::string_view segment_prefix = "proctor-";

/// The calling process's run. Throws shm_error(system) if /proc cannot be read.
[[nodiscard]] segment_run current_run();

/// What /proc says of the process `pid` (of `start_time`, if given).
enum class run_check {
  running,  ///< it runs (and is the one of `start_time`)
  ended,    ///< certainly ended: no such process, a zombie, or another process under that pid
  unknown,  ///< /proc could not be read (out of file descriptors or memory): nothing is known
};
[[nodiscard]] run_check check_run(pid_t pid, std::optional<std::uint64_t> start_time = std::nullopt) noexcept;

/// A pidfd to the process `pid`, kept only if it is the run of `start_time`.
struct pinned_run {
  unique_fd fd;       ///< set when `run` is running
  run_check run;      ///< ended: gone (or pid <= 0); unknown: this process cannot tell
  std::string trouble; ///< why, when unknown: pidfd_open or /proc short of descriptors or memory
};
[[nodiscard]] pinned_run pin_run(pid_t pid, std::uint64_t start_time);

/// True only if the process has certainly ended (check_run() says ended). For every decision
/// that would destroy or give away what a live process holds (its segments, its name, its pipe
/// end).
[[nodiscard]] inline bool run_ended(pid_t pid,
                                    std::optional<std::uint64_t> start_time = std::nullopt) noexcept {
  return check_run(pid, start_time) == run_check::ended;
}

/// True for an errno that says this process is short of something (descriptors, memory), not
/// that what it asked about is gone.
[[nodiscard]] inline bool short_of_resources(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOMEM;
}

/// A fresh name for shm_open: "/proctor-<pid>.<start time>-<32 hex digits from getrandom>".
[[nodiscard]] std::string make_segment_name(const segment_run& run);

/// The run encoded in a segment name (with or without the leading '/'), or nullopt if `name`
/// is not exactly what make_segment_name() makes.
[[nodiscard]] std::optional<segment_run> parse_segment_name(std::string_view name) noexcept;

} // namespace proctor::detail
