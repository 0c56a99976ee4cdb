#pragma once

namespace proctor {

/// Call first thing in main(), before any thread starts — proctor's `if __name__ == "__main__"`.
///
/// - In a child started with the spawn method, it runs the child's target and never returns.
/// - Otherwise it starts the zygote: a single-threaded fork of this still small, still
///   single-threaded process. Forkserver children are forked from it, and spawned children are
///   started from it, even when the host runs threads by then (a child started directly by a
///   short-lived thread would die with that thread, through its parent-death signal).
/// - It first removes the shared-memory segments that runs which died left behind
///   (sweep_stale_segments()).
///
/// Without it, fork works; spawn refuses (the child would rerun main); forkserver starts its zygote
/// on first use, and refuses if threads run by then.
void init(int argc, char** argv);

/// The forkserver zygote's pid, or 0 while this process has none. It is a child of this process
/// and exits when this process does. It has a child of its own that reports its children's ends
/// (named proctor-reaper), and once it has started a child, one spare child (proctor-spare)
/// forked ahead of the next start; both die with it.
[[nodiscard]] int forkserver_pid();

} // namespace proctor
