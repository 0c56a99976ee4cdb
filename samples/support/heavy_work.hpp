#pragma once

#include <cstddef>
#include <vector>

namespace samples {

/// `n` random numbers in [0, 1), sorted: the seeds' `sorted([random.random() for i in range(n)])`,
/// a simple resource-intensive job that keeps one core busy for a while.
[[nodiscard]] std::vector<double> sorted_random_numbers(std::size_t n);

} // namespace samples
