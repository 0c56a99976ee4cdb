#pragma once

#include <chrono>

#include "actor_cell.hpp"

namespace proctor::detail {

// A supervised child's warm standby (child_spec::standby), on the child's side. Each incarnation
// holds the cell's `life` mutex until its process ends; the standby waits to lock it. The kernel
// releases a robust mutex as the first step of a process's exit, before its memory is torn down,
// and wakes the waiter: the standby knows of the death before anyone watching a pidfd could.

/// Makes `cell.life` a robust, process-shared mutex (the supervisor, on a fresh cell).
void init_life(actor_cell& cell);

/// Locks `cell.life` for an incarnation started by its supervisor, to hold until the process
/// ends. False if it cannot within `patience` (a scribbled cell): it runs all the same, without a
/// standby's quick takeover.
bool hold_life(actor_cell& cell, std::chrono::milliseconds patience);

/// The standby's wait: says it waits, then sleeps until the incarnation's process ends. True if
/// it is to take over (it holds `life` then); false if the supervisor restarts (or not) itself,
/// in which case the standby is to end at once.
bool stand_by(actor_cell& cell);

/// The standby takes over: what the supervisor's restart would write into the cell, for an
/// incarnation that ended without a word.
void take_over(actor_cell& cell);

/// Once the standby that took over is ready: it runs as any incarnation from here on.
void end_takeover();

} // namespace proctor::detail
