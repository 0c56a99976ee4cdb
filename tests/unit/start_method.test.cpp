#include <catch2/catch.hpp>

#include <proctor/start_method.hpp>

using proctor::start_method;

TEST_CASE("start methods print and parse by their Python names", "[start_method]") {
  for (auto m : {start_method::fork, start_method::spawn, start_method::forkserver})
    CHECK(proctor::parse_start_method(proctor::to_string(m)) == m);
  CHECK(proctor::to_string(start_method::forkserver) == "forkserver");
  CHECK_FALSE(proctor::parse_start_method("vfork"));
}

TEST_CASE("the default start method is forkserver and can be changed", "[start_method]") {
  CHECK(proctor::get_start_method() == start_method::forkserver);
  proctor::set_start_method(start_method::spawn);
  CHECK(proctor::get_start_method() == start_method::spawn);
  proctor::set_start_method(start_method::forkserver);
}
