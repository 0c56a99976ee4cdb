#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace proctor {

/// What went wrong with a shared-memory segment or a lock that lives in one.
enum class shm_errc {
  misuse,          ///< The call does not fit the object (empty segment, release of a lock not held...).
  no_space,        ///< /dev/shm has too little free space for the segment.
  not_found,       ///< The segment named by a handle no longer exists (its owner removed it).
  invalid,         ///< A handle or a segment's contents are not what this program made.
  not_recoverable, ///< A lock was left unusable (its state was never made consistent).
  system,          ///< An operating-system call failed (errno in the message).
};

[[nodiscard]] std::string_view to_string(shm_errc code) noexcept;

/// Thrown when a segment cannot be created or opened, and on lock misuse. A lock whose holder
/// died is not an error: acquire() reports it in its result.
class shm_error : public std::runtime_error {
 public:
  shm_error(shm_errc code, const std::string& what) : std::runtime_error(what), code_(code) {}

  [[nodiscard]] shm_errc code() const noexcept { return code_; }

 private:
  shm_errc code_;
};

} // namespace proctor
