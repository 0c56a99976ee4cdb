#pragma once

#include <cstddef>
#include <optional>

#include <proctor/start_method.hpp>

namespace samples {

/// What every seed sample accepts on its command line:
///
///     --method=fork|spawn|forkserver   the default start method (forkserver if not given)
///     --scale=X                        multiplies the work (sizes, pauses); 1 if not given
///
/// Samples without work to scale ignore --scale.
struct sample_options {
  std::optional<proctor::start_method> method;
  double scale = 1.0;
};

/// Parses argv and, when --method is given, makes it the default start method, as Python's
/// `multiprocessing.set_start_method(...)`. Prints the usage and exits: 0 on --help, 2 on a bad
/// argument. `about` is the one-line description shown in the usage.
/// @note Call it after proctor::init(): in a spawned child argv belongs to proctor, and init()
///       runs that child's target without ever returning.
sample_options apply_options(int argc, char** argv, const char* about);

/// `n` multiplied by `scale`, at least 1.
[[nodiscard]] std::size_t scaled(std::size_t n, double scale) noexcept;

} // namespace samples
