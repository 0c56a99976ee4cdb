#include "support/children_status.hpp"

#include <iostream>

namespace samples {

int children_status(std::vector<proctor::process> children) {
  int status = 0;
  for (auto& child : children) {
    child.join();
    if (int code = child.exitcode().value_or(0); code != 0) {
      std::cerr << "sample: process '" << child.name() << "' (pid " << child.pid().value_or(0)
                << ") ended with exitcode " << code << '\n';
      status = 1;
    }
  }
  return status;
}

} // namespace samples
