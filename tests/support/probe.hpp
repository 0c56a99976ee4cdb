#pragma once

#include <array>
#include <string>

#include <proctor/start_method.hpp>

/// Entry points the tests run in child processes, under every start method. Children report
/// through their exit code or through a file whose path they receive.
namespace proctor::test {

void probe_return();
void probe_exit(int code);                       ///< proctor::exit(code)
void probe_std_exit(int code);                   ///< std::exit(code)
void probe_throw(std::string stderr_path, std::string message);
void probe_raise(int sig);                       ///< no core file, then raise(sig)
void probe_sleep_ms(int ms);
void probe_ignore_sigterm_then_sleep_ms(int ms);
void probe_identity(std::string path);           ///< writes name, pid, parent name, parent pid, daemon
void probe_check_payload(std::string payload, unsigned long size, unsigned long checksum);

/// A fresh path under the temporary directory, removed by the destructor.
class temp_file {
 public:
  temp_file();
  ~temp_file();
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string read() const;

 private:
  std::string path_;
};

/// A cheap checksum for probe_check_payload.
unsigned long checksum(const std::string& bytes);

inline constexpr std::array<start_method, 3> all_methods{start_method::fork, start_method::spawn,
                                                        start_method::forkserver};

} // namespace proctor::test
