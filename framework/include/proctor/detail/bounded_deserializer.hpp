#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>
#include <caf/sec.hpp>

namespace proctor::detail {

/// CAF's binary deserializer, refusing any sequence that claims more elements than the bytes that
/// remain can hold. Bytes from another process may be garbage: CAF 0.17 resizes a byte vector (and
/// a std::vector<bool>) to the claimed length before it reads, so four scribbled bytes could make
/// it allocate gigabytes. The densest encoding is a std::vector<bool>'s, eight elements a byte:
/// a claim beyond that is refused (a byte vector's may cost eight times its bytes, for a moment).
class bounded_deserializer final : public caf::deserializer {
 public:
  bounded_deserializer(const char* data, std::size_t size)
    : caf::deserializer(nullptr), inner_(nullptr, data, size) {}

  [[nodiscard]] std::size_t remaining() const noexcept { return inner_.remaining(); }

  caf::error begin_object(std::uint16_t& typenr, std::string& name) override {
    return inner_.begin_object(typenr, name);
  }
  caf::error end_object() override { return inner_.end_object(); }
  caf::error begin_sequence(std::size_t& num) override {
    if (auto err = inner_.begin_sequence(num))
      return err;
    if (num / elements_per_byte > inner_.remaining())
      return caf::sec::end_of_stream;
    return caf::none;
  }
  caf::error end_sequence() override { return inner_.end_sequence(); }
  caf::error apply_raw(std::size_t num_bytes, void* data) override {
    if (num_bytes > inner_.remaining())
      return caf::sec::end_of_stream;
    return inner_.apply_raw(num_bytes, data);
  }

 protected:
  caf::error apply_impl(std::int8_t& x) override { return inner_(x); }
  caf::error apply_impl(std::uint8_t& x) override { return inner_(x); }
  caf::error apply_impl(std::int16_t& x) override { return inner_(x); }
  caf::error apply_impl(std::uint16_t& x) override { return inner_(x); }
  caf::error apply_impl(std::int32_t& x) override { return inner_(x); }
  caf::error apply_impl(std::uint32_t& x) override { return inner_(x); }
  caf::error apply_impl(std::int64_t& x) override { return inner_(x); }
  caf::error apply_impl(std::uint64_t& x) override { return inner_(x); }
  caf::error apply_impl(float& x) override { return inner_(x); }
  caf::error apply_impl(double& x) override { return inner_(x); }
  caf::error apply_impl(long double& x) override { return inner_(x); }
  caf::error apply_impl(std::string& x) override { return inner_(x); }
  caf::error apply_impl(std::u16string& x) override { return inner_(x); }
  caf::error apply_impl(std::u32string& x) override { return inner_(x); }

 private:
  static constexpr std::size_t elements_per_byte = 8; ///< std::vector<bool>: one bit each
  caf::binary_deserializer inner_;
};

} // namespace proctor::detail
