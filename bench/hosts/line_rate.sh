#!/usr/bin/env bash
# line_rate.sh: Strata's tcp transport against the link it runs on, between
# emulated hosts (tools/strata-hosts), side by side in one run:
#
#   1. 2 hosts x 1 rank over an unshaped veth link:
#      iperf3 single stream (and --bidir, both directions at once),
#      the bare two-way exchange (bench/hosts/tcp_exchange.cc: one socket,
#      one polling thread per end, no library): the most a 2-rank ring
#      all-reduce can reach, since it moves its size both ways at once,
#      Strata all_reduce_perf and sendrecv_perf busbw at SIZE (256 MiB),
#      Gloo's ring all-reduce (bench/peers/gloo_allreduce_bench) at SIZE,
#      and Strata's two again with STRATA_TLS=1 (the cost of TLS);
#   2. 4 hosts x 1 rank, every link shaped to RATE (1gbit) with tbf:
#      iperf3 single stream and Strata all_reduce_perf busbw.
#
# Each measurement is repeated REPS times, the tools alternating their order;
# the table gives medians and the ratios of medians. Needs root (namespaces),
# iperf3 and the Gloo bench (STRATA_INSTALL_PEERS=1 scripts/install-deps.sh,
# cmake --build build --target peer_benches).
#
#   bash bench/hosts/line_rate.sh [--reps N] [--size 256M] [--rate 1gbit] [--build DIR]
#
# Results: a Markdown table on stdout and bench/hosts/results/line_rate.csv.
set -uo pipefail
cd "$(dirname "$0")/../.."
root_dir=$(pwd)

reps=3
size=256M
rate=1gbit
build=build
inside=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --inside) inside=$2; shift 2 ;;  # internal: runs in the head namespace
    -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "line_rate.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
build=$(cd "$build" 2>/dev/null && pwd) || { echo "line_rate.sh: no build directory" >&2; exit 2; }
results_dir=$root_dir/bench/hosts/results
agent=$root_dir/tools/strata-hosts-agent

# ------------------------------------------------------------ inside the head namespace
# run_ranks NRANKS TAG TOOL ARGS...: one rank per host h0..h(N-1) through the
# launch agent with strataCommInitFromEnv's variables; rank 0's output in
# $work/TAG.out.
port=29700
run_ranks() {
  local n=$1 tag=$2 r pids=() rc=0
  shift 2
  port=$((port + 1))
  for ((r = 0; r < n; r++)); do
    STRATA_RANK=$r STRATA_WORLD_SIZE=$n STRATA_LOCAL_RANK=0 STRATA_LOCAL_SIZE=1 \
      STRATA_ROOT_ADDR=10.77.0.1:$port STRATA_SECRET=$secret NCCL_SOCKET_IFNAME=strata0 \
      timeout 600 "$agent" "h$r" "$@" >"$work/$tag.out.$r" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  cp "$work/$tag.out.0" "$work/$tag.out"
  [ "$rc" -eq 0 ] || { echo "line_rate.sh: $tag failed ($rc):" >&2; tail -5 "$work/$tag.out".* >&2; }
  return "$rc"
}

# Out-of-place busbw (GB/s) of the SIZE row of a tool's -J output.
busbw_of() {
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["size"] == int(sys.argv[2]):
        print("%.4f" % r["out_of_place"]["busbw"])
        break' "$1" "$bytes"
}

# iperf3 from h0 to 10.77.0.2 (h1) for 5 s; prints GB/s received (per
# direction, averaged, with --bidir).
iperf() {
  local mode=$1 extra=()
  [ "$mode" = bidir ] && extra=(--bidir)
  "$agent" h1 iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
  local server=$!
  sleep 0.5
  "$agent" h0 iperf3 -c 10.77.0.2 -p 5299 -t 5 -J "${extra[@]}" >"$work/iperf.json" 2>/dev/null
  wait "$server"
  python3 - "$work/iperf.json" "$mode" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
end = d["end"]
if sys.argv[2] == "bidir":
    bps = (end["sum_received"]["bits_per_second"] + end["sum_received_bidir_reverse"]["bits_per_second"]) / 2
else:
    bps = end["sum_received"]["bits_per_second"]
print(f"{bps / 8e9:.4f}")
EOF
}

