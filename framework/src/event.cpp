#include "proctor/event.hpp"

#include <new>

#include "futex.hpp"
#include "park.hpp"
#include "sync_cells.hpp"

namespace proctor::detail {

namespace {

constexpr std::uint32_t set_bit = 1;
constexpr std::uint32_t sleepers_bit = 2;
constexpr std::uint32_t generation_step = 4;

std::atomic<std::uint32_t>& word_of(const shared_object& ev) {
  return static_cast<event_cell*>(ev.get("event"))->word;
}

} // namespace

shared_object event_create() {
  auto ev = shared_object::create(sizeof(event_cell));
  new (ev.get("event")) event_cell{};
  ev.publish(event_magic);
  return ev;
}

shared_object event_open(const segment_handle& handle) {
  return shared_object::open(handle, sizeof(event_cell), event_magic, "event");
}

void event_set(const shared_object& ev) {
  auto& word = word_of(ev);
  std::uint32_t seen = word.load(std::memory_order_relaxed);
  std::uint32_t next = 0;
  do {
    if ((seen & set_bit) != 0)
      return;
    // A new generation, the flag raised, the sleepers bit cleared: every sleeper is woken below.
    next = ((seen & ~(set_bit | sleepers_bit)) + generation_step) | set_bit;
  } while (!word.compare_exchange_weak(seen, next, std::memory_order_release,
                                       std::memory_order_relaxed));
  if ((seen & sleepers_bit) != 0)
    futex_wake(word);
}

void event_clear(const shared_object& ev) {
  word_of(ev).fetch_and(~set_bit, std::memory_order_relaxed);
}

bool event_is_set(const shared_object& ev) {
  return (word_of(ev).load(std::memory_order_acquire) & set_bit) != 0;
}

bool event_wait(const shared_object& ev, const steady_clock::duration* timeout) {
  auto& word = word_of(ev);
  deadline until;
  if (timeout != nullptr)
    until = deadline_after(*timeout);
  std::uint32_t seen = word.load(std::memory_order_acquire);
  const std::uint32_t generation = seen & ~(set_bit | sleepers_bit);
  for (;;) {
    if ((seen & set_bit) != 0 || (seen & ~(set_bit | sleepers_bit)) != generation)
      return true;
    if ((seen & sleepers_bit) == 0
        && !word.compare_exchange_weak(seen, seen | sleepers_bit, std::memory_order_acquire))
      continue;
    bool in_time = park(word, seen | sleepers_bit, until);
    seen = word.load(std::memory_order_acquire);
    if (!in_time)
      return (seen & set_bit) != 0 || (seen & ~(set_bit | sleepers_bit)) != generation;
  }
}

} // namespace proctor::detail
