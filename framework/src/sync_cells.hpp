#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace proctor::detail {

// What the segments of the synchronization objects hold; mapped by every process that uses them.
// Only fixed-size, trivially copyable fields and lock-free atomics. Each cell starts with its magic
// word (shared_object writes it last and checks it on open). Waiters are never counted anywhere:
// a process that dies at any instruction leaves nothing that another process would wait for.

/// "pSem", "pBSm", "pEvt", "pCnd", "pBar" in ASCII.
inline constexpr std::uint32_t semaphore_magic = 0x6d655370;
inline constexpr std::uint32_t bounded_semaphore_magic = 0x6d534270;
inline constexpr std::uint32_t event_magic = 0x74764570;
inline constexpr std::uint32_t condition_magic = 0x646e4370;
inline constexpr std::uint32_t barrier_magic = 0x72614270;

struct semaphore_cell {
  std::atomic<std::uint32_t> magic;
  std::uint32_t bound;             ///< The largest count release() may reach.
  std::atomic<std::uint32_t> word; ///< Futex word: the count, and bit 31 "somebody may sleep".
};

struct event_cell {
  std::atomic<std::uint32_t> magic;
  /// Futex word: bit 0 set, bit 1 "somebody may sleep", bits 2..31 a generation that set() advances
  /// so that a waiter also returns for a set() that a clear() undid before it looked.
  std::atomic<std::uint32_t> word;
};

struct condition_cell {
  std::atomic<std::uint32_t> magic;
  std::atomic<std::uint32_t> sequence; ///< Futex word: advanced by every notify.
};

struct barrier_cell {
  std::atomic<std::uint32_t> magic;
  std::uint32_t parties;
  std::uint32_t has_action;            ///< 1 if the creator gave an action (fork-only crossing).
  std::atomic<std::uint32_t> reason;   ///< A barrier_errc: why it broke, written before the bit.
  std::int64_t default_timeout_ns;     ///< < 0: none.
  /// Futex word: bits 0..15 arrivals in this generation, bit 16 "the previous generation ended
  /// by reset()", bits 17..30 the generation, bit 31 broken.
  std::atomic<std::uint32_t> word;
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<semaphore_cell> && std::is_standard_layout_v<event_cell>
              && std::is_standard_layout_v<condition_cell>
              && std::is_standard_layout_v<barrier_cell>);
static_assert(std::is_trivially_destructible_v<semaphore_cell>
              && std::is_trivially_destructible_v<event_cell>
              && std::is_trivially_destructible_v<condition_cell>
              && std::is_trivially_destructible_v<barrier_cell>);

} // namespace proctor::detail
