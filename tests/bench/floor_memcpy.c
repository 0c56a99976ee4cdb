/* large_message, impl `floor`: the bandwidth of copying 1 MiB buffers with memcpy in one process,
 * what a message crossing a queue cannot beat (it is copied in, then out).
 *   bench_floor_memcpy COUNT
 * The copies cycle through a set of buffers larger than this machine's caches are likely to keep
 * for one core, as a queue's ring does. Prints the median GB/s of five rounds of COUNT/5 copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_report.h"

enum { message_bytes = 1 << 20, buffers = 8, rounds = 5 };

int main(int argc, char** argv) {
  long count = bench_count(argc, argv);
  if (count <= 0)
    return 2;
  long per_round = count < rounds ? 1 : count / rounds;
  char* from = malloc((size_t)buffers * message_bytes);
  char* to = malloc((size_t)buffers * message_bytes);
  if (from == NULL || to == NULL)
    return 1;
  memset(from, 'x', (size_t)buffers * message_bytes); /* touch every page before timing */
  memset(to, 0, (size_t)buffers * message_bytes);
  double rates[rounds];
  for (int r = 0; r < rounds; ++r) {
    double start = bench_now_ns();
    for (long i = 0; i < per_round; ++i) {
      size_t slot = (size_t)(i % buffers) * message_bytes;
      memcpy(to + slot, from + (size_t)((i + 3) % buffers) * message_bytes, message_bytes);
    }
    rates[r] = (double)per_round * message_bytes / (bench_now_ns() - start); /* bytes/ns = GB/s */
    if (to[0] != 'x')
      return 1; /* keeps the copies observable */
  }
  bench_print(bench_median(rates, rounds), "GB/s", "higher");
  free(from);
  free(to);
  return 0;
}
