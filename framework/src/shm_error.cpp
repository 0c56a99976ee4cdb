#include "proctor/shm_error.hpp"

namespace proctor {

std::string_view to_string(shm_errc code) noexcept {
  switch (code) {
    case shm_errc::misuse:
      return "misuse";
    case shm_errc::no_space:
      return "no_space";
    case shm_errc::not_found:
      return "not_found";
    case shm_errc::invalid:
      return "invalid";
    case shm_errc::not_recoverable:
      return "not_recoverable";
    case shm_errc::system:
      return "system";
  }
  return "?";
}

} // namespace proctor
