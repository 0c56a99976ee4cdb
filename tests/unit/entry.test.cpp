#include <catch2/catch.hpp>

#include <string>

#include <proctor/entry.hpp>

namespace app {
int last = 0;
void set_last(int v) { last = v; }
void overloaded(int v) { last = v; }
void overloaded(std::string s) { last = static_cast<int>(s.size()); }
} // namespace app

TEST_CASE("naming an entry point registers it under its qualified name", "[entry]") {
  const auto& key = proctor::entry_t<app::set_last>::key();
  CHECK(key.find("app::set_last") != std::string::npos);
  auto invoke = proctor::detail::find_entry(key);
  REQUIRE(invoke != nullptr);
  invoke(proctor::detail::encode_tuple(std::make_tuple(41)));
  CHECK(app::last == 41);
}

TEST_CASE("overloads of one name are distinct entry points", "[entry]") {
  constexpr auto by_int = static_cast<void (*)(int)>(app::overloaded);
  constexpr auto by_string = static_cast<void (*)(std::string)>(app::overloaded);
  const auto& a = proctor::entry_t<by_int>::key();
  const auto& b = proctor::entry_t<by_string>::key();
  CHECK(a != b);
  proctor::detail::find_entry(b)(proctor::detail::encode_tuple(std::make_tuple(std::string(5, 'x'))));
  CHECK(app::last == 5);
}

TEST_CASE("an unknown entry key finds nothing", "[entry]") {
  CHECK(proctor::detail::find_entry("no::such : void (*)()") == nullptr);
}

namespace {
void same_name_elsewhere(int v) { app::last = -v; }
} // namespace

namespace other {
namespace {
void same_name_elsewhere(int v) { app::last = v * 2; }
} // namespace
} // namespace other

TEST_CASE("functions of one name with internal linkage are distinct entry points", "[entry]") {
  const auto& a = proctor::entry_t<same_name_elsewhere>::key();
  const auto& b = proctor::entry_t<other::same_name_elsewhere>::key();
  CHECK(a != b);
  proctor::detail::find_entry(b)(proctor::detail::encode_tuple(std::make_tuple(21)));
  CHECK(app::last == 42);
}

namespace {
void twin_job(int v) { app::last = v + 1000; }
} // namespace

const std::string& codec_twin_job_key(); // the other twin_job, in codec.test.cpp

TEST_CASE("functions of one name in two files are distinct entry points", "[entry]") {
  const auto& mine = proctor::entry_t<twin_job>::key();
  CHECK(mine != codec_twin_job_key());
  proctor::detail::find_entry(mine)(proctor::detail::encode_tuple(std::make_tuple(1)));
  CHECK(app::last == 1001);
}
