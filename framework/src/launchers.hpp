#pragma once

#include <sys/resource.h>

#include <initializer_list>
#include <string_view>

#include "launch_request.hpp"
#include "process_state.hpp"
#include "unique_fd.hpp"

namespace proctor::detail {

/// fork(): the child runs state.target.run in a copy of this address space.
/// Refuses (process_error::multithreaded) when the caller runs more than one thread.
launched launch_fork(const process_state& state, const launch_request& req);

/// A host's stdout and stderr as they were when it asked its zygote for a child: the child
/// writes there, not where the zygote's own go (what the host's were at proctor::init(): it may
/// have redirected them since). Both empty if the host had either closed.
struct host_output {
  unique_fd out;
  unique_fd err;
  /// Makes them the calling process's descriptors 1 and 2 (nothing if empty); the originals stay
  /// open. Async-signal-safe.
  void install() const noexcept;
};

/// What a zygote's host passed with a spawn request besides the request: its stdout and stderr,
/// and its working directory (empty: the zygote's own); and the host's limit on open files,
/// which the zygote raised for itself (null: the zygote's is the host's).
struct host_setting {
  const host_output* output = nullptr;
  int cwd = -1;
  const rlimit* files = nullptr;
};

/// posix_spawn of /proc/self/exe; the child's proctor::init() reads `req` and runs the entry.
/// Goes through the zygote when this process has one, which starts the program in this
/// process's working directory and with its environment as they are now, as exec from here
/// would (`req.spawn` marks a request the zygote runs itself, `host` what came with it).
launched launch_spawn(const launch_request& req, const host_setting& host = {});

/// The flags with which proctor::init() tells a program started by spawn_self() what it is.
inline constexpr const char* spawn_flag = "--proctor-spawn";   ///< A spawned child.
inline constexpr const char* zygote_flag = "--proctor-zygote"; ///< A fresh zygote.
/// After a fresh zygote's arguments: it watches its host's pidfd (see run_fresh_zygote()).
inline constexpr const char* zygote_watch_flag = "watch";

/// The descriptor on which a program started by spawn_self() finds the one it was passed.
inline constexpr int passed_fd = 3;

/// posix_spawn of /proc/self/exe as `argv0 flag 3 args...`, with a copy of `fd` as descriptor 3
/// and no other but stdio (stdin from /dev/null), in a process group of its own, no signal
/// blocked and SIGCHLD at its default. proctor::init() in the new program reads the flag.
/// `host`: descriptors 1 and 2, the working directory and the limit on open files for the
/// program instead of this process's own; `environment`: its environment instead of this
/// process's.
/// Returns the child's pid; throws system_error if it could not start.
pid_t spawn_self(const char* flag, int fd, std::initializer_list<std::string_view> args,
                 const host_setting& host = {},
                 const std::vector<std::string>* environment = nullptr);

/// A fork of the zygote runs the entry.
launched launch_forkserver(const launch_request& req);

} // namespace proctor::detail
