#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

#include "proctor/message.hpp"

namespace proctor::detail {

namespace {

struct message_table {
  std::mutex mu;
  std::unordered_map<std::uint64_t, std::string> names;
};

message_table& table() {
  static auto* t = new message_table; // filled during static initialization, read until exit
  return *t;
}

} // namespace

bool register_message_type(std::uint64_t id, std::string_view name, std::string_view cxx_type) {
  auto& t = table();
  std::lock_guard guard{t.mu};
  auto [it, added] = t.names.emplace(id, std::string{name});
  if (!added && it->second != name) {
    std::fprintf(stderr,
                 "proctor: message names '%s' and '%.*s' (%.*s) share wire id %016llx: rename one\n",
                 it->second.c_str(), static_cast<int>(name.size()), name.data(),
                 static_cast<int>(cxx_type.size()), cxx_type.data(),
                 static_cast<unsigned long long>(id));
    std::abort();
  }
  return true;
}

std::string message_type_name(std::uint64_t id) {
  auto& t = table();
  std::lock_guard guard{t.mu};
  if (auto it = t.names.find(id); it != t.names.end())
    return it->second;
  char buf[40];
  std::snprintf(buf, sizeof buf, "unknown type %016llx", static_cast<unsigned long long>(id));
  return buf;
}

} // namespace proctor::detail
