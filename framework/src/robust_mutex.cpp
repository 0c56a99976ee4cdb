#include "proctor/detail/robust_mutex.hpp"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "lock_cell.hpp"
#include "sys.hpp"
#include "proctor/shm_error.hpp"

namespace proctor::detail {

namespace {

[[noreturn]] void throw_lock_error(shm_errc code, const std::string& what, int err = 0) {
  std::string msg = "lock: " + what;
  if (err != 0)
    msg += std::string{": "} + std::strerror(err);
  throw shm_error(code, msg);
}

/// Initializes a robust, process-shared mutex of `kind` in a fresh (zeroed) cell.
void init_cell(lock_cell& cell, lock_kind kind) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  int err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (err == 0)
    err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  // Error-checking rather than normal: a thread acquiring a plain lock it holds is told so
  // (EDEADLK) instead of waiting for itself forever.
  if (err == 0)
    err = pthread_mutexattr_settype(&attr, kind == lock_kind::recursive ? PTHREAD_MUTEX_RECURSIVE
                                                                        : PTHREAD_MUTEX_ERRORCHECK);
  if (err == 0)
    err = pthread_mutex_init(&cell.mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (err != 0)
    throw_lock_error(shm_errc::system, "pthread_mutex_init", err);
  cell.kind = static_cast<std::uint32_t>(kind);
  std::atomic_ref<std::uint32_t>{cell.magic}.store(lock_cell_magic, std::memory_order_release);
}

} // namespace

robust_mutex robust_mutex::create(lock_kind kind) {
  auto segment = std::make_shared<shared_segment>(shared_segment::create(sizeof(lock_cell)));
  auto* cell = static_cast<lock_cell*>(segment->data());
  init_cell(*cell, kind);
  return robust_mutex{std::move(segment), cell};
}

robust_mutex robust_mutex::open(const segment_handle& handle, lock_kind kind) {
  if (handle.size != sizeof(lock_cell))
    throw_lock_error(shm_errc::invalid, handle.name + " is not a lock's segment");
  auto segment = std::make_shared<shared_segment>(shared_segment::open(handle));
  auto* cell = static_cast<lock_cell*>(segment->data());
  if (std::atomic_ref<std::uint32_t>{cell->magic}.load(std::memory_order_acquire) != lock_cell_magic)
    throw_lock_error(shm_errc::invalid, handle.name + " is not a lock's segment");
  if (cell->kind != static_cast<std::uint32_t>(kind))
    throw_lock_error(shm_errc::invalid,
                     handle.name + (kind == lock_kind::recursive ? " holds a lock, not an rlock"
                                                                 : " holds an rlock, not a lock"));
  return robust_mutex{std::move(segment), cell};
}

lock_cell& robust_mutex::cell() const {
  if (cell_ == nullptr)
    throw_lock_error(shm_errc::misuse, "use of a moved-from lock");
  return *cell_;
}

acquire_result robust_mutex::acquire(std::optional<std::chrono::nanoseconds> timeout) {
  pthread_mutex_t* m = &cell().mutex;
  int err = 0;
  if (timeout) {
    timespec at = monotonic_deadline(*timeout);
    err = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &at);
  } else {
    err = pthread_mutex_lock(m);
  }
  switch (err) {
    case 0:
      return acquire_result::acquired;
    case ETIMEDOUT:
      return acquire_result::timeout;
    case EOWNERDEAD:
      // We hold it now. Marking it consistent is what keeps it usable: released without this,
      // it would refuse everybody forever (ENOTRECOVERABLE). If we die before this line, the
      // kernel marks it owner-died again for the next one.
      if (int e = pthread_mutex_consistent(m); e != 0)
        throw_lock_error(shm_errc::system, "pthread_mutex_consistent", e);
      return acquire_result::acquired_owner_died;
    case EDEADLK:
      throw_lock_error(shm_errc::misuse,
                       "acquired again by the thread that holds it (a lock is not recursive; "
                       "an rlock is)");
    case ENOTRECOVERABLE:
      throw_lock_error(shm_errc::not_recoverable,
                       "unusable: a holder released it after its previous holder died without "
                       "making it consistent");
    default:
      throw_lock_error(shm_errc::system, "pthread_mutex_lock", err);
  }
}

void robust_mutex::release() {
  if (int err = pthread_mutex_unlock(&cell().mutex); err != 0) {
    if (err == EPERM)
      throw_lock_error(shm_errc::misuse, "released by a thread that does not hold it");
    throw_lock_error(shm_errc::system, "pthread_mutex_unlock", err);
  }
}

segment_handle robust_mutex::handle() const {
  (void)cell(); // throws for a moved-from lock
  return segment_->handle();
}

} // namespace proctor::detail
