#pragma once

namespace proctor {

/// Call first thing in main(), before any thread starts — proctor's `if __name__ == "__main__"`.
///
/// - In a child started with the spawn method, it runs the child's target and never returns.
/// - Otherwise it starts the forkserver zygote (a single-threaded fork of this still small,
///   still single-threaded process) from which forkserver children are forked later, even when the
///   host has started threads by then.
///
/// Without it, fork works; spawn refuses (the child would rerun main); forkserver starts its zygote
/// on first use, and refuses if threads run by then.
void init(int argc, char** argv);

/// The forkserver zygote's pid, or 0 while this process has none. It is a child of this process
/// and exits when this process does.
[[nodiscard]] int forkserver_pid();

} // namespace proctor
