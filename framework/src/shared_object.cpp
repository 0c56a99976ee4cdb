#include "proctor/detail/shared_object.hpp"

#include <string>

#include "proctor/shm_error.hpp"

namespace proctor::detail {

namespace {

std::atomic_ref<std::uint32_t> magic_of(void* data) noexcept {
  return std::atomic_ref<std::uint32_t>{*static_cast<std::uint32_t*>(data)};
}

} // namespace

shared_object shared_object::create(std::size_t size) {
  auto segment = std::make_shared<shared_segment>(
    shared_segment::create(size < sizeof(std::uint32_t) ? sizeof(std::uint32_t) : size));
  void* data = segment->data();
  return shared_object{std::move(segment), data};
}

shared_object shared_object::open(const segment_handle& handle, std::size_t size,
                                  std::uint32_t magic, std::string_view what) {
  auto not_mine = [&] {
    return shm_error(shm_errc::invalid, std::string{what} + ": " + handle.name
                                          + " does not hold a " + std::string{what});
  };
  if (handle.size != size)
    throw not_mine();
  auto segment = std::make_shared<shared_segment>(shared_segment::open(handle));
  void* data = segment->data();
  if (magic_of(data).load(std::memory_order_acquire) != magic)
    throw not_mine();
  return shared_object{std::move(segment), data};
}

void shared_object::publish(std::uint32_t magic) const noexcept {
  magic_of(data_).store(magic, std::memory_order_release);
}

void* shared_object::get(std::string_view what) const {
  if (data_ == nullptr)
    throw shm_error(shm_errc::misuse, "use of an empty or moved-from " + std::string{what});
  return data_;
}

segment_handle shared_object::handle(std::string_view what) const {
  (void)get(what);
  return segment_->handle();
}

} // namespace proctor::detail
