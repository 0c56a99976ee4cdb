#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace proctor {

/// Who the calling process is, as `multiprocessing.current_process()` tells it.
struct process_info {
  std::string name;   ///< "main-process" in the program's first process.
  pid_t pid = 0;
  bool daemon = false;
};

/// The calling process: its name, pid and daemon flag.
[[nodiscard]] process_info current_process();

/// The process that started this one (through proctor), or empty in the main process. For a
/// forkserver child this is the process that asked for it, not the zygote.
[[nodiscard]] std::optional<process_info> parent_process();

/// True while the process that started this one runs.
[[nodiscard]] bool parent_is_alive();

/// The number of CPUs online, as `os.cpu_count()`.
[[nodiscard]] unsigned cpu_count() noexcept;

/// Ends the calling process with `code`, as Python's `sys.exit(code)`: inside a proctor child it
/// unwinds the target's stack (destructors run) and the child exits with `code`; in the main
/// process it is std::exit(code).
[[noreturn]] void exit(int code);

} // namespace proctor
