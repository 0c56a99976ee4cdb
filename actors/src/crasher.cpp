#include "proctor/actors/crasher.hpp"

#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <utility>

#include "proctor/actors/register_own_name.hpp"

namespace proctor::actors {

namespace {

/// The signal `how` names ("SIGSEGV", "segv", "11", "abort"), or 0.
int parse_signal(std::string how) {
  for (auto& c : how)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (how == "ABORT")
    return SIGABRT;
  if (how.starts_with("SIG"))
    how.erase(0, 3);
  if (!how.empty() && std::isdigit(static_cast<unsigned char>(how.front()))) {
    int n = std::atoi(how.c_str());
    return n > 0 && n < NSIG && std::to_string(n) == how ? n : 0;
  }
  for (int sig = 1; sig < NSIG; ++sig)
    if (const char* abbrev = ::sigabbrev_np(sig); abbrev != nullptr && how == abbrev)
      return sig;
  return 0;
}

double uniform() {
  std::uint64_t r = 0;
  (void)::getrandom(&r, sizeof r, 0);
  return static_cast<double>(r >> 11) / static_cast<double>(std::uint64_t{1} << 53);
}

} // namespace

crasher::crasher(actor& self, std::int64_t after, std::string how, double probability)
  : self_(self), after_(after), how_(std::move(how)), probability_(probability) {}

void crasher::init() {
  if (how_ != "throw" && how_ != "exit" && how_ != "hang") {
    signal_ = parse_signal(how_);
    if (signal_ == 0)
      throw std::invalid_argument("crasher: '" + how_
                                  + "' is not a signal name, 'throw', 'exit' or 'hang'");
  }
  if (after_ < 0)
    throw std::invalid_argument("crasher: after must be 0 (never) or more");
  if (!(probability_ >= 0.0 && probability_ <= 1.0))
    throw std::invalid_argument("crasher: the probability must lie in [0, 1]");
  register_own_name(self_);
}

behavior crasher::make_behavior() {
  return {
    [this](const tick& t) { count("tick " + std::to_string(t.n)); },
    [this](const std::string& line) { count("line '" + line + "'"); },
  };
}

void crasher::count(const std::string& what) {
  ++seen_;
  if (after_ > 0 && seen_ >= after_)
    fail("message " + std::to_string(seen_) + " (" + what + ")");
  if (probability_ > 0.0 && uniform() < probability_)
    fail("bad luck on message " + std::to_string(seen_) + " (" + what + ")");
}

void crasher::fail(const std::string& why) {
  std::fprintf(stderr, "%s: %s: %s, as asked\n", self_.ref().name().c_str(), why.c_str(),
               how_.c_str());
  std::fflush(stderr);
  if (how_ == "throw")
    throw std::runtime_error("crasher: " + why);
  if (how_ == "exit")
    std::_Exit(3);
  if (how_ == "hang")
    for (;;)
      std::this_thread::sleep_for(std::chrono::hours{1});
  rlimit none{0, 0}; // a demo crash, not a bug to debug: no core file
  ::setrlimit(RLIMIT_CORE, &none);
  ::signal(signal_, SIG_DFL);
  ::raise(signal_);
  std::_Exit(128 + signal_); // a signal whose default action is to ignore it
}

} // namespace proctor::actors
