#pragma once

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

/// A fork of the zygote runs the entry.
launched launch_forkserver(const launch_request& req);

} // namespace proctor::detail
