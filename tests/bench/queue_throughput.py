"""queue_throughput, impl `python`: the same work with multiprocessing.Queue.

    python3 queue_throughput.py COUNT

COUNT small integers in five rounds from a producer process to this one; each round is timed by
the consumer from the moment it tells the waiting producer to go until it has received the round's
last item. Prints the median items/s of the rounds as a JSON line.
"""
import json
import multiprocessing
import statistics
import sys
import time

ROUNDS = 5


def produce(go, q):
    """For each go signal (a count), puts that many items; stops at None."""
    for n in iter(go.get, None):
        for i in range(n):
            q.put(i)


def one_round(go, q, n):
    """One round of `n` items, in items per second."""
    start = time.perf_counter_ns()
    go.put(n)
    for i in range(n):
        if q.get() != i:
            sys.exit("queue_throughput.py: an item was lost or out of order")
    return n / ((time.perf_counter_ns() - start) / 1e9)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} COUNT")
    count = int(sys.argv[1])
    go, q = multiprocessing.Queue(), multiprocessing.Queue()
    producer = multiprocessing.Process(target=produce, args=(go, q))
    producer.start()
    one_round(go, q, 1000)  # warm-up
    rates = [one_round(go, q, max(1, count // ROUNDS)) for _ in range(ROUNDS)]
    go.put(None)
    producer.join()
    if producer.exitcode != 0:
        sys.exit(f"queue_throughput.py: the producer exited with {producer.exitcode}")
    print(json.dumps({"value": round(statistics.median(rates), 2), "unit": "items/s",
                      "better": "higher"}), flush=True)


if __name__ == "__main__":
    main()
