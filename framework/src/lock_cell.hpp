#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace proctor::detail {

/// What a lock's segment holds; mapped by every process that uses the lock. Only fixed-size C
/// data: the pthread mutex refers to its holder by thread id, never by address.
struct lock_cell {
  std::uint32_t magic; ///< lock_cell_magic once the mutex is initialized (written last).
  std::uint32_t kind;  ///< A lock_kind: a handle opened as the wrong kind is refused.
  pthread_mutex_t mutex; ///< Robust, process-shared, error-checking or recursive.
};

/// "pLck" in ASCII.
inline constexpr std::uint32_t lock_cell_magic = 0x6b634c70;

static_assert(std::is_trivially_copyable_v<pthread_mutex_t>);
static_assert(std::is_trivially_copyable_v<lock_cell> && std::is_standard_layout_v<lock_cell>);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);

} // namespace proctor::detail
