#!/usr/bin/env python3
"""All-reduce on one host: Strata against Open MPI and Gloo, side by side.

One command installs the peers when they are missing (Debian packages, as
root), builds what it needs in build/, then for every world size runs the
same float32 sum all-reduce sweep through

  Strata   build/strata-run -n N -- build/bench/all_reduce_perf   (shm)
  Strata shared buffers: the same with -R 1 (buffers from strataMemAllocHost,
           which ranks read from each other in place)
  Open MPI mpirun -np N build/bench/peers/mpi_allreduce_bench     (MPI_Allreduce)
  Gloo     build/bench/peers/gloo_allreduce_bench -np N           (ring, tcp loopback)

alternating which library goes first over --reps repetitions, and measures
single-core memcpy bandwidth in the same repetitions. It prints a table of
busbw per size with the ratios Strata/peer and Strata/memcpy, the small-size
latency, and writes results.csv, results.json and a gnuplot plot (PNG, SVG)
into --out.

  python3 bench/peers/compare.py                       # 2 and 4 ranks, 8 B..256 MiB
  python3 bench/peers/compare.py -e 16M -n 10 --reps 2 # a quick look

Sizes grow from -b by -f while they stay within -e, as in nccl-tests: with
the defaults (8 B, x4) the largest is 128 MiB. Sizes up to --small-bytes
(1 MiB) run as a sweep of their own with more calls (--small-iters 2000,
--small-warmup 200): 20 calls of a few microseconds are noise on a shared
machine, where one call in a hundred takes ten times the others. That
sweep runs --small-rounds times (3) per repetition with the libraries
interleaved, and each size takes the median of the rounds: on a virtual
machine the latency between the two cores drifts by 2x over minutes, and
one run per library would compare different minutes. Larger
sizes get -w 20 warm-up calls: the first calls at a new size map fresh
pages (FIFO slots, the peers' shared segments), which on a virtual machine
costs milliseconds. Every library gets the same calls. Open MPI keeps mpirun's
default placement; give --mpirun-args to change it.

Only the standard library is used.
"""

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PEER_PACKAGES = ["libopenmpi-dev", "openmpi-bin", "libgloo-dev", "gnuplot"]
LIBRARIES = ["strata", "strata_shared", "mpi", "gloo"]
LABELS = {"strata": "Strata", "strata_shared": "Strata -R1", "mpi": "Open MPI", "gloo": "Gloo"}
# The Strata variants, each compared with the peers and memcpy.
STRATA = ["strata", "strata_shared"]
MODES = {"out": "out_of_place", "in": "in_place"}


def parse_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip()
    if text and text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(float(text))


