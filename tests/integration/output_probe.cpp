// What a child prints without flushing comes out once when it ends, and what its parent had in
// its buffers comes out once too, before the child's, never a second time from the child's copy
// of them; under every start method, and with std::cout's own buffer (`unsynced`:
// sync_with_stdio(false)) as well as without; and all of it goes where the parent's stdout (or
// stderr) goes at the time, even under forkserver and spawn, whose children the zygote starts.
// The probe runs the program again, which sends its output to a file after proctor::init() (so
// that it is fully buffered, as under a pipe), then reads what that run passes on and counts.
//   proctor_output_probe synced|unsynced
// Prints "each line came out once" and exits 0, or names what came out wrong and exits 1.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

namespace {

void print_unflushed(std::string method) {
  std::cout << "child cout " << method << '\n';
  std::printf("child printf %s\n", method.c_str());
  std::cerr << "child cerr " << method << '\n';
}

const std::vector<std::string> methods{"fork", "forkserver", "spawn"};
const std::string log_mark = "--- the run's log:\n";

std::size_t count_of(const std::string& text, const std::string& line) {
  std::size_t n = 0;
  for (auto at = text.find(line); at != std::string::npos; at = text.find(line, at + 1))
    ++n;
  return n;
}

std::string read_all(int fd) {
  std::string text;
  char chunk[4096];
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd, chunk, sizeof chunk, at);
    if (n <= 0)
      return text;
    text.append(chunk, static_cast<std::size_t>(n));
    at += n;
  }
}

/// The run under test: prints, starts a child under each start method, joins them. Its stdout
/// and stderr go to a file of its own from after proctor::init() on, as a service sends its
/// output to a log: the children write there too, not where the zygote's went.
int print_and_start(bool unsynced) {
  int log = ::memfd_create("proctor-output-probe-log", MFD_CLOEXEC);
  int before = ::dup(STDOUT_FILENO);
  if (log < 0 || before < 0 || ::dup2(log, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) {
    std::perror("output_probe: cannot redirect stdout and stderr");
    return 1;
  }
  if (unsynced)
    std::ios_base::sync_with_stdio(false); // before any output, as it must be
  bool exits_clean = true;
  for (const auto& method : methods) {
    std::cout << "parent cout before " << method << '\n';
    std::printf("parent printf before %s\n", method.c_str());
    auto p = proctor::get_context(*proctor::parse_start_method(method))
               .make_process(proctor::entry<print_unflushed>, method);
    p.start();
    p.join();
    exits_clean = exits_clean && p.exitcode() == 0;
  }
  bool none_left = proctor::active_children().empty();
  if (!exits_clean)
    std::cout << "a child did not exit with 0\n";
  if (!none_left)
    std::cout << "children were left running\n";
  std::cout.flush();
  std::fflush(stdout);
  // To where the probe reads it, behind a mark: a child that wrote to the zygote's stdout
  // instead of the log shows up in front of it.
  std::string text = log_mark + read_all(log);
  (void)!::write(before, text.data(), text.size());
  return exits_clean && none_left ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  if (argc == 3 && std::strcmp(argv[1], "--run") == 0)
    return print_and_start(std::strcmp(argv[2], "unsynced") == 0);
  if (argc != 2 || (std::strcmp(argv[1], "synced") != 0 && std::strcmp(argv[1], "unsynced") != 0)) {
    std::cerr << "usage: " << argv[0] << " synced|unsynced\n";
    return 2;
  }

  // The run under test is a new run of this program with its standard output in a file from the
  // start, so that its zygote (and the children it starts) write there too.
  int file = ::memfd_create("proctor-output-probe", MFD_CLOEXEC);
  if (file < 0) {
    std::perror("output_probe: memfd_create");
    return 1;
  }
  pid_t run = ::fork();
  if (run == 0) {
    ::dup2(file, STDOUT_FILENO); // without close-on-exec: the new run writes there
    ::execl("/proc/self/exe", argv[0], "--run", argv[1], static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (run < 0 || ::waitpid(run, &status, 0) != run) {
    std::perror("output_probe: cannot run the test");
    return 1;
  }

  std::string all = read_all(file);
  auto mark = all.find(log_mark);
  std::string text = mark == std::string::npos ? "" : all.substr(mark + log_mark.size());
  std::vector<std::string> wrong;
  if (mark != 0)
    wrong.push_back("the run printed where it had no longer sent its stdout: "
                    + all.substr(0, mark));
  for (const auto& method : methods)
    for (const auto& line : {"parent cout before " + method, "parent printf before " + method,
                             "child cout " + method, "child printf " + method,
                             "child cerr " + method})
      if (auto n = count_of(text, line + '\n'); n != 1)
        wrong.push_back("'" + line + "' came out " + std::to_string(n) + " times");
  for (const auto& method : methods)
    for (const char* stream : {"cout", "printf"})
      if (text.find(std::string{"parent "} + stream + " before " + method)
          > text.find(std::string{"child "} + stream + " " + method))
        wrong.push_back("the parent's " + std::string{stream} + " line before " + method
                        + " came out after the child's");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    wrong.push_back("the run did not exit with 0");
  if (wrong.empty())
    std::cout << "each line came out once\n";
  for (const auto& w : wrong)
    std::cout << w << '\n';
  std::cout << "--- what the run printed:\n" << all;
  return wrong.empty() ? 0 : 1;
}
