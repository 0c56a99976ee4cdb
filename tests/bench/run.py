"""Runs proctor's benchmarks beside their peers (DESIGN.md, "Performance"); used by scripts/bench.

    run.py --build DIR [--quick] [NAME...]     run the named benches (all without names)
    run.py --check [NAME...]                   only validate the names

Contract of a bench command: it takes the amount of work as its last argument and prints JSON
lines {"value": 1.5, "unit": "us", "better": "lower"|"higher"}. A line may name its own "bench"
and "impl"; otherwise it belongs to the run that printed it. The runs of a bench take turns,
three rounds each (one with --quick); a figure is the median of its rounds. The results go to
stdout, one {"bench", "impl", "value", "unit", "better"} object a line, then a table to stderr
with each round's figures.
Exit status: 0, 1 if a run failed, 2 for a bad command line. A missed goal is a figure, not a
failure.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import namedtuple

Run = namedtuple("Run", "impl argv work")  # work: the full amount, a tenth with --quick
Goal = namedtuple("Goal", "impl peer bound")  # value(impl) / value(peer) within bound
# peers: the impls every value is compared to. rounds: how many times each run goes, the runs of
# a bench taking turns (a slow spell of this shared machine then falls on every impl, not on one);
# split: each round does 1/rounds of the work, rather than all of it (a COUNT of samples whose
# percentiles need all of them is not split).
Bench = namedtuple("Bench", "runs peers goals rounds split", defaults=(3, True))

RUN_TIMEOUT_S = 900
HERE = os.path.dirname(os.path.abspath(__file__))


def registry(build):
    """Every known bench, by name, with its programs taken from the build tree `build`."""
    def program(name, *args):
        return [os.path.join(build, "tests", "bench", name), *args]

    def python(script, *args):
        return [sys.executable, os.path.join(HERE, script), *args]

    def erlang(script, *args):
        return ["escript", os.path.join(HERE, script), *args]

    return {
        "process_start": Bench(
            runs=[
                Run("floor", program("bench_floor_fork"), 2000),
                Run("floor-cxx", program("bench_process_start", "raw"), 2000),
                Run("proctor-fork", program("bench_process_start", "fork"), 2000),
                Run("proctor-forkserver", program("bench_process_start", "forkserver"), 2000),
                Run("proctor-spawn", program("bench_process_start", "spawn"), 500),
                Run("python-fork", python("process_start.py", "fork"), 500),
                Run("python-forkserver", python("process_start.py", "forkserver"), 200),
            ],
            peers=["floor", "floor-cxx", "python-fork"],
            goals=[
                Goal("proctor-fork", "floor", 1.5),
                Goal("proctor-fork", "python-fork", 0.1),
                Goal("proctor-forkserver", "floor", 1.5),
                Goal("proctor-forkserver", "python-fork", 0.1),
            ]),
        "queue_throughput": Bench(
            runs=[
                Run("proctor", program("bench_queue_throughput"), 1_000_000),
                Run("python", python("queue_throughput.py"), 100_000),
            ],
            peers=["python"],
            goals=[Goal("proctor", "python", 100)]),
        "queue_rtt": Bench(
            runs=[
                Run("floor-spin", program("bench_floor_rtt", "spin"), 100_000),
                Run("floor-futex", program("bench_floor_rtt", "futex"), 100_000),
                Run("proctor", program("bench_queue_rtt"), 100_000),
                Run("python", python("round_trip.py", "queue"), 10_000),
            ],
            peers=["floor-spin", "floor-futex", "python"],
            goals=[Goal("proctor", "python", 0.02)]),
        "pipe_rtt": Bench(
            runs=[
                Run("floor-spin", program("bench_floor_rtt", "spin"), 100_000),
                Run("floor-futex", program("bench_floor_rtt", "futex"), 100_000),
                Run("proctor", program("bench_pipe_rtt"), 100_000),
                Run("python", python("round_trip.py", "pipe"), 10_000),
            ],
            peers=["floor-spin", "floor-futex", "python"],
            goals=[Goal("proctor", "python", 0.02)]),
        "large_message": Bench(
            runs=[
                Run("floor", program("bench_floor_memcpy"), 10_000),
                Run("proctor", program("bench_large_message"), 2_000),
            ],
            peers=["floor"],
            goals=[Goal("proctor", "floor", 0.5)]),
        # The actor benches. A COUNT is: spawn, rounds (spawn, first reply, stop, seen ended);
        # pingpong, round trips; counting, messages in all; mailbox_n1, messages from each of 20
        # senders; threadring, hops round a ring of 100.
        "spawn": Bench(
            runs=[
                Run("floor", program("bench_floor_fork"), 2000),
                Run("floor-cxx", program("bench_process_start", "raw"), 2000),
                Run("proctor", program("bench_spawn"), 2000),
                Run("caf", program("bench_spawn_caf"), 10_000),
                Run("erlang", erlang("spawn.erl"), 10_000),
            ],
            peers=["floor", "floor-cxx", "caf", "erlang"],
            goals=[Goal("proctor", "floor", 1.5)]),
        "pingpong": Bench(
            runs=[
                Run("floor-spin", program("bench_floor_rtt", "spin"), 40_000),
                Run("floor-futex", program("bench_floor_rtt", "futex"), 40_000),
                Run("proctor", program("bench_pingpong"), 40_000),
                Run("caf", program("bench_pingpong_caf"), 40_000),
                Run("erlang", erlang("pingpong.erl"), 40_000),
                Run("python", python("round_trip.py", "pipe"), 40_000),
            ],
            peers=["caf", "erlang", "floor-futex"],
            goals=[Goal("proctor", "caf", 0.5), Goal("proctor", "erlang", 1.0)]),
        "counting": Bench(
            runs=[
                Run("proctor", program("bench_counting"), 1_000_000),
                Run("caf", program("bench_counting_caf"), 1_000_000),
                Run("erlang", erlang("counting.erl"), 1_000_000),
                Run("python", python("counting.py"), 1_000_000),
            ],
            peers=["caf", "erlang", "python"],
            goals=[Goal("proctor", "caf", 3), Goal("proctor", "python", 100)]),
        "mailbox_n1": Bench(
            runs=[
                Run("proctor", program("bench_mailbox_n1"), 100_000),
                Run("caf", program("bench_mailbox_n1_caf"), 100_000),
                Run("erlang", erlang("mailbox_n1.erl"), 100_000),
                Run("python", python("mailbox_n1.py"), 100_000),
            ],
            peers=["caf", "erlang", "python"],
            goals=[Goal("proctor", "caf", 1)]),
        "threadring": Bench(
            runs=[
                Run("floor-futex", program("bench_floor_ring"), 100_000),
                Run("proctor", program("bench_threadring"), 100_000),
                Run("caf", program("bench_threadring_caf"), 100_000),
                Run("erlang", erlang("threadring.erl"), 100_000),
            ],
            peers=["floor-futex", "caf", "erlang"],
            goals=[Goal("proctor", "floor-futex", 1.3)]),
        # restart_p50 and restart_p99: one program per impl prints both figures (JSON lines that
        # name their bench), so each runs once for the two. COUNT: kills. `proctor`: a child as
        # specified by default, restarted by its supervisor; `proctor-standby`: the same child
        # with a warm standby (child_spec::standby), which takes over from a killed process.
        "restart_p50": Bench(
            runs=[
                Run("floor", program("bench_floor_restart"), 1000),
                Run("proctor", program("bench_restart", "cold"), 1000),
                Run("proctor-standby", program("bench_restart", "standby"), 1000),
                Run("erlang", erlang("restart.erl"), 1000),
            ],
            peers=["floor", "erlang"],
            goals=[Goal("proctor", "erlang", 1.0), Goal("proctor-standby", "erlang", 1.0)],
            split=False),
        # DESIGN.md's goal here is p99 <= 3x proctor's own p50, a ratio between two benches that a
        # Goal (two impls of one bench) cannot state: bench_restart prints its p99/p50 to stderr,
        # and the ratio to Erlang's p99 below is for information only.
        "restart_p99": Bench(
            runs=[
                Run("floor", program("bench_floor_restart"), 1000),
                Run("proctor", program("bench_restart", "cold"), 1000),
                Run("proctor-standby", program("bench_restart", "standby"), 1000),
                Run("erlang", erlang("restart.erl"), 1000),
            ],
            peers=["floor", "erlang"],
            goals=[], split=False),
        # pool_map and pool_map_scaling: one program prints both (JSON lines that name their
        # bench and impl), so it runs once for the two. COUNT: trivial tasks per map; the
        # scaling maps' 8 tasks take 50 ms x COUNT / 200,000 each.
        "pool_map": Bench(
            runs=[
                Run("proctor", program("bench_pool_map"), 200_000),
                Run("python", python("pool_map.py"), 200_000),
            ],
            peers=["python"],
            goals=[Goal("proctor", "python", 3)], split=False),
        # DESIGN.md's goal: within 5% of perfect scaling on 2 cores. Perfect halves the time, so
        # 2 workers may take at most 1 / (2 x 0.95) of 1 worker's time.
        "pool_map_scaling": Bench(
            runs=[
                Run("proctor-1-worker", program("bench_pool_map"), 200_000),
                Run("proctor-2-workers", program("bench_pool_map"), 200_000),
            ],
            peers=["proctor-1-worker"],
            goals=[Goal("proctor-2-workers", "proctor-1-worker", round(1 / (2 * 0.95), 3))], split=False),
        # The scale benches: bench_scale starts COUNT idle actors under one tree and prints all
        # four figures. No peer: DESIGN.md's goals are absolute (all started <= 5 s, all stopped
        # <= 5 s, <= 256 KiB PSS per idle actor, idle tree < 1% of a core).
        # Each round starts all 10,000.
        **{name: Bench(runs=[Run("proctor", program("bench_scale"), 10_000)], peers=[], goals=[],
                       split=False)
           for name in ("scale_start", "scale_stop", "scale_pss", "scale_idle_cpu")},
    }


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def run_one(bench, run, work, turn=""):
    """Runs one command; returns its results as records, or None if it failed."""
    argv = run.argv + [str(work)]
    log(f"bench: {bench} / {run.impl} ({turn}{work})")
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT_S)
    except FileNotFoundError as e:
        log(f"bench: {bench} / {run.impl} failed: no program {e.filename} (not built?)")
        return None
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"bench: {bench} / {run.impl} failed: {e}")
        return None
    try:
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        records = [{"bench": line.get("bench", bench), "impl": line.get("impl", run.impl),
                    "value": line["value"], "unit": line["unit"], "better": line["better"]}
                   for line in lines]
    except (ValueError, KeyError, AttributeError) as e:
        log(f"bench: {bench} / {run.impl} printed a malformed line: {e}")
        return None
    if done.returncode != 0 or not records:
        log(f"bench: {bench} / {run.impl} failed (exit status {done.returncode})")
        return None
    return records


def ratio(values, impl, peer):
    if impl not in values or not values.get(peer):
        return None
    return values[impl] / values[peer]


def goal_line(name, goal, values, better, spreads):
    r = ratio(values, goal.impl, goal.peer)
    sign = "<=" if better == "lower" else ">="
    met = r is not None and (r <= goal.bound if better == "lower" else r >= goal.bound)
    shown = "n/a" if r is None else f"{r:.3f}x"
    target = f"{sign} {goal.bound}x {goal.peer}"
    line = f"  goal {goal.impl:<20} {target:<22} {shown:>9}  {'pass' if met else 'MISS'}"
    # The ratio within each round: the two took turns, so each pair saw much the same machine.
    mine, theirs = spreads.get((name, goal.impl), []), spreads.get((name, goal.peer), [])
    if len(mine) > 1 and len(mine) == len(theirs) and all(theirs):
        line += "  (rounds: " + " ".join(f"{a / b:.3f}x" for a, b in zip(mine, theirs)) + ")"
    return line


def print_table(name, bench, records, spreads):
    mine = [r for r in records if r["bench"] == name]
    values = {r["impl"]: r["value"] for r in mine}
    unit = mine[0]["unit"] if mine else "?"
    better = mine[0]["better"] if mine else "lower"
    log(f"\n{name}  ({unit}, {better} is better; the median of each impl's rounds)")
    log(f"  {'impl':<20} {'value':>12}" + "".join(f" {'/ ' + p:>16}" for p in bench.peers)
        + "  rounds")
    for run in bench.runs:
        if run.impl not in values:
            log(f"  {run.impl:<20} {'failed':>12}")
            continue
        cells = [ratio(values, run.impl, p) for p in bench.peers]
        log(f"  {run.impl:<20} {values[run.impl]:>12.2f}"
            + "".join(f" {'n/a' if c is None else f'{c:.3f}x':>16}" for c in cells)
            + "  " + " ".join(f"{v:.4g}" for v in spreads.get((name, run.impl), [])))
    for goal in bench.goals:
        log(goal_line(name, goal, values, better, spreads))


def parse_args(known):
    parser = argparse.ArgumentParser(description="Run proctor's benchmarks.")
    parser.add_argument("--build", help="the build tree holding the bench programs")
    parser.add_argument("--quick", action="store_true", help="a tenth of the work")
    parser.add_argument("--check", action="store_true", help="only validate the names")
    parser.add_argument("names", nargs="*", metavar="NAME")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.exit(2, f"bench: unknown benchmark {', '.join(unknown)} "
                       f"(known: {', '.join(known)})\n")
    if not args.check and not args.build:
        parser.error("--build is required")
    return args


def run_bench(name, bench, quick, have):
    """Runs a bench's runs in turn, round after round, skipping impls whose figures `have` holds
    already (printed by a program that reports several benches). Returns the records of every
    round, by (bench, impl), and whether a run failed."""
    rounds = 1 if quick else bench.rounds
    runs = [run for run in bench.runs if (name, run.impl) not in have]
    by_impl, failed, skipped = {}, False, set()
    for turn in range(rounds):
        for run in runs:
            if turn == 0 and (name, run.impl) in by_impl:
                skipped.add(run.impl)  # an earlier run of this bench printed its figure too
            if run.impl in skipped:
                continue
            work = max(1, run.work // 10) if quick else run.work
            if bench.split:
                work = max(1, work // rounds)
            got = run_one(name, run, work, f"round {turn + 1} of {rounds}, " if rounds > 1 else "")
            failed |= got is None
            for record in got or []:
                by_impl.setdefault((record["bench"], record["impl"]), []).append(record)
    return by_impl, failed


def median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main():
    args = parse_args(registry("").keys())
    if args.check:
        return 0
    benches = registry(os.path.abspath(args.build))
    names = args.names or list(benches)
    records, spreads, failed = [], {}, False
    for name in names:
        have = {(r["bench"], r["impl"]) for r in records}
        by_impl, bench_failed = run_bench(name, benches[name], args.quick, have)
        failed |= bench_failed
        for key, rounds in by_impl.items():
            values = [r["value"] for r in rounds]
            record = dict(rounds[0], value=median(values))
            print(json.dumps(record), flush=True)
            records.append(record)
            spreads[key] = values
    # The named benches' tables, then those of benches whose figures came along with them.
    extra = [n for n in benches if n not in names and any(r["bench"] == n for r in records)]
    for name in names + extra:
        print_table(name, benches[name], records, spreads)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
