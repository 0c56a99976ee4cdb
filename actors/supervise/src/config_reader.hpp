#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <toml++/toml.h>

#include "proctor/actor_catalog.hpp"
#include "proctor/child_spec.hpp"
#include "tree_config.hpp"

namespace proctor::supervise {

/// Thrown by config_reader, caught by load_tree: the first mistake ends the reading.
struct config_failure {
  config_error error;
};

/// Reads typed values out of the TOML nodes of one file. Every getter either returns a value
/// that is valid for its key, or throws a config_failure that names the file, the line and
/// column of the node, the key (its path: "child[1].restart"), what was expected and what the
/// file holds instead.
class config_reader {
 public:
  explicit config_reader(std::string file) : file_(std::move(file)) {}

  [[nodiscard]] const std::string& file() const noexcept { return file_; }

  /// Every key of `t` must be one of `known` (`what` names the table in the message): a
  /// misspelt key is an error, never ignored.
  void check_keys(const toml::table& t, const std::string& prefix,
                  std::initializer_list<std::string_view> known, const char* what) const;

  [[nodiscard]] std::string non_empty_string(const toml::node& n, const std::string& key) const;
  [[nodiscard]] std::int64_t integer(const toml::node& n, const std::string& key, std::int64_t min,
                                     std::int64_t max) const;
  [[nodiscard]] bool boolean(const toml::node& n, const std::string& key) const;
  /// A string with a unit: "500ms", "2s", "1m" (see parse_duration).
  [[nodiscard]] std::chrono::milliseconds duration(const toml::node& n,
                                                   const std::string& key) const;
  [[nodiscard]] std::chrono::milliseconds positive_duration(const toml::node& n,
                                                            const std::string& key) const;
  /// A number of bytes, or a string with a unit: "64KiB" (see parse_size).
  [[nodiscard]] std::uint64_t size(const toml::node& n, const std::string& key) const;
  /// "brutal_kill", "infinity" or a duration.
  [[nodiscard]] shutdown_spec shutdown(const toml::node& n, const std::string& key) const;
  /// An argument of an actor: an integer, a float, a boolean or a string.
  [[nodiscard]] catalog_value argument(const toml::node& n, const std::string& key) const;
  /// `example` shows what the table should look like.
  [[nodiscard]] const toml::table& table(const toml::node& n, const std::string& key,
                                         const std::string& example) const;

  /// One of the strings of `options`.
  template <class E>
  [[nodiscard]] E choice(const toml::node& n, const std::string& key,
                         std::initializer_list<std::pair<std::string_view, E>> options) const {
    std::string names;
    for (auto& [name, value] : options) {
      if (n.value<std::string_view>() == name)
        return value;
      names.append(names.empty() ? "" : ", ").append("\"").append(name).append("\"");
    }
    fail(n, key, "expected one of " + names + ", not " + describe(n));
  }

  [[noreturn]] void fail(const toml::node& at, const std::string& key, std::string message) const {
    fail_at(at.source(), key, std::move(message));
  }
  [[noreturn]] void fail_at(const toml::source_region& at, const std::string& key,
                            std::string message) const;

  /// `the string "x"`, `the integer 5`, `a table`, ...: a value, for an error message.
  [[nodiscard]] static std::string describe(const toml::node& n);

 private:
  std::string file_;
};

} // namespace proctor::supervise
