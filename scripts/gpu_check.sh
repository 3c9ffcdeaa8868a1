#!/usr/bin/env bash
# One pass over nbdojo's GPU path on a machine with an NVIDIA GPU; on one without, each step
# reports the CPU fallback instead, so the script can be tried anywhere first.
#
#   0. CUDA's driver API (cuInit) on the host and in nbdojo's sandbox, for a diagnosis if CUDA fails;
#   1. `nbdojo doctor --json`: host checks, then a probe from inside a sandboxed kernel;
#   2. a sandboxed episode (loan-default, gpus=[0]) whose one cell runs a torch matmul on CUDA
#      and prints torch.cuda.get_device_name(0) and the result's checksum (checked against float64
#      on the CPU);
#   3. pytest on the GPU tests: tests/test_gpus.py, tests/test_doctor.py (the CUDA test lives
#      there) and tests/test_sandbox.py.
#
# Usage: scripts/gpu_check.sh [OUTDIR]      (default: $OUT, else ./gpu-check-out)
# Writes setup.log, diag.log, doctor.json, doctor.err, episode.log, episode.ipynb, pytest.log
# and summary.txt to OUTDIR; exits 0 when all three steps passed. PYTHON picks the interpreter
# (default: .venv/bin/python if there, else python3).
#
# For a machine with no network (a lent GPU machine), the repo root may hold two folders that
# git ignores, filled here beforehand; run as root, the script installs from them only what is
# missing there:
#   .whl/   wheels of nbdojo's dependencies that the machine lacks (for its Python), e.g.
#           pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#             --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl ipykernel==7.4.0 ...
#           installed into the interpreter's own environment (not --target/PYTHONPATH: the sandboxed
#           kernel gets a scrubbed environment and sees only the interpreter's own folders), or, where
#           that is read-only (or NBDOJO_GPUCHECK_OVERLAY names a folder), into a new environment there
#           (default /opt/nbdojo-venv) that sees the old one's packages;
#   .debs/  `apt-get download bubblewrap libcap2 libselinux1 libpcre2-8-0 util-linux libcap-ng0`:
#           bwrap (and setpriv if absent) go to /usr/local/bin, and only the shared libraries they
#           cannot find go to /usr/local/lib.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUTDIR=${1:-${OUT:-$ROOT/gpu-check-out}}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=$ROOT/.venv/bin/python
else PY=python3; fi
PY=$(command -v "$PY")
export PYTHONUNBUFFERED=1 COLUMNS=200
SUMMARY=$OUTDIR/summary.txt
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
START=$SECONDS
step_time() { echo "$((SECONDS - $1))s"; }

