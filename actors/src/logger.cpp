#include "proctor/actors/logger.hpp"

#include <time.h>

#include <chrono>
#include <cstdio>

#include "proctor/actors/register_own_name.hpp"

namespace proctor::actors {

namespace {

/// "12:00:01.250", local time.
std::string clock_time() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  tm parts{};
  ::localtime_r(&t, &parts);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(ms));
  return buf;
}

} // namespace

logger::logger(actor& self) : self_(self), name_(self.ref().name()) {}

void logger::init() { register_own_name(self_); }

behavior logger::make_behavior() {
  return {
    [this](const std::string& line) { print(line); },
    [this](const tick& t) { print("tick " + std::to_string(t.n)); },
  };
}

void logger::print(const std::string& text) {
  auto from = self_.current_sender() ? self_.current_sender().name() : std::string{};
  auto line =
    clock_time() + " " + name_ + " <- " + (from.empty() ? "?" : from) + ": " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

} // namespace proctor::actors
