#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "unique_fd.hpp"

namespace proctor::detail {

/// How a child ended, decoded from a wait status or a siginfo.
struct exit_status {
  int exitcode = 0;          ///< n for exit(n), -N for death by signal N.
  bool core_dumped = false;
};

[[nodiscard]] exit_status from_wait_status(int status) noexcept;

/// Throws process_error(system) naming the call and errno.
[[noreturn]] void throw_system_error(const std::string& what, int err);

/// pidfd_open(2); returns an invalid fd and sets errno on failure.
unique_fd open_pidfd(pid_t pid) noexcept;

/// pidfd_send_signal(2); returns 0 or -1 with errno.
int send_signal(int pidfd, int sig) noexcept;

/// Reaps the child behind `pidfd` if it has ended (never blocks).
std::optional<exit_status> try_reap_pidfd(int pidfd);

/// Waits until `fd` is readable or `timeout` passes (nullopt: forever). True if readable.
bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout);

/// The number of threads of the calling process (from /proc/self/stat).
[[nodiscard]] int thread_count() noexcept;

/// Flushes std::cout, std::cerr and every C stdio stream, so that a fork does not print twice.
void flush_std_streams() noexcept;

/// Gives the calling (new) child the signal state an exec would: caught signals back to their
/// default action, ignored ones still ignored, nothing blocked. The parent's handlers belong to the
/// parent's program (a test runner, a server's graceful shutdown...) and would otherwise make
/// terminate() mean whatever they do. Async-signal-safe.
void reset_signals() noexcept;

/// Makes the calling child die with its parent: PR_SET_PDEATHSIG(SIGKILL), then the check against a
/// parent that died before the prctl took effect. Async-signal-safe; _exits if the parent is gone.
void die_with_parent(pid_t expected_parent) noexcept;

} // namespace proctor::detail
