#pragma once

#include <type_traits>

#include <caf/detail/type_traits.hpp>

namespace proctor {

/// A value that can cross a process boundary by value: a type with a CAF `inspect` overload (or
/// one CAF knows: arithmetic types, strings, standard containers of such), or a trivially copyable
/// type that is not a pointer (copied byte for byte).
/// @note A trivially copyable struct that holds a pointer passes this check but its pointer means
///       nothing in another process: give such a type an `inspect` overload, or do not send it.
template <class T>
concept serializable
  = !std::is_pointer_v<T> && !std::is_member_pointer_v<T> && !std::is_reference_v<T>
    && (caf::detail::is_serializable<T>::value || std::is_trivially_copyable_v<T>);

} // namespace proctor
