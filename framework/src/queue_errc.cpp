#include "proctor/queue_errc.hpp"

namespace proctor {

std::string_view to_string(queue_errc code) noexcept {
  switch (code) {
    case queue_errc::empty:
      return "empty";
    case queue_errc::full:
      return "full";
    case queue_errc::closed:
      return "closed";
    case queue_errc::too_large:
      return "too_large";
    case queue_errc::serialization:
      return "serialization";
    case queue_errc::corrupt:
      return "corrupt";
  }
  return "?";
}

} // namespace proctor
