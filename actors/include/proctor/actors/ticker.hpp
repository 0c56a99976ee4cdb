#pragma once

#include <cstdint>
#include <string>

#include "proctor/actor.hpp"
#include "proctor/actors/tick.hpp"
#include "proctor/behavior.hpp"

namespace proctor::actors {

/// Sends a tick to the actor registered as `target` every `period_ms` milliseconds: the
/// heartbeat that drives the other ready-made actors in a tree started from a file. While no
/// actor holds the name (it is starting, or restarting), ticks are skipped, not queued.
///
/// Catalog: `ticker(string target, int64 period_ms)`.
class ticker {
 public:
  ticker(actor& self, std::string target, std::int64_t period_ms);

  /// Registers its name (see register_own_name); throws std::invalid_argument for period_ms < 1.
  void init();
  behavior make_behavior();

 private:
  void beat();

  actor& self_;
  std::string name_;
  std::string target_;
  std::int64_t period_ms_;
  std::uint64_t sent_ = 0;
};

} // namespace proctor::actors
