"""counting, impl `python`: Savina Counting with multiprocessing, over a Queue.

    python3 counting.py COUNT

The producer (this process) puts "increment" on the counter process's Queue, then asks it for the
total (the answer comes back on a second Queue) and checks it; COUNT messages in five timed rounds
after a warm-up round (the counter keeps counting across rounds). Prints the median messages per
second of the rounds as a JSON line; a round lasts from its first put until the total is back.
"""
import json
import multiprocessing
import statistics
import sys
import time

TIMED_ROUNDS = 5
WARMUP_MESSAGES = 1000


def counter(inbox, answers):
    """Counts "increment"s; answers "total" with the count so far; stops at None."""
    total = 0
    for message in iter(inbox.get, None):
        if message == "increment":
            total += 1
        elif message == "total":
            answers.put(total)


def one_round(inbox, answers, n, expected):
    """Sends n increments and checks that the total is then `expected`; returns messages/s."""
    start = time.perf_counter_ns()
    for _ in range(n):
        inbox.put("increment")
    inbox.put("total")
    total = answers.get()
    elapsed = time.perf_counter_ns() - start
    if total != expected:
        sys.exit(f"counting.py: the counter's total is {total}, not {expected}")
    return n / (elapsed / 1e9)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) <= 0:
        sys.exit(f"usage: {sys.argv[0]} COUNT")
    n = max(1, int(sys.argv[1]) // TIMED_ROUNDS)
    inbox, answers = multiprocessing.Queue(), multiprocessing.Queue()
    child = multiprocessing.Process(target=counter, args=(inbox, answers), daemon=True)
    child.start()
    one_round(inbox, answers, WARMUP_MESSAGES, WARMUP_MESSAGES)
    rates = [one_round(inbox, answers, n, WARMUP_MESSAGES + i * n)
             for i in range(1, TIMED_ROUNDS + 1)]
    inbox.put(None)
    child.join()
    if child.exitcode != 0:
        sys.exit(f"counting.py: the counter exited with {child.exitcode}")
    print(json.dumps({"value": round(statistics.median(rates), 2), "unit": "msgs/s",
                      "better": "higher"}), flush=True)


if __name__ == "__main__":
    main()
