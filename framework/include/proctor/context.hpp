#pragma once

#include <utility>

#include "proctor/process.hpp"
#include "proctor/start_method.hpp"

namespace proctor {

/// Makes processes with a fixed start method, as `multiprocessing.get_context("spawn")`.
class context {
 public:
  explicit context(start_method m) noexcept : method_(m) {}

  [[nodiscard]] start_method method() const noexcept { return method_; }

  /// `ctx.make_process(entry<f>, args...)` or `ctx.make_process(opts, entry<f>, args...)`.
  template <class First, class... Rest>
  [[nodiscard]] process make_process(First&& first, Rest&&... rest) const {
    if constexpr (std::is_same_v<std::decay_t<First>, process::options>) {
      process::options opts = std::forward<First>(first);
      opts.method = method_;
      return process{std::move(opts), std::forward<Rest>(rest)...};
    } else {
      return process{process::options{{}, false, method_}, std::forward<First>(first),
                     std::forward<Rest>(rest)...};
    }
  }

 private:
  start_method method_;
};

/// A context for `m`, or for the default start method.
[[nodiscard]] inline context get_context(start_method m) noexcept { return context{m}; }
[[nodiscard]] inline context get_context() noexcept { return context{get_start_method()}; }

} // namespace proctor
