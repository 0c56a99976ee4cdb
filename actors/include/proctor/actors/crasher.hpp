#pragma once

#include <cstdint>
#include <string>

#include "proctor/actor.hpp"
#include "proctor/actors/tick.hpp"
#include "proctor/behavior.hpp"

namespace proctor::actors {

/// A chaos monkey for demos: it counts the ticks and lines it receives and fails on purpose,
/// to show what a supervisor does about it.
///
/// `how` says how it fails: a signal ("SIGSEGV", "SEGV", "abort" is "SIGABRT", or a number),
/// "throw" (an exception escapes the handler), "exit" (exit code 3), or "hang" (the handler
/// never returns: a watchdog's business). It fails on its `after`-th message (never if 0), and
/// besides on any message with `probability` (0 to 1). It leaves no core file.
///
/// Catalog: `crasher(int64 after, string how, double probability)`.
class crasher {
 public:
  crasher(actor& self, std::int64_t after, std::string how, double probability);

  /// Registers its name (see register_own_name); throws std::invalid_argument for an unknown
  /// `how`, a negative `after` or a probability outside [0, 1].
  void init();
  behavior make_behavior();

 private:
  void count(const std::string& what);
  [[noreturn]] void fail(const std::string& why);

  actor& self_;
  std::int64_t after_;
  std::string how_;
  double probability_;
  int signal_ = 0; ///< The signal to raise, 0 for throw, exit or hang.
  std::int64_t seen_ = 0;
};

} // namespace proctor::actors
