#include "proctor/semaphore.hpp"

#include <new>
#include <string>

#include "futex.hpp"
#include "park.hpp"
#include "proctor/shm_error.hpp"
#include "sync_cells.hpp"

namespace proctor::detail {

namespace {

constexpr std::uint32_t sleepers_bit = 0x80000000; ///< Somebody may sleep on the word.
static_assert(semaphore_max == ~sleepers_bit);

constexpr std::uint32_t magic_of(semaphore_kind kind) noexcept {
  return kind == semaphore_kind::bounded ? bounded_semaphore_magic : semaphore_magic;
}

semaphore_cell& cell(const shared_object& sem) {
  return *static_cast<semaphore_cell*>(sem.get("semaphore"));
}

/// Takes a unit if there is one.
bool try_take(std::atomic<std::uint32_t>& word, std::uint32_t& seen) noexcept {
  while ((seen & semaphore_max) != 0) {
    if (word.compare_exchange_weak(seen, seen - 1, std::memory_order_acquire,
                                   std::memory_order_relaxed))
      return true;
  }
  return false;
}

} // namespace

shared_object semaphore_create(semaphore_kind kind, std::uint32_t value) {
  if (value > semaphore_max)
    throw shm_error(shm_errc::misuse,
                    "semaphore: an initial value above " + std::to_string(semaphore_max));
  auto sem = shared_object::create(sizeof(semaphore_cell));
  auto& c = *new (sem.get("semaphore")) semaphore_cell{};
  c.bound = kind == semaphore_kind::bounded ? value : semaphore_max;
  c.word.store(value, std::memory_order_relaxed);
  sem.publish(magic_of(kind));
  return sem;
}

shared_object semaphore_open(const segment_handle& handle, semaphore_kind kind) {
  return shared_object::open(handle, sizeof(semaphore_cell), magic_of(kind),
                             kind == semaphore_kind::bounded ? "bounded_semaphore" : "semaphore");
}

bool semaphore_acquire(const shared_object& sem, const steady_clock::duration* timeout) {
  auto& word = cell(sem).word;
  deadline until;
  if (timeout != nullptr)
    until = deadline_after(*timeout);
  std::uint32_t seen = word.load(std::memory_order_relaxed);
  for (;;) {
    if (try_take(word, seen))
      return true;
    // Empty: say that somebody sleeps, then sleep unless the word moved meanwhile.
    if ((seen & sleepers_bit) == 0
        && !word.compare_exchange_weak(seen, seen | sleepers_bit, std::memory_order_relaxed))
      continue;
    if (!park(word, seen | sleepers_bit, until)) {
      seen = word.load(std::memory_order_relaxed);
      return try_take(word, seen); // one last look: a unit that came at the deadline is taken
    }
    seen = word.load(std::memory_order_relaxed);
  }
}

void semaphore_release(const shared_object& sem, std::uint32_t n) {
  auto& c = cell(sem);
  std::uint32_t seen = c.word.load(std::memory_order_relaxed);
  for (;;) {
    std::uint32_t count = seen & semaphore_max;
    if (n > c.bound - count)
      throw shm_error(shm_errc::misuse,
                      c.bound == semaphore_max
                        ? "semaphore: released beyond its largest count"
                        : "bounded_semaphore: released more times than acquired (its bound is "
                            + std::to_string(c.bound) + ")");
    // The sleepers bit is cleared with the same step that adds the units, and every sleeper is
    // woken: each one competes again and sets the bit anew if it has to sleep again.
    if (c.word.compare_exchange_weak(seen, count + n, std::memory_order_release,
                                     std::memory_order_relaxed))
      break;
  }
  if ((seen & sleepers_bit) != 0)
    futex_wake(c.word);
}

std::uint32_t semaphore_value(const shared_object& sem) {
  return cell(sem).word.load(std::memory_order_relaxed) & semaphore_max;
}

} // namespace proctor::detail
