#pragma once

#include "proctor/actor_catalog.hpp"

namespace proctor::actors {

/// Adds every ready-made actor to `catalog`, under these names (arguments in brackets):
///   state_store  ()                                       a key -> value store
///   logger       ()                                       prints lines and ticks
///   ticker       (string target, int64 period_ms)        ticks an actor periodically
///   prime_worker (string report_to, int64 chunk)         counts primes
///   crasher      (int64 after, string how, double p)     fails on purpose
/// Throws std::invalid_argument if the catalog already holds one of these names.
void register_all(actor_catalog& catalog);

} // namespace proctor::actors
