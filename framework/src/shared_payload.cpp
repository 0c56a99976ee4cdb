#include "proctor/detail/shared_payload.hpp"

#include <new>

namespace proctor::detail {

namespace {

/// The start of a value's or array's segment.
struct payload_header {
  std::atomic<std::uint32_t> magic;
  std::uint32_t element_size;
  std::uint64_t count;
};

/// "pVal" in ASCII.
constexpr std::uint32_t payload_magic = 0x6c615670;

constexpr std::size_t data_offset(std::size_t align) noexcept {
  return (sizeof(payload_header) + align - 1) / align * align;
}

} // namespace

shared_object payload_create(std::size_t element_size, std::size_t align, std::size_t count) {
  auto payload = shared_object::create(data_offset(align) + element_size * count);
  auto& header = *new (payload.get("value or array")) payload_header{};
  header.element_size = static_cast<std::uint32_t>(element_size);
  header.count = count;
  payload.publish(payload_magic);
  return payload;
}

shared_object payload_open(const segment_handle& handle, std::size_t element_size,
                           std::size_t align, std::size_t count) {
  auto payload = shared_object::open(handle, data_offset(align) + element_size * count,
                                     payload_magic, "value or array");
  auto& header = *static_cast<payload_header*>(payload.get("value or array"));
  if (header.element_size != element_size || header.count != count)
    throw shm_error(shm_errc::invalid, "value or array: " + handle.name
                                         + " holds elements of another size or number");
  return payload;
}

void* payload_data(const shared_object& payload, std::size_t align) {
  return static_cast<char*>(payload.get("value or array")) + data_offset(align);
}

} // namespace proctor::detail
