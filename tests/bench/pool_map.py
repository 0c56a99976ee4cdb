"""pool_map, impl `python`: the same work with multiprocessing.Pool.

    python3 pool_map.py COUNT

Pool(2).map(square, inputs) of COUNT trivial tasks with map's default chunksize (four chunks per
worker); the inputs are i % 46341, as bench_pool_map's (the largest whose squares fit its int).
The pool is started before the clock; one warm-up map, then eleven timed ones. Prints the median
tasks/s as a JSON line, and the median time to stderr.
"""
import json
import multiprocessing
import statistics
import sys
import time

ROUNDS = 11


def square(x):
    return x * x


def one_round(pool, inputs):
    """One map of every input, in tasks per second."""
    start = time.perf_counter_ns()
    results = pool.map(square, inputs)
    elapsed = time.perf_counter_ns() - start
    if len(results) != len(inputs) or results[-1] != inputs[-1] * inputs[-1]:
        sys.exit("pool_map.py: a result is missing or wrong")
    return len(inputs) / (elapsed / 1e9)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} COUNT")
    count = int(sys.argv[1])
    inputs = [i % 46341 for i in range(count)]
    with multiprocessing.Pool(2) as pool:
        one_round(pool, inputs)  # warm-up
        rates = [one_round(pool, inputs) for _ in range(ROUNDS)]
    rate = statistics.median(rates)
    print(f"pool_map: python Pool(2).map of {count} tasks: median {count / rate * 1e3:.1f} ms "
          f"({count / max(rates) * 1e3:.1f} to {count / min(rates) * 1e3:.1f})", file=sys.stderr)
    print(json.dumps({"value": round(rate, 2), "unit": "tasks/s", "better": "higher"}), flush=True)


if __name__ == "__main__":
    main()
