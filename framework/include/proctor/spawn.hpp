#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "proctor/actor.hpp"
#include "proctor/actor_error.hpp"
#include "proctor/actor_ref.hpp"
#include "proctor/behavior.hpp"
#include "proctor/entry.hpp"
#include "proctor/exit_reason.hpp"
#include "proctor/process.hpp"
#include "proctor/shared_segment.hpp"
#include "proctor/start_method.hpp"

namespace proctor {

/// What a sender meets when the receiver's mailbox is full.
enum class mailbox_overflow : std::uint8_t {
  block, ///< Wait for room up to the block timeout, then fail with mailbox_full (the default).
  fail,  ///< Fail with mailbox_full at once.
  drop,  ///< Drop the message (counted), report success: for lossy streams such as telemetry.
};

/// How to start an actor.
struct spawn_options {
  std::string name{};                       ///< Shown in logs, crash messages and refs.
  std::optional<start_method> method{};     ///< Empty: the default start method.
  std::size_t mailbox_bytes = 256 * 1024;   ///< Shared memory for queued messages.
  std::size_t mailbox_messages = 0;         ///< At most this many queued (0: bytes only).
  mailbox_overflow overflow = mailbox_overflow::block;
  std::chrono::milliseconds block_timeout{5000};  ///< For mailbox_overflow::block.
  std::chrono::milliseconds start_timeout{10000}; ///< For init to finish.
};

/// Thrown by spawn() when the actor did not start: its init threw, it died, or it timed out.
class spawn_error : public std::runtime_error {
 public:
  explicit spawn_error(actor_error e);
  [[nodiscard]] const actor_error& error() const noexcept { return error_; }

 private:
  actor_error error_;
};

namespace detail {

/// What an actor process runs: its first behavior and what to call when it ends.
struct actor_program {
  behavior initial;
  std::function<void(const exit_reason&)> on_exit;
  std::shared_ptr<void> state; ///< Keeps a class actor alive while its behavior runs.
};

/// Runs an actor in this (child) process on the mailbox named by `cell`: builds it with `make`,
/// reports ready, runs the loop, records the exit reason. Never returns normally: it ends the
/// process (exit status 0 for normal and shutdown, 1 otherwise).
void run_actor(const segment_handle& cell, const std::function<actor_program(actor&)>& make);

/// Creates a mailbox, starts the process `launch` makes for it, and waits for the actor's init.
/// Throws spawn_error.
actor_ref spawn_actor(const spawn_options& opts,
                      const std::function<process(const segment_handle&, process::options)>& launch);

template <class A, class... Ds>
void class_actor_main(segment_handle cell, Ds... args) {
  run_actor(cell, [&](actor& self) {
    std::shared_ptr<A> obj;
    if constexpr (std::is_constructible_v<A, actor&, Ds&...>)
      obj = std::make_shared<A>(self, args...);
    else
      obj = std::make_shared<A>(args...);
    if constexpr (requires { obj->init(); })
      obj->init();
    actor_program prog{obj->make_behavior(), {}, obj};
    if constexpr (requires(const exit_reason& r) { obj->on_exit(r); })
      prog.on_exit = [raw = obj.get()](const exit_reason& r) { raw->on_exit(r); };
    return prog;
  });
}

template <auto F, class... Ds>
void function_actor_main(segment_handle cell, Ds... args) {
  run_actor(cell, [&](actor& self) { return actor_program{F(self, args...), {}, {}}; });
}

template <class F>
struct function_actor_params;
template <class... Ps>
struct function_actor_params<behavior (*)(actor&, Ps...)> {
  template <auto G>
  static constexpr auto main = &function_actor_main<G, std::decay_t<Ps>...>;
};

} // namespace detail

/// Starts actor class A in its own process and returns its ref once A's init has finished:
///
///     class counter {
///      public:
///       counter(proctor::actor& self, int start);   // or counter(int start)
///       void init();                                 // optional
///       proctor::behavior make_behavior();
///       void on_exit(const proctor::exit_reason&);   // optional
///     };
///     auto c = proctor::spawn<counter>(10);
///
/// Arguments must be serializable (they cross into the new process under every start method).
/// Throws spawn_error if the actor does not start within opts.start_timeout.
template <class A, class... Args>
  requires std::is_class_v<A>
actor_ref spawn(spawn_options opts, Args&&... args) {
  constexpr auto main = &detail::class_actor_main<A, std::decay_t<Args>...>;
  return detail::spawn_actor(opts, [&](const segment_handle& cell, process::options popts) {
    return process{std::move(popts), entry<main>, cell, std::forward<Args>(args)...};
  });
}

template <class A, class... Args>
  requires(std::is_class_v<A> && (sizeof...(Args) == 0 || !std::is_same_v<std::decay_t<std::tuple_element_t<0, std::tuple<Args...>>>, spawn_options>))
actor_ref spawn(Args&&... args) {
  return spawn<A>(spawn_options{}, std::forward<Args>(args)...);
}

/// Starts a function actor `behavior F(actor& self, Params...)` in its own process:
///
///     proctor::behavior adder(proctor::actor& self) { return {[](add a) { return a.x + a.y; }}; }
///     auto a = proctor::spawn<adder>();
template <auto F, class... Args>
actor_ref spawn(spawn_options opts, Args&&... args) {
  constexpr auto main = detail::function_actor_params<decltype(F)>::template main<F>;
  return detail::spawn_actor(opts, [&](const segment_handle& cell, process::options popts) {
    return process{std::move(popts), entry<main>, cell, std::forward<Args>(args)...};
  });
}

template <auto F, class... Args>
  requires(sizeof...(Args) == 0 || !std::is_same_v<std::decay_t<std::tuple_element_t<0, std::tuple<Args...>>>, spawn_options>)
actor_ref spawn(Args&&... args) {
  return spawn<F>(spawn_options{}, std::forward<Args>(args)...);
}

} // namespace proctor
