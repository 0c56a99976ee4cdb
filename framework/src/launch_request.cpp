#include "launch_request.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include "proctor/detail/codec.hpp"
#include "proctor/process_error.hpp"

namespace proctor::detail {

std::string encode_request(const launch_request& req) {
  std::string body = encode_tuple(std::tie(req.name, req.ident, req.daemon, req.parent_pid,
                                           req.parent_name, req.entry_key, req.args, req.spawn,
                                           req.launcher_pid, req.has_environment,
                                           req.environment, req.passes_cwd));
  if (body.size() > max_request_size)
    throw process_error(process_errc::not_crossable, "the arguments are larger than 1 GiB");
  auto size = static_cast<uint32_t>(body.size());
  std::string frame(sizeof(size), '\0');
  std::memcpy(frame.data(), &size, sizeof(size));
  return frame + body;
}

launch_request decode_request(std::string_view body) {
  auto t = decode_tuple<std::tuple<std::string, std::string, bool, pid_t, std::string,
                                   std::string, std::string, bool, pid_t, bool,
                                   std::vector<std::string>, bool>>(body);
  return {std::move(std::get<0>(t)), std::move(std::get<1>(t)), std::get<2>(t), std::get<3>(t),
          std::move(std::get<4>(t)), std::move(std::get<5>(t)), std::move(std::get<6>(t)),
          std::get<7>(t), std::get<8>(t), std::get<9>(t), std::move(std::get<10>(t)),
          std::get<11>(t)};
}

launch_request read_request(int fd) {
  uint32_t size = 0;
  if (!read_exact(fd, reinterpret_cast<char*>(&size), sizeof(size)))
    throw process_error(process_errc::system, "launch request: the parent closed the channel");
  if (size > max_request_size)
    throw process_error(process_errc::system, "launch request: implausible size");
  std::string body(size, '\0');
  if (!read_exact(fd, body.data(), size))
    throw process_error(process_errc::system, "launch request: truncated");
  return decode_request(body);
}

bool write_all(int fd, std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool read_exact(int fd, char* out, size_t n) noexcept {
  while (n > 0) {
    ssize_t got = ::read(fd, out, n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

} // namespace proctor::detail
