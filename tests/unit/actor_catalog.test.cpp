#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <proctor/actor_catalog.hpp>

using proctor::actor_catalog;
using proctor::catalog_errc;
using proctor::catalog_value;
using proctor::child_start;

namespace catalog_test {

/// A class actor with one parameter of each kind a catalog fills.
class probe {
 public:
  probe(proctor::actor&, std::string, std::int32_t, double, bool) {}
  proctor::behavior make_behavior() { return {}; }
};

/// A function actor: its parameters come from its signature.
proctor::behavior small(proctor::actor&, std::uint8_t, const std::string&) { return {}; }

/// A class actor without parameters.
class plain {
 public:
  proctor::behavior make_behavior() { return {}; }
};

actor_catalog make_catalog() {
  actor_catalog c;
  c.add<probe, std::string, std::int32_t, double, bool>("probe", "name, n, ratio, loud");
  c.add<small>("small");
  c.add<plain>("plain");
  return c;
}

bool same(const child_start& a, const child_start& b) {
  return a.key == b.key && a.args == b.args && a.actor == b.actor;
}

} // namespace catalog_test

using namespace catalog_test;

TEST_CASE("a catalog makes the same child start as proctor::child", "[actor_catalog]") {
  auto catalog = make_catalog();
  auto start = catalog.child("probe", {std::string{"x"}, std::int64_t{5}, 1.5, true});
  REQUIRE(start);
  CHECK(same(*start, proctor::child<probe>(std::string{"x"}, std::int32_t{5}, 1.5, true)));

  auto none = catalog.child("plain", {});
  REQUIRE(none);
  CHECK(same(*none, proctor::child<plain>()));
}

TEST_CASE("a function actor's parameters come from its signature", "[actor_catalog]") {
  auto catalog = make_catalog();
  auto* e = catalog.find("small");
  REQUIRE(e != nullptr);
  CHECK(e->parameters == std::vector<std::string_view>{"uint8", "string"});
  auto start = catalog.child("small", {std::int64_t{200}, std::string{"s"}});
  REQUIRE(start);
  CHECK(same(*start, proctor::child<small>(std::uint8_t{200}, std::string{"s"})));
}

TEST_CASE("an integer fills a floating-point parameter, a float never fills an integer one",
          "[actor_catalog]") {
  auto catalog = make_catalog();
  auto from_int =
    catalog.child("probe", {std::string{"x"}, std::int64_t{5}, std::int64_t{2}, false});
  REQUIRE(from_int);
  CHECK(same(*from_int, proctor::child<probe>(std::string{"x"}, std::int32_t{5}, 2.0, false)));

  auto from_float = catalog.child("probe", {std::string{"x"}, 5.0, 2.0, false});
  REQUIRE_FALSE(from_float);
  CHECK(from_float.error().code == catalog_errc::argument_type);
}

TEST_CASE("an unknown actor name is an error that lists the known names", "[actor_catalog]") {
  auto catalog = make_catalog();
  auto start = catalog.child("prob", {});
  REQUIRE_FALSE(start);
  CHECK(start.error().code == catalog_errc::unknown_actor);
  CHECK(start.error().message
        == "no actor named 'prob' in the catalog (known: plain, probe, small)");
}

TEST_CASE("a wrong number of arguments is an error that shows the parameters", "[actor_catalog]") {
  auto catalog = make_catalog();
  auto start = catalog.child("small", {std::int64_t{1}});
  REQUIRE_FALSE(start);
  CHECK(start.error().code == catalog_errc::argument_count);
  CHECK(start.error().message == "actor 'small' takes 2 arguments (uint8, string), not 1");
}

TEST_CASE("an argument of the wrong type is an error that names it", "[actor_catalog]") {
  auto catalog = make_catalog();
  auto start = catalog.child("probe", {std::string{"x"}, std::string{"five"}, 1.0, true});
  REQUIRE_FALSE(start);
  CHECK(start.error().code == catalog_errc::argument_type);
  CHECK(start.error().argument == 1);
  CHECK(start.error().message
        == "actor 'probe', argument 2 (int32): expected an integer, not the string \"five\"");

  auto flag = catalog.child("probe", {std::string{"x"}, std::int64_t{1}, 1.0, std::int64_t{1}});
  REQUIRE_FALSE(flag);
  CHECK(flag.error().argument == 3);
  CHECK(flag.error().message
        == "actor 'probe', argument 4 (bool): expected a bool, not the integer 1");
}

TEST_CASE("an integer out of its parameter's range is an error", "[actor_catalog]") {
  auto catalog = make_catalog();
  for (std::int64_t n : {std::int64_t{256}, std::int64_t{-1}}) {
    auto start = catalog.child("small", {n, std::string{"s"}});
    REQUIRE_FALSE(start);
    CHECK(start.error().code == catalog_errc::argument_range);
    CHECK(start.error().argument == 0);
    CHECK(start.error().message
          == "actor 'small', argument 1 (uint8): " + std::to_string(n) + " is out of range");
  }
  auto wide = catalog.child("probe", {std::string{"x"}, std::int64_t{1} << 40, 1.0, true});
  REQUIRE_FALSE(wide);
  CHECK(wide.error().code == catalog_errc::argument_range);
}

TEST_CASE("a catalog refuses an empty name and a name used twice", "[actor_catalog]") {
  auto catalog = make_catalog();
  CHECK_THROWS_AS(catalog.add<plain>("plain"), std::invalid_argument);
  CHECK_THROWS_AS(catalog.add<plain>(""), std::invalid_argument);
}

TEST_CASE("a catalog lists its actors by name with their parameter types", "[actor_catalog]") {
  auto catalog = make_catalog();
  auto entries = catalog.entries();
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "plain");
  CHECK(entries[0].parameters.empty());
  CHECK(entries[1].name == "probe");
  CHECK(entries[1].parameters
        == std::vector<std::string_view>{"string", "int32", "double", "bool"});
  CHECK(entries[1].description == "name, n, ratio, loud");
  CHECK(entries[2].name == "small");
  CHECK(to_string(catalog_errc::argument_range) == std::string{"argument_range"});
}