def human_bytes(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def short_bytes(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


class Log:
    """Echoes to the terminal and keeps everything in compare.log."""

    def __init__(self):
        self.lines = []

    def say(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def keep(self, text):
        self.lines.append(text)

    def write(self, path):
        path.write_text("\n".join(self.lines) + "\n")


def install_peers(log):
    missing = [p for p in PEER_PACKAGES
               if subprocess.run(["dpkg", "-s", p], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL).returncode != 0]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        log.say(f"warning: cannot install {' '.join(missing)} (no apt-get); "
                "peers that are missing are skipped")
        return
    prefix = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            log.say(f"warning: not root and no sudo: cannot install {' '.join(missing)}")
            return
        prefix = ["sudo"]
    log.say(f"installing: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(prefix + ["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(prefix + ["apt-get", "install", "-y", "-q"] + missing, check=True, env=env)


def build(build_dir, jobs, log):
    cache = build_dir / "CMakeCache.txt"
    configure = ["cmake", "-S", str(REPO), "-B", str(build_dir)]
    if not cache.exists():
        configure.append("-DCMAKE_BUILD_TYPE=Release")
    log.say("$ " + shlex.join(configure))
    subprocess.run(configure, check=True, stdout=subprocess.DEVNULL)
    for line in cache.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.startswith("CMAKE_BUILD_TYPE:") and value not in ("Release", "RelWithDebInfo"):
            log.say(f"warning: {build_dir} is a {value or 'no-type'} build; "
                    "numbers from it are not representative")
        if name.startswith("STRATA_SANITIZE:") and value:
            log.say(f"warning: {build_dir} is built with sanitizers ({value})")
    cmd = ["cmake", "--build", str(build_dir), "-j", str(jobs), "--target",
           "strata-run", "all_reduce_perf", "peer_benches"]
    log.say("$ " + shlex.join(cmd))
    subprocess.run(cmd, check=True)


def run_tool(cmd, timeout, log, env=None):
    """Runs one benchmark in its own process group, with `env` added to the
    environment; returns True on success."""
    log.say("$ " + shlex.join(cmd))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO, start_new_session=True,
                            env=dict(os.environ, **env) if env else None)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        log.keep(out)
        log.say(f"  timed out after {timeout} s")
        return False
    log.keep(out.rstrip())
    took = time.monotonic() - started
    if proc.returncode != 0:
        log.say(f"  failed (exit {proc.returncode}) after {took:.1f} s; last lines:")
        for line in out.strip().splitlines()[-5:]:
            log.say("    " + line)
        return False
    log.say(f"  ok, {took:.1f} s")
    return True


def sweep_parts(args):
    """(first size, last size, calls, warm-up calls) of each sweep a library runs."""
    sizes = []
    s = args.min_bytes
    while s <= args.max_bytes:
        sizes.append(s)
        s *= args.factor
    small = [x for x in sizes if x <= args.small_bytes]
    large = [x for x in sizes if x > args.small_bytes]
    parts = []
    if small:
        parts.append((small[0], small[-1], args.small_iters, args.small_warmup))
    if large:
        parts.append((large[0], large[-1], args.iters, args.warmup))
    return parts


def library_command(lib, nranks, args, bins, json_path, part):
    lo, hi, iters, warmup = part
    sweep = ["-b", str(lo), "-e", str(hi), "-f", str(args.factor),
             "-n", str(iters), "-w", str(warmup), "-c", "1" if args.check else "0",
             "-J", str(json_path)]
    if lib in STRATA:
        shared = ["-R", "1"] if lib == "strata_shared" else []
        return [str(bins["strata-run"]), "-n", str(nranks), "--timeout", str(args.timeout), "--",
                str(bins["all_reduce_perf"])] + sweep + shared
    if lib == "mpi":
        # mpirun's default placement (ranks bound to cores while there are
        # enough) is kept: Open MPI polls, and unbound polling ranks sharing
        # a core lose whole scheduler time slices.
        return (["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(nranks)]
                + shlex.split(args.mpirun_args) + [str(bins["mpi_allreduce_bench"])] + sweep)
    return [str(bins["gloo_allreduce_bench"]), "-np", str(nranks)] + sweep


def find_binaries(build_dir):
    paths = {
        "strata-run": build_dir / "strata-run",
        "all_reduce_perf": build_dir / "bench" / "all_reduce_perf",
        "memcpy_bench": build_dir / "bench" / "peers" / "memcpy_bench",
        "mpi_allreduce_bench": build_dir / "bench" / "peers" / "mpi_allreduce_bench",
        "gloo_allreduce_bench": build_dir / "bench" / "peers" / "gloo_allreduce_bench",
    }
    return {k: v for k, v in paths.items() if v.exists()}


def available_libraries(wanted, bins, log):
    needs = {"strata": ["strata-run", "all_reduce_perf"],
             "strata_shared": ["strata-run", "all_reduce_perf"], "mpi": ["mpi_allreduce_bench"],
             "gloo": ["gloo_allreduce_bench"]}
    libs = []
    for lib in wanted:
        lacking = [b for b in needs[lib] if b not in bins]
        if lib == "mpi" and shutil.which("mpirun") is None:
            lacking.append("mpirun")
        if lacking:
            log.say(f"warning: skipping {LABELS[lib]}: {', '.join(lacking)} not found")
        else:
            libs.append(lib)
    return libs


def read_sweep(path, mode):
    doc = json.loads(path.read_text())
    rows = {}
    for row in doc.get("results", []):
        if mode in row:
            rows[row["size"]] = {"busbw": row[mode]["busbw"], "time_us": row[mode]["time_us"],
                                 "wrong": row[mode].get("wrong", 0)}
    return doc.get("library", ""), rows


def median_rows(samples):
    """Per size, the median busbw and time over several runs of one sweep."""
    out = {}
    for size in sorted({sz for rows in samples for sz in rows}):
        got = [rows[size] for rows in samples if size in rows]
        out[size] = {"busbw": statistics.median(g["busbw"] for g in got),
                     "time_us": statistics.median(g["time_us"] for g in got), "wrong": 0}
    return out


def combine(values, stat, higher_is_better):
    if not values:
        return None
    if stat == "best":
        return max(values) if higher_is_better else min(values)
    return statistics.median(values)


def fmt(v):
    """Two decimals, or two significant digits below 0.1 (small-size busbw)."""
    if v is None:
        return "-"
    return f"{v:.2f}" if v >= 0.1 or v == 0 else f"{v:.2g}"


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def summarize(nranks, runs, memcpy, libs, stat):
    """Per size: the combined busbw and time of each library and the ratios."""
    sizes = sorted({s for lib in libs for rep in runs[lib] for s in rep})
    mem = combine(memcpy, stat, True)
    rows = []
    for size in sizes:
        row = {"nranks": nranks, "size": size, "memcpy_gbps": mem}
        for lib in libs:
            row[f"{lib}_busbw"] = combine([r[size]["busbw"] for r in runs[lib] if size in r],
                                          stat, True)
            row[f"{lib}_time_us"] = combine([r[size]["time_us"] for r in runs[lib] if size in r],
                                            stat, False)
        for v in STRATA:
            s = row.get(f"{v}_busbw")
            row[f"{v}_over_mpi"] = ratio(s, row.get("mpi_busbw"))
            row[f"{v}_over_gloo"] = ratio(s, row.get("gloo_busbw"))
            row[f"{v}_over_memcpy"] = ratio(s, mem)
        rows.append(row)
    return rows, mem


def print_table(log, nranks, rows, mem, libs, args, reps_done):
    how = "median" if args.stat == "median" else "best"
    log.say()
    log.say(f"== all_reduce, {nranks} ranks, float32 sum, {MODES[args.mode].replace('_', ' ')}; "
            f"busbw in GB/s, {how} of {plural(reps_done, 'run')}")
    variants = [v for v in STRATA if v in libs]
    head = f"{'size':>10}" + "".join(f"{LABELS[l]:>11}" for l in libs)
    for v in variants:
        tag = LABELS[v]
        head += f"{tag + '/MPI':>{len(tag) + 6}}{tag + '/Gloo':>{len(tag) + 7}}{tag + '/memcpy':>{len(tag) + 9}}"
    log.say(head)
    for row in rows:
        line = f"{human_bytes(row['size']):>10}"
        for lib in libs:
            line += f"{fmt(row.get(f'{lib}_busbw')):>11}"
        for v in variants:
            tag = LABELS[v]
            line += f"{fmt(row[f'{v}_over_mpi']):>{len(tag) + 6}}{fmt(row[f'{v}_over_gloo']):>{len(tag) + 7}}"
            line += f"{fmt(row[f'{v}_over_memcpy']):>{len(tag) + 9}}"
        log.say(line)
    log.say(f"memcpy, one core, {human_bytes(args.memcpy_bytes)} copies: {fmt(mem)} GB/s "
            f"({how} of {plural(reps_done, 'run')}, measured between the sweeps)")
    for v in variants:
        if not rows:
            break
        peak = max(rows, key=lambda r: r.get(f"{v}_busbw") or 0)
        last = rows[-1]
        log.say(f"{LABELS[v]} busbw / memcpy: {fmt(peak[f'{v}_over_memcpy'])} at its peak "
                f"({human_bytes(peak['size'])}), {fmt(last[f'{v}_over_memcpy'])} at "
                f"{human_bytes(last['size'])}")
    if rows:
        first = rows[0]
        parts = [f"{LABELS[lib]} {fmt(first.get(f'{lib}_time_us'))} us" for lib in libs]
        log.say(f"latency at {human_bytes(first['size'])} (time per call): " + ", ".join(parts))


CSV_COLUMNS = ["nranks", "size_bytes", "strata_busbw", "mpi_busbw", "gloo_busbw",
               "strata_time_us", "mpi_time_us", "gloo_time_us", "strata_over_mpi",
               "strata_over_gloo", "strata_over_memcpy", "memcpy_gbps",
               "strata_shared_busbw", "strata_shared_time_us", "strata_shared_over_mpi",
               "strata_shared_over_gloo", "strata_shared_over_memcpy"]


def write_csv(path, all_rows):
    lines = [",".join(CSV_COLUMNS)]
    for row in all_rows:
        cells = []
        for col in CSV_COLUMNS:
            v = row["size"] if col == "size_bytes" else row.get(col)
            cells.append("" if v is None else (str(v) if isinstance(v, int) else f"{v:.6g}"))
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")


def write_plot(out, csv_path, world_sizes, memcpy_by_n, sizes, rows, log):
    """Writes the gnuplot script next to the CSV and renders PNG and SVG."""
    if shutil.which("gnuplot") is None:
        log.say("warning: gnuplot not found; no plot")
        return
    tics = ", ".join(f'"{short_bytes(s)}" {s}' for s in sizes)
    colors = {"strata": "#d62728", "mpi": "#1f77b4", "gloo": "#2ca02c",
              "strata_shared": "#ff7f0e"}
    styles = {"strata": 1, "mpi": 2, "gloo": 3, "strata_shared": 6}  # gnuplot line styles below
    columns = {lib: CSV_COLUMNS.index(f"{lib}_busbw") + 1 for lib in LIBRARIES}
    panels = []
    for n in world_sizes:
        plots = []
        for lib in LIBRARIES:
            if not any(r.get(f"{lib}_busbw") for r in rows if r["nranks"] == n):
                continue  # not run, or every run failed
            plots.append(f"'{csv_path.name}' using ($1=={n} ? $2 : 1/0):(${columns[lib]} > 0 ? "
                         f"${columns[lib]} : 1/0) with linespoints ls {styles[lib]} "
                         f"title '{LABELS[lib]}'")
        mem = memcpy_by_n.get(n)
        if mem:
            plots.append(f"{mem:.6g} with lines ls 4 title 'memcpy, 1 core ({mem:.1f} GB/s)'")
            plots.append(f"{mem / 2:.6g} with lines ls 5 title '50% of memcpy'")
        panels.append(f"set title '{n} ranks'\nplot " + ", \\\n     ".join(plots))
    width = 700 * len(world_sizes)
    # One y range for every panel, so panels compare.
    values = [r[f"{lib}_busbw"] for r in rows for lib in LIBRARIES
              if (r.get(f"{lib}_busbw") or 0) > 0]
    values += [m for m in memcpy_by_n.values() if m]
    ylow = 10 ** math.floor(math.log10(min(values))) if values else 1e-6
    yhigh = max(values) * 2.5 if values else 100
    script = f"""# Generated by bench/peers/compare.py from {csv_path.name}; to redraw, run
#   gnuplot allreduce_busbw.gp
# in this folder.
set datafile separator ','
set key bottom right box opaque font ',10'
set logscale x 2
set logscale y 10
set grid xtics ytics mytics lc rgb '#d8d8d8'
set xtics ({tics}) rotate by -45
set xrange [{sizes[0] / 1.5:g}:{sizes[-1] * 1.5:g}]
set format y '%g'
set yrange [{ylow:g}:{yhigh:.3g}]
set rmargin 5
set xlabel 'message size (bytes)'
set ylabel 'bus bandwidth (GB/s)'
set style line 1 lc rgb '{colors["strata"]}' lw 2 pt 7 ps 0.8
set style line 2 lc rgb '{colors["mpi"]}' lw 2 pt 5 ps 0.8
set style line 3 lc rgb '{colors["gloo"]}' lw 2 pt 9 ps 0.9
set style line 4 lc rgb '#444444' lw 1.5 dt 2
set style line 5 lc rgb '#9467bd' lw 1.5 dt 4
set style line 6 lc rgb '{colors["strata_shared"]}' lw 2 pt 11 ps 0.9
do for [fmt in 'png svg'] {{
  if (fmt eq 'png') {{
    set terminal pngcairo size {width},560 font 'sans,11'
  }} else {{
    set terminal svg size {width},560 font 'sans,11' background rgb 'white'
  }}
  set output 'allreduce_busbw.'.fmt
  set multiplot layout 1,{len(world_sizes)} title 'all-reduce, float32 sum, one host: busbw vs size'
"""
    for panel in panels:
        script += "  " + panel.replace("\n", "\n  ") + "\n"
    script += "  unset multiplot\n  set output\n}\n"
    gp = out / "allreduce_busbw.gp"
    gp.write_text(script)
    proc = subprocess.run(["gnuplot", gp.name], cwd=out, capture_output=True, text=True)
    if proc.returncode != 0:
        log.say("warning: gnuplot failed:\n" + proc.stderr)
    else:
        log.say(f"plot: {out / 'allreduce_busbw.png'} and .svg")


def load_average():
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def strata_revision():
    """The commit measured, "+changes" when sources outside bench/peers differ."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read only: no index refresh
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True, env=env).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                  "--untracked-files=no", "--", ".", ":!bench/peers"],
                                 capture_output=True, text=True, check=True, env=env).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+changes" if changed.strip() else "")


def host_description():
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="2,4", help="world sizes, comma separated (2,4)")
    p.add_argument("--reps", type=int, default=3, help="repetitions, library order rotated (3)")
    p.add_argument("-b", dest="min_bytes", default="8", help="smallest size (8)")
    p.add_argument("-e", dest="max_bytes", default="256M", help="largest size (256M)")
    p.add_argument("-f", dest="factor", type=int, default=4, help="size factor (4)")
    p.add_argument("-n", dest="iters", type=int, default=20, help="timed calls per size (20)")
    p.add_argument("-w", dest="warmup", type=int, default=20, help="warm-up calls per size (20)")
    p.add_argument("--small-bytes", default="1M",
                   help="sizes up to this run as their own sweep with more calls (1M; 0: none)")
    p.add_argument("--small-iters", type=int, default=2000, help="timed calls per small size (2000)")
    p.add_argument("--small-warmup", type=int, default=200, help="warm-up calls per small size (200)")
    p.add_argument("--small-rounds", type=int, default=3,
                   help="rounds of the small sweep per repetition, libraries interleaved (3)")
    p.add_argument("--check", action="store_true", help="also check results (-c 1)")
    p.add_argument("--mode", choices=sorted(MODES), default="out",
                   help="which column to compare: out of place or in place (out)")
    p.add_argument("--stat", choices=["median", "best"], default="median",
                   help="how repetitions combine per size (median)")
    p.add_argument("--libs", default=",".join(LIBRARIES), help="libraries to run")
    p.add_argument("--memcpy-size", dest="memcpy_bytes", default="64M",
                   help="memcpy reference copy size (64M)")
    p.add_argument("--mpirun-args", default="", help="extra mpirun arguments")
    p.add_argument("--out", default=str(REPO / "bench" / "peers" / "results"),
                   help="output folder (bench/peers/results)")
    p.add_argument("--build-dir", default=str(REPO / "build"), help="build folder (build)")
    p.add_argument("--jobs", type=int, default=2, help="build jobs (2)")
    p.add_argument("--timeout", type=int, default=1200, help="seconds per run (1200)")
    p.add_argument("--no-install", action="store_true", help="do not install missing peers")
    p.add_argument("--no-build", action="store_true", help="use the binaries in --build-dir")
    args = p.parse_args()
    args.min_bytes = parse_bytes(args.min_bytes)
    args.max_bytes = parse_bytes(args.max_bytes)
    args.memcpy_bytes = parse_bytes(args.memcpy_bytes)
    args.small_bytes = parse_bytes(args.small_bytes)
    world_sizes = [int(x) for x in args.ranks.split(",") if x.strip()]
    wanted = [x.strip() for x in args.libs.split(",") if x.strip()]
    if any(l not in LIBRARIES for l in wanted) or not world_sizes or min(world_sizes) < 2 \
            or args.reps < 1 or args.factor < 2 or args.min_bytes < 4 \
            or args.min_bytes > args.max_bytes or args.small_iters < 1 or args.small_warmup < 0 \
            or args.small_rounds < 1:
        p.error("bad --libs, --ranks, --reps, -f, -b, -e, --small-iters, --small-warmup "
                "or --small-rounds")

    log = Log()
    started = time.monotonic()
    load_before = load_average()
    revision = strata_revision()
    build_dir = Path(args.build_dir).resolve()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not args.no_install:
        install_peers(log)
    if not args.no_build:
        build(build_dir, args.jobs, log)
    bins = find_binaries(build_dir)
    libs = available_libraries(wanted, bins, log)
    if "memcpy_bench" not in bins:
        p.error(f"{build_dir}/bench/peers/memcpy_bench is missing: build it first")
    if not libs:
        p.error("no library to run")

    mode = MODES[args.mode]
    summary_rows = []
    raw = {}
    versions = {}
    memcpy_by_n = {}
    sizes_seen = set()
    with tempfile.TemporaryDirectory(prefix="strata-compare-") as tmp:
        tmp = Path(tmp)
        for n in world_sizes:
            runs = {lib: [] for lib in libs}
            memcpy = []
            for rep in range(args.reps):
                order = libs[rep % len(libs):] + libs[:rep % len(libs)]
                log.say(f"-- {n} ranks, run {rep + 1}/{args.reps}: "
                        f"memcpy, {', '.join(LABELS[l] for l in order)}")
                mjson = tmp / f"memcpy_n{n}_r{rep}.json"
                if run_tool([str(bins["memcpy_bench"]), "-s", str(args.memcpy_bytes),
                             "-J", str(mjson)], args.timeout, log):
                    memcpy.append(json.loads(mjson.read_text())["gbps_median"])
                merged = {lib: {} for lib in order}
                for k, part in enumerate(sweep_parts(args)):
                    # Small sizes run in several short rounds, the libraries
                    # interleaved, so that all of them sample the same
                    # minutes of a machine whose core-to-core latency drifts
                    # (Gloo, 100x behind there and slow to sweep, runs once).
                    small = part[1] <= args.small_bytes
                    rounds = args.small_rounds if small else 1
                    samples = {lib: [] for lib in order}
                    for rnd in range(rounds):
                        for lib in order:
                            if rnd > 0 and lib == "gloo":
                                continue
                            jpath = tmp / f"{lib}_n{n}_r{rep}_p{k}_{rnd}.json"
                            ran = run_tool(library_command(lib, n, args, bins, jpath, part),
                                           args.timeout, log)
                            if not jpath.exists():
                                continue
                            name, rows = read_sweep(jpath, mode)
                            if any(r["wrong"] for r in rows.values()):
                                log.say(f"warning: {LABELS[lib]} returned wrong values; "
                                        "sweep left out")
                                continue
                            if not ran:
                                continue
                            versions[lib] = name
                            samples[lib].append(rows)
                    for lib in order:
                        merged[lib].update(median_rows(samples[lib]))
                for lib in order:
                    if merged[lib]:
                        runs[lib].append(merged[lib])
                        sizes_seen.update(merged[lib])
            rows, mem = summarize(n, runs, memcpy, libs, args.stat)
            memcpy_by_n[n] = mem
            print_table(log, n, rows, mem, libs, args, max(len(r) for r in runs.values()))
            summary_rows += rows
            raw[str(n)] = {"memcpy_gbps": memcpy,
                           "runs": {lib: [{str(s): v for s, v in sorted(r.items())}
                                          for r in runs[lib]] for lib in libs}}

    csv_path = out / "results.csv"
    write_csv(csv_path, summary_rows)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["python3", "bench/peers/compare.py"] + sys.argv[1:]),
        "host": host_description(),
        # The machine may be shared: 1/5/15-minute load before and after.
        "load_average": {"before": load_before, "after": load_average()},
        "strata_revision": revision,
        "libraries": versions,
        "options": {"ranks": world_sizes, "reps": args.reps, "min_bytes": args.min_bytes,
                    "max_bytes": args.max_bytes, "factor": args.factor, "iters": args.iters,
                    "warmup": args.warmup, "small_bytes": args.small_bytes,
                    "small_iters": args.small_iters, "small_warmup": args.small_warmup,
                    "small_rounds": args.small_rounds,
                    "mode": mode, "stat": args.stat,
                    "memcpy_bytes": args.memcpy_bytes, "mpirun_args": args.mpirun_args},
    }
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": summary_rows, "raw": raw}, indent=1) + "\n")
    write_plot(out, csv_path, world_sizes, memcpy_by_n, sorted(sizes_seen), summary_rows, log)
    log.say(f"load average before: {load_before}, after: {meta['load_average']['after']} "
            f"({os.cpu_count()} CPUs)")
    log.say(f"results: {csv_path}, {out / 'results.json'}; "
            f"total {time.monotonic() - started:.0f} s")
    log.write(out / "compare.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
