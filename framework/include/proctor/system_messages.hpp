#pragma once

#include <cstdint>

#include <caf/meta/type_name.hpp>

#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/exit_reason.hpp"
#include "proctor/message.hpp"

namespace proctor {

/// Delivered once per monitor() call when the monitored actor ends (Erlang's 'DOWN'). Messages
/// the actor sent before it ended arrive first.
struct down_msg {
  actor_ref source;
  exit_reason reason;
  std::uint64_t monitor_id = 0; ///< What monitor() returned.
};

/// Delivered to an actor that traps exits when a linked actor ends (Erlang's {'EXIT', From,
/// Reason}), or when another actor sends it an exit signal.
struct exit_msg {
  actor_ref source;
  exit_reason reason;
};

/// The reply to a request whose handler returns nothing.
struct ok_msg {};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, down_msg& x) {
  return f(caf::meta::type_name("proctor::down_msg"), x.source, x.reason, x.monitor_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_msg& x) {
  return f(caf::meta::type_name("proctor::exit_msg"), x.source, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ok_msg&) {
  return f(caf::meta::type_name("proctor::ok_msg"));
}

} // namespace proctor

PROCTOR_MESSAGE(proctor::down_msg, "proctor.down");
PROCTOR_MESSAGE(proctor::exit_msg, "proctor.exit");
PROCTOR_MESSAGE(proctor::ok_msg, "proctor.ok");
PROCTOR_MESSAGE(proctor::actor_error, "proctor.error");
