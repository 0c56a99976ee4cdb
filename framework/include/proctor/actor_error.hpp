#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

#include "proctor/exit_reason.hpp"

namespace proctor {

/// What went wrong with a message or a request.
enum class actor_errc : std::uint8_t {
  timeout,        ///< No reply within the request's timeout.
  down,           ///< The receiver ended before replying; `reason` says why.
  noproc,         ///< There is no such actor (it ended, or its mailbox is gone).
  mailbox_full,   ///< The receiver's mailbox stayed full (overflow policy block or fail).
  too_large,      ///< The message does not fit the receiver's mailbox at all.
  unhandled,      ///< The receiver has no handler for the request's type.
  bad_reply,      ///< The reply is not of the type the requester expected, or does not decode.
  serialization,  ///< The message could not be encoded.
  handler_error,  ///< The handler answered with an error of its own (`message`).
  spawn_failed,   ///< The actor did not start (init threw, it died, or the start timed out).
  misuse,         ///< A call the API does not allow here.
  no_resources,   ///< This process could not map the receiver's mailbox (out of file
                  ///< descriptors, memory mappings or memory): the receiver may well be alive.
};

/// An error as a value: a code, a message and, for `down`, the receiver's exit reason. Travels
/// between processes as the reply to a request that failed.
struct actor_error {
  actor_errc code = actor_errc::misuse;
  std::string message{};
  exit_reason reason{};

  /// A handler's own error, as its request's answer: `return actor_error::handler("no such key");`
  [[nodiscard]] static actor_error handler(std::string why) {
    return {actor_errc::handler_error, std::move(why), {}};
  }

  friend bool operator==(const actor_error&, const actor_error&) = default;
};

[[nodiscard]] const char* to_string(actor_errc c) noexcept;
/// "timeout: no reply from <actor …> within 100 ms", "down: exception: boom", ...
[[nodiscard]] std::string to_string(const actor_error& e);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_error& x) {
  return f(caf::meta::type_name("proctor::actor_error"), x.code, x.message, x.reason);
}

} // namespace proctor
