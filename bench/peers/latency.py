#!/usr/bin/env python3
"""Small all-reduce latency on one host: Strata against Open MPI, with the floor.

For sizes that fit a cache line or a few, one sweep of a few thousand calls
moves by 2x with what else the machine runs, so this runs many short
sweeps and alternates the contenders in every round:

  Strata         build/strata-run -n 2 -- build/bench/all_reduce_perf   (shm)
  Open MPI       mpirun -np 2 --bind-to core build/bench/peers/mpi_allreduce_bench
  exchange floor build/bench/peers/exchange_floor (two pinned processes that
                 only swap 8 bytes through a cache line each: no library)

It prints, per size, the median time per call over the rounds (fastest and
slowest round in brackets) and the ratio Strata time / Open MPI time, and
writes latency.json into --out.

  python3 bench/peers/latency.py                    # 2 ranks, 8 B..2 KiB, 9 rounds
  python3 bench/peers/latency.py --ranks 4 -n 5000  # 4 ranks on the cores there are

--variant LABEL=BUILD_DIR adds another Strata build to the rounds (A/B of a
change, side by side); --env LABEL:NAME=VALUE sets a variable for one
contender. The floor runs for 2 ranks only. Build first (compare.py builds
and installs the peers; this script uses what --build-dir holds).
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (same folder: byte parsing, runs, host facts)

REPO = compare.REPO


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=2, help="ranks (2)")
    p.add_argument("--rounds", type=int, default=9, help="rounds, order rotated each (9)")
    p.add_argument("-b", dest="min_bytes", default="8", help="smallest size (8)")
    p.add_argument("-e", dest="max_bytes", default="2K", help="largest size (2K)")
    p.add_argument("-f", dest="factor", type=int, default=4, help="size factor (4)")
    p.add_argument("-n", dest="iters", type=int, default=50000, help="timed calls per size (50000)")
    p.add_argument("-w", dest="warmup", type=int, default=2000, help="warm-up calls per size (2000)")
    p.add_argument("--mode", choices=sorted(compare.MODES), default="out",
                   help="out of place or in place column (out)")
    p.add_argument("--mpirun-args", default=None,
                   help="mpirun placement arguments (--bind-to core while the ranks fit the "
                        "cores, else mpirun's default placement)")
    p.add_argument("--variant", action="append", default=[],
                   help="LABEL=BUILD_DIR: another Strata build in the rounds")
    p.add_argument("--env", action="append", default=[],
                   help="LABEL:NAME=VALUE: environment for one contender (repeatable)")
    p.add_argument("--no-mpi", action="store_true", help="leave Open MPI out")
    p.add_argument("--out", default=str(REPO / "bench" / "peers" / "results"),
                   help="output folder (bench/peers/results)")
    p.add_argument("--build-dir", default=str(REPO / "build"), help="build folder (build)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per run (600)")
    args = p.parse_args()
    lo, hi = compare.parse_bytes(args.min_bytes), compare.parse_bytes(args.max_bytes)
    if args.ranks < 2 or args.rounds < 1 or args.factor < 2 or lo < 4 or lo > hi \
            or args.iters < 1 or args.warmup < 0:
        p.error("bad --ranks, --rounds, -f, -b, -e, -n or -w")

    build_dir = Path(args.build_dir).resolve()
    contenders = {"Strata": build_dir}  # label -> build folder (Strata builds)
    for v in args.variant:
        label, _, folder = v.partition("=")
        if not label or not folder or label in contenders:
            p.error(f"bad --variant {v!r}")
        contenders[label] = Path(folder).resolve()
    envs = {}
    for e in args.env:
        label, _, assignment = e.partition(":")
        name, eq, value = assignment.partition("=")
        if not eq or not name:
            p.error(f"bad --env {e!r}")
        envs.setdefault(label, {})[name] = value

    log = compare.Log()
    commands = {}
    sweep = ["-b", str(lo), "-e", str(hi), "-f", str(args.factor), "-n", str(args.iters),
             "-w", str(args.warmup), "-c", "0"]
    for label, folder in contenders.items():
        bins = compare.find_binaries(folder)
        if "strata-run" not in bins or "all_reduce_perf" not in bins:
            p.error(f"{folder}: strata-run or bench/all_reduce_perf missing; build first")
        commands[label] = [str(bins["strata-run"]), "-n", str(args.ranks), "--",
                           str(bins["all_reduce_perf"])] + sweep
    bins = compare.find_binaries(build_dir)
    if args.mpirun_args is None:
        args.mpirun_args = "--bind-to core" if args.ranks <= (os.cpu_count() or 1) else ""
    if not args.no_mpi:
        if "mpi_allreduce_bench" not in bins or shutil.which("mpirun") is None:
            log.say("warning: Open MPI left out (mpi_allreduce_bench or mpirun missing)")
        else:
            commands["Open MPI"] = (["mpirun", "--allow-run-as-root", "--oversubscribe", "-np",
                                     str(args.ranks)] + shlex.split(args.mpirun_args)
                                    + [str(bins["mpi_allreduce_bench"])] + sweep)
    floor = build_dir / "bench" / "peers" / "exchange_floor"
    if args.ranks == 2 and floor.exists():
        commands["floor"] = [str(floor), "-n", str(args.iters * 4), "-w", str(args.warmup)]

    mode = compare.MODES[args.mode]
    labels = list(commands)
    times = {label: {} for label in labels}  # label -> size -> [us per round]
    load_before = compare.load_average()
    with tempfile.TemporaryDirectory(prefix="strata-latency-") as tmp:
        for r in range(args.rounds):
            order = labels[r % len(labels):] + labels[:r % len(labels)]
            log.say(f"-- round {r + 1}/{args.rounds}: {', '.join(order)}")
            for label in order:
                path = Path(tmp) / f"{r}_{label.replace(' ', '_')}.json"
                cmd = commands[label] + ["-J", str(path)]
                env = envs.get(label)
                ok = compare.run_tool(cmd, args.timeout, log, env)
                if not ok or not path.exists():
                    continue
                doc = json.loads(path.read_text())
                if label == "floor":
                    times[label].setdefault(0, []).append(doc["time_us"])
                    continue
                for row in doc.get("results", []):
                    if mode in row:
                        times[label].setdefault(row["size"], []).append(row[mode]["time_us"])

    sizes = sorted({s for label in labels if label != "floor" for s in times[label]})
    med = {label: {s: statistics.median(v) for s, v in times[label].items()} for label in labels}
    log.say("")
    log.say(f"{args.ranks} ranks, {args.rounds} rounds of {args.iters} calls per size "
            f"({mode.replace('_', ' ')}); median us per call (fastest-slowest round)")
    head = ["size"] + [l for l in labels if l != "floor"]
    if "Open MPI" in labels:
        head += [f"{l} / Open MPI" for l in labels if l not in ("floor", "Open MPI")]
    log.say("| " + " | ".join(head) + " |")
    log.say("|" + "---:|" * len(head))
    for s in sizes:
        cells = [compare.human_bytes(s)]
        for l in labels:
            if l == "floor":
                continue
            v = times[l].get(s)
            cells.append(f"{med[l][s]:.3f} ({min(v):.3f}-{max(v):.3f})" if v else "-")
        if "Open MPI" in labels:
            for l in labels:
                if l in ("floor", "Open MPI"):
                    continue
                a, b = med[l].get(s), med["Open MPI"].get(s)
                cells.append(f"{a / b:.2f}" if a and b else "-")
        log.say("| " + " | ".join(cells) + " |")
    if "floor" in labels and times["floor"]:
        v = times["floor"][0]
        log.say(f"exchange floor: {statistics.median(v):.3f} us ({min(v):.3f}-{max(v):.3f})")
    load_after = compare.load_average()
    log.say(f"load average before: {load_before}, after: {load_after}")

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["python3", "bench/peers/latency.py"] + sys.argv[1:]),
        "host": compare.host_description(),
        "strata_revision": compare.strata_revision(),
        "load_average": {"before": load_before, "after": load_after},
        "ranks": args.ranks, "mode": mode, "env": envs,
        "commands": {l: shlex.join(c) for l, c in commands.items()},
        "median_us": {l: {str(s): v for s, v in sorted(m.items())} for l, m in med.items()},
        "rounds_us": {l: {str(s): v for s, v in sorted(t.items())} for l, t in times.items()},
    }
    (out / "latency.json").write_text(json.dumps(doc, indent=1) + "\n")
    log.say(f"results: {out / 'latency.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
