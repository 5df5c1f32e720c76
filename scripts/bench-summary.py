#!/usr/bin/env python3
"""Prints the benchmark tables from criterion's results (target/criterion/**/new/).

Each criterion group is one operation and each function in it one implementation: `floor` is the least the
operation can cost (`floor_<variant>` another baseline, such as a layer doing nothing), `slogen` is slogen's
main path, `slogen_<variant>` its other paths, and the rest are the other clients. For every operation it
prints each implementation's time, its ratio to the floor and to
slogen, and the time it adds over the floor; then one summary line per operation.

Usage: python3 scripts/bench-summary.py [--dir target/criterion] [--filter SUBSTRING]
Run the benchmarks first, e.g. `cargo bench -p slogen-runtime --bench metrics`.
"""

import argparse
import json
import os
import platform
from pathlib import Path


def machine():
    """Cores, CPU model and load: the numbers are only comparable on the same, quiet machine."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{cores} cores, {model}, {platform.system()} {platform.release()}, load average {load}"


def typical(estimates):
    """Criterion's own headline figure: the slope when it was fitted, the mean otherwise."""
    estimate = estimates.get("slope") or estimates["mean"]
    point = estimate["point_estimate"]
    interval = estimate["confidence_interval"]
    spread = (interval["upper_bound"] - interval["lower_bound"]) / 2
    return point, (spread / point * 100 if point else 0.0)


def load(root, needle):
    """{operation: {implementation: (ns, ±%, elements)}}, an operation being a group plus its parameter."""
    operations = {}
    for bench in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        group = meta["group_id"]
        function = meta.get("function_id") or group
        operation = group if meta.get("value_str") is None else f"{group}/{meta['value_str']}"
        if needle and needle not in operation:
            continue
        throughput = meta.get("throughput") or {}
        elements = throughput.get("Elements")
        ns, noise = typical(estimates)
        operations.setdefault(operation, {})[function] = (ns, noise, elements)
    return operations


def rank(name):
    """Floors first, then slogen's paths, then the other clients in name order."""
    if name == "floor" or name.startswith("floor_"):
        return (0, name)
    if name == "slogen":
        return (1, name)
    if name.startswith("slogen_"):
        return (2, name)
    return (3, name)


def duration(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.2f} ns" if ns < 10 else f"{ns:.1f} ns"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="criterion output (default: $CARGO_TARGET_DIR/criterion or target/criterion)")
    parser.add_argument("--filter", default="", help="only operations containing this text")
    args = parser.parse_args()
    root = Path(args.dir or Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion")
    operations = load(root, args.filter)
    if not operations:
        raise SystemExit(f"no criterion results under {root}: run `cargo bench` first (not `--test`)")

    print(f"machine: {machine()}")
    print("times are criterion's estimate per operation (slope, else mean), ± the half-width of its 95% interval\n")
    summary = []
    for operation, impls in operations.items():
        floor = impls.get("floor", (None,))[0]
        slogen = impls.get("slogen", (None,))[0]
        per_element = any(elements for _, _, elements in impls.values())
        print(f"## {operation}\n")
        header = "| impl | time | ± | x floor | x slogen | added over floor |"
        rule = "|---|---:|---:|---:|---:|---:|"
        if per_element:
            header += " per element |"
            rule += "---:|"
        print(header)
        print(rule)
        for name in sorted(impls, key=rank):
            ns, noise, elements = impls[name]
            added = duration(ns - floor) if floor is not None and name != "floor" and ns >= floor else "-"
            row = f"| {name} | {duration(ns)} | {noise:.0f}% | {ratio(ns, floor)} | {ratio(ns, slogen)} | {added} |"
            if per_element:
                row += f" {duration(ns / elements)} |" if elements else " - |"
            print(row)
        print()
        peers = {n: v[0] for n, v in impls.items() if not n.startswith(("floor", "slogen"))}
        best = min(peers, key=peers.get) if peers else None
        summary.append((operation, floor, slogen, best, peers.get(best)))

    print("## summary\n")
    print("| operation | floor | slogen | slogen/floor | fastest peer | peer | peer/slogen |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for operation, floor, slogen, best, peer in summary:
        print(
            f"| {operation} | {duration(floor) if floor else '-'} | {duration(slogen) if slogen else '-'} "
            f"| {ratio(slogen, floor)} | {best or '-'} | {duration(peer) if peer else '-'} | {ratio(peer, slogen)} |"
        )


if __name__ == "__main__":
    main()
