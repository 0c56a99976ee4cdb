#include "proctor/actors/state_store.hpp"

#include <charconv>

#include "proctor/actors/register_own_name.hpp"

namespace proctor::actors {

state_store::state_store(actor& self) : self_(self) {}

void state_store::init() { register_own_name(self_); }

behavior state_store::make_behavior() {
  return {
    [this](const store_put& p) { data_[p.key] = p.value; },
    [this](const store_get& g) {
      auto it = data_.find(g.key);
      return it == data_.end() ? store_value{} : store_value{true, it->second};
    },
    [this](const store_increment& i) { return increment(i.key, i.by); },
    [this](const tick& t) { (void)increment("ticks." + t.from, 1); },
  };
}

expected<std::int64_t, actor_error> state_store::increment(const std::string& key,
                                                           std::int64_t by) {
  auto& value = data_[key];
  std::int64_t n = 0;
  if (!value.empty()) {
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc{} || end != value.data() + value.size())
      return actor_error{actor_errc::handler_error,
                         "state_store: the value of '" + key + "' is not an integer: " + value,
                         {}};
  }
  if (__builtin_add_overflow(n, by, &n))
    return actor_error{actor_errc::handler_error, "state_store: '" + key + "' would overflow", {}};
  value = std::to_string(n);
  return n;
}

} // namespace proctor::actors
