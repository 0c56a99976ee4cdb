#pragma once

#include <cstdint>
#include <string_view>

namespace proctor {

/// Why a queue operation did not do what it was asked (Python's queue.Empty, queue.Full, ...).
enum class queue_errc : std::uint8_t {
  empty,         ///< get: nothing arrived before the timeout (or at once, for get_nowait).
  full,          ///< put: no room before the timeout (or at once, for put_nowait).
  closed,        ///< put on a closed queue, or get on a closed queue that is drained.
  too_large,     ///< put: the item can never fit this queue; nothing was stored.
  serialization, ///< put: the item failed to serialize (nothing stored); get: a record failed
                 ///< to decode (it was removed, the queue goes on).
  corrupt,       ///< The shared memory does not hold a valid queue (scribbled by a buggy
                 ///< process): every later call reports this too.
};

[[nodiscard]] std::string_view to_string(queue_errc code) noexcept;

} // namespace proctor
