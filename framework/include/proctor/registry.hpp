#pragma once

#include <string>
#include <string_view>

#include "proctor/actor_ref.hpp"

namespace proctor {

/// The node's name registry (Erlang's register/2, unregister/1, whereis/1): every process started
/// under one proctor::init() root — forked, spawned or forkserver'd — sees the same names.
///
/// A name is at most 55 bytes; the registry holds 1,024 names. A name is released when its
/// actor ends (whereis never returns an ended actor). A process that cannot map the registry (out
/// of file descriptors) gets shm_error(system) from these calls, never an answer from a registry
/// of its own.

/// Registers `ref` under `name`. False if the name is taken by a live actor, or the registry is
/// full; throws std::invalid_argument for an empty or too long name.
bool register_name(std::string_view name, const actor_ref& ref);

/// Releases `name`; false if it was not registered.
bool unregister_name(std::string_view name);

/// The live actor registered under `name`, or an empty ref.
[[nodiscard]] actor_ref whereis(std::string_view name);

} // namespace proctor
