#!/usr/bin/env python3
"""Where a step's device time goes: the kernels Nsight Compute timed in the
steps `pagoda_cuda_engine_bench --profile 1` brackets, summed by kernel.

    ncu --profile-from-start off --clock-control none --csv --print-units base \\
        --metrics gpu__time_duration.sum --log-file NCU.csv pagoda_cuda_engine_bench --profile 1 ... >BENCH.log
    python3 scripts/ncu_summary.py NCU.csv BENCH.log

Every forward pass starts with rope_table_kernel, which splits the kernels
into steps; BENCH.log's "profiled step:" lines name them in order. Prints one
markdown table per step: each kernel's launches, summed duration and share of
the step's kernel time (kernels run one at a time under ncu, so the sum is the
step without its launch gaps).
"""
import csv
import re
import sys
from collections import OrderedDict

TOP = 10  # kernels listed per step; the rest are summed in one row


def short_name(name):
    """A kernel's name without return type, namespaces or parameter list."""
    name = name.strip()
    if name.startswith("void "):
        name = name[5:]
    if name.endswith(")"):  # drop the parameter list: the parenthesised group at the end
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(name[i], 0)
            if depth == 0:
                name = name[:i]
                break
    head, _, args = name.partition("<")
    head = re.sub(r"^.*::", "", head)
    args = re.sub(r"pagoda::cuda::|\(anonymous namespace\)::|\s+", "", args)
    short = head + ("<" + args if args else "")
    return short if len(short) <= 70 else short[:67] + "..."


def read_kernels(path):
    """[(kernel name, duration in ns)] in launch order."""
    with open(path, newline="", errors="replace") as f:
        lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), None)
    if start is None:
        sys.exit(f"ncu_summary: no CSV header in {path} (did ncu profile anything?)")
    rows = csv.DictReader(lines[start:])
    out = []
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "nsecond")
        scale = {"nsecond": 1.0, "usecond": 1e3, "msecond": 1e6, "second": 1e9}.get(unit, 1.0)
        out.append((r["Kernel Name"], value * scale))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    kernels = read_kernels(sys.argv[1])
    with open(sys.argv[2], errors="replace") as f:
        labels = [l.split("profiled step:", 1)[1].strip() for l in f if "profiled step:" in l]
    steps = []
    for name, ns in kernels:
        if "rope_table_kernel" in name or not steps:
            steps.append([])
        steps[-1].append((name, ns))
    if len(steps) != len(labels):
        print(f"ncu_summary: {len(steps)} steps in the profile but {len(labels)} named in the log;"
              " labels may not match")
    for i, step in enumerate(steps):
        label = labels[i] if i < len(labels) else f"step {i + 1}"
        total = sum(ns for _, ns in step)
        by_kernel = OrderedDict()
        for name, ns in step:
            k = short_name(name)
            n, t = by_kernel.get(k, (0, 0.0))
            by_kernel[k] = (n + 1, t + ns)
        ranked = sorted(by_kernel.items(), key=lambda kv: -kv[1][1])
        print(f"\n{label}: {len(step)} kernels, {total / 1e3:.1f} us of kernel time")
        print("| kernel | launches | us | share |")
        print("|---|---|---|---|")
        for k, (n, t) in ranked[:TOP]:
            print(f"| {k} | {n} | {t / 1e3:.1f} | {100 * t / total:.1f} % |")
        rest = ranked[TOP:]
        if rest:
            n = sum(v[0] for _, v in rest)
            t = sum(v[1] for _, v in rest)
            print(f"| ({len(rest)} others) | {n} | {t / 1e3:.1f} | {100 * t / total:.1f} % |")


if __name__ == "__main__":
    main()
