#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace proctor {

/// What went wrong in the process layer.
enum class process_errc {
  misuse,          ///< The call does not fit the object's state (start twice, join before start...).
  closed,          ///< The process object was closed.
  not_crossable,   ///< The target cannot cross a spawn/forkserver boundary.
  multithreaded,   ///< fork was asked for from a process that runs more than one thread.
  no_init,         ///< spawn/forkserver need proctor::init() at the top of main.
  system,          ///< An operating-system call failed (errno in the message).
  forkserver_lost, ///< The forkserver zygote is gone.
};

[[nodiscard]] std::string_view to_string(process_errc code) noexcept;

/// Thrown by the process layer. Like `multiprocessing`, misuse and failures to start are exceptions;
/// what happens inside a child never crosses into the parent except as its exit code.
class process_error : public std::runtime_error {
 public:
  process_error(process_errc code, const std::string& what)
    : std::runtime_error(what), code_(code) {}

  [[nodiscard]] process_errc code() const noexcept { return code_; }

 private:
  process_errc code_;
};

} // namespace proctor
