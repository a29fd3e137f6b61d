#!/usr/bin/env python3
"""PyTorch's torch.distributed NCCL backend on Strata's libnccl.so.2.

Starts 2 processes sharing GPU 0 (world size 2) with this build's
libnccl.so.2 preloaded, and checks all_reduce, reduce_scatter_tensor,
all_gather_into_tensor, broadcast and send/recv results. Exits 77 (skipped)
when torch, CUDA or a GPU is missing.

  python3 tests/cuda/torch_dropin.py --lib build/libnccl.so.2
"""
import argparse
import glob
import os
import socket
import subprocess
import sys
import tempfile

SKIP = 77


def worker(rank, world):
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(0)
    dist.init_process_group("nccl", rank=rank, world_size=world,
                            init_method="env://", device_id=torch.device("cuda", 0))
    dev = torch.device("cuda", 0)
    failures = []

    def check(name, got, want):
        if not torch.equal(got.cpu(), want.cpu()):
            failures.append(f"{name}: got {got.cpu()[:8].tolist()} want {want.cpu()[:8].tolist()}")

    for n in (1, 1000, 1 << 20):
        t = torch.full((n,), float(rank + 1), device=dev)
        dist.all_reduce(t)
        check(f"all_reduce[{n}]", t, torch.full((n,), 3.0))

        inp = torch.arange(world * n, dtype=torch.float32, device=dev) + rank
        out = torch.empty(n, device=dev)
        dist.reduce_scatter_tensor(out, inp)
        want = (torch.arange(world * n, dtype=torch.float32) * 2 + 1)[rank * n:(rank + 1) * n]
        check(f"reduce_scatter_tensor[{n}]", out, want)

        inp = torch.full((n,), float(rank), device=dev, dtype=torch.bfloat16)
        out = torch.empty(world * n, device=dev, dtype=torch.bfloat16)
        dist.all_gather_into_tensor(out, inp)
        check(f"all_gather_into_tensor[{n}]", out,
              torch.cat([torch.full((n,), float(r), dtype=torch.bfloat16) for r in range(world)]))

        t = torch.full((n,), float(rank * 10 + 7), device=dev)
        dist.broadcast(t, src=1)
        check(f"broadcast[{n}]", t, torch.full((n,), 17.0))

        if rank == 0:
            dist.send(torch.full((n,), 42.0, device=dev), dst=1)
            r = torch.empty(n, device=dev)
            dist.recv(r, src=1)
            check(f"recv[{n}]", r, torch.full((n,), 43.0))
        else:
            r = torch.empty(n, device=dev)
            dist.recv(r, src=0)
            check(f"recv[{n}]", r, torch.full((n,), 42.0))
            dist.send(torch.full((n,), 43.0, device=dev), dst=0)
    torch.cuda.synchronize()
    dist.destroy_process_group()
    for f in failures:
        print(f"rank {rank}: FAIL {f}", flush=True)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", help="path to Strata's libnccl.so.2")
    ap.add_argument("--worker", type=int, default=-1)
    args = ap.parse_args()
    if args.worker >= 0:
        sys.exit(worker(args.worker, 2))

    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        print("SKIP: torch is not installed")
        return SKIP
    if not torch.cuda.is_available() or torch.cuda.device_count() < 1:
        print("SKIP: no CUDA GPU visible to torch")
        return SKIP
    if not dist.is_nccl_available():
        print("SKIP: this torch build has no NCCL backend")
        return SKIP
    lib = os.path.abspath(args.lib)
    if not os.path.exists(lib):
        print(f"FAIL: {lib} does not exist")
        return 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logdir = tempfile.mkdtemp(prefix="strata-torch-")
    env = dict(os.environ)
    env.update({
        # Strata's own log proves the calls reached this library and not
        # an NCCL bundled with torch.
        "STRATA_DEBUG": "INFO",
        "STRATA_DEBUG_FILE": os.path.join(logdir, "strata.%p.log"),
        "LD_PRELOAD": lib,
        "LD_LIBRARY_PATH": os.path.dirname(lib) + ":" + env.get("LD_LIBRARY_PATH", ""),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "WORLD_SIZE": "2",
        "TORCH_NCCL_ASYNC_ERROR_HANDLING": "1",
    })
    procs = []
    for rank in range(2):
        e = dict(env, RANK=str(rank), LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker", str(rank)], env=e))
    rc = 0
    for p in procs:
        try:
            rc |= p.wait(timeout=500)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            print("FAIL: workers timed out")
            return 1
    logs = [f for f in glob.glob(os.path.join(logdir, "strata.*.log")) if os.path.getsize(f) > 0]
    if len(logs) < 2:
        print(f"FAIL: no Strata log from the workers in {logdir}: torch did not use {lib}")
        return 1
    print("PASS" if rc == 0 else "FAIL")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
