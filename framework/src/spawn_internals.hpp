#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "actor_cell.hpp"
#include "proctor/exit_reason.hpp"
#include "proctor/process.hpp"
#include "unique_fd.hpp"

namespace proctor::detail {

/// Writes `why` into the cell and marks the actor ended: for good (exited), or, if supervised,
/// until its supervisor restarts it (down). Wakes whoever waits on the state.
void record_exit(actor_cell& cell, const exit_reason& why);

/// Writes the identity of `pid`, the process just started to run the actor of `cell` (its start
/// time, then its pid, as the process's own run_actor() would), while that process is on its way
/// there: it reads /proc itself only if it gets there first (both write the same values). Nothing
/// if /proc cannot tell.
void record_identity(actor_cell& cell, pid_t pid) noexcept;

/// Releases the mailboxes of the actors this process spawned that have ended (and reaps them).
void release_ended_actors() noexcept;

/// A duplicate (close-on-exec) of the pidfd of the process this process spawned for actor
/// `actor_id`, if that is the process `pid`: what a pidfd opened for `pid` and checked against
/// /proc would be, without the look in /proc. Invalid if this process did not spawn it.
unique_fd pidfd_of_spawned(std::uint64_t actor_id, pid_t pid) noexcept;

/// Waits until the actor in `proc` reports ready on `cell`. Throws spawn_error (after killing and
/// reaping it) if it ends first or `timeout` passes.
/// `readies_before`: cell.readies before the process was started (a new cell: 0).
void wait_ready(actor_cell& cell, process& proc, std::chrono::milliseconds timeout,
                const std::string& name, std::uint32_t readies_before);

} // namespace proctor::detail
