#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proctor/actor_catalog.hpp"
#include "proctor/expected.hpp"
#include "proctor/supervisor.hpp"

namespace proctor::supervise {

/// A mistake in a tree file, with where it is.
struct config_error {
  std::string file;
  std::uint32_t line = 0; ///< 0: the file as a whole.
  std::uint32_t column = 0;
  std::string key; ///< "child[1].restart"; empty for a syntax error.
  std::string message;
};

/// "tree.toml:12:11: child[1].restart: expected ..., not \"sometimes\"".
[[nodiscard]] std::string to_string(const config_error& e);

/// What the file says about one node of the tree, for people (the spec itself is opaque).
struct tree_outline {
  std::string id;     ///< The child id; the tree's name at the root.
  std::string actor;  ///< Its catalog name, or "supervisor".
  std::string detail; ///< "one_for_one" for a supervisor, else its arguments.
  std::vector<tree_outline> children;
  /// How long stopping it may take by its shutdown specs (a supervisor: its children's sum).
  std::chrono::milliseconds stop_time{0};
};

/// A tree as read from a file: the root's name and spec, ready for start_supervisor.
struct tree_config {
  std::string name;
  supervisor_spec spec;
  tree_outline outline;
};

/// Reads the TOML file at `path`, resolving actors in `catalog`. Every key is checked: an
/// unknown key, a value of the wrong type or out of range, an unknown actor or wrong arguments
/// are errors that name the file, line, column and key.
[[nodiscard]] expected<tree_config, config_error> load_tree(const std::string& path,
                                                            const actor_catalog& catalog);

/// The file format, for --help.
[[nodiscard]] const char* tree_file_format() noexcept;

} // namespace proctor::supervise
