#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "proctor/detail/codec.hpp"
#include "proctor/entry.hpp"
#include "proctor/serializable.hpp"

namespace proctor::detail {

/// How an item of type T travels through a queue's record:
/// - raw bytes for strings and byte vectors (one copy in, one copy out);
/// - memcpy for other trivially copyable types (both ends run the same binary);
/// - CAF's binary serialization for the rest.
template <class T>
inline constexpr bool is_byte_string_v
  = std::is_same_v<T, std::string> || std::is_same_v<T, std::vector<char>>
    || std::is_same_v<T, std::vector<unsigned char>> || std::is_same_v<T, std::vector<std::byte>>;

/// memcpy unless the type asks for its own encoding with an inspect overload (one that holds a
/// pointer, say, must not travel byte for byte).
template <class T>
inline constexpr bool is_memcpy_item_v
  = !is_byte_string_v<T> && std::is_trivially_copyable_v<T>
    && !caf::detail::is_inspectable<caf::serializer, T>::value;

/// The bytes of `item` as they go into a record: a view of the item itself where possible, else
/// of `scratch`, into which it was serialized. Throws process_error(not_crossable) on failure.
template <class T>
std::string_view item_bytes(const T& item, std::vector<char>& scratch) {
  if constexpr (is_byte_string_v<T>) {
    return {reinterpret_cast<const char*>(item.data()), item.size()};
  } else if constexpr (is_memcpy_item_v<T>) {
    return {reinterpret_cast<const char*>(&item), sizeof(T)};
  } else {
    scratch.clear();
    caf::binary_serializer sink{nullptr, scratch};
    encode_one(sink, item);
    return {scratch.data(), scratch.size()};
  }
}

/// Decodes a record into `out`; throws on a record that does not hold a T.
template <class T>
void decode_item(const std::byte* data, std::size_t size, T& out) {
  if constexpr (is_byte_string_v<T>) {
    using unit = typename T::value_type;
    auto first = reinterpret_cast<const unit*>(data);
    out.assign(first, first + size);
  } else if constexpr (is_memcpy_item_v<T>) {
    if (size != sizeof(T))
      throw_codec_error("a queue record has the wrong size for its type", caf::error{});
    std::memcpy(static_cast<void*>(&out), data, sizeof(T));
  } else {
    bounded_deserializer source{reinterpret_cast<const char*>(data), size};
    decode_one(source, out);
    if (source.remaining() != 0)
      throw_codec_error("trailing bytes after a queue item", caf::error{});
  }
}

/// A number naming T, the same in every process of this binary: a ring refuses to be opened as a
/// queue of another type.
template <class T>
std::uint64_t item_type_tag() {
  std::string_view name = entry_pretty_type<T>();
  std::uint64_t h = 1469598103934665603ull;
  for (char c : name)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

} // namespace proctor::detail
