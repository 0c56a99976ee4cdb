"""mailbox_n1, impl `python`: 20 sender processes each put COUNT small items on one
multiprocessing.Queue, read by this process; five timed rounds of COUNT/5 items a sender, after a
warm-up round.

    python3 mailbox_n1.py COUNT

Prints the median messages per second of the rounds as a JSON line; a round lasts from the
receiver's go to the senders (one Pipe each) until it has received the round's last item.
"""
import json
import multiprocessing
import statistics
import sys
import time

SENDERS = 20
TIMED_ROUNDS = 5
WARMUP_MESSAGES = 1000


def sender(go, inbox):
    """For each go (a count n), puts 0..n-1 on `inbox`; stops at None."""
    for n in iter(go.recv, None):
        for i in range(n):
            inbox.put(i)


def one_round(gos, inbox, n):
    """Lets every sender put n items and gets them all; returns messages per second."""
    start = time.perf_counter_ns()
    for go in gos:
        go.send(n)
    total = sum(inbox.get() for _ in range(SENDERS * n))
    elapsed = time.perf_counter_ns() - start
    if total != SENDERS * (n * (n - 1) // 2):
        sys.exit("mailbox_n1.py: an item was lost or corrupted")
    return SENDERS * n / (elapsed / 1e9)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) <= 0:
        sys.exit(f"usage: {sys.argv[0]} COUNT")
    n = max(1, int(sys.argv[1]) // TIMED_ROUNDS)
    inbox = multiprocessing.Queue()
    gos, senders = [], []
    for _ in range(SENDERS):
        theirs, mine = multiprocessing.Pipe(duplex=False)
        senders.append(multiprocessing.Process(target=sender, args=(theirs, inbox), daemon=True))
        gos.append(mine)
    for s in senders:
        s.start()
    one_round(gos, inbox, WARMUP_MESSAGES)
    rates = [one_round(gos, inbox, n) for _ in range(TIMED_ROUNDS)]
    for go in gos:
        go.send(None)
    for s in senders:
        s.join()
        if s.exitcode != 0:
            sys.exit(f"mailbox_n1.py: a sender exited with {s.exitcode}")
    print(json.dumps({"value": round(statistics.median(rates), 2), "unit": "msgs/s",
                      "better": "higher"}), flush=True)


if __name__ == "__main__":
    main()
