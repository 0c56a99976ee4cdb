#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <proctor/detail/codec.hpp>
#include <proctor/entry.hpp>
#include <proctor/process_error.hpp>
#include <proctor/serializable.hpp>

namespace {

struct point {   // trivially copyable: copied byte for byte
  double x, y;
};

struct order {   // has an inspect overload: goes through CAF
  std::string item;
  int quantity = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order& x) {
  return f(x.item, x.quantity);
}

struct holder {  // neither
  std::vector<int> values;
};

} // namespace

static_assert(proctor::serializable<int>);
static_assert(proctor::serializable<std::string>);
static_assert(proctor::serializable<std::vector<std::string>>);
static_assert(proctor::serializable<point>);
static_assert(proctor::serializable<order>);
static_assert(!proctor::serializable<int*>);
static_assert(!proctor::serializable<const char*>);
static_assert(!proctor::serializable<holder>);

TEST_CASE("arguments survive an encode and decode round trip", "[codec]") {
  std::tuple<int, std::string, point, order, std::vector<std::string>, std::map<std::string, int>>
    in{-7, "bob", point{1.5, -2.5}, order{"tea", 3}, {"a", "", "c"}, {{"k", 1}}};
  auto bytes = proctor::detail::encode_tuple(in);
  auto out = proctor::detail::decode_tuple<decltype(in)>(bytes);
  CHECK(std::get<0>(out) == -7);
  CHECK(std::get<1>(out) == "bob");
  CHECK(std::get<2>(out).x == 1.5);
  CHECK(std::get<2>(out).y == -2.5);
  CHECK(std::get<3>(out).item == "tea");
  CHECK(std::get<3>(out).quantity == 3);
  CHECK(std::get<4>(out) == std::vector<std::string>{"a", "", "c"});
  CHECK(std::get<5>(out).at("k") == 1);
}

TEST_CASE("truncated or padded argument bytes are a clear error", "[codec]") {
  auto bytes = proctor::detail::encode_tuple(std::make_tuple(std::string(100, 'x'), 42));
  using args = std::tuple<std::string, int>;
  for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    INFO("cut at " << cut);
    CHECK_THROWS_AS(proctor::detail::decode_tuple<args>(bytes.substr(0, cut)),
                    proctor::process_error);
  }
  CHECK_THROWS_AS(proctor::detail::decode_tuple<args>(bytes + "!"), proctor::process_error);
}

TEST_CASE("a corrupt length prefix does not allocate without bound", "[codec]") {
  // A string whose length field claims far more bytes than follow.
  std::string bytes(16, '\xff');
  CHECK_THROWS_AS(proctor::detail::decode_tuple<std::tuple<std::string>>(bytes),
                  proctor::process_error);
}

// A twin of the entry point of the same name in entry.test.cpp: both have internal linkage, and
// must not collide in the registry (see "functions of one name in two files...").
namespace {
void twin_job(int v) { (void)v; }
} // namespace

const std::string& codec_twin_job_key() {
  return proctor::entry_t<twin_job>::key();
}
