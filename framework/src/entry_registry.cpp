#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "proctor/entry.hpp"

namespace proctor::detail {

namespace {

/// Filled during static initialization (single-threaded), read-only afterwards.
std::map<std::string, entry_invoker, std::less<>>& registry() {
  static std::map<std::string, entry_invoker, std::less<>> entries;
  return entries;
}

std::string_view between(std::string_view s, std::string_view open, char close) {
  auto from = s.find(open);
  if (from == std::string_view::npos)
    return s;
  from += open.size();
  auto to = s.find(close, from);
  return s.substr(from, to == std::string_view::npos ? s.npos : to - from);
}

} // namespace

std::string make_entry_key(std::string_view pretty_name, std::string_view pretty_type,
                           entry_invoker anchor) {
  // GCC and Clang spell these "... [with auto F = app::square; ...]" / "... [F = app::square]".
  auto name = between(pretty_name, "F = ", ';');
  if (name.ends_with(']'))
    name.remove_suffix(1);
  auto type = between(pretty_type, "T = ", ';');
  if (type.ends_with(']'))
    type.remove_suffix(1);
  std::string key = std::string{name} + " : " + std::string{type};
  Dl_info where{};
  auto address = reinterpret_cast<const char*>(anchor);
  if (::dladdr(reinterpret_cast<const void*>(anchor), &where) != 0 && where.dli_fbase != nullptr) {
    std::string_view module = where.dli_fname != nullptr ? where.dli_fname : "";
    module = module.substr(module.rfind('/') + 1);
    char offset[32];
    std::snprintf(offset, sizeof(offset), "+%tx",
                  address - static_cast<const char*>(where.dli_fbase));
    key += " @ " + std::string{module} + offset;
  }
  return key;
}

const std::string& register_entry(std::string key, entry_invoker invoke) {
  auto [pos, added] = registry().emplace(std::move(key), invoke);
  if (!added && pos->second != invoke) {
    std::fprintf(stderr, "proctor: two entry points share the key '%s'\n", pos->first.c_str());
    std::abort();
  }
  return pos->first;
}

entry_invoker find_entry(std::string_view key) noexcept {
  auto& entries = registry();
  auto pos = entries.find(key);
  return pos == entries.end() ? nullptr : pos->second;
}

} // namespace proctor::detail
