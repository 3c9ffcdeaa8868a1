#!/usr/bin/env python
"""Step cost: a trivial nbdojo step against a raw jupyter_client round trip, and step 500 against step 5.

Both are measured in one run, alternating: after each `env.step` a raw round trip (a
`BlockingKernelClient`: execute, read iopub until idle, read the reply) runs the same cell, so
load on the machine weighs on both alike. By default the raw client is attached to the
episode's own kernel (same kernel-side work: the ratio is nbdojo's host-side cost);
`--raw separate` starts a plain ipykernel with the toolbox's Python instead. Targets (issue 13): a trivial step at most 1.3x the raw round trip; step 500 at
most 1.2x step 5. Also printed: what the saves cost, counted (cells serialized, fsyncs).

    python benchmarks/step_cost.py [--steps 500] [--window 20] [--no-sandbox] [--code 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def raw_kernel(python: str, folder: str):
    """A plain ipykernel from jupyter_client over IPC sockets (as nbdojo's): no sandbox, no nbdojo."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec

    km = KernelManager(transport="ipc", ip=f"{folder}/k", connection_file=f"{folder}/kernel.json")
    km._kernel_spec = KernelSpec(argv=[python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                 display_name="raw", language="python")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def attached_client(connection_file: str):
    """A second, plain client on the episode's own kernel: the same kernel-side work, none of nbdojo's."""
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return None, kc


def round_trip(kc, code: str) -> float:
    """The leanest client loop: send, read iopub until the kernel is idle, read the reply."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                and msg["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:  # e.g. the kernel_info reply of wait_for_ready
        reply = kc.get_shell_msg(timeout=60)
    elapsed = time.perf_counter() - t0
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"raw kernel: {reply['content']}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--window", type=int, default=20, help="steps per median (early: steps 3.., late: the last)")
    parser.add_argument("--competition", default="loan-default")
    parser.add_argument("--code", default="1", help="the trivial cell")
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--raw", choices=("same", "separate"), default="same",
                        help="the raw trip runs on the episode's own kernel through a second client (same), or on "
                             "a plain ipykernel of the toolbox's Python that jupyter_client starts (separate)")
    args = parser.parse_args()

    from nbdojo.env import DojoEnv

    env_times: list[float] = []
    raw_times: list[float] = []
    with tempfile.TemporaryDirectory() as out, DojoEnv(args.competition, out_dir=out, sandbox=not args.no_sandbox,
                                                        max_steps=args.steps + 10) as env:
        env.reset()
        km, kc = raw_kernel(str(env.toolbox.python), tempfile.mkdtemp(prefix="nbraw-", dir="/tmp")) \
            if args.raw == "separate" else attached_client(str(env.kernel.connection_file))
        try:
            for _ in range(3):  # warm both
                round_trip(kc, args.code)
            for _ in range(args.steps):
                t0 = time.perf_counter()
                env.step({"action": "execute_code", "code": args.code})
                env_times.append(time.perf_counter() - t0)
                raw_times.append(round_trip(kc, args.code))
            size = Path(env.notebook_path).stat().st_size
            file = getattr(env.trajectory, "file", None)  # None: an nbdojo from before constant-cost saves
            saves, serialized, fsyncs = (file.saves, file.cells_serialized, file.fsyncs) if file else (0, 0, 0)
        finally:
            kc.stop_channels()
            if km is not None:
                km.shutdown_kernel(now=True)

    w = args.window
    early, late = slice(2, 2 + w), slice(-w, None)
    med = statistics.median
    pairs = [e / r for e, r in zip(env_times, raw_times)]  # each step over the raw trip right after it
    env_early, env_late = med(env_times[early]), med(env_times[late])
    raw_early, raw_late = med(raw_times[early]), med(raw_times[late])
    ratio_early, ratio_late = med(pairs[early]), med(pairs[late])
    print(f"{args.steps} trivial steps ({args.code!r}), sandbox: {not args.no_sandbox}, raw trip on the "
          f"{'same kernel' if args.raw == 'same' else 'separate plain kernel'}, medians of {w} steps")
    print(f"raw jupyter_client round trip : early {raw_early * 1e3:7.2f} ms   late {raw_late * 1e3:7.2f} ms")
    print(f"nbdojo step                   : early {env_early * 1e3:7.2f} ms   late {env_late * 1e3:7.2f} ms   "
          f"(steps 3-{2 + w} and {args.steps - w + 1}-{args.steps})")
    print(f"trivial step / raw round trip : {ratio_early:5.2f}x early, {ratio_late:5.2f}x late   (target <= 1.3x; "
          "median of each step over the raw trip run right after it)")
    print(f"late step / early step        : {ratio_late / ratio_early:5.2f}x   (target <= 1.2x; each against its "
          f"raw trip; in plain time {env_late / env_early:5.2f}x)")
    if saves:
        print(f"saves: {saves}, cells serialized: {serialized} ({serialized / max(saves, 1):.2f} a save), "
              f"fsyncs: {fsyncs}, notebook {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
