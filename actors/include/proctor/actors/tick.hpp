#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

#include "proctor/message.hpp"

namespace proctor::actors {

/// A beat sent by a ticker; what the other ready-made actors react to.
struct tick {
  std::string from;    ///< The ticker's name.
  std::uint64_t n = 0; ///< 1 for its first tick, then counting up (from 1 again after a restart).
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tick& x) {
  return f(caf::meta::type_name("proctor::actors::tick"), x.from, x.n);
}

} // namespace proctor::actors

PROCTOR_MESSAGE(proctor::actors::tick, "proctor.actors.tick");
