#include "proctor/actor_error.hpp"

#include "proctor/spawn.hpp"

namespace proctor {

const char* to_string(actor_errc c) noexcept {
  switch (c) {
    case actor_errc::timeout: return "timeout";
    case actor_errc::down: return "down";
    case actor_errc::noproc: return "noproc";
    case actor_errc::mailbox_full: return "mailbox full";
    case actor_errc::too_large: return "too large";
    case actor_errc::unhandled: return "unhandled";
    case actor_errc::bad_reply: return "bad reply";
    case actor_errc::serialization: return "serialization";
    case actor_errc::handler_error: return "handler error";
    case actor_errc::spawn_failed: return "spawn failed";
    case actor_errc::misuse: return "misuse";
    case actor_errc::no_resources: return "no resources";
  }
  return "unknown";
}

std::string to_string(const actor_error& e) {
  std::string s = to_string(e.code);
  if (!e.message.empty())
    s += ": " + e.message;
  if (e.code == actor_errc::down)
    s += " (" + to_string(e.reason) + ")";
  return s;
}

spawn_error::spawn_error(actor_error e) : std::runtime_error(to_string(e)), error_(std::move(e)) {}

} // namespace proctor
