#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

/// The run of `pid` if it names a live process (zombies count as dead); nullopt otherwise —
/// including when /proc cannot be read (see run_ended()).
[[nodiscard]] std::optional<segment_run> live_run(pid_t pid);

/// True only if the process `pid` (of `start_time`, if given) has certainly ended: no such
/// process, a zombie, or another process under that pid now. A /proc that cannot be read for
/// any other reason (out of file descriptors or memory) says nothing: false. For every decision
/// that would destroy or give away what a live process holds (its segments, its name, its pipe
/// end).
[[nodiscard]] bool run_ended(pid_t pid, std::optional<std::uint64_t> start_time = std::nullopt) noexcept;

/// A fresh name for shm_open: "/proctor-<pid>.<start time>-<32 hex digits from getrandom>".
[[nodiscard]] std::string make_segment_name(const segment_run& run);

/// The run encoded in a segment name (with or without the leading '/'), or nullopt if `name`
/// is not exactly what make_segment_name() makes.
[[nodiscard]] std::optional<segment_run> parse_segment_name(std::string_view name) noexcept;

} // namespace proctor::detail
