#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>

#include "proctor/detail/codec.hpp"
#include "proctor/entry.hpp"
#include "proctor/exit_reason.hpp"
#include "proctor/serializable.hpp"

namespace proctor {

/// Why a task of a pool or an executor did not produce its result.
enum class task_errc : std::uint8_t {
  raised,        ///< The task threw; the message is its what().
  worker_died,   ///< Its worker process died while running it; reason() says how.
  bad_result,    ///< The result could not be serialized, or is larger than a pool can carry.
  bad_input,     ///< The arguments could not be serialized or decoded, or are too large.
  cancelled,     ///< Cancelled before it started.
  terminated,    ///< The pool was terminated (or shut down with cancel) before it ran.
  pool_broken,   ///< The pool could not start workers to run it.
};

[[nodiscard]] const char* to_string(task_errc e) noexcept;

/// The error of one task, as the caller sees it: the kind, a message, the index of the task
/// within its map (0 for a single task), and for worker_died the worker's exit reason.
class task_error : public std::runtime_error {
 public:
  task_error(task_errc code, std::string message, std::size_t index = 0,
             std::optional<exit_reason> reason = {});

  [[nodiscard]] task_errc code() const noexcept { return code_; }
  /// The message alone (what() also names the kind and the task).
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  /// How the worker ended, for worker_died.
  [[nodiscard]] const std::optional<exit_reason>& reason() const noexcept { return reason_; }

 private:
  task_errc code_;
  std::string message_;
  std::size_t index_;
  std::optional<exit_reason> reason_;
};

/// Thrown by a wait with a timeout that passed before the result was there (Python's
/// multiprocessing.TimeoutError and concurrent.futures.TimeoutError).
class timeout_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// What a worker reports for one task.
enum class task_status : std::uint8_t {
  ok = 0, raised = 1, bad_result = 2, bad_input = 3,
  values = 4, ///< Pool-internal: a run of ok results of one size, for consecutive tasks.
};

/// Runs a task on encoded arguments; `out` receives the encoded result (ok) or a message. `state`
/// holds what the callable carries (a lambda's captures), empty for a function.
using task_invoker = task_status (*)(std::string_view state, std::string_view args,
                                     std::string& out);

/// Adds a task to this program's registry (during static initialization, as entry points).
const std::string& register_task(std::string key, task_invoker invoke);

/// The invoker registered under `key`, or nullptr.
[[nodiscard]] task_invoker find_task(std::string_view key) noexcept;

/// A task's result type as it travels: void becomes std::monostate.
template <class R>
using task_value_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class Signature>
struct task_signature;

template <class R, class... Params>
struct task_signature<R (*)(Params...)> {
  using arguments = std::tuple<std::decay_t<Params>...>;
  using result = task_value_t<std::decay_t<R>>;
  static constexpr bool returns_void = std::is_void_v<R>;
};

template <class R, class... Params>
struct task_signature<R (*)(Params...) noexcept> : task_signature<R (*)(Params...)> {};

/// Values that travel between a pool and its workers byte for byte: both run the same program,
/// so a trivially copyable value means the same on both sides.
template <class T>
inline constexpr bool raw_task_value = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>;

/// Appends the encoding of `values` to `out`: raw bytes for trivially copyable values, CAF's
/// binary format otherwise. Throws process_error(not_crossable) if one fails to serialize.
template <class... Ts>
void append_values(std::string& out, const Ts&... values) {
  if constexpr ((raw_task_value<Ts> && ...)) {
    auto at = out.size();
    out.resize(at + (sizeof(Ts) + ... + 0));
    ((std::memcpy(out.data() + at, &values, sizeof(Ts)), at += sizeof(Ts)), ...);
  } else {
    out += encode_tuple(std::tuple<const Ts&...>{values...});
  }
}

/// Reads what append_values wrote; throws on a size that does not match.
template <class... Ts>
std::tuple<Ts...> read_values(std::string_view bytes) {
  if constexpr ((raw_task_value<Ts> && ...)) {
    if (bytes.size() != (sizeof(Ts) + ... + 0))
      throw std::invalid_argument("the encoded values have " + std::to_string(bytes.size())
                                  + " bytes, not " + std::to_string((sizeof(Ts) + ... + 0)));
    std::tuple<Ts...> values;
    std::size_t at = 0;
    std::apply([&](auto&... xs) {
      ((std::memcpy(&xs, bytes.data() + at, sizeof(xs)), at += sizeof(xs)), ...);
    }, values);
    return values;
  } else {
    return decode_tuple<std::tuple<Ts...>>(bytes);
  }
}

/// The framed size of a call whose parameters all travel byte for byte; 0 otherwise.
template <class... Ts>
constexpr std::size_t framed_size_of(std::tuple<Ts...>*) {
  if constexpr ((raw_task_value<Ts> && ...))
    return sizeof(std::uint32_t) + (sizeof(Ts) + ... + 0);
  else
    return 0;
}

template <class Tuple>
struct tuple_codec;

template <class... Ts>
struct tuple_codec<std::tuple<Ts...>> {
  static std::tuple<Ts...> read(std::string_view bytes) { return read_values<Ts...>(bytes); }
};

template <class T>
void append_value(std::string& out, const T& value) {
  if constexpr (!std::is_same_v<T, std::monostate>)
    append_values(out, value);
}

template <class T>
T decode_value(std::string_view bytes) {
  if constexpr (std::is_same_v<T, std::monostate>)
    return {};
  else
    return std::get<0>(read_values<T>(bytes));
}

} // namespace detail

