#pragma once

#include <optional>
#include <string_view>

namespace proctor {

/// How a child process comes to life (Python's start methods).
enum class start_method {
  fork,       ///< fork() of the caller: fastest, any callable; refused once the caller has threads.
  spawn,      ///< posix_spawn of /proc/self/exe running a registered entry with serialized args.
  forkserver, ///< fork() of a single-threaded zygote started by proctor::init(): the default.
};

[[nodiscard]] std::string_view to_string(start_method m) noexcept;

/// Parses "fork", "spawn" or "forkserver".
[[nodiscard]] std::optional<start_method> parse_start_method(std::string_view name) noexcept;

/// Sets the method used by processes that do not choose one. Thread-safe.
void set_start_method(start_method m) noexcept;

/// The method used by processes that do not choose one (forkserver unless set otherwise).
[[nodiscard]] start_method get_start_method() noexcept;

} // namespace proctor
