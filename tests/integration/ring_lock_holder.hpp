#pragma once

// A process that takes a ring's lock as a put does and never lets go: a process stopped inside a
// put or a send (a debugger's breakpoint, a SIGSTOP), or a hostile one. For the tests of what
// writers, readers and supervisors do meanwhile, and once it is gone.

#include <unistd.h>

#include <chrono>
#include <memory>

#include <proctor/proctor.hpp>

#include "ring_header.hpp"

namespace proctor::test {

/// Holds the lock of the ring (a queue's, a mailbox's) that `ring` names, from a forked process
/// of its own. Killed by let_go() or at the end of its scope.
class ring_lock_holder {
 public:
  static constexpr std::chrono::seconds patience{60};

  explicit ring_lock_holder(const proctor::segment_handle& ring) {
    proctor::event locked;
    auto hold = [ring, locked]() mutable {
      auto segment = proctor::shared_segment::open(ring);
      auto* h = static_cast<proctor::detail::ring_header*>(segment.data());
      ::pthread_mutex_lock(&h->mutex);
      locked.set();
      for (;;)
        ::pause();
    };
    auto fork = proctor::get_context(proctor::start_method::fork);
    holder_ = std::make_unique<proctor::process>(fork.make_process(std::move(hold)));
    holder_->start();
    locked_ = locked.wait(patience);
  }
  ring_lock_holder(const ring_lock_holder&) = delete;
  ring_lock_holder& operator=(const ring_lock_holder&) = delete;
  ~ring_lock_holder() { let_go(); }

  /// True once the holder has the lock.
  [[nodiscard]] bool locked() const { return locked_; }

  /// Kills the holder (the next to take the lock is told that its owner died); its exit code,
  /// -SIGKILL once it has ended.
  std::optional<int> let_go() {
    std::optional<int> code;
    if (holder_) {
      holder_->kill();
      (void)holder_->join(patience);
      code = holder_->exitcode();
      holder_.reset();
    }
    return code;
  }

 private:
  std::unique_ptr<proctor::process> holder_;
  bool locked_ = false;
};

} // namespace proctor::test
