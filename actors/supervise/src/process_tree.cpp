#include "process_tree.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "proctor/init.hpp"

namespace proctor::supervise {

namespace {

struct proc_stat {
  pid_t ppid = 0;
  char state = '?';
  std::uint64_t start_time = 0;
  std::string comm;
};

std::optional<proc_stat> read_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  auto open = line.find('(');
  auto close = line.rfind(')'); // the command name may hold spaces and parentheses
  if (open == std::string::npos || close == std::string::npos || close < open)
    return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  proc_stat st;
  st.comm = line.substr(open + 1, close - open - 1);
  rest >> st.state >> st.ppid;
  std::string skip;
  for (int field = 5; field < 22; ++field) // fields 5 to 21, then starttime
    rest >> skip;
  rest >> st.start_time;
  if (!rest)
    return std::nullopt;
  return st;
}

bool runs(const process_id& p) {
  auto st = read_stat(p.pid);
  return st && st->start_time == p.start_time && st->state != 'Z' && st->state != 'X';
}

} // namespace

std::vector<process_id> descendants() {
  std::multimap<pid_t, process_id> children_of;
  pid_t zygote = forkserver_pid();
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      auto pid = static_cast<pid_t>(std::strtol(e->d_name, &end, 10));
      if (end == e->d_name || *end != '\0')
        continue;
      // The zygote's helpers (its spare, forked ahead of its next start, and its reaper) live as
      // long as the zygote.
      if (auto st = read_stat(pid);
          st && !(st->ppid == zygote && (st->comm == "proctor-spare" || st->comm == "proctor-reaper")))
        children_of.emplace(st->ppid, process_id{pid, st->start_time});
    }
    ::closedir(d);
  }
  std::vector<process_id> out;
  std::vector<pid_t> todo{::getpid()};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto [from, to] = children_of.equal_range(parent);
    for (auto it = from; it != to; ++it) {
      todo.push_back(it->second.pid);
      if (it->second.pid != zygote)
        out.push_back(it->second);
    }
  }
  return out;
}

std::vector<process_id> wait_until_gone(std::vector<process_id> procs,
                                        std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::erase_if(procs, [](const process_id& p) { return !runs(p); });
    if (procs.empty() || std::chrono::steady_clock::now() >= deadline)
      return procs;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

} // namespace proctor::supervise
