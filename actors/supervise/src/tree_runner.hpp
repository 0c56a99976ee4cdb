#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tree_config.hpp"

namespace proctor::supervise {

/// How run_tree runs a tree.
struct run_options {
  std::string file;                                 ///< Where the tree came from, for messages.
  std::optional<std::chrono::milliseconds> run_for; ///< Stop in order after this long.
};

/// Exit statuses of supervise (and run_tree).
enum exit_status : int {
  exit_ok = 0,     ///< The tree ran and stopped in order (a signal or --for).
  exit_failed = 1, ///< It did not start, ended on its own, or had to be killed.
  exit_usage = 2,  ///< A bad command line or tree file.
};

/// Starts `tree`, prints its children and every crash report as it happens, and runs it until
/// SIGINT or SIGTERM (an ordered stop; a second signal kills the tree at once), until
/// opts.run_for has passed (an ordered stop), or until the tree ends on its own. Returns an
/// exit_status.
/// @note Call from the main thread of a program that called proctor::init(). It owns SIGINT and
/// SIGTERM while it runs and restores their previous handlers before it returns.
[[nodiscard]] int run_tree(const tree_config& tree, const run_options& opts);

} // namespace proctor::supervise
