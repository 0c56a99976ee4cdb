#include "proctor/process_error.hpp"

namespace proctor {

std::string_view to_string(process_errc code) noexcept {
  switch (code) {
    case process_errc::misuse:
      return "misuse";
    case process_errc::closed:
      return "closed";
    case process_errc::not_crossable:
      return "not_crossable";
    case process_errc::multithreaded:
      return "multithreaded";
    case process_errc::no_init:
      return "no_init";
    case process_errc::system:
      return "system";
    case process_errc::forkserver_lost:
      return "forkserver_lost";
  }
  return "?";
}

} // namespace proctor
