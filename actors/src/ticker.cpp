#include "proctor/actors/ticker.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

#include "proctor/actors/register_own_name.hpp"
#include "proctor/registry.hpp"

namespace proctor::actors {

ticker::ticker(actor& self, std::string target, std::int64_t period_ms)
  : self_(self), name_(self.ref().name()), target_(std::move(target)), period_ms_(period_ms) {}

void ticker::init() {
  if (period_ms_ < 1)
    throw std::invalid_argument("ticker: period_ms must be at least 1, not "
                                + std::to_string(period_ms_));
  if (target_.empty())
    throw std::invalid_argument("ticker: the target name is empty");
  register_own_name(self_);
  self_.run_every(std::chrono::milliseconds{period_ms_}, [this] { beat(); });
}

behavior ticker::make_behavior() { return {}; }

void ticker::beat() {
  auto to = whereis(target_);
  if (!to)
    return;
  (void)self_.send(to, tick{name_, ++sent_}); // a target that just ended misses this one
}

} // namespace proctor::actors
