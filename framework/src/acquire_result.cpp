#include "proctor/acquire_result.hpp"

namespace proctor {

std::string_view to_string(acquire_result r) noexcept {
  switch (r) {
    case acquire_result::acquired:
      return "acquired";
    case acquire_result::acquired_owner_died:
      return "acquired_owner_died";
    case acquire_result::timeout:
      return "timeout";
  }
  return "?";
}

} // namespace proctor