# ---------------------------------------------------------------- setup and what the machine has
setup() {
    echo "== machine"; uname -a; id; nproc; free -g 2>/dev/null | head -2
    echo "== python: $PY ($("$PY" -V 2>&1))"
    if ! command -v bwrap >/dev/null && [ -d .debs ] && [ "$(id -u)" = 0 ]; then
        echo "== bubblewrap from .debs"
        rm -rf /tmp/nbdojo-debs && mkdir -p /tmp/nbdojo-debs
        for f in .debs/*.deb; do dpkg -x "$f" /tmp/nbdojo-debs; done
        install -m 0755 /tmp/nbdojo-debs/usr/bin/bwrap /usr/local/bin/bwrap
        command -v setpriv >/dev/null || install -m 0755 /tmp/nbdojo-debs/usr/bin/setpriv /usr/local/bin/setpriv
        for bin in /usr/local/bin/bwrap /usr/local/bin/setpriv; do
            [ -x "$bin" ] || continue
            for lib in $(ldd "$bin" | awk '/not found/ {print $1}'); do
                src=$(find /tmp/nbdojo-debs -name "$lib" | head -1)
                [ -n "$src" ] && cp -L "$src" /usr/local/lib/ && echo "added $lib for $bin"
            done
        done
        ldconfig
    fi
    site=$(cd / && "$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    if ! (cd / && "$PY" -c 'import ipykernel, jupyter_client, nbformat, gymnasium, zmq') 2>/dev/null && [ -d .whl ]; then
        if [ -w "$site" ] && [ -z "${NBDOJO_GPUCHECK_OVERLAY:-}" ]; then
            echo "== wheels from .whl into $site"
            "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --disable-pip-version-check .whl/*.whl
        else
            # A read-only environment: a new one beside it holds the wheels and nbdojo, and sees the
            # old one's packages through a .pth (the sandbox mounts both: they are the kernel's Python).
            overlay=${NBDOJO_GPUCHECK_OVERLAY:-/opt/nbdojo-venv}
            echo "== $site is not writable: an overlay environment at $overlay"
            "$PY" -m venv --without-pip "$overlay"
            newsite=$("$overlay/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
            "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --disable-pip-version-check \
                --target "$newsite" .whl/*.whl
            echo "import site; site.addsitedir('$site')" >"$newsite/zz-base-env.pth"
            echo "$ROOT" >"$newsite/nbdojo-repo.pth"
            PY=$overlay/bin/python
        fi
    fi
    if ! (cd / && "$PY" -c 'import nbdojo') 2>/dev/null; then
        echo "== nbdojo (editable) into $("$PY" -c 'import sys; print(sys.prefix)')"
        "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --disable-pip-version-check -e . || {
            site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
            echo "$ROOT" >"$site/nbdojo-repo.pth" && echo "pip failed: put $ROOT on the path through $site/nbdojo-repo.pth"
        }
    fi
    echo "== gpu"
    nvidia-smi --query-gpu=index,minor_number,uuid,name,memory.total,driver_version --format=csv,noheader 2>&1
    ls -ld /dev/nvidia* 2>&1
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvidia-ml\.so'
    echo "== sandbox tools"
    command -v bwrap && bwrap --version
    command -v setpriv || echo "no setpriv"
    bwrap --ro-bind / / --dev /dev --proc /proc --unshare-pid --unshare-net true && echo "bwrap runs"
    echo "cgroup fs: $(stat -fc %T /sys/fs/cgroup 2>&1)"
    echo "== packages"
    (cd / && "$PY" -c '
import importlib.metadata as md
for n in ("nbdojo", "torch", "numpy", "ipykernel", "jupyter_client", "pyzmq", "tornado", "nbformat", "gymnasium", "pytest"):
    try: print(n, md.version(n))
    except md.PackageNotFoundError: print(n, "MISSING")
import nbdojo; print("nbdojo from", nbdojo.__file__)')
    (cd / && "$PY" -c 'import torch; print("host torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1)
}
t=$SECONDS
setup >"$OUTDIR/setup.log" 2>&1
say "setup: $(step_time $t) (setup.log)"
say "python: $PY"
say "host GPUs: $(nvidia-smi -L 2>/dev/null | head -4 | tr '\n' ';' || true)"

NBDOJO=("$PY" -m nbdojo.cli.app)
[ -x "$(dirname "$PY")/nbdojo" ] && NBDOJO=("$(dirname "$PY")/nbdojo")
export NBDOJO_HOME=${NBDOJO_HOME:-$(mktemp -d /tmp/nbdojo-gpucheck-home.XXXXXX)}

# ---------------------------------------------------------------- 0. CUDA's driver API, on the host and in the sandbox
# cuInit's own result code says why CUDA fails where torch only says "not available"; the
# sandbox here is nbdojo's (nbdojo.kernel.launcher.command with sandbox_grant([0])), without the cgroup.
t=$SECONDS
(cd / && timeout 75 "$PY" - <<'EOF') >"$OUTDIR/diag.log" 2>&1
import os, subprocess, sys, tempfile

from nbdojo.kernel.gpus import gpu_indices, sandbox_grant
from nbdojo.kernel.launcher import command
from nbdojo.kernel.sandbox import SandboxPolicy

CODE = r'''
import ctypes, os, sys
print("  CUDA_VISIBLE_DEVICES=%r LD_LIBRARY_PATH=%r uid %d" % (os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("LD_LIBRARY_PATH"), os.getuid()))
print("  /dev:", " ".join(sorted(n for n in os.listdir("/dev") if "nvidia" in n)) or "no nvidia nodes")
try:
    cuda = ctypes.CDLL("libcuda.so.1")
    n = ctypes.c_int(-1)
    rc = cuda.cuInit(0)
    print("  libcuda: cuInit ->", rc, "| cuDeviceGetCount ->", cuda.cuDeviceGetCount(ctypes.byref(n)) if rc == 0 else "-", n.value)
except OSError as exc:
    print("  libcuda.so.1 not loadable:", exc)
if "torch" in sys.argv:
    try:
        import torch
        torch.cuda.init()
        print("  torch.cuda.init() ok:", torch.cuda.device_count(), "device(s),", torch.cuda.get_device_name(0))
    except Exception as exc:
        print("  torch.cuda.init() failed:", repr(exc))
'''
gpus = [0] if 0 in gpu_indices() else []
print("host:")
sys.stdout.flush()
try:
    subprocess.run([sys.executable, "-c", CODE], timeout=30)
except subprocess.TimeoutExpired:
    print("  timed out")
workspace = tempfile.mkdtemp(prefix="nbdojo-diag-")
os.chmod(workspace, 0o777)
for label, extra, argv in (("sandbox, as nbdojo grants gpus=%s" % gpus, {}, ["torch"]),
                           ("sandbox, the same with CUDA_VISIBLE_DEVICES=0", {"CUDA_VISIBLE_DEVICES": "0"}, [])):
    if extra and not gpus:
        continue
    grant = sandbox_grant(gpus)
    grant["env"] = {**grant["env"], **extra}
    policy = SandboxPolicy(workspace=workspace, **grant)
    print(label + ":")
    sys.stdout.flush()
    try:
        proc = subprocess.run(command(policy, [sys.executable, "-c", CODE, *argv]), timeout=40,
                              capture_output=True, text=True)
        print(proc.stdout + proc.stderr[-1500:] + ("" if proc.returncode == 0 else f"  exit {proc.returncode}\n"), end="")
    except subprocess.TimeoutExpired:
        print("  timed out")
EOF
say ""
say "== 0. CUDA driver API, host and sandbox: $(step_time $t) (diag.log)"
sed 's/^/  /' "$OUTDIR/diag.log" | tee -a "$SUMMARY"

# ---------------------------------------------------------------- 1. nbdojo doctor --json
t=$SECONDS
(cd / && timeout 100 "${NBDOJO[@]}" doctor --json) >"$OUTDIR/doctor.json" 2>"$OUTDIR/doctor.err"
doctor_rc=$?
say ""
say "== 1. ${NBDOJO[*]##*/} doctor --json: exit $doctor_rc in $(step_time $t)"
"$PY" - "$OUTDIR/doctor.json" <<'EOF' 2>&1 | tee -a "$SUMMARY"
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except ValueError as exc:
    sys.exit(f"  no JSON ({exc}): see doctor.err")
