#pragma once

#include <string>

#include "proctor/actor.hpp"
#include "proctor/actors/tick.hpp"
#include "proctor/behavior.hpp"

namespace proctor::actors {

/// Prints every line (std::string) and tick it receives to standard output, one line each, with
/// the time and the sender's name: `12:00:01.250 log <- clock: tick 4`. A line is written whole
/// and flushed at once, so that lines of several processes sharing the terminal do not mix.
///
/// Catalog: `logger()`.
class logger {
 public:
  explicit logger(actor& self);

  /// Registers its name (see register_own_name).
  void init();
  behavior make_behavior();

 private:
  void print(const std::string& text);

  actor& self_;
  std::string name_;
};

} // namespace proctor::actors
