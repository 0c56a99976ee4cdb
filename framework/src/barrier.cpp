#include "proctor/barrier.hpp"

#include <new>
#include <string>

#include "futex.hpp"
#include "park.hpp"
#include "proctor/shm_error.hpp"
#include "sync_cells.hpp"

namespace proctor {

std::string_view to_string(barrier_errc code) noexcept {
  switch (code) {
    case barrier_errc::timeout:
      return "timeout";
    case barrier_errc::aborted:
      return "aborted";
    case barrier_errc::reset:
      return "reset";
    case barrier_errc::action_failed:
      return "action_failed";
  }
  return "?";
}

namespace detail {

namespace {

// The futex word: arrivals | reset mark | generation | broken (see barrier_cell).
constexpr std::uint32_t count_mask = 0xffff;
constexpr std::uint32_t reset_bit = 1u << 16;
constexpr unsigned generation_shift = 17;
constexpr std::uint32_t generation_mask = 0x3fffu << generation_shift;
constexpr std::uint32_t broken_bit = 1u << 31;
constexpr std::uint32_t max_parties = count_mask;

barrier_cell& cell(const shared_object& bar) {
  return *static_cast<barrier_cell*>(bar.get("barrier"));
}

bool same_round(std::uint32_t a, std::uint32_t b) noexcept {
  return ((a ^ b) & generation_mask) == 0;
}

/// The first word of the round after `w`'s: nobody arrived, not broken.
std::uint32_t next_round(std::uint32_t w, bool by_reset) noexcept {
  std::uint32_t generation = ((w & generation_mask) + (1u << generation_shift)) & generation_mask;
  return generation | (by_reset ? reset_bit : 0);
}

[[noreturn]] void throw_broken(barrier_errc code) {
  const char* why = "";
  switch (code) {
    case barrier_errc::timeout:
      why = "a wait timed out";
      break;
    case barrier_errc::aborted:
      why = "abort() was called";
      break;
    case barrier_errc::reset:
      why = "reset() ended the round this process waited in";
      break;
    case barrier_errc::action_failed:
      why = "its action threw";
      break;
  }
  throw broken_barrier_error(code, std::string{"barrier: broken: "} + why);
}

[[noreturn]] void throw_broken(const barrier_cell& c) {
  throw_broken(static_cast<barrier_errc>(c.reason.load(std::memory_order_relaxed)));
}

/// Breaks the round of `round` for `why`, unless it already moved on (false) or broke (true).
bool break_round(barrier_cell& c, std::uint32_t round, barrier_errc why) {
  std::uint32_t cur = c.word.load(std::memory_order_relaxed);
  for (;;) {
    if (!same_round(cur, round))
      return false;
    if ((cur & broken_bit) != 0)
      return true;
    c.reason.store(static_cast<std::uint32_t>(why), std::memory_order_relaxed);
    if (c.word.compare_exchange_weak(cur, cur | broken_bit, std::memory_order_release,
                                     std::memory_order_relaxed))
      break;
  }
  futex_wake(c.word);
  return true;
}

/// How a round that `cur` has left ended for its waiters: normally, or by a reset (throws).
void check_round_end(std::uint32_t cur, std::uint32_t mine) {
  if ((cur & reset_bit) != 0 && same_round(cur, next_round(mine, false)))
    throw_broken(barrier_errc::reset);
}

/// The last arrival: runs the action, then opens the next round and wakes everybody.
void trip(barrier_cell& c, std::uint32_t mine, const std::function<void()>& action) {
  if (action) {
    try {
      action();
    } catch (...) {
      break_round(c, mine, barrier_errc::action_failed);
      throw;
    }
  }
  std::uint32_t cur = c.word.load(std::memory_order_relaxed);
  for (;;) {
    if (!same_round(cur, mine))
      throw_broken(barrier_errc::reset); // reset() while the action ran
    if ((cur & broken_bit) != 0)
      throw_broken(c); // abort() while the action ran
    if (c.word.compare_exchange_weak(cur, next_round(cur, false), std::memory_order_acq_rel,
                                     std::memory_order_relaxed))
      break;
  }
  futex_wake(c.word);
}

/// An arrival that is not the last: waits until its round ends or breaks.
void await_round(barrier_cell& c, std::uint32_t mine, deadline until) {
  for (;;) {
    std::uint32_t cur = c.word.load(std::memory_order_acquire);
    if (!same_round(cur, mine))
      return check_round_end(cur, mine);
    if ((cur & broken_bit) != 0)
      throw_broken(c);
    if (!park(c.word, cur, until) && break_round(c, mine, barrier_errc::timeout))
      throw_broken(c);
  }
}

} // namespace

shared_object barrier_create(std::uint32_t parties, bool has_action,
                             std::optional<std::chrono::nanoseconds> timeout) {
  if (parties == 0 || parties > max_parties)
    throw shm_error(shm_errc::misuse, "barrier: parties must be 1.." + std::to_string(max_parties)
                                        + ", not " + std::to_string(parties));
  auto bar = shared_object::create(sizeof(barrier_cell));
  auto& c = *new (bar.get("barrier")) barrier_cell{};
  c.parties = parties;
  c.has_action = has_action ? 1 : 0;
  c.default_timeout_ns
    = timeout ? timeout->count() : -1;
  if (timeout && c.default_timeout_ns < 0)
    c.default_timeout_ns = 0;
  bar.publish(barrier_magic);
  return bar;
}

shared_object barrier_open(const segment_handle& handle) {
  auto bar = shared_object::open(handle, sizeof(barrier_cell), barrier_magic, "barrier");
  if (cell(bar).has_action != 0)
    throw shm_error(shm_errc::misuse,
                    "barrier: one with an action cannot cross into a spawn or forkserver child "
                    "(the action is a function of the creating process): use fork, or no action");
  return bar;
}

std::uint32_t barrier_wait(const shared_object& bar, const std::function<void()>& action,
                           const steady_clock::duration* timeout) {
  auto& c = cell(bar);
  deadline until;
  if (timeout != nullptr)
    until = deadline_after(*timeout);
  else if (c.default_timeout_ns >= 0)
    until = deadline_after(std::chrono::nanoseconds(c.default_timeout_ns));
  std::uint32_t w = c.word.load(std::memory_order_acquire);
  for (;;) {
    if ((w & broken_bit) != 0)
      throw_broken(c);
    if ((w & count_mask) == c.parties) {
      // Full: the last arrival runs the action. Wait for the next round to arrive in.
      if (!park(c.word, w, until) && break_round(c, w, barrier_errc::timeout))
        throw_broken(c);
      w = c.word.load(std::memory_order_acquire);
      continue;
    }
    if (c.word.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
      break;
  }
  std::uint32_t index = w & count_mask;
  if (index + 1 == c.parties)
    trip(c, w + 1, action);
  else
    await_round(c, w + 1, until);
  return index;
}

void barrier_abort(const shared_object& bar) {
  auto& c = cell(bar);
  while (!break_round(c, c.word.load(std::memory_order_relaxed), barrier_errc::aborted)) {
  }
}

void barrier_reset(const shared_object& bar) {
  auto& c = cell(bar);
  std::uint32_t cur = c.word.load(std::memory_order_relaxed);
  while (!c.word.compare_exchange_weak(cur, next_round(cur, true), std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
  }
  futex_wake(c.word);
}

std::uint32_t barrier_parties(const shared_object& bar) {
  return cell(bar).parties;
}

std::uint32_t barrier_n_waiting(const shared_object& bar) {
  auto& c = cell(bar);
  std::uint32_t w = c.word.load(std::memory_order_relaxed);
  if ((w & broken_bit) != 0)
    return 0;
  std::uint32_t arrived = w & count_mask;
  return arrived == c.parties ? arrived - 1 : arrived; // the last one runs the action
}

bool barrier_broken(const shared_object& bar) {
  return (cell(bar).word.load(std::memory_order_relaxed) & broken_bit) != 0;
}

} // namespace detail
} // namespace proctor
