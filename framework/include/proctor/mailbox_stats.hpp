#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "proctor/actor_ref.hpp"

namespace proctor {

/// What an actor's mailbox has seen, read from its shared control block (any process may ask).
struct mailbox_stats {
  std::size_t queued = 0;          ///< Messages waiting now.
  std::uint64_t dead_letters = 0;  ///< Messages of types the behavior did not handle.
  std::uint64_t malformed = 0;     ///< Records that did not decode: reported and skipped.
  std::uint64_t dropped = 0;       ///< Sends dropped by mailbox_overflow::drop.
};

/// The stats of `ref`'s mailbox; nullopt if it is gone.
[[nodiscard]] std::optional<mailbox_stats> stats(const actor_ref& ref);

} // namespace proctor
