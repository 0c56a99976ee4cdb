// A program that confines itself after proctor::init(), as a service does once it has set up:
// a lower limit on open files, and no_new_privs. Its children under forkserver and spawn must
// start as confined as it now is, and with its limit on open files, not the zygote's.
//   proctor_confinement_probe
// Prints "children are confined as their parent" and exits 0, or names what went wrong and
// exits 1.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include <proctor/proctor.hpp>

namespace {

constexpr rlim_t files_limit = 200;

/// 0 if this process is confined as its parent made itself, 1 for the limit, 2 for no_new_privs.
void report_confinement() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur != files_limit)
    proctor::exit(1);
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
    proctor::exit(2);
  proctor::exit(0);
}

} // namespace

int main(int argc, char** argv) {
  proctor::init(argc, argv);
  using proctor::start_method;
  std::vector<std::string> wrong;
  // Once before the change: the zygote is up and has served.
  {
    auto p = proctor::get_context(start_method::forkserver)
               .make_process(proctor::entry<report_confinement>);
    p.start();
    p.join();
    if (p.exitcode() == 0)
      wrong.push_back("a child started before the change was confined already");
  }
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_max < files_limit) {
    std::puts("the hard limit on open files is below the probe's: nothing to lower");
    return 77;
  }
  files.rlim_cur = files_limit;
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    std::perror("confinement_probe: cannot confine itself");
    return 1;
  }
  for (auto m : {start_method::forkserver, start_method::spawn, start_method::fork}) {
    auto p = proctor::get_context(m).make_process(proctor::entry<report_confinement>);
    p.start();
    p.join();
    if (p.exitcode() != 0)
      wrong.push_back(std::string{proctor::to_string(m)} + " child was not confined as its parent"
                      + " (exit " + std::to_string(p.exitcode().value_or(-1)) + ")");
  }
  if (!proctor::active_children().empty())
    wrong.push_back("children were left running");
  if (wrong.empty())
    std::puts("children are confined as their parent");
  for (const auto& w : wrong)
    std::puts(w.c_str());
  return wrong.empty() ? 0 : 1;
}
