#include "support/heavy_work.hpp"

#include <algorithm>
#include <random>

namespace samples {

std::vector<double> sorted_random_numbers(std::size_t n) {
  std::mt19937_64 engine{std::random_device{}()};
  std::uniform_real_distribution<double> uniform{0.0, 1.0};
  std::vector<double> numbers(n);
  std::generate(numbers.begin(), numbers.end(), [&] { return uniform(engine); });
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

} // namespace samples