namespace detail {

template <class Signature>
struct call_signature;

template <class C, class R, class... Params>
struct call_signature<R (C::*)(Params...) const> : task_signature<R (*)(Params...)> {};

template <class C, class R, class... Params>
struct call_signature<R (C::*)(Params...) const noexcept> : task_signature<R (*)(Params...)> {};

template <class C, class R, class... Params>
struct call_signature<R (C::*)(Params...)> : task_signature<R (*)(Params...)> {};

template <class C, class R, class... Params>
struct call_signature<R (C::*)(Params...) noexcept> : task_signature<R (*)(Params...)> {};

/// What a pool needs of a task: a registry key, how to encode a call, how to run one. `Traits`
/// says what is called: `Traits::call(args...)`, with `Traits::signature` its task_signature.
template <class Traits>
struct task_base {
  using arguments = typename Traits::signature::arguments;
  using result_type = typename Traits::signature::result;

  static_assert(serializable<result_type>,
                "proctor::task: the result must be serializable (a CAF inspect overload or "
                "trivially copyable, not a pointer)");

  /// The registry key; the same in every process that runs this binary.
  static const std::string& key() { return key_; }

  /// The size encode_into() adds for one call when every parameter travels byte for byte;
  /// 0 when the size depends on the values.
  static constexpr std::size_t framed_size = framed_size_of(static_cast<arguments*>(nullptr));

  /// Appends a call's arguments to `out`, behind their length (4 bytes). Throws
  /// process_error(not_crossable) if one fails to serialize; `out` is then as it was.
  template <class... Args>
  static void encode_into(std::string& out, Args&&... args) {
    static_assert(std::is_constructible_v<arguments, Args&&...>,
                  "proctor::task: the arguments do not match the function's parameters");
    static_assert(all_serializable(static_cast<arguments*>(nullptr)),
                  "proctor::task: every parameter must be serializable (a CAF inspect "
                  "overload or trivially copyable, not a pointer)");
    auto at = out.size();
    if constexpr (framed_size != 0
                  && std::is_same_v<arguments, std::tuple<std::decay_t<Args>...>>) {
      // Byte for byte: one resize, no exception possible.
      out.resize(at + framed_size);
      auto len = static_cast<std::uint32_t>(framed_size - sizeof(std::uint32_t));
      std::memcpy(out.data() + at, &len, sizeof(len));
      at += sizeof(len);
      ((std::memcpy(out.data() + at, &args, sizeof(args)), at += sizeof(args)), ...);
    } else {
      out.resize(at + sizeof(std::uint32_t));
      try {
        std::apply([&](const auto&... xs) { append_values(out, xs...); },
                   arguments{std::forward<Args>(args)...});
      } catch (...) {
        out.resize(at);
        throw;
      }
      auto len = static_cast<std::uint32_t>(out.size() - at - sizeof(std::uint32_t));
      std::memcpy(out.data() + at, &len, sizeof(len));
    }
  }

  /// Writes one call framed (framed_size bytes) at `out`. Only when framed_size != 0.
  template <class... Args>
  static void encode_fixed(char* out, const Args&... args) {
    static_assert(framed_size != 0);
    auto len = static_cast<std::uint32_t>(framed_size - sizeof(std::uint32_t));
    std::memcpy(out, &len, sizeof(len));
    out += sizeof(len);
    if constexpr (std::is_same_v<arguments, std::tuple<Args...>>) {
      ((std::memcpy(out, &args, sizeof(args)), out += sizeof(args)), ...);
    } else {
      std::apply([&](const auto&... xs) {
        ((std::memcpy(out, &xs, sizeof(xs)), out += sizeof(xs)), ...);
      }, arguments{args...});
    }
  }

  /// Decodes `args`, makes the call, encodes its result. Runs in a worker.
  static task_status invoke(std::string_view state, std::string_view args, std::string& out) {
    std::optional<arguments> values;
    try {
      Traits::check_state(state);
      values.emplace(tuple_codec<arguments>::read(args));
    } catch (const std::exception& e) {
      out = e.what();
      return task_status::bad_input;
    }
    std::optional<result_type> result;
    try {
      if constexpr (Traits::signature::returns_void) {
        std::apply([&](auto&&... xs) { Traits::call(state, std::forward<decltype(xs)>(xs)...); },
                   std::move(*values));
        result.emplace();
      } else {
        result.emplace(std::apply(
          [&](auto&&... xs) { return Traits::call(state, std::forward<decltype(xs)>(xs)...); },
          std::move(*values)));
      }
    } catch (const std::exception& e) {
      out = e.what();
      return task_status::raised;
    } catch (...) {
      out = "an exception that is not a std::exception";
      return task_status::raised;
    }
    try {
      append_value(out, *result);
    } catch (const std::exception& e) {
      out = e.what();
      return task_status::bad_result;
    }
    return task_status::ok;
  }

