"""process_start, impls `python-fork` and `python-forkserver`: the same work with multiprocessing.

    python3 process_start.py fork|forkserver COUNT

Prints the median microseconds of COUNT rounds (after a few warm-up rounds) as a JSON line.
"""
import json
import multiprocessing
import statistics
import sys
import time

WARMUP_ROUNDS = 3


def exit_at_once():
    pass


def start_and_join(ctx):
    """One Process()+start()+join() round, in microseconds."""
    start = time.perf_counter_ns()
    p = ctx.Process(target=exit_at_once)
    p.start()
    p.join()
    elapsed = time.perf_counter_ns() - start
    if p.exitcode != 0:
        sys.exit(f"process_start.py: the child exited with {p.exitcode}")
    return elapsed / 1e3


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("fork", "forkserver", "spawn"):
        sys.exit(f"usage: {sys.argv[0]} fork|forkserver|spawn COUNT")
    ctx = multiprocessing.get_context(sys.argv[1])
    count = int(sys.argv[2])
    for _ in range(WARMUP_ROUNDS):
        start_and_join(ctx)
    samples = [start_and_join(ctx) for _ in range(count)]
    print(json.dumps({"value": round(statistics.median(samples), 2), "unit": "us",
                      "better": "lower"}), flush=True)


if __name__ == "__main__":
    main()
