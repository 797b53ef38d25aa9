"""``sgrs watch``: the worklist loop (sgrs.inference.watch) from the command line."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .inference.defaults import DEFAULT_OVERLAP
from .inference.watch import BACKOFF_S, HEARTBEAT_S, INTERVAL_S, SETTLE_S, TRIES
from .models.registry import MODEL_HELP, model_argument
from .util.errors import InputError


def _watch(args) -> int:
    from .data.dicomweb import Reference
    from .inference.segment import SegmentOptions
    from .inference.watch import WatchConfig, watch
    from .util.redact import safe_line

    ref = Reference.parse(args.url)
    if ref.study is not None:
        raise InputError(f"{safe_line(args.url)}: give the DICOMweb service root (https://host/dicom-web), "
                         "not a study; to segment one study use 'sgrs segment URL --push'")
    from .data.credentials import auth_for

    auth_for(ref.root)  # credentials in the URL: refused now, not at every poll
    if args.since and not re.match(r"^\d{8}$", args.since):
        raise InputError(f"--since {safe_line(args.since, 40)!r}: give a StudyDate as YYYYMMDD")
    if args.ca_bundle:
        if not Path(args.ca_bundle).is_file():
            raise InputError(f"--ca-bundle {safe_line(args.ca_bundle)}: no such file (a PEM file of the hospital's "
                             "CA certificates)")
        os.environ["REQUESTS_CA_BUNDLE"] = str(Path(args.ca_bundle).resolve())  # requests verifies TLS with it
    for name in ("settle", "interval", "backoff", "heartbeat"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name} must be 0 or more seconds")
    if args.tries < 1:
        raise InputError("--tries must be 1 or more")
    options = SegmentOptions(overlap=args.overlap, regions=args.regions, device=args.device, fast=args.fast)
    options.check()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    return watch(WatchConfig(ref.root, args.model, Path(args.out), options, modality=args.modality,
                             body_part=args.body_part, since=args.since, settle=args.settle, interval=args.interval,
                             tries=args.tries, backoff=args.backoff, heartbeat=args.heartbeat,
                             prune_days=args.prune_days, hold_failed=args.hold_failed, once=args.once))


def add_watch_command(sub) -> None:
    w = sub.add_parser("watch", help="a worklist loop: segment the studies arriving on a DICOMweb server and push "
                       "the SEG and SR back (docs/pacs.md)")
    w.add_argument("url", help="DICOMweb service root (https://host/dicom-web)")
    w.add_argument("--model", required=True, type=model_argument, help=MODEL_HELP)
    w.add_argument("--out", required=True, help="output folder: OUT/<study>/ per study and the state "
                   "(watch-state.json), so a restart resumes")
    w.add_argument("--modality", help="only studies holding this modality (e.g. CT)")
    w.add_argument("--body-part", help="only studies with a series of this BodyPartExamined (e.g. CHEST)")
    w.add_argument("--since", metavar="YYYYMMDD", help="StudyDate lower bound, kept in the state (default: the "
                   "day of the first start); what is new after that the state's own record says")
    w.add_argument("--settle", type=float, default=SETTLE_S, metavar="SECONDS",
                   help=f"a study is segmented once it has had no new instance for this long (default {SETTLE_S:g})")
    w.add_argument("--interval", type=float, default=INTERVAL_S, metavar="SECONDS",
                   help=f"seconds between polls (default {INTERVAL_S:g})")
    w.add_argument("--tries", type=int, default=TRIES, help=f"a study failing this many times is set aside "
                   f"(default {TRIES})")
    w.add_argument("--backoff", type=float, default=BACKOFF_S, metavar="SECONDS",
                   help=f"wait before the second try, doubled each time (default {BACKOFF_S:g})")
    w.add_argument("--heartbeat", type=float, default=HEARTBEAT_S, metavar="SECONDS",
                   help=f"a heartbeat line this often (default {HEARTBEAT_S:g})")
    w.add_argument("--prune-days", type=float, metavar="DAYS", help="remove output folders of finished studies "
                   "older than this (their record stays, so they are not done again)")
    w.add_argument("--ca-bundle", metavar="PEM", help="verify the server's TLS certificate against this CA bundle "
                   "(the hospital's own CA)")
    w.add_argument("--hold-failed", action="store_true", help="a 'likely failed' result is kept here, not pushed")
    w.add_argument("--once", action="store_true", help="one poll, then exit (cron; tests)")
    w.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    w.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP, help=f"window overlap (default {DEFAULT_OVERLAP})")
    w.add_argument("--fast", action="store_true", help="fewer windows, a small Dice cost (see sgrs segment)")
    w.add_argument("--no-regions", dest="regions", action="store_false", help="label and entropy only")
    w.set_defaults(func=_watch, regions=True)