# tcp_exchange between h0 and h1 (4 GiB each way at once); prints the mean
# of both ends' GB/s per direction.
exchange() {
  "$agent" h1 "$build/bench/tcp_exchange" --listen 5298 --bytes 4G >"$work/ex.1" 2>&1 &
  local server=$!
  "$agent" h0 "$build/bench/tcp_exchange" --connect 10.77.0.2:5298 --bytes 4G >"$work/ex.0" 2>&1
  wait "$server" || return
  awk '/per direction/ {s += $NF; n++} END {if (n == 2) printf "%.4f\n", s / n}' "$work/ex.0" "$work/ex.1"
}

record() {  # name value
  [ -n "$2" ] || { echo "line_rate.sh: no value for $1" >&2; return; }
  echo "$1,$rep,$2" >>"$csv"
  echo "  rep $rep: $1 = $2 GB/s" >&2
}

inside_pair() {
  for ((rep = 0; rep < reps; rep++)); do
    order=(iperf strata gloo)
    [ $((rep % 2)) -eq 1 ] && order=(gloo strata iperf)
    for what in "${order[@]}"; do
      case "$what" in
        iperf)
          record iperf3_single "$(iperf single)"
          record iperf3_bidir "$(iperf bidir)"
          record bare_exchange "$(exchange)" ;;
        strata)
          run_ranks 2 ar "$build/bench/all_reduce_perf" -b "$size" -e "$size" -n 10 -w 2 -c 0 -J "$work/ar.json" &&
            record strata_allreduce "$(busbw_of "$work/ar.json")"
          run_ranks 2 sr "$build/bench/sendrecv_perf" -b "$size" -e "$size" -n 10 -w 2 -c 0 -J "$work/sr.json" &&
            record strata_sendrecv "$(busbw_of "$work/sr.json")"
          # The same with TLS on the data connections (STRATA_TLS=1).
          run_ranks 2 artls env STRATA_TLS=1 "$build/bench/all_reduce_perf" -b "$size" -e "$size" \
            -n 10 -w 2 -c 0 -J "$work/artls.json" &&
            record strata_allreduce_tls "$(busbw_of "$work/artls.json")"
          run_ranks 2 srtls env STRATA_TLS=1 "$build/bench/sendrecv_perf" -b "$size" -e "$size" \
            -n 10 -w 2 -c 0 -J "$work/srtls.json" &&
            record strata_sendrecv_tls "$(busbw_of "$work/srtls.json")" ;;
        gloo)
          rm -rf "$work/gloo-store" && mkdir -p "$work/gloo-store"
          run_ranks 2 gloo "$build/bench/peers/gloo_allreduce_bench" --store "$work/gloo-store" \
            --iface strata0 -b "$size" -e "$size" -n 5 -w 1 -c 0 -J "$work/gloo.json" &&
            record gloo_allreduce "$(busbw_of "$work/gloo.json")" ;;
      esac
    done
  done
}

inside_shaped() {
  for ((rep = 0; rep < reps; rep++)); do
    if [ $((rep % 2)) -eq 0 ]; then
      record shaped_iperf3_single "$(iperf single)"
      run_ranks 4 ar4 "$build/bench/all_reduce_perf" -b "$size" -e "$size" -n 3 -w 1 -c 0 -J "$work/ar4.json" &&
        record shaped_strata_allreduce_4 "$(busbw_of "$work/ar4.json")"
    else
      run_ranks 4 ar4 "$build/bench/all_reduce_perf" -b "$size" -e "$size" -n 3 -w 1 -c 0 -J "$work/ar4.json" &&
        record shaped_strata_allreduce_4 "$(busbw_of "$work/ar4.json")"
      record shaped_iperf3_single "$(iperf single)"
    fi
  done
}

if [ -n "$inside" ]; then
  work=$INSIDE_WORK
  csv=$work/values.csv
  secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  bytes=$(python3 -c "import sys; s=sys.argv[1]; m={'K':1<<10,'M':1<<20,'G':1<<30}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))" "$size")
  case "$inside" in
    pair) inside_pair ;;
    shaped) inside_shaped ;;
  esac
  exit 0
