#!/usr/bin/env bash
# The GPU check of issue 20 (docs/kernels.md, "Running the GPU check").
#
#   bash benchmarks/gpu_check.sh [RESULTS_DIR]
#
# On a machine with one CUDA GPU and this checkout, in under 5 minutes:
#   1. prints the device: nvidia-smi, torch.cuda.get_device_name, torch / CUDA / triton versions;
#   2. correctness on the GPU: tests/test_kernels_cuda.py (the compiled Triton kernels against
#      their torch reference twins, forward and backward, three dtypes, strided inputs, dispatch);
#   3. speed: benchmarks/kernels.py --device cuda (float32 with trained and with frozen ReLU-KAN
#      knots, one rational group per channel, bfloat16) and benchmarks/layer_speed.py --device cuda;
#   4. writes one results file, RESULTS_DIR/gpu_check.json (RESULTS_DIR: $1, else $OUT, else
#      benchmarks/results/gpu): every step's command, exit status, time and output, the parsed
#      benchmark tables, and the targets of issue 20 item 3 with their verdicts.
# Every step runs under its own time limit, so a hang costs one step, and all steps share a
# budget (GPU_CHECK_BUDGET_S, default 285 s): a step that no longer fits is skipped, not started.
#
# Python: $GPU_CHECK_PYTHON, else python3. This checkout is put first on PYTHONPATH. If
# `import symkan` or one of its dependencies fails there, a venv ($GPU_CHECK_VENV, default
# /tmp/symkan-gpu-check-venv) that sees that python's packages (its torch and triton) is made,
# and `pip install -e '.[test,cuda]'` runs in it: offline first (--no-index), then from the index.
# GPU_CHECK_FORCE_VENV=1 takes that route even when the import works.
#
# Exit status: 0 the kernels are correct on the GPU (speed targets are reported, not enforced);
# 1 a correctness test failed, or none ran; 2 correct, but a benchmark step failed, timed out or
# was skipped; 3 no usable Python, or no CUDA device.
# GPU_CHECK_ALLOW_CPU=1 checks the plumbing without a GPU: benchmarks on --device cpu at tiny
# sizes, the CUDA tests skip, results go to /tmp/symkan-gpu-check-cpu unless RESULTS_DIR is given.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 3
ALLOW_CPU=${GPU_CHECK_ALLOW_CPU:-0}
if [ "$ALLOW_CPU" = 1 ]; then
    RESULTS=${1:-${OUT:-/tmp/symkan-gpu-check-cpu}}
else
    RESULTS=${1:-${OUT:-$ROOT/benchmarks/results/gpu}}
fi
BUDGET=${GPU_CHECK_BUDGET_S:-285}
mkdir -p "$RESULTS" || exit 3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 3
: > "$WORK/steps.tsv"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
unset TRITON_INTERPRET SYMKAN_KERNEL_BACKEND  # compiled kernels, backend chosen by the code
START=$SECONDS

log() { printf '\n=== %s\n' "$*"; }

# record NAME RC SECONDS LIMIT COMMAND...: one line of steps.tsv (tab-separated)
record() {
    local name=$1 rc=$2 secs=$3 limit=$4
    shift 4
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$secs" "$limit" "$*" >> "$WORK/steps.tsv"
}

# step NAME LIMIT_S COMMAND...: run under min(LIMIT_S, budget left); output to the terminal and
# $WORK/NAME.log. rc 124/137: timed out; "skipped" when under 15 s of the budget are left.
step() {
    local name=$1 limit=$2 left t0 rc
    shift 2
    left=$((BUDGET - (SECONDS - START)))
    if [ "$left" -lt 15 ]; then
        log "$name: skipped, ${left} s of the ${BUDGET} s budget left"
        record "$name" skipped 0 0 "$@"
        return 0
    fi
    [ "$left" -lt "$limit" ] && limit=$left
    log "$name (limit ${limit} s): $*"
    t0=$SECONDS
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$WORK/$name.log"
    rc=${PIPESTATUS[0]}
    record "$name" "$rc" $((SECONDS - t0)) "$limit" "$@"
    log "$name: exit $rc after $((SECONDS - t0)) s"
    return 0
}

