#pragma once

#include "proctor/actor.hpp"

namespace proctor::actors {

/// Registers `self` in the node's registry under its own name (its child id in a supervision
/// tree, its spawn name otherwise), so that others find it with proctor::whereis. Every
/// ready-made actor does this in its init; a restarted actor keeps its name (its ref is its
/// mailbox, which survives the restart). Does nothing for an actor without a name; throws
/// std::runtime_error if another live actor holds the name.
/// @note Only the actor's own process may call this.
void register_own_name(actor& self);

} // namespace proctor::actors
