#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

namespace proctor {

namespace detail {
struct ref_data;
class mailbox_link;
} // namespace detail

/// Names an actor: the address of its mailbox. Small (one pointer), comparable, hashable,
/// printable, and sendable inside messages to any process of the node.
///
/// A ref addresses the mailbox, not a pid: messages sent to it wait there until the actor takes
/// them. Once the actor has ended, sends to its ref fail with `noproc` (or are dropped by a plain
/// `send`, as in Erlang), and monitors on it fire at once.
/// @note Copies are cheap and thread-safe; a default-constructed ref names no actor.
class actor_ref {
 public:
  actor_ref() noexcept = default;

  /// The actor's id: unique within the node (64 random bits).
  [[nodiscard]] std::uint64_t id() const noexcept;
  [[nodiscard]] explicit operator bool() const noexcept { return data_ != nullptr; }

  /// The name given at spawn (may be empty).
  [[nodiscard]] std::string name() const;

  friend bool operator==(const actor_ref& a, const actor_ref& b) noexcept { return a.id() == b.id(); }
  friend auto operator<=>(const actor_ref& a, const actor_ref& b) noexcept { return a.id() <=> b.id(); }

  /// Internal: the shared data (mailbox name and cached mapping).
  [[nodiscard]] const std::shared_ptr<detail::ref_data>& data() const noexcept { return data_; }
  explicit actor_ref(std::shared_ptr<detail::ref_data> d) noexcept : data_(std::move(d)) {}

 private:
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, actor_ref& x);

  /// For inspect(): the mailbox name, and a ref rebuilt from a decoded one.
  [[nodiscard]] std::string cell_name() const;
  static actor_ref from_wire(std::uint64_t id, const std::string& cell_name);

  std::shared_ptr<detail::ref_data> data_;
};

/// "<actor name#1a2b3c4d pid 1234>", or "<no actor>".
[[nodiscard]] std::string to_string(const actor_ref& r);
std::ostream& operator<<(std::ostream& os, const actor_ref& r);

/// A ref travels as its id and its mailbox's segment name; the receiver maps it when it first
/// sends to it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_ref& x) {
  std::uint64_t id = x.id();
  std::string cell = x.cell_name();
  auto rebuild = [&]() -> caf::error {
    x = id == 0 ? actor_ref{} : actor_ref::from_wire(id, cell);
    return caf::none;
  };
  return f(caf::meta::type_name("proctor::actor_ref"), id, cell, caf::meta::load_callback(rebuild));
}

} // namespace proctor

template <>
struct std::hash<proctor::actor_ref> {
  std::size_t operator()(const proctor::actor_ref& r) const noexcept {
    return static_cast<std::size_t>(r.id());
  }
};
