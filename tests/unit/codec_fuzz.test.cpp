// The decoders that read bytes another process wrote (entry arguments, queue items, actor
// messages: one bounded CAF deserializer behind them all) under random values and random damage.
// Seeded: every run tries the same cases, and a failure names its seed and case.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <proctor/detail/codec.hpp>
#include <proctor/detail/item_codec.hpp>
#include <proctor/process_error.hpp>

namespace {

/// A message with every kind of field CAF encodes differently: strings, numbers, nested and
/// associative containers, the bit-packed std::vector<bool>, a byte vector (resized before it is
/// read), a UTF-16 string.
struct rich {
  std::string name;
  std::int64_t id = 0;
  double score = 0;
  std::vector<std::int32_t> numbers;
  std::map<std::string, std::vector<std::string>> tags;
  std::vector<bool> flags;
  std::vector<char> blob;
  std::u16string wide;

  friend bool operator==(const rich&, const rich&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rich& x) {
  return f(x.name, x.id, x.score, x.numbers, x.tags, x.flags, x.blob, x.wide);
}

using args = std::tuple<rich, std::int32_t, std::vector<rich>>;

class generator {
 public:
  explicit generator(std::uint32_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng_);
  }
  std::uint8_t byte() { return static_cast<std::uint8_t>(below(256)); }

  std::string text(std::size_t max) {
    std::string s(below(max + 1), ' ');
    for (auto& c : s)
      c = static_cast<char>(byte());
    return s;
  }

  rich value(int depth = 0) {
    rich r;
    r.name = text(40);
    r.id = static_cast<std::int64_t>(rng_()) << 32 | rng_();
    r.score = std::uniform_real_distribution<double>{-1e9, 1e9}(rng_);
    r.numbers.resize(below(depth == 0 ? 50 : 5));
    for (auto& n : r.numbers)
      n = static_cast<std::int32_t>(rng_());
    for (std::size_t i = below(4); i > 0; --i) {
      auto& list = r.tags[text(8)];
      for (std::size_t j = below(4); j > 0; --j)
        list.push_back(text(12));
    }
    r.flags.resize(below(200));
    for (std::size_t i = 0; i < r.flags.size(); ++i)
      r.flags[i] = below(2) == 1;
    r.blob.resize(below(300));
    for (auto& b : r.blob)
      b = static_cast<char>(byte());
    for (std::size_t i = below(10); i > 0; --i)
      r.wide.push_back(static_cast<char16_t>(below(0x10000)));
    return r;
  }

  args arguments() {
    std::vector<rich> more(below(4));
    for (auto& m : more)
      m = value(1);
    return {value(), static_cast<std::int32_t>(rng_()), std::move(more)};
  }

  /// One to four random injuries: bits flipped, bytes overwritten (with 0xff runs too: lengths
  /// that claim the world), cut short, bytes inserted, a run copied elsewhere.
  void damage(std::string& bytes) {
    for (std::size_t n = 1 + below(4); n > 0; --n) {
      switch (below(6)) {
        case 0:
          if (!bytes.empty())
            bytes[below(bytes.size())] ^= static_cast<char>(1u << below(8));
          break;
        case 1:
          if (!bytes.empty())
            bytes[below(bytes.size())] = static_cast<char>(byte());
          break;
        case 2:
          if (!bytes.empty()) {
            auto at = below(bytes.size());
            for (std::size_t i = at; i < bytes.size() && i < at + 1 + below(9); ++i)
              bytes[i] = '\xff';
          }
          break;
        case 3:
          bytes.resize(below(bytes.size() + 1));
          break;
        case 4:
          bytes.insert(below(bytes.size() + 1), text(16));
          break;
        case 5:
          if (bytes.size() > 2) {
            auto from = below(bytes.size());
            auto len = 1 + below(bytes.size() - from);
            auto chunk = bytes.substr(from, len);
            bytes.insert(below(bytes.size() + 1), chunk);
          }
          break;
      }
    }
  }

 private:
  std::mt19937 rng_;
};

constexpr std::uint32_t seed = 20261123;

} // namespace

TEST_CASE("random values of every encoding survive an encode and decode round trip",
          "[codec][fuzz]") {
  generator gen{seed};
  for (int i = 0; i < 2000; ++i) {
    INFO("seed " << seed << ", case " << i);
    auto in = gen.arguments();
    auto out = proctor::detail::decode_tuple<args>(proctor::detail::encode_tuple(in));
    REQUIRE(out == in);
  }
}

TEST_CASE("a std::vector<bool> crosses whole, however long", "[codec]") {
  for (std::size_t n : {0u, 1u, 3u, 8u, 9u, 100u, 10000u}) {
    INFO(n << " elements");
    std::tuple<std::vector<bool>> in{std::vector<bool>(n)};
    for (std::size_t i = 0; i < n; i += 3)
      std::get<0>(in)[i] = true;
    CHECK(proctor::detail::decode_tuple<decltype(in)>(proctor::detail::encode_tuple(in)) == in);
    std::vector<char> scratch;
    auto bytes = proctor::detail::item_bytes(std::get<0>(in), scratch);
    std::vector<bool> item;
    proctor::detail::decode_item(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(),
                                 item);
    CHECK(item == std::get<0>(in));
  }
}

TEST_CASE("damaged bytes decode to a value or fail with a clear error, never worse",
          "[codec][fuzz]") {
  generator gen{seed};
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    INFO("seed " << seed << ", case " << i);
    auto bytes = proctor::detail::encode_tuple(gen.arguments());
    gen.damage(bytes);
    try {
      (void)proctor::detail::decode_tuple<args>(bytes);
    } catch (const proctor::process_error& e) {
      REQUIRE(e.code() == proctor::process_errc::not_crossable);
      ++refused;
    } catch (const std::exception& e) {
      FAIL("decoding damaged bytes threw something else: " << e.what());
    }
    // The same bytes as a queue item of that type.
    try {
      rich item;
      proctor::detail::decode_item(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(),
                                 item);
    } catch (const proctor::process_error& e) {
      REQUIRE(e.code() == proctor::process_errc::not_crossable);
    } catch (const std::exception& e) {
      FAIL("decoding a damaged queue item threw something else: " << e.what());
    }
  }
  // Most damage is caught: a test whose injuries all passed unnoticed would prove nothing.
  CHECK(refused > 15000);
}
