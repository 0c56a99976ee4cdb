#pragma once

#include <sys/types.h>

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "proctor/detail/pipe_ends.hpp"
#include "proctor/entry.hpp"
#include "proctor/process_error.hpp"
#include "proctor/start_method.hpp"

namespace proctor {

namespace detail {

struct process_state;
class runtime;
class process_access;

/// What a child runs. `run` calls the target in this address space (fork); `key` and `args` name
/// a registered entry and its encoded arguments for spawn and forkserver (empty `key`: fork only).
struct process_target {
  std::function<void()> run;
  std::string key;
  std::string args;
  /// The pipe ends among the arguments: the child holds them from start() on. A plain callable
  /// (fork only) may have captured any: its child holds every end this process holds.
  pipe_ends::end_list ends;
  bool shares_every_end = false;
};

} // namespace detail

/// A child process, as in Python's `multiprocessing.Process`.
///
/// A `process` is a handle: copies refer to the same child. The framework keeps a started child
/// known until it has been reaped, so dropping every handle never leaks a zombie: finished
/// children are reaped at the next start() and by active_children(); at normal exit of the parent,
/// daemon children are terminated and the others joined.
///
/// Every child is started in its own process group with a parent-death signal (SIGKILL), so a
/// parent that dies, even by SIGKILL, takes its children with it.
///
/// @note Thread-safe: one handle may be used from several threads. Only the process that started
///       the child may join, poll, signal or close it.
class process {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// Settings fixed before start().
  struct options {
    std::string name{};                 ///< Empty: "process-N" (N counts this parent's children).
    bool daemon = false;                ///< Terminated, rather than joined, when the parent exits.
    std::optional<start_method> method{}; ///< Empty: get_start_method() at start().
  };

  /// A registered entry point, runnable under every start method:
  /// `process p{entry<square>, 10};`. Arguments convert to F's parameter types at construction.
  template <auto F, class... Args>
  explicit process(entry_t<F> target, Args&&... args)
    : process(options{}, target, std::forward<Args>(args)...) {}

  template <auto F, class... Args>
  process(options opts, entry_t<F>, Args&&... args)
    : process(std::move(opts), make_entry_target<F>(std::forward<Args>(args)...)) {}

  /// Any callable (a lambda with captures, a bound member...): only the fork start method can run
  /// it, since nothing but a registered name can be found again in a fresh program image.
  template <class F, class... Args>
    requires(!is_entry_v<std::decay_t<F>> && std::invocable<std::decay_t<F>&, std::decay_t<Args>&...>)
  explicit process(F&& target, Args&&... args)
    : process(options{}, std::forward<F>(target), std::forward<Args>(args)...) {}

  template <class F, class... Args>
    requires(!is_entry_v<std::decay_t<F>> && std::invocable<std::decay_t<F>&, std::decay_t<Args>&...>)
  process(options opts, F&& target, Args&&... args)
    : process(std::move(opts),
              detail::process_target{
                [f = std::forward<F>(target),
                 tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
                  std::apply(f, tup);
                },
                {},
                {},
                {},
                true}) {}

  process(options opts, detail::process_target target);

  /// Starts the child. Throws process_error: `misuse` if already started, `not_crossable` for a
  /// plain callable under spawn/forkserver, `multithreaded` for fork from a threaded process,
  /// `no_init` for spawn without proctor::init(), `system` if the OS refuses.
  void start();

  /// Waits until the child ends and reaps it. Throws `misuse` before start(). The end of a child
  /// of this process (fork, spawn) about to end — a short task, one just told to stop — is
  /// looked for during the first 0.4 ms, the processor given up between looks, before the wait
  /// sleeps: it is seen at once rather than after a wake-up.
  void join();

  /// Waits at most `timeout`; returns true if the child has ended (and is reaped).
  bool join(duration timeout);

  /// True from start() until the child ends. Never blocks.
  [[nodiscard]] bool is_alive();

  /// The child's pid once started.
  [[nodiscard]] std::optional<pid_t> pid() const;

  /// Empty while running (or before start); `n` after exit(n); 1 after an uncaught exception;
  /// `-N` after death by signal N. Never blocks.
  [[nodiscard]] std::optional<int> exitcode();

  /// True if the child died of a signal and dumped core. Never blocks.
  [[nodiscard]] bool core_dumped();

  /// Sends SIGTERM (through a pidfd, so never to a recycled pid). No effect once the child ended.
  void terminate();

  /// Sends SIGKILL. No effect once the child ended.
  void kill();

  /// Releases the pidfd and the framework's record of the child. Throws `misuse` while it runs;
  /// afterwards every call but name() throws `closed`.
  void close();

  /// A descriptor, readable once the child has ended: usable with poll/epoll, an Asio descriptor
  /// or proctor::wait(). The child's pidfd; for a child the zygote started (forkserver, and spawn
  /// in a program that runs a zygote), the channel on which the zygote reports the child's end
  /// (a join() reads the report: the channel reads as ready again a moment later, once the
  /// zygote closed it).
  [[nodiscard]] int sentinel() const;

  [[nodiscard]] std::string name() const;
  void name(std::string new_name);
  [[nodiscard]] bool daemon() const;
  void daemon(bool on);   ///< Throws `misuse` after start().
  /// The method used (or to be used) by start().
  [[nodiscard]] start_method method() const;

  friend bool operator==(const process& a, const process& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend std::vector<process> active_children();
  friend class detail::runtime;
  friend class detail::process_access;
  explicit process(std::shared_ptr<detail::process_state> state) : state_(std::move(state)) {}

  bool join_until(std::optional<duration> timeout);

  template <auto F, class... Args>
  static detail::process_target make_entry_target(Args&&... args) {
    using arguments = typename entry_t<F>::arguments;
    static_assert(std::is_constructible_v<arguments, Args&&...>,
                  "proctor::process: the arguments do not match the entry point's parameters");
    static_assert(all_serializable(static_cast<arguments*>(nullptr)),
                  "proctor::process: every parameter of an entry point must be serializable "
                  "(a CAF inspect overload or trivially copyable, not a pointer)");
    arguments values{std::forward<Args>(args)...};
    detail::pipe_ends::end_list ends;
    auto*& collector = detail::pipe_ends::collector();
    auto* outer = std::exchange(collector, &ends);
    std::string bytes;
    try {
      bytes = detail::encode_tuple(values);
    } catch (...) {
      collector = outer;
      throw;
    }
    collector = outer;
    return {[values = std::move(values)]() mutable { std::apply(F, values); },
            entry_t<F>::key(), std::move(bytes), std::move(ends), false};
  }

  template <class... Ts>
  static constexpr bool all_serializable(std::tuple<Ts...>*) {
    return (serializable<Ts> && ...);
  }

  std::shared_ptr<detail::process_state> state_;
};

/// The live children started by this process (finished ones are reaped on the way), as in
/// `multiprocessing.active_children()`.
[[nodiscard]] std::vector<process> active_children();

} // namespace proctor