for c in report["checks"]:
    print(f"  {({True: 'ok', False: 'FAIL', None: 'note'})[c['ok']]:4} {c['name']}: {c['detail']}")
k = report.get("kernel") or {}
print("  kernel:", json.dumps({key: k.get(key) for key in ("uid", "hostname", "caps", "gpus_given", "cuda_visible_devices",
                                                            "torch", "torch_cuda_build", "cuda_available", "gpus",
                                                            "torch_error") if key in k}))
EOF

# ---------------------------------------------------------------- 2. a sandboxed episode with gpus=[0]
t=$SECONDS
(cd / && timeout 100 "$PY" - "$OUTDIR" <<'EOF') >"$OUTDIR/episode.log" 2>&1
import json, shutil, sys, time
from pathlib import Path

import nbformat

from nbdojo.env import DojoEnv
from nbdojo.kernel.gpus import gpu_indices, machine_gpus
from nbdojo.config import nbdojo_home

out = Path(sys.argv[1])
gpus = [0] if 0 in gpu_indices() else []
print("host GPUs:", [f"{g.index}: {g.label} (minor {g.minor}, {g.uuid or 'no uuid'})" for g in machine_gpus()] or "none")
print("gpus given:", gpus, "| NBDOJO_HOME:", nbdojo_home())
CELL = r'''
import os, socket, torch
print("uid", os.getuid(), "| hostname", socket.gethostname(), "| CUDA_VISIBLE_DEVICES", repr(os.environ.get("CUDA_VISIBLE_DEVICES")))
print("torch", torch.__version__, "| CUDA build", torch.version.cuda)
print("torch.cuda.is_available()", torch.cuda.is_available(), "| device_count", torch.cuda.device_count())
n = 1024
a = (torch.arange(n * n, dtype=torch.float32) % 7).reshape(n, n)
b = (torch.arange(n * n, dtype=torch.float32) % 5).reshape(n, n).T.contiguous()
expected = float((a.double() @ b.double()).sum())  # small integers: exact in float32 too
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "|", round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1), "GiB")
    c = a.cuda() @ b.cuda()
    torch.cuda.synchronize()
else:
    c = a @ b
checksum = float(c.double().sum())
print(f"matmul {n}x{n} float32 on {c.device}: checksum {checksum:.1f} | float64 on CPU {expected:.1f} | equal {checksum == expected}")
'''
t0 = time.time()
with DojoEnv("loan-default", out_dir=Path(nbdojo_home()) / "runs", gpus=gpus, sandbox=True, agent="gpu-check") as env:
    env.reset(seed=0)
    print(f"reset (prepare + sandboxed kernel start): {time.time() - t0:.1f}s")
    t0 = time.time()
    obs, reward, terminated, truncated, info = env.step({"action": "execute_code", "code": CELL})
    print(f"step: status {info.get('status')} in {time.time() - t0:.1f}s")
    print("--- observation ---")
    print(obs)
    print("--- end ---")
    notebook = env.notebook_path
