#pragma once

#include <initializer_list>
#include <string_view>

#include "launch_request.hpp"
#include "process_state.hpp"

namespace proctor::detail {

/// fork(): the child runs state.target.run in a copy of this address space.
/// Refuses (process_error::multithreaded) when the caller runs more than one thread.
launched launch_fork(const process_state& state, const launch_request& req);

/// posix_spawn of /proc/self/exe; the child's proctor::init() reads `req` and runs the entry.
/// Goes through the zygote when this process has one (`req.spawn` marks a request the zygote
/// runs itself).
launched launch_spawn(const launch_request& req);

/// The flags with which proctor::init() tells a program started by spawn_self() what it is.
inline constexpr const char* spawn_flag = "--proctor-spawn";   ///< A spawned child.
inline constexpr const char* zygote_flag = "--proctor-zygote"; ///< A fresh zygote.

/// The descriptor on which a program started by spawn_self() finds the one it was passed.
inline constexpr int passed_fd = 3;

/// posix_spawn of /proc/self/exe as `argv0 flag 3 args...`, with a copy of `fd` as descriptor 3
/// and no other but stdio (stdin from /dev/null), in a process group of its own, no signal
/// blocked and SIGCHLD at its default. proctor::init() in the new program reads the flag.
/// Returns the child's pid; throws system_error if it could not start.
pid_t spawn_self(const char* flag, int fd, std::initializer_list<std::string_view> args);

/// A fork of the zygote runs the entry.
launched launch_forkserver(const launch_request& req);

} // namespace proctor::detail
