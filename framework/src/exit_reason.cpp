#include "proctor/exit_reason.hpp"

#include <string.h>

namespace proctor {

const char* to_string(exit_kind k) noexcept {
  switch (k) {
    case exit_kind::normal: return "normal";
    case exit_kind::shutdown: return "shutdown";
    case exit_kind::exception: return "exception";
    case exit_kind::exit_code: return "exit code";
    case exit_kind::signal: return "signal";
    case exit_kind::killed: return "killed";
    case exit_kind::unresponsive: return "unresponsive";
    case exit_kind::mailbox_corrupt: return "mailbox corrupt";
    case exit_kind::noproc: return "noproc";
    case exit_kind::user: return "user";
  }
  return "unknown";
}

std::string to_string(const exit_reason& r) {
  std::string s;
  switch (r.kind) {
    case exit_kind::exit_code:
      s = "exit code " + std::to_string(r.code);
      break;
    case exit_kind::signal: {
      s = "signal " + std::to_string(r.code);
      if (const char* abbrev = ::sigabbrev_np(r.code))
        s += std::string{" (SIG"} + abbrev + ")";
      if (r.core_dumped)
        s += ", core dumped";
      break;
    }
    case exit_kind::user:
      return r.detail.empty() ? "user" : r.detail;
    default:
      s = to_string(r.kind);
  }
  if (!r.detail.empty())
    s += ": " + r.detail;
  return s;
}

} // namespace proctor
