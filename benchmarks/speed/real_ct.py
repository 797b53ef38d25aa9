"""``sgrs segment`` on a real chest CT angiogram, whole process (issue 17, item 2).

The table gives the median run of each arm (wall, CPU and split from that run); the paired ratios
compare each arm with the first, repeat by repeat.

The scan: TotalSegmentator's test file ``aorta_report/example_ct.nii.gz`` (233×167×191 at 1.5 mm,
Apache-2.0), taken from its sdist in the test-data cache as ``Testing/conftest.py`` does. The model:
the bundled demo model with region maps, default settings. Each arm is a fresh ``python -m sgrs
segment`` process (start-up, imports, read, resample, network, maps, write all counted), the arms
alternate, and each row gives the split from ``summary.json`` and the load average around it.

    python benchmarks/speed/real_ct.py [--repeats 1] [--before /path/to/old/checkout]

``--before`` adds the same command run on another checkout of the engine (the starting point).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOTALSEG = "2.18.0"
MEMBER = f"totalsegmentator-{TOTALSEG}/tests/reference_files/aorta_report/example_ct.nii.gz"
ARMS = {  # name: the options added to `sgrs segment`
    "default": [],
    "torch": ["--backend", "torch"],
    "torch-all": ["--backend", "torch", "--mixed-view", "all"],
    "fast": ["--fast"],
    "one-lane": ["--lanes", "1"],         # the network one window batch at a time (before lanes)
    "mixed-0.5": ["--mixed-overlap", "0.5"],  # the mixed view on the plain view's grid (before issue 17's end)
}


def chest_ct() -> Path:
    cache = Path(os.environ.get("SGRS_TEST_CACHE", Path.home() / ".cache" / "sgrs-test-data"))
    path = cache / MEMBER
    if path.exists():
        return path
    sdist = cache / f"totalsegmentator-{TOTALSEG}.tar.gz"
    if not sdist.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"TotalSegmentator=={TOTALSEG}", "-d", str(cache)], check=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(cache, members=[tar.getmember(MEMBER)], filter="data")
    return path


def run(engine_root: Path, ct: Path, extra: list, out: Path, threads: int) -> dict:
    others = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(engine_root)] + others), "OMP_NUM_THREADS": str(threads)}
    load0 = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sgrs", "segment", str(ct), "--model",
                           str(ROOT / "Resources" / "Demo" / "model"), "--out", str(out), "--device", "cpu", *extra],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if done.returncode:
        raise SystemExit(done.stderr)
    summary = json.loads((out / "summary.json").read_text())
    split = summary["scan"].get("seconds", {})
    return {"wall": wall, "cpu": cpu, "split": split, "load": (load0 + os.getloadavg()[0]) / 2,
            "network": summary["scan"].get("network", {}), "summary": summary, "out": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--before", help="another checkout of the engine: its default run is the starting point")
    ap.add_argument("--arms", nargs="*", default=list(ARMS), help=f"subset of {list(ARMS)}")
    args = ap.parse_args()
    ct = chest_ct()
    arms = {k: (ROOT, ARMS[k]) for k in args.arms}
    if args.before:
        rev = subprocess.run(["git", "-C", args.before, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        arms = {f"before ({rev})": (Path(args.before), []), **arms}
    results = {k: [] for k in arms}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for i, (name, (root, extra)) in enumerate(arms.items()):
                res = run(root, ct, extra, Path(tmp) / f"{r}-{i}", args.threads)
                results[name].append(res)
                print(f"# {name}: {res['wall']:.1f} s wall, {res['cpu']:.1f} s CPU, split {res['split']}, load {res['load']:.1f}", flush=True)
        first = {k: v[-1]["out"] for k, v in results.items()}
        agreement = compare(first)
    print(f"\nscan {ct.name} 233×167×191 at 1.5 mm → the demo model's 1.25 mm; {args.threads} threads")
    print("\n| run | whole process (s) | CPU time (s, both cores) | read | prepare (resample) | network | maps | write | start-up and imports "
          "| windows plain + mixed | backend | load average |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rs in results.items():
        middle = sorted(rs, key=lambda r: r["wall"])[len(rs) // 2]  # the median run, its split with it
        wall, s, net = middle["wall"], middle["split"], middle["network"]
        rest = wall - sum(s.values())
        cells = [f"{s.get(k, float('nan')):.1f} ({100 * s.get(k, 0) / wall:.0f} %)" for k in
                 ("read", "prepare", "network", "maps", "write")]
        windows = f"{net.get('windows_plain', '?')} + {net.get('windows_mixed', '?')}"
        cpu = middle["cpu"]
        print(f"| {name} `{' '.join(arms[name][1]) or '(none)'}` | {wall:.1f} | {cpu:.1f} | " + " | ".join(cells) + f" | {rest:.1f} ({100 * rest / wall:.0f} %) | "
              f"{windows} | {net.get('backend', 'torch')} | {statistics.mean(r['load'] for r in rs):.1f} |")
    names = list(results)
    for name in names[1:]:  # paired by repeat: the runs alternate, so each pair saw the same machine
        ratios = [b["wall"] / a["wall"] for a, b in zip(results[names[0]], results[name])]
        print(f"\n{name} / {names[0]} per repeat: " + ", ".join(f"{r:.2f}" for r in ratios))
    print()
    for line in agreement:
        print(line)


def compare(outs: dict) -> list:
    """Label and region maps of every arm against the first arm's, voxel by voxel."""
    import numpy as np
    import SimpleITK as sitk

    def read(folder, name):
        return sitk.GetArrayFromImage(sitk.ReadImage(str(folder / name)))

    names = list(outs)
    ref_label, ref_regions = read(outs[names[0]], "label.nrrd"), read(outs[names[0]], "regions.nrrd")
    lines = [f"agreement with '{names[0]}':"]
    for name in names[1:]:
        label, regions = read(outs[name], "label.nrrd"), read(outs[name], "regions.nrrd")
        fg = ref_label > 0
        lines.append(f"- {name}: labels differ at {int((label != ref_label).sum())} voxels; regions differ at "
                     f"{int((regions != ref_regions).sum())} voxels, {int(((regions != ref_regions) & fg).sum())} of "
                     f"them inside the segmentation ({int(fg.sum())} voxels)")
    return lines


if __name__ == "__main__":
    main()
