#include "proctor/actors/prime_worker.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "proctor/actors/register_own_name.hpp"
#include "proctor/registry.hpp"

namespace proctor::actors {

std::int64_t primes_in(std::int64_t from, std::int64_t to) noexcept {
  std::int64_t n = 0;
  for (auto k = std::max<std::int64_t>(from, 2); k < to; ++k) {
    bool prime = true;
    for (std::int64_t d = 2; d * d <= k; ++d)
      if (k % d == 0) {
        prime = false;
        break;
      }
    n += prime ? 1 : 0;
  }
  return n;
}

prime_worker::prime_worker(actor& self, std::string report_to, std::int64_t chunk)
  : self_(self), report_to_(std::move(report_to)), chunk_(chunk) {}

void prime_worker::init() {
  if (chunk_ < 1)
    throw std::invalid_argument("prime_worker: chunk must be at least 1, not "
                                + std::to_string(chunk_));
  register_own_name(self_);
}

behavior prime_worker::make_behavior() {
  return {
    [](const count_primes& r) { return primes_in(r.from, r.to); },
    [this](const tick&) { next_chunk(); },
  };
}

void prime_worker::next_chunk() {
  auto from = next_;
  next_ += chunk_;
  auto n = primes_in(from, next_);
  found_ += n;
  if (report_to_.empty())
    return;
  if (auto to = whereis(report_to_))
    (void)self_.send(to, std::to_string(n) + " primes in [" + std::to_string(from) + ", "
                           + std::to_string(next_) + "), " + std::to_string(found_) + " so far");
}

} // namespace proctor::actors