 private:
  template <class... Ts>
  static constexpr bool all_serializable(std::tuple<Ts...>*) {
    return (serializable<Ts> && ...);
  }

  static inline const std::string& key_ = register_task(
    make_entry_key(Traits::pretty_name(), Traits::pretty_type(),
                   reinterpret_cast<entry_invoker>(&task_base::invoke)),
    &task_base::invoke);
};

template <auto F>
struct function_traits {
  using signature = task_signature<decltype(F)>;
  static void check_state(std::string_view) {}
  template <class... Xs>
  static decltype(auto) call(std::string_view, Xs&&... xs) {
    return F(std::forward<Xs>(xs)...);
  }
  static constexpr std::string_view pretty_name() { return entry_pretty_name<F>(); }
  static constexpr std::string_view pretty_type() { return entry_pretty_type<decltype(F)>(); }
};

/// A callable object copied byte for byte: its type names the code, its bytes are its state.
template <class L>
struct closure_traits {
  using signature = call_signature<decltype(&L::operator())>;
  static void check_state(std::string_view state) {
    if (state.size() != (std::is_empty_v<L> ? 0 : sizeof(L)))
      throw std::invalid_argument("the callable's captures have " + std::to_string(state.size())
                                  + " bytes, not " + std::to_string(sizeof(L)));
  }
  template <class... Xs>
  static decltype(auto) call(std::string_view state, Xs&&... xs) {
    if constexpr (std::is_empty_v<L> && std::is_default_constructible_v<L>) {
      return L{}(std::forward<Xs>(xs)...);
    } else {
      // A trivially copyable closure is an implicit-lifetime type: copying its bytes into
      // suitable storage makes one.
      alignas(L) unsigned char storage[sizeof(L)];
      std::memcpy(storage, state.data(), sizeof(L));
      return (*std::launder(reinterpret_cast<L*>(storage)))(std::forward<Xs>(xs)...);
    }
  }
  static constexpr std::string_view pretty_name() { return "F = callable]"; }
  static constexpr std::string_view pretty_type() { return entry_pretty_type<L>(); }
};

} // namespace detail

/// Names a function as a task for a pool or an executor:
///
///     int square(int x) { return x * x; }
///     pool.map(proctor::task<square>, std::vector{1, 2, 3});
///
/// As with entry<F>, naming it registers it, so every worker — forked, spawned or started by the
/// forkserver — finds it by name. Its parameters and its result must be serializable (checked at
/// compile time); a void function yields std::monostate.
template <auto F>
struct task_t : detail::task_base<detail::function_traits<F>> {
  static_assert(std::is_pointer_v<decltype(F)>
                  && std::is_function_v<std::remove_pointer_t<decltype(F)>>,
                "proctor::task<F> takes a function (not a lambda or member function)");
};

/// A lambda (or another function object with one non-template call operator) is a task as it
/// is, when it can be copied byte for byte — no captures, or captures of numbers and other
/// trivially copyable values:
///
///     int k = 3;
///     pool.map([k](int x) { return k * x; }, inputs);
///
/// Its type names its code in every worker, as a function's name does, and its captures travel
/// with each chunk of tasks. A capture that is a pointer or a reference travels as an address of
/// the caller's: in a spawn or forkserver worker it points at nothing of the caller's, and in a
/// fork pool's worker at the caller's memory as it was when the pool was made. Capture values;
/// pass big or non-trivial state as arguments, or set it once per worker with
/// pool_options::initializer.
template <class L>
concept copyable_callable = std::is_class_v<L> && std::is_trivially_copyable_v<L>
                            && std::is_trivially_destructible_v<L> && requires { &L::operator(); };

/// The task a callable stands for.
template <class L>
struct closure_task : detail::task_base<detail::closure_traits<L>> {
  /// The bytes of `f` that travel to the workers (none for a lambda without captures).
  static std::string state_of(const L& f) {
    if constexpr (std::is_empty_v<L>)
      return {};
    else
      return std::string(reinterpret_cast<const char*>(&f), sizeof(L));
  }
};

namespace detail {

template <class T>
struct task_for {
  static_assert(copyable_callable<T>,
                "proctor: a task is proctor::task<f> for a function f, or a lambda whose captures "
                "are trivially copyable values (they are copied into the worker byte for byte)");
  using type = closure_task<T>;
};

template <auto F>
struct task_for<task_t<F>> {
  using type = task_t<F>;
};

} // namespace detail

/// The task type behind what a pool was given: task_t<F> itself, or closure_task<L>.
template <class T>
using task_for_t = typename detail::task_for<std::remove_cvref_t<T>>::type;

/// The state a task object carries to the workers: a lambda's captures; nothing for task<f>.
template <class T>
std::string task_state(const T& task) {
  if constexpr (requires { task_for_t<T>::state_of(task); })
    return task_for_t<T>::state_of(task);
  else
    return {};
}

template <auto F>
inline constexpr task_t<F> task{};

} // namespace proctor
