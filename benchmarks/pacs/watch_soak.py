"""Soak of ``sgrs watch`` against a real Orthanc: N tiny CT studies arrive in waves while one watch process runs;
its resident memory (VmRSS) is sampled every second. Prints the figures and checks every study was done and pushed
exactly once and that memory stayed flat (the last quarter's mean within --rss-growth MB of the first quarter's).

    PYTHONPATH=$PWD python benchmarks/pacs/watch_soak.py --studies 300     # docs/pacs.md quotes its output
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Testing" / "pacs"))

import orthanc_server  # noqa: E402
import tiny_studies  # noqa: E402
import watch_run  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=300)
    p.add_argument("--wave", type=int, default=10, help="studies uploaded at once")
    p.add_argument("--rss-growth", type=float, default=60.0, help="MB the last quarter may exceed the first")
    p.add_argument("--work", help="working folder (default: a temporary one)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="watch-soak-"))
    server = orthanc_server.start(work / "orthanc")
    watch = None
    try:
        watch = watch_run.Watch(server.dicomweb, work / "out", work / "watch.log", "--settle", "1", "--interval",
                                "0.5", "--heartbeat", "30", "--no-regions")
        samples, t0, uploaded = [], time.time(), 0
        state = work / "out" / "watch-state.json"
        while True:
            done = _done(state)
            if uploaded < args.studies and uploaded - done < args.wave:
                for n in range(uploaded, min(uploaded + args.wave, args.studies)):
                    server.upload(tiny_studies.write_study(work / "studies" / str(n), 1000 + n))
                uploaded = min(uploaded + args.wave, args.studies)
            samples.append((done, watch_run.rss_mb(watch.process.pid)))
            if done >= args.studies:
                break
            if watch.process.poll() is not None or time.time() - t0 > 60 + 10 * args.studies:
                print(watch.text()[-3000:])
                return 1
            time.sleep(1)
        seconds = time.time() - t0
        assert watch.stop() == 0
        pushed = watch_run.pushed_per_study(server)
        once = sum(1 for n in range(args.studies)
                   if pushed.get(tiny_studies.study_uid(1000 + n)) == {"SEG": 1, "SR": 1})
        rss = [r for d, r in samples if d > 0]  # after the first case: the model and torch are loaded
        q = max(1, len(rss) // 4)
        first, last = statistics.mean(rss[:q]), statistics.mean(rss[-q:])
        print(f"{args.studies} studies in {seconds:.0f} s ({seconds / args.studies:.2f} s a study, uploads included)")
        print(f"RSS of sgrs watch (MB), sampled each second after the first case: first quarter mean {first:.0f}, "
              f"last quarter mean {last:.0f}, min {min(rss):.0f}, max {max(rss):.0f}, growth {last - first:+.0f}")
        for frac in (0.1, 0.25, 0.5, 0.75, 1.0):
            d, r = next(s for s in samples if s[0] >= frac * args.studies)
            print(f"  after {d:4d} studies done: {r:.0f} MB")
        print(f"{once} of {args.studies} studies done, each with 1 SEG and 1 SR")
        flat = last - first <= args.rss_growth
        if not flat:
            print(f"memory grew {last - first:.0f} MB (more than {args.rss_growth:g})")
        return 0 if flat and once == args.studies else 1
    finally:
        if watch is not None:
            watch.kill()
        server.stop()


def _done(state: Path) -> int:
    try:
        return sum(r["status"] == "done" for r in json.loads(state.read_text())["studies"].values())
    except (OSError, ValueError, KeyError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
