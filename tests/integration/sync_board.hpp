#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include <proctor/shared_segment.hpp>

/// Counters that a test of the synchronization primitives and its children share, in a segment of
/// their own (zero-filled at creation). Children receive the segment's handle and open it.
namespace proctor::test {

struct sync_board {
  std::atomic<std::uint32_t> word[16];
  std::atomic<std::uint64_t> big[4];
};

inline sync_board& board_of(const shared_segment& s) {
  return *static_cast<sync_board*>(s.data());
}

inline shared_segment make_board() {
  return shared_segment::create(sizeof(sync_board));
}

/// Polls until `word` reaches at least `target`; false after `limit`.
inline bool wait_at_least(const std::atomic<std::uint32_t>& word, std::uint32_t target,
                          std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (word.load() < target) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Raises `high` to at least `x`.
inline void raise_to(std::atomic<std::uint32_t>& high, std::uint32_t x) {
  std::uint32_t seen = high.load();
  while (seen < x && !high.compare_exchange_weak(seen, x)) {
  }
}

} // namespace proctor::test
