// A program that forgets proctor::init(): spawn must refuse with a clear message.
#include <iostream>

#include <proctor/proctor.hpp>

void child() {}

int main() {
  proctor::process p{proctor::process::options{.name = "orphan-of-init",
                                                .method = proctor::start_method::spawn},
                     proctor::entry<child>};
  try {
    p.start();
  } catch (const proctor::process_error& e) {
    std::cout << "refused: " << e.what() << '\n';
    return e.code() == proctor::process_errc::no_init ? 0 : 1;
  }
  p.join();
  std::cout << "started a spawn child without init\n";
  return 1;
}
