#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "proctor/detail/bounded_deserializer.hpp"
#include "proctor/serializable.hpp"

namespace proctor::detail {

/// Throws process_error(not_crossable) with CAF's reason. Defined in codec.cpp.
[[noreturn]] void throw_codec_error(const char* what, const caf::error& err);

template <class T>
void encode_one(caf::binary_serializer& sink, const T& x) {
  if constexpr (caf::detail::is_serializable<T>::value) {
    if (auto err = sink(const_cast<T&>(x)))
      throw_codec_error("cannot serialize an argument", err);
  } else {
    static_assert(std::is_trivially_copyable_v<T>);
    if (auto err = sink.apply_raw(sizeof(T), const_cast<T*>(&x)))
      throw_codec_error("cannot serialize an argument", err);
  }
}

template <class T>
void decode_one(caf::deserializer& source, T& x) {
  if constexpr (caf::detail::is_serializable<T>::value) {
    if (auto err = source(x))
      throw_codec_error("cannot deserialize an argument", err);
  } else {
    if (auto err = source.apply_raw(sizeof(T), &x))
      throw_codec_error("cannot deserialize an argument", err);
  }
}

/// Serializes every element of a tuple into one byte string.
template <class... Ts>
std::string encode_tuple(const std::tuple<Ts...>& values) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  std::apply([&](const auto&... xs) { (encode_one(sink, xs), ...); }, values);
  return std::string{buf.begin(), buf.end()};
}

/// The object a value is decoded into: `T::blank()` where a type offers one (a queue, say, whose
/// default constructor would create a segment only to drop it), else `T{}`.
template <class T>
T blank_value() {
  if constexpr (requires { { T::blank() } -> std::same_as<T>; })
    return T::blank();
  else
    return T{};
}

template <class Tuple>
struct blank_tuple;

template <class... Ts>
struct blank_tuple<std::tuple<Ts...>> {
  static std::tuple<Ts...> make() { return std::tuple<Ts...>{blank_value<Ts>()...}; }
};

/// Restores a tuple written by encode_tuple; throws on truncated or trailing bytes.
template <class Tuple>
Tuple decode_tuple(std::string_view bytes) {
  Tuple values = blank_tuple<Tuple>::make();
  bounded_deserializer source{bytes.data(), bytes.size()};
  std::apply([&](auto&... xs) { (decode_one(source, xs), ...); }, values);
  if (source.remaining() != 0)
    throw_codec_error("trailing bytes after the arguments", caf::error{});
  return values;
}

} // namespace proctor::detail
