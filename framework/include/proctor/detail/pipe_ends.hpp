#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "proctor/shared_segment.hpp"

namespace proctor::detail {

/// Who holds each end of a pipe: up to end_slots processes per end, by pid and start time, in a
/// small segment of the pipe's own. A process joins an end when it creates or receives it (or
/// first uses an inherited copy) and leaves it on close(); a process that died holding it is
/// recognized as dead by its pid and start time. An end with no live holder is gone: its peer
/// reads end-of-file.
/// @note Process-safe; slots are claimed with compare-and-swap, never locked.
class pipe_ends : public std::enable_shared_from_this<pipe_ends> {
 public:
  static constexpr int end_slots = 32;

  [[nodiscard]] static std::shared_ptr<pipe_ends> create();
  [[nodiscard]] static std::shared_ptr<pipe_ends> open(const segment_handle& handle);

  /// Records the calling process as a holder of `side` (idempotent). False if every slot is
  /// taken by a live process.
  bool join(int side);

  /// Removes the calling process from `side`'s holders.
  void leave(int side);

  using end_list = std::vector<std::pair<std::shared_ptr<pipe_ends>, int>>;

  /// Every end the calling process holds (a forked child: every end its parent held).
  [[nodiscard]] static end_list held_here();

  /// In a new child, before its target runs: hold these ends (the ones a forked child's
  /// arguments carry, or every inherited one for a plain callable).
  static void join_all(const end_list& ends);

  /// In the parent, at the end of start(): waits until `child` holds each of `ends` (it joins
  /// them as it starts) or has ended (`child_pidfd` readable). So closing the parent's copy right
  /// after start() never reads as end of file before the child took hold — and the parent never
  /// registers the child itself, which would undo a close() the child did first.
  static void await_holder(pid_t child, int child_pidfd, const end_list& ends);

  /// While a process target's arguments are encoded, the ends among them are noted here, so that
  /// start() can make the child their holder. nullptr when nobody collects.
  static end_list*& collector() noexcept;

  /// True while some live process holds `side`.
  [[nodiscard]] bool held(int side) const;

  [[nodiscard]] segment_handle handle() const { return segment_.handle(); }

  /// getpid() without a system call: cached, and refreshed in the child of every fork.
  [[nodiscard]] static pid_t current_pid() noexcept;

  explicit pipe_ends(shared_segment segment) : segment_(std::move(segment)) {}

 private:
  struct slot;
  slot* slots(int side) const;
  /// True if `pid` holds `side`, or held it and left.
  [[nodiscard]] bool took_hold(pid_t pid, int side) const;
  bool join_as(pid_t pid, std::uint64_t start_time, int side);

  shared_segment segment_;
};

} // namespace proctor::detail
