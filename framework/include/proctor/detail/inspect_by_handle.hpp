#pragma once

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "proctor/shared_segment.hpp"

namespace proctor::detail {

/// The inspect() of every object that lives in a shared segment: it travels as its segment's
/// handle, and a receiving process maps it again with `T::open(handle)`. `h` is the handle to
/// send (what the caller's object has; anything while loading, when it is overwritten).
template <class T, class Inspector>
typename Inspector::result_type inspect_by_handle(Inspector& f, T& x, const char* type_name,
                                                  segment_handle h) {
  auto reopen = [&]() -> caf::error {
    x = T::open(h);
    return caf::none;
  };
  return f(caf::meta::type_name(type_name), h, caf::meta::load_callback(reopen));
}

} // namespace proctor::detail
