#include "proctor/condition.hpp"

#include <new>

#include "futex.hpp"
#include "park.hpp"
#include "sync_cells.hpp"

namespace proctor {

std::string_view to_string(wait_result r) noexcept {
  switch (r) {
    case wait_result::notified:
      return "notified";
    case wait_result::timeout:
      return "timeout";
    case wait_result::owner_died:
      return "owner_died";
  }
  return "?";
}

namespace detail {

namespace {

std::atomic<std::uint32_t>& sequence_of(const shared_object& cv) {
  return static_cast<condition_cell*>(cv.get("condition"))->sequence;
}

} // namespace

shared_object condition_create() {
  auto cv = shared_object::create(sizeof(condition_cell));
  new (cv.get("condition")) condition_cell{};
  cv.publish(condition_magic);
  return cv;
}

shared_object condition_open(const segment_handle& handle) {
  return shared_object::open(handle, sizeof(condition_cell), condition_magic, "condition");
}

std::uint32_t condition_sequence(const shared_object& cv) {
  return sequence_of(cv).load(std::memory_order_relaxed);
}

bool condition_sleep(const shared_object& cv, std::uint32_t seen, deadline until) {
  auto& sequence = sequence_of(cv);
  // Sleeping on, and re-checking, the sequence after every slice: a wake-up taken by a waiter
  // that then died is made up for by the others noticing the move by themselves.
  while (sequence.load(std::memory_order_relaxed) == seen) {
    if (!park(sequence, seen, until))
      return sequence.load(std::memory_order_relaxed) != seen;
  }
  return true;
}

void condition_notify(const shared_object& cv, std::uint32_t n) {
  auto& sequence = sequence_of(cv);
  sequence.fetch_add(1, std::memory_order_relaxed);
  if (n != 0)
    futex_wake(sequence, n > 0x7fffffff ? 0x7fffffff : static_cast<int>(n));
}

steady_clock::time_point condition_deadline(steady_clock::duration timeout) noexcept {
  return deadline_after(timeout);
}

} // namespace detail
} // namespace proctor