shutil.copy(notebook, out / "episode.ipynb")
nb = nbformat.read(notebook, as_version=4)
meta = nb.metadata.get("nbdojo", {})
print("notebook metadata: sandbox", meta.get("sandbox"), "| caps", meta.get("caps"))
cells = [c for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbdojo", {}).get("action") == "execute_code"]
text = "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))
ok = info.get("status") == "ok" and "equal True" in text and (not gpus or "device " in text) and meta.get("sandbox") is True
print("EPISODE", "OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
EOF
episode_rc=$?
say ""
say "== 2. sandboxed episode: exit $episode_rc in $(step_time $t)"
grep -E '^(gpus given|step:|uid |torch|device |matmul |notebook metadata|EPISODE)' "$OUTDIR/episode.log" | sed 's/^/  /' | tee -a "$SUMMARY"
[ "$episode_rc" = 0 ] || tail -n 15 "$OUTDIR/episode.log" | sed 's/^/  | /' | tee -a "$SUMMARY"

# ---------------------------------------------------------------- 3. the GPU tests
t=$SECONDS
timeout 140 "$PY" -m pytest -p no:cacheprovider -q -rA -o timeout=120 \
    tests/test_gpus.py tests/test_doctor.py tests/test_sandbox.py >"$OUTDIR/pytest.log" 2>&1
pytest_rc=$?
say ""
say "== 3. pytest tests/test_gpus.py tests/test_doctor.py tests/test_sandbox.py: exit $pytest_rc in $(step_time $t)"
grep -E '(PASSED|FAILED|SKIPPED|ERROR).*(cuda|gpu|GPU)' "$OUTDIR/pytest.log" | sed 's/^/  /' | tee -a "$SUMMARY"
grep -E '^(FAILED|ERROR) ' "$OUTDIR/pytest.log" | sed 's/^/  /' | tee -a "$SUMMARY"
say "  $(tail -n 1 "$OUTDIR/pytest.log")"

say ""
say "total: $(step_time $START); exits: doctor $doctor_rc, episode $episode_rc, pytest $pytest_rc"
[ "$doctor_rc" = 0 ] && [ "$episode_rc" = 0 ] && [ "$pytest_rc" = 0 ]