# probe PYTHON [MODULE]: does this checkout import there, with its dependencies (and MODULE)?
probe() {
    local need="import symkan, symkan.nn, torch, pytest, numpy, scipy, sympy${2:+, $2}"
    (cd / && timeout 60 "$1" -c "$need; assert symkan.__file__.startswith('$ROOT'), symkan.__file__") \
        >> "$WORK/setup.log" 2>&1
}

# install_venv PYTHON VENV: a venv that sees PYTHON's packages, with this checkout installed
# (pip install -e '.[test,cuda]', offline first). No pip of its own (an older ensurepip also
# adds an old setuptools): it builds with PYTHON's setuptools, and PYTHON's pip installs into it.
install_venv() {
    local py=$1 venv=$2 site pip
    [ -x "$venv/bin/python" ] || "$py" -m venv --system-site-packages --without-pip "$venv" || return
    # A python that is itself a venv (/opt/torch/.venv on the lent GPU machines) does not pass
    # its packages on as the new venv's "system" ones: add its package folders by a .pth file.
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') || return
    "$py" -c 'import os, sys; print("\n".join(p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)))' \
        > "$site/_symkan_gpu_check_host.pth" || return
    pip=("$py" -m pip --python "$venv/bin/python")
    if ! "${pip[@]}" --version; then  # a pip older than 22.3: give the venv its own
        "$venv/bin/python" -m ensurepip && pip=("$venv/bin/python" -m pip)
    fi
    timeout 90 "${pip[@]}" install --no-build-isolation --no-index -e "$ROOT[test,cuda]" \
        || timeout 60 "${pip[@]}" install --no-build-isolation --timeout 15 --retries 1 -e "$ROOT[test,cuda]"
}

# setup_python: prints the python to use (see the header), or nothing when none works
setup_python() {
    local py venv triton=triton
    [ "$ALLOW_CPU" = 1 ] && triton=
    py=${GPU_CHECK_PYTHON:-$(command -v python3 || command -v python || true)}
    [ -n "$py" ] || { echo "no python3 on PATH" >> "$WORK/setup.log"; return; }
    if [ "${GPU_CHECK_FORCE_VENV:-0}" != 1 ] && probe "$py" "$triton"; then echo "$py"; return; fi
    venv=${GPU_CHECK_VENV:-/tmp/symkan-gpu-check-venv}
    echo "the check's imports failed with $py: installing the project into the venv $venv" >> "$WORK/setup.log"
    install_venv "$py" "$venv" >> "$WORK/setup.log" 2>&1
    if probe "$venv/bin/python" "$triton"; then
        echo "$venv/bin/python"
    elif probe "$py"; then  # no triton anywhere: run anyway, the report says why no kernel ran
        echo "no triton: going on with $py" >> "$WORK/setup.log"
        echo "$py"
    fi
}

log "setup: python for $ROOT"
t0=$SECONDS
PY=$(setup_python)
record setup "$([ -n "$PY" ] && echo 0 || echo 3)" $((SECONDS - t0)) 0 "setup_python"
cat "$WORK/setup.log" 2> /dev/null
echo "python: ${PY:-none}"

