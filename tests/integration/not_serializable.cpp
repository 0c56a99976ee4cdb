// Must not compile: a raw pointer means nothing in another process.
#include <proctor/process.hpp>

void takes_pointer(int* p) { (void)p; }

int main() {
  int x = 0;
  proctor::process p{proctor::entry<takes_pointer>, &x};
}
