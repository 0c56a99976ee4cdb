#pragma once

#include <cstdint>

namespace proctor::detail {

/// Drops every name registered for actor `id` (called when it ends). Never throws.
void forget_names_of(std::uint64_t id) noexcept;

/// Creates the node's registry in a root process (one that did not inherit one), so that the
/// children it starts from now on share it. Called by proctor::init().
void ensure_node_registry() noexcept;

} // namespace proctor::detail
