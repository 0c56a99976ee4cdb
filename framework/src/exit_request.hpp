#pragma once

namespace proctor::detail {

/// Thrown by proctor::exit() inside a child; caught where the child's target was called. Not a
/// std::exception, so that `catch (const std::exception&)` in user code does not swallow it.
struct exit_request {
  int code;
};

} // namespace proctor::detail
