#include "proctor/catalog_error.hpp"

namespace proctor {

const char* to_string(catalog_errc code) noexcept {
  switch (code) {
    case catalog_errc::unknown_actor:
      return "unknown_actor";
    case catalog_errc::argument_count:
      return "argument_count";
    case catalog_errc::argument_type:
      return "argument_type";
    case catalog_errc::argument_range:
      return "argument_range";
  }
  return "unknown catalog error";
}

std::string to_string(const catalog_error& e) { return e.message; }

} // namespace proctor
