#include "proctor/actors/register_all.hpp"

#include "proctor/actors/crasher.hpp"
#include "proctor/actors/logger.hpp"
#include "proctor/actors/prime_worker.hpp"
#include "proctor/actors/state_store.hpp"
#include "proctor/actors/ticker.hpp"

namespace proctor::actors {

void register_all(actor_catalog& catalog) {
  catalog.add<state_store>(
    "state_store", "a key -> value store: put, get, increment; counts the ticks it receives");
  catalog.add<logger>("logger", "prints the lines and ticks it receives, with the time");
  catalog.add<ticker, std::string, std::int64_t>(
    "ticker", "target, period_ms: sends a tick to the actor registered as target");
  catalog.add<prime_worker, std::string, std::int64_t>(
    "prime_worker", "report_to, chunk: counts the primes of the next chunk on every tick");
  catalog.add<crasher, std::int64_t, std::string, double>(
    "crasher",
    "after, how, probability: fails on its after-th message (0: never) or at random; "
    "how: a signal (SIGSEGV, abort, ...), throw, exit or hang");
}

} // namespace proctor::actors
