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
