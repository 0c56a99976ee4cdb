// Must not compile: a lambda that captures a std::string cannot be copied into a worker byte for
// byte; the error says what a task may capture.
#include <proctor/pool.hpp>

#include <string>
#include <vector>

int main() {
  proctor::pool pool{1};
  std::string suffix = "!";
  (void)pool.map([suffix](int x) { return static_cast<int>(suffix.size()) + x; }, std::vector{1});
}
