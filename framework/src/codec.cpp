#include "proctor/detail/codec.hpp"

#include <caf/error.hpp>

#include "proctor/process_error.hpp"

namespace proctor::detail {

void throw_codec_error(const char* what, const caf::error& err) {
  std::string msg = what;
  if (err)
    msg += " (CAF error code " + std::to_string(static_cast<int>(err.code())) + ")";
  throw process_error(process_errc::not_crossable, msg);
}

} // namespace proctor::detail
