#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "proctor/actor.hpp"
#include "proctor/behavior.hpp"
#include "proctor/catalog_error.hpp"
#include "proctor/child_spec.hpp"
#include "proctor/expected.hpp"

namespace proctor {

/// One argument as a configuration file gives it: an integer, a float, a bool or a string.
using catalog_value = std::variant<std::int64_t, double, bool, std::string>;

/// The parameter types an actor in a catalog may take: what a catalog_value converts to.
template <class T>
concept catalog_parameter = std::same_as<T, bool> || std::same_as<T, std::string> || std::same_as<
  T, float> || std::same_as<T, double> ||(std::integral<T> && !std::same_as<T, char>);

namespace detail {

/// "bool", "string", "int32", "uint64", "double", ...: a parameter's type, for people.
template <catalog_parameter T>
consteval std::string_view catalog_type_name() {
  if constexpr (std::same_as<T, bool>)
    return "bool";
  else if constexpr (std::same_as<T, std::string>)
    return "string";
  else if constexpr (std::same_as<T, float>)
    return "float";
  else if constexpr (std::same_as<T, double>)
    return "double";
  else if constexpr (std::is_signed_v<T>)
    return sizeof(T) == 1 ? "int8" : sizeof(T) == 2 ? "int16" : sizeof(T) == 4 ? "int32" : "int64";
  else
    return sizeof(T) == 1   ? "uint8"
           : sizeof(T) == 2 ? "uint16"
           : sizeof(T) == 4 ? "uint32"
                            : "uint64";
}

/// The errors catalog_convert() returns; the catalog adds the actor's name to the message.
catalog_error catalog_type_mismatch(const catalog_value& v, std::string_view type,
                                    std::size_t index);
catalog_error catalog_out_of_range(std::int64_t n, std::string_view type, std::size_t index);

/// Stores `v` in `out`, or says why it does not fit. Integers fill integer and floating-point
/// parameters (integers only when in range); floats, bools and strings only their own kind.
template <catalog_parameter T>
std::optional<catalog_error> catalog_convert(const catalog_value& v, T& out, std::size_t index) {
  if constexpr (std::same_as<T, bool> || std::same_as<T, std::string>) {
    if (auto* x = std::get_if<T>(&v)) {
      out = *x;
      return std::nullopt;
    }
  } else if constexpr (std::integral<T>) {
    if (auto* n = std::get_if<std::int64_t>(&v)) {
      if (!std::in_range<T>(*n))
        return catalog_out_of_range(*n, catalog_type_name<T>(), index);
      out = static_cast<T>(*n);
      return std::nullopt;
    }
  } else {
    if (auto* d = std::get_if<double>(&v)) {
      out = static_cast<T>(*d);
      return std::nullopt;
    }
    if (auto* n = std::get_if<std::int64_t>(&v)) {
      out = static_cast<T>(*n);
      return std::nullopt;
    }
  }
  return catalog_type_mismatch(v, catalog_type_name<T>(), index);
}

/// Converts `args` (as many as Params, checked by the caller) and hands them to `make`.
template <class... Params, class Make, std::size_t... Is>
expected<child_start, catalog_error> catalog_make(
  [[maybe_unused]] std::span<const catalog_value> args, Make make, std::index_sequence<Is...>) {
  std::tuple<Params...> values{};
  std::optional<catalog_error> err;
  ((err = err ? std::move(err) : catalog_convert(args[Is], std::get<Is>(values), Is)), ...);
  if (err)
    return *std::move(err);
  return std::apply(make, values);
}

} // namespace detail

/// Actors by name, for programs that build supervision trees from a configuration file rather
/// than from code (`supervise`): each name makes the child_start of one actor from a list of
/// catalog_values, exactly as proctor::child<A>(args...) does.
///
///     proctor::actor_catalog catalog;
///     catalog.add<counter, std::int64_t>("counter", "start: counts up from start");
///     catalog.add<adder>("adder");                     // a function actor: parameters deduced
///     auto start = catalog.child("counter", {std::int64_t{10}});
///     // *start == proctor::child<counter>(std::int64_t{10})
///
/// Naming an actor here instantiates its entry point, so children made from the catalog start
/// under every start method, in every process that runs this binary.
/// @note Not thread-safe: fill it at start-up, then only read it.
class actor_catalog {
 public:
  /// What the catalog knows about one actor.
  struct entry {
    std::string name;
    std::vector<std::string_view> parameters; ///< Type names: "string", "int64", ...
    std::string description;                  ///< Free text: what the arguments mean.
  };

  /// Registers class actor A (see spawn<A>) under `name`; its constructor takes Params (after
  /// an optional `actor&`). Throws std::invalid_argument for an empty or already used name.
  template <class A, catalog_parameter... Params>
    requires std::is_class_v<A>
  void add(std::string name, std::string description = {}) {
    insert({std::move(name), {detail::catalog_type_name<Params>()...}, std::move(description)},
           [](std::span<const catalog_value> args) {
             return detail::catalog_make<Params...>(
               args, [](const Params&... ps) { return proctor::child<A>(ps...); },
               std::index_sequence_for<Params...>{});
           });
  }

  /// Registers function actor `behavior F(actor&, Params...)` (see spawn<F>) under `name`.
  /// Throws std::invalid_argument for an empty or already used name.
  template <auto F>
  void add(std::string name, std::string description = {}) {
    add_function<F>(std::move(name), std::move(description), decltype(F){nullptr});
  }

  /// The start of a child running the actor registered as `name` with `args`, or why not:
  /// unknown_actor, argument_count, argument_type, argument_range.
  [[nodiscard]] expected<child_start, catalog_error> child(
    std::string_view name, const std::vector<catalog_value>& args) const;

  /// The actor registered as `name`, or nullptr.
  [[nodiscard]] const entry* find(std::string_view name) const;

  /// Every actor, by name.
  [[nodiscard]] std::vector<entry> entries() const;

 private:
  using factory =
    std::function<expected<child_start, catalog_error>(std::span<const catalog_value>)>;

  struct item {
    entry about;
    factory make;
  };

  template <auto F, class... Ps>
  void add_function(std::string name, std::string description, behavior (*)(actor&, Ps...)) {
    add_decayed<F, std::remove_cvref_t<Ps>...>(std::move(name), std::move(description));
  }

  template <auto F, catalog_parameter... Params>
  void add_decayed(std::string name, std::string description) {
    insert({std::move(name), {detail::catalog_type_name<Params>()...}, std::move(description)},
           [](std::span<const catalog_value> args) {
             return detail::catalog_make<Params...>(
               args, [](const Params&... ps) { return proctor::child<F>(ps...); },
               std::index_sequence_for<Params...>{});
           });
  }

  void insert(entry about, factory make);

  std::map<std::string, item, std::less<>> items_;
};

} // namespace proctor
