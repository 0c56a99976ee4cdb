"""queue_rtt and pipe_rtt, impl `python`: a round trip between two processes with
multiprocessing — over two Queues (ping on one, pong on the other) or over one duplex Pipe.
pingpong, impl `python`, is the Pipe: the two parties of Savina PingPong.

    python3 round_trip.py queue|pipe COUNT

Prints the median microseconds of COUNT round trips (after warm-up rounds) as a JSON line.
"""
import json
import multiprocessing
import statistics
import sys
import time

WARMUP_ROUNDS = 200


def queue_ponger(ping, pong):
    """Answers every ping with the same number until None."""
    for n in iter(ping.get, None):
        pong.put(n)


def pipe_ponger(end):
    """Answers every ping with the same number until None."""
    for n in iter(end.recv, None):
        end.send(n)


def queue_channel():
    """(send, receive, stop, child): the parent's side of two queues, and the child."""
    ping, pong = multiprocessing.Queue(), multiprocessing.Queue()
    child = multiprocessing.Process(target=queue_ponger, args=(ping, pong))
    return ping.put, pong.get, lambda: ping.put(None), child


def pipe_channel():
    mine, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=pipe_ponger, args=(theirs,))
    return mine.send, mine.recv, lambda: mine.send(None), child


def round_trip(send, receive, n):
    """One round trip, in microseconds."""
    start = time.perf_counter_ns()
    send(n)
    back = receive()
    elapsed = time.perf_counter_ns() - start
    if back != n:
        sys.exit("round_trip.py: the pong does not match the ping")
    return elapsed / 1e3


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("queue", "pipe"):
        sys.exit(f"usage: {sys.argv[0]} queue|pipe COUNT")
    count = int(sys.argv[2])
    send, receive, stop, child = (queue_channel if sys.argv[1] == "queue" else pipe_channel)()
    child.start()
    for i in range(WARMUP_ROUNDS):
        round_trip(send, receive, i)
    samples = [round_trip(send, receive, i) for i in range(count)]
    stop()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"round_trip.py: the child exited with {child.exitcode}")
    print(json.dumps({"value": round(statistics.median(samples), 2), "unit": "us",
                      "better": "lower"}), flush=True)


if __name__ == "__main__":
    main()
