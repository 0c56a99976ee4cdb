#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

#include "proctor/actor.hpp"
#include "proctor/actors/tick.hpp"
#include "proctor/behavior.hpp"
#include "proctor/message.hpp"

namespace proctor::actors {

/// A request to a prime_worker: how many primes lie in [from, to)? Answered with an int64.
struct count_primes {
  std::int64_t from = 0;
  std::int64_t to = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, count_primes& x) {
  return f(caf::meta::type_name("proctor::actors::count_primes"), x.from, x.to);
}

/// The number of primes in [from, to), by trial division: honest CPU work for demos.
[[nodiscard]] std::int64_t primes_in(std::int64_t from, std::int64_t to) noexcept;

/// Counts primes: answers count_primes requests, and on every tick counts the next `chunk`
/// numbers ([0, chunk), [chunk, 2 chunk), ...) and sends the result as a line to the actor
/// registered as `report_to` (a logger, say; nobody if empty or not registered).
///
/// Catalog: `prime_worker(string report_to, int64 chunk)`.
class prime_worker {
 public:
  prime_worker(actor& self, std::string report_to, std::int64_t chunk);

  /// Registers its name (see register_own_name); throws std::invalid_argument for chunk < 1.
  void init();
  behavior make_behavior();

 private:
  void next_chunk();

  actor& self_;
  std::string report_to_;
  std::int64_t chunk_;
  std::int64_t next_ = 0;
  std::int64_t found_ = 0;
};

} // namespace proctor::actors

PROCTOR_MESSAGE(proctor::actors::count_primes, "proctor.actors.count_primes");
