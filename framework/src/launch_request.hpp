#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proctor::detail {

/// Everything a spawned or forkserver child needs to become the process its parent described.
/// Travels as bytes: over the spawn socket, or to the zygote.
struct launch_request {
  std::string name;
  std::string ident;
  bool daemon = false;
  pid_t parent_pid = 0;
  std::string parent_name;
  std::string entry_key;
  std::string args;
  bool spawn = false;        ///< To the zygote: posix_spawn the child instead of forking it.
  pid_t launcher_pid = 0;    ///< The OS parent a spawned child must find (its parent-death check).
  /// To the zygote, with `spawn`: the host's environment at start(), for the new program (as
  /// exec from the host would give it), instead of the zygote's.
  bool has_environment = false;
  std::vector<std::string> environment;
  /// To the zygote, with `spawn`: the host's working directory comes as the last descriptor.
  bool passes_cwd = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, launch_request& x) {
  return f(x.name, x.ident, x.daemon, x.parent_pid, x.parent_name, x.entry_key, x.args, x.spawn,
           x.launcher_pid, x.has_environment, x.environment, x.passes_cwd);
}

/// Serializes a request behind a 4-byte length.
[[nodiscard]] std::string encode_request(const launch_request& req);

/// The largest request accepted: arguments travel inline, and a gigabyte of them is a bug.
inline constexpr uint32_t max_request_size = 1u << 30;

/// Reads the length, then the request, from a blocking stream socket. Throws on EOF, a short read
/// or a malformed body.
[[nodiscard]] launch_request read_request(int fd);

/// Decodes the bytes that follow the length.
[[nodiscard]] launch_request decode_request(std::string_view body);

/// Writes all of `bytes` to a stream socket without raising SIGPIPE. False if the peer is gone.
bool write_all(int fd, std::string_view bytes) noexcept;

/// Reads exactly `n` bytes; false on EOF or error.
bool read_exact(int fd, char* out, size_t n) noexcept;

} // namespace proctor::detail
