#include "support/leftovers.hpp"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <thread>

#include <proctor/process.hpp>

#include <proctor/init.hpp>

namespace proctor::test {

namespace {

struct proc_stat {
  pid_t ppid = 0;
  char state = '?';
  std::string comm;
};

bool read_stat(pid_t pid, proc_stat& out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return false;
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return false;
  out.comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 2));
  rest >> out.state >> out.ppid;
  return true;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (end != e->d_name && *end == '\0')
        out.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(d);
  }
  return out;
}

/// The pid in a proctor segment's name ("proctor-<pid>.<start time>-<random>"), or 0.
pid_t segment_creator(const std::string& name) {
  constexpr std::string_view prefix = "proctor-";
  if (name.compare(0, prefix.size(), prefix) != 0)
    return 0;
  return static_cast<pid_t>(std::strtol(name.c_str() + prefix.size(), nullptr, 10));
}

/// True for a segment that a live process outside this process tree made: another test program
/// running at the same time (ctest -j), not a leftover of this test.
bool made_by_another_live_tree(const std::string& name, const std::vector<pid_t>& ours) {
  pid_t creator = segment_creator(name);
  return creator > 0 && creator != ::getpid() && !is_dead(creator)
         && std::find(ours.begin(), ours.end(), creator) == ours.end();
}

} // namespace

std::vector<pid_t> descendants() {
  std::multimap<pid_t, pid_t> children_of;
  pid_t zygote = forkserver_pid();
  for (pid_t pid : all_pids()) {
    proc_stat st;
    // The zygote's helpers (its spare, forked ahead of the next start, and its reaper) live as
    // long as the zygote.
    if (read_stat(pid, st)
        && !(st.ppid == zygote && (st.comm == "proctor-spare" || st.comm == "proctor-reaper")))
      children_of.emplace(st.ppid, pid);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{::getpid()};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto [from, to] = children_of.equal_range(parent);
    for (auto it = from; it != to; ++it) {
      todo.push_back(it->second);
      if (it->second != zygote)
        out.push_back(it->second);
    }
  }
  return out;
}

std::string describe(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) {
    proc_stat st;
    read_stat(pid, st);
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmd;
    std::getline(in, cmd, '\0');
    out += std::to_string(pid) + " " + st.state + " (parent " + std::to_string(st.ppid) + ") "
           + cmd + "\n";
  }
  return out;
}

bool is_dead(pid_t pid) {
  proc_stat st;
  if (!read_stat(pid, st))
    return true;
  if (st.state != 'Z' && st.state != 'X')
    return false;
  if (st.ppid == ::getpid())
    ::waitpid(pid, nullptr, WNOHANG);
  return true;
}

std::set<std::string> shm_entries() {
  std::set<std::string> out;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.')
        out.insert(e->d_name);
    ::closedir(d);
  }
  return out;
}

leftover_guard::leftover_guard() : shm_before_(shm_entries()) {}

std::string leftover_guard::check(std::chrono::milliseconds grace) const {
  auto deadline = std::chrono::steady_clock::now() + grace;
  std::string report;
  for (;;) {
    report.clear();
    // proctor reaps its own children first; then the orphans that were reparented to this
    // (subreaper) process are reaped here.
    bool known_children = !proctor::active_children().empty();
    for (pid_t pid : descendants())
      is_dead(pid);
    auto still = descendants();
    if (!still.empty())
      report += "processes left behind:\n" + describe(still);
    if (known_children)
      report += "active_children() is not empty\n";
    for (const auto& name : shm_entries())
      if (!shm_before_.contains(name) && !made_by_another_live_tree(name, still))
        report += "/dev/shm/" + name + " left behind\n";
    if (report.empty() || std::chrono::steady_clock::now() >= deadline)
      return report;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace proctor::test