cat > "$WORK/device_info.py" <<'EOF'
import json, os, platform, sys
info = {"python": sys.executable, "python_version": platform.python_version()}
try:
    import torch
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(device_name=torch.cuda.get_device_name(0), device_count=torch.cuda.device_count(),
                    capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                    multiprocessors=p.multi_processor_count, memory_gib=round(p.total_memory / 2**30, 1),
                    tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
except Exception as err:  # reported, the check goes on
    info["torch_error"] = repr(err)
try:
    import triton
    info["triton"] = triton.__version__
except Exception as err:
    info["triton"], info["triton_error"] = None, repr(err)
import symkan
info["symkan"] = os.path.dirname(symkan.__file__)
print(json.dumps(info, indent=1))
with open(sys.argv[1], "w") as fh:
    json.dump(info, fh)
EOF

if [ -n "$PY" ]; then
    step nvidia_smi 20 nvidia-smi
    step device 60 "$PY" "$WORK/device_info.py" "$WORK/device.json"
    CUDA_OK=$("$PY" -c 'import json, sys; print(int(bool(json.load(open(sys.argv[1])).get("cuda_available"))))' \
        "$WORK/device.json" 2>/dev/null || echo 0)
    if [ "$CUDA_OK" = 1 ]; then
        DEV=(--device cuda)
        KSIZE=()
        LSIZE=(--repeats 50 --warmup 5)
    elif [ "$ALLOW_CPU" = 1 ]; then
        DEV=(--device cpu)
        KSIZE=(--shapes 256x16 --repeats 2 --warmup 1 --threads 1)
        LSIZE=(--batch 64 --in-features 8 --out-features 8 --repeats 2 --warmup 1 --threads 1 --no-pykan)
    else
        DEV=()
        log "no CUDA device: nothing to check (GPU_CHECK_ALLOW_CPU=1 runs the plumbing on CPU)"
    fi
    if [ ${#DEV[@]} -gt 0 ]; then
        XDIST=()  # parallel workers shorten the kernel compiles, when pytest-xdist is there
        if [ "$CUDA_OK" = 1 ] && "$PY" -c 'import xdist' 2> /dev/null; then XDIST=(-n 6); fi
        step tests 180 "$PY" -m pytest tests/test_kernels_cuda.py -q -rs -p no:cacheprovider ${XDIST[@]+"${XDIST[@]}"} \
            --junitxml="$WORK/junit.xml"
        K=("$PY" benchmarks/kernels.py "${DEV[@]}" ${KSIZE[@]+"${KSIZE[@]}"})
        step kernels_fp32 100 "${K[@]}" --json "$WORK/kernels_fp32.json"
        step kernels_fp32_frozen_knots 50 "${K[@]}" --ops relukan --frozen-knots --json "$WORK/kernels_fp32_frozen_knots.json"
        step layer_speed 60 "$PY" benchmarks/layer_speed.py "${DEV[@]}" "${LSIZE[@]}" --json "$WORK/layer_speed.json"
        step kernels_fp32_group_per_channel 40 "${K[@]}" --ops rational --groups 0 \
            --json "$WORK/kernels_fp32_group_per_channel.json"
        step kernels_bf16 60 "${K[@]}" --dtype bfloat16 --json "$WORK/kernels_bf16.json"
    fi
fi

cat > "$WORK/report.py" <<'EOF'
"""Fold the steps of $WORK into one JSON file, print the verdicts, exit with the check's status."""
import datetime, json, os, subprocess, sys
import xml.etree.ElementTree as ET

work, results, mode, total_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def load(name):
    try:
        with open(os.path.join(work, name)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def tail(path, n=20000):
    try:
        with open(path, errors="replace") as fh:
            text = fh.read()
    except OSError:
        return ""
    return text if len(text) <= n else "[... cut ...]\n" + text[-n:]


steps = []
with open(os.path.join(work, "steps.tsv")) as fh:
    for line in fh:
        name, rc, secs, limit, cmd = line.rstrip("\n").split("\t", 4)
        status = ("skipped" if rc == "skipped" else "ok" if rc == "0"
                  else "timed out" if rc in ("124", "137") else "failed")
        steps.append(dict(name=name, status=status, rc=None if rc == "skipped" else int(rc), seconds=int(secs),
                          limit_s=int(limit), command=cmd, output=tail(os.path.join(work, name + ".log"))))
by_name = {s["name"]: s for s in steps}

# correctness: the junit report of tests/test_kernels_cuda.py
tests = {"status": "not run"}
try:
    root = ET.parse(os.path.join(work, "junit.xml")).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    count = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    failed = []
    for case in suite.iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}: {bad.get('message', '')[:300]}")
    passed = count["tests"] - count["failures"] - count["errors"] - count["skipped"]
    tests = dict(count, passed=passed, failed_tests=failed)
    if count["failures"] or count["errors"] or by_name["tests"]["status"] != "ok":
        tests["status"] = "failed"
    elif passed == 0:
        tests["status"] = "skipped (no CUDA device)" if mode == "cpu-plumbing" else "failed: no test ran"
    else:
        tests["status"] = "passed"
except (OSError, ET.ParseError, AttributeError, KeyError):
    if "tests" in by_name:
        tests["status"] = f"failed: {by_name['tests']['status']}, no junit report"

# speed: the benchmark JSON files and the targets of issue 20 item 3
benchmarks = {s["name"]: load(s["name"] + ".json") for s in steps if s["name"].startswith(("kernels", "layer"))}
targets = []
for run, data in benchmarks.items():
    for t in (data or {}).get("targets", []) if run.startswith("kernels") else []:
        targets.append(dict(t, run=run))
lines = [f"{t['run']}: {t['text']}" for t in targets if t.get("text")]
verdicts = {}  # "target (run)": {"met": shapes that meet it, "shapes": shapes measured}
for t in targets:
    v = verdicts.setdefault(f"{t['name']} ({t['run']})", {"met": 0, "shapes": 0})
    v["met"] += bool(t["met"])
    v["shapes"] += 1
layers = (benchmarks.get("layer_speed") or {}).get("rows", [])
lin = next((r for r in layers if r["layer"].startswith("nn.Linear")), None)
for r in layers:
    if lin and r["layer"].startswith(("KANLayer relukan", "KANLayer rational")):
        lines.append(f"layer_speed: {r['layer']} fwd+bwd {r['fwdbwd_ms']:.3f} ms = {r['fwdbwd_ms'] / lin['fwdbwd_ms']:.2f}× "
                     f"{lin['layer']} ({lin['fwdbwd_ms']:.3f} ms), peak {r['peak_mib']:.1f} MiB")

bench_ok = all(s["status"] == "ok" for s in steps if s["name"] in benchmarks)
if tests["status"] == "passed" or tests["status"].startswith("skipped"):
    code = 0 if bench_ok else 2
elif tests["status"] == "not run":
    code = 3
else:
    code = 1
device = load("device.json") or {}
if mode == "gpu" and not device.get("cuda_available"):
    code = 3

git = {}
for key, cmd in (("commit", ["git", "rev-parse", "HEAD"]), ("status", ["git", "status", "--porcelain"])):
    try:
        git[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        git[key] = None
report = dict(check="symkan GPU check (issue 20 item 3; docs/kernels.md)", mode=mode,
              finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              seconds=total_s, exit_code=code, git=git, device=device,
              correctness=tests, targets=dict(lines=lines, met=verdicts, detail=targets),
              benchmarks=benchmarks, steps=steps)
path = os.path.join(results, "gpu_check.json")
with open(path, "w") as fh:
    json.dump(report, fh, indent=1, ensure_ascii=False)

print(f"\n# GPU check ({mode}): {device.get('device_name', 'no CUDA device')}, torch {device.get('torch')}, "
      f"triton {device.get('triton')}, {total_s} s")
for s in steps:
    print(f"  {s['name']:32s} {s['status']:9s} {s['seconds']:4d} s")
print(f"# correctness (tests/test_kernels_cuda.py): {tests['status']}"
      + (f" — {tests['passed']} passed, {tests['failures']} failed, {tests['errors']} errors, "
         f"{tests['skipped']} skipped" if "tests" in tests else ""))
for f in tests.get("failed_tests", [])[:20]:
    print(f"  FAILED {f}")
print("# targets (rational fwd+bwd ≥ 5× torch; fused ReLU-KAN fwd+bwd ≤ 1.5× equal-FLOP linear, peak below unfused)")
print("\n".join(lines) if lines else "(none measured: no Triton kernel ran)")
for key, v in verdicts.items():
    print(f"  {key}: met at {v['met']} of {v['shapes']} shapes")
print(f"# results: {path}\n# exit status {code}")
sys.exit(code)
EOF

MODE=gpu
[ "${CUDA_OK:-0}" = 1 ] || [ "$ALLOW_CPU" != 1 ] || MODE=cpu-plumbing
REPORT_PYTHON=${PY:-$(command -v python3 || true)}
if [ -z "$REPORT_PYTHON" ]; then
    echo "no python: no results file written" >&2
    exit 3
fi
"$REPORT_PYTHON" "$WORK/report.py" "$WORK" "$RESULTS" "$MODE" $((SECONDS - START))
CODE=$?
rm -rf "$WORK"
exit "$CODE"
