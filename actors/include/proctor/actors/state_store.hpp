#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <caf/meta/type_name.hpp>

#include "proctor/actor.hpp"
#include "proctor/actors/tick.hpp"
#include "proctor/behavior.hpp"
#include "proctor/message.hpp"

namespace proctor::actors {

/// Sets `key` to `value`; as a request, answered with an ok_msg.
struct store_put {
  std::string key;
  std::string value;
};

/// A request for the value of `key`: answered with a store_value.
struct store_get {
  std::string key;
};

/// The answer to store_get.
struct store_value {
  bool found = false;
  std::string value;
};

/// Adds `by` to the integer held by `key` (0 if absent); as a request, answered with the new
/// value (an int64), or with an error if the key holds something that is not an integer.
struct store_increment {
  std::string key;
  std::int64_t by = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_put& x) {
  return f(caf::meta::type_name("proctor::actors::store_put"), x.key, x.value);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_get& x) {
  return f(caf::meta::type_name("proctor::actors::store_get"), x.key);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_value& x) {
  return f(caf::meta::type_name("proctor::actors::store_value"), x.found, x.value);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_increment& x) {
  return f(caf::meta::type_name("proctor::actors::store_increment"), x.key, x.by);
}

/// A key -> value store with one owner: the state the seeds kept in globals that their processes
/// could not share. Every change is a message, handled one at a time, so no lock is needed.
/// Values are strings; store_increment treats a value as a decimal integer (as Redis's INCRBY).
/// A tick increments the key "ticks.<ticker name>". The state lives in the actor's process: a
/// restart begins empty (the messages queued meanwhile are kept, as for every supervised actor).
///
/// Catalog: `state_store()`.
class state_store {
 public:
  explicit state_store(actor& self);

  /// Registers its name (see register_own_name).
  void init();
  behavior make_behavior();

 private:
  expected<std::int64_t, actor_error> increment(const std::string& key, std::int64_t by);

  actor& self_;
  std::map<std::string, std::string> data_;
};

} // namespace proctor::actors

PROCTOR_MESSAGE(proctor::actors::store_put, "proctor.actors.store_put");
PROCTOR_MESSAGE(proctor::actors::store_get, "proctor.actors.store_get");
PROCTOR_MESSAGE(proctor::actors::store_value, "proctor.actors.store_value");
PROCTOR_MESSAGE(proctor::actors::store_increment, "proctor.actors.store_increment");