fi

# ------------------------------------------------------------ driver
[ "$(id -u)" -eq 0 ] || { echo "SKIP: line_rate.sh needs root (network namespaces)"; exit 77; }
for need in iperf3 python3; do
  command -v "$need" >/dev/null 2>&1 || { echo "line_rate.sh: $need is missing" >&2; exit 2; }
done
for t in bench/all_reduce_perf bench/sendrecv_perf bench/tcp_exchange bench/peers/gloo_allreduce_bench; do
  [ -x "$build/$t" ] || { echo "line_rate.sh: $build/$t is missing (cmake --build $build --target peer_benches)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/strata-line-rate.XXXXXX)
trap 'rm -rf "$work"' EXIT
: >"$work/values.csv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "line_rate.sh: 2 hosts, unshaped ($reps repetitions, $size)" >&2
INSIDE_WORK=$work bash tools/strata-hosts --hosts 2 --head --no-prefix --timeout 3000 -- \
  bash "$0" --inside pair --reps "$reps" --size "$size" --build "$build" || exit 1
echo "line_rate.sh: 4 hosts, links shaped to $rate" >&2
INSIDE_WORK=$work bash tools/strata-hosts --hosts 4 --rate "$rate" --head --no-prefix \
  --timeout 3000 -- bash "$0" --inside shaped --reps "$reps" --size "$size" --build "$build" || exit 1
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$results_dir"
{ echo "measure,rep,GBps"; cat "$work/values.csv"; } >"$results_dir/line_rate.csv"

python3 - "$work/values.csv" "$rate" "$size" "$load_before" "$load_after" "$reps" <<'EOF'
import csv, statistics, sys, re
path, rate, size, before, after, reps = sys.argv[1:]
vals = {}
for name, rep, v in csv.reader(open(path)):
    vals.setdefault(name, []).append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
def g(k):
    return med.get(k, float("nan"))
m = re.match(r"([0-9.]+)([kmg]?)bit", rate.lower())
shaped = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] / 8e9 if m else float("nan")
print(f"Load average before/after: {before} / {after}; {reps} repetitions, medians, message {size}.\n")
print("2 hosts x 1 rank, unshaped veth")
print()
print("| measure | GB/s | vs iperf3 single | vs iperf3 bidir (per direction) | vs bare exchange | vs Gloo |")
print("|---|---:|---:|---:|---:|---:|")
for k, label in [("iperf3_single", "iperf3, one stream"), ("iperf3_bidir", "iperf3 --bidir, per direction"),
                 ("bare_exchange", "bare two-way exchange, per direction"),
                 ("strata_allreduce", "Strata all-reduce busbw"), ("strata_sendrecv", "Strata sendrecv busbw"),
                 ("strata_allreduce_tls", "Strata all-reduce busbw, STRATA_TLS=1"),
                 ("strata_sendrecv_tls", "Strata sendrecv busbw, STRATA_TLS=1"),
                 ("gloo_allreduce", "Gloo all-reduce busbw")]:
    v = g(k)
    vs_gloo = f"{v / g('gloo_allreduce'):.2f}" if k.startswith("strata") else ""
    print(f"| {label} | {v:.3f} | {v / g('iperf3_single'):.2f} | {v / g('iperf3_bidir'):.2f} | "
          f"{v / g('bare_exchange'):.2f} | {vs_gloo} |")
print()
print(f"TLS cost: all-reduce with TLS / without = {g('strata_allreduce_tls') / g('strata_allreduce'):.2f}, "
      f"sendrecv {g('strata_sendrecv_tls') / g('strata_sendrecv'):.2f}")
print()
print(f"4 hosts x 1 rank, links shaped to {rate} ({shaped:.3f} GB/s)")
print()
print("| measure | GB/s | vs shaped rate | vs iperf3 on the shaped link |")
print("|---|---:|---:|---:|")
for k, label in [("shaped_iperf3_single", "iperf3, one stream"),
                 ("shaped_strata_allreduce_4", "Strata all-reduce busbw (4 ranks)")]:
    v = g(k)
    print(f"| {label} | {v:.4f} | {v / shaped:.2f} | {v / g('shaped_iperf3_single'):.2f} |")
EOF
