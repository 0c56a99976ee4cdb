#pragma once

#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "proctor/detail/codec.hpp"
#include "proctor/serializable.hpp"

namespace proctor {
namespace detail {

/// Decodes the arguments of an entry point and calls it. Runs in the child process.
using entry_invoker = void (*)(std::string_view args);

/// Adds an entry point to this program's registry; returns its key. Called during static
/// initialization, so every process running this binary (forked, spawned or forkserver'd) holds
/// the same registry before main() starts.
const std::string& register_entry(std::string key, entry_invoker invoke);

/// The invoker registered under `key`, or nullptr.
[[nodiscard]] entry_invoker find_entry(std::string_view key) noexcept;

template <auto F>
consteval std::string_view entry_pretty_name() { return __PRETTY_FUNCTION__; }

template <class T>
consteval std::string_view entry_pretty_type() { return __PRETTY_FUNCTION__; }

/// "name : signature @ module+offset": the compiler's spelling of F, for people, and where its
/// invoker sits in the loaded program, so that two functions of one name with internal linkage
/// (`static`, anonymous namespaces) stay apart. The same in every process running this binary.
std::string make_entry_key(std::string_view pretty_name, std::string_view pretty_type,
                           entry_invoker anchor);

template <class Signature>
struct entry_signature;

template <class R, class... Params>
struct entry_signature<R (*)(Params...)> {
  using arguments = std::tuple<std::decay_t<Params>...>;
};

template <class R, class... Params>
struct entry_signature<R (*)(Params...) noexcept> : entry_signature<R (*)(Params...)> {};

} // namespace detail

/// Names a function as a target that can cross into a spawned or forkserver child:
///
///     void square(int x) { std::cout << x * x << '\n'; }
///     proctor::process p{proctor::entry<square>, 10};
///
/// Naming it registers it: no separate registration step exists, and an unregistered target cannot
/// be written. Its parameters must be `serializable` (checked at compile time); the return value
/// is ignored, as in `multiprocessing`.
template <auto F>
struct entry_t {
  static_assert(std::is_pointer_v<decltype(F)>
                  && std::is_function_v<std::remove_pointer_t<decltype(F)>>,
                "proctor::entry<F> takes a function (not a lambda or member function)");

  using arguments = typename detail::entry_signature<decltype(F)>::arguments;

  /// The registry key of F; the same in every process that runs this binary.
  static const std::string& key() { return key_; }

  /// Decodes `args` and calls F. Runs in the child.
  static void invoke(std::string_view args) {
    std::apply(F, detail::decode_tuple<arguments>(args));
  }

 private:
  static inline const std::string& key_ = detail::register_entry(
    detail::make_entry_key(detail::entry_pretty_name<F>(),
                           detail::entry_pretty_type<decltype(F)>(), &entry_t::invoke),
    &entry_t::invoke);
};

template <auto F>
inline constexpr entry_t<F> entry{};

template <class T>
inline constexpr bool is_entry_v = false;

template <auto F>
inline constexpr bool is_entry_v<entry_t<F>> = true;

} // namespace proctor
