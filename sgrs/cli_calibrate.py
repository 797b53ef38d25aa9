"""``sgrs calibrate MODEL --cohort …``: store the training-data feature statistics the case flag's
feature distance needs, for bundles made before they existed and for imported checkpoints."""
from __future__ import annotations


def _calibrate(args) -> int:
    from .inference.calibrate import calibrate_bundle
    from .util.errors import SGRSError

    cases = calibration_cases(args.cohort)

    def progress(done, total):
        print(f"\rfeatures {done}/{total}", end="" if done < total else "\n", flush=True)

    try:
        entry = calibrate_bundle(args.model, cases, progress=None if args.quiet else progress)
    except OSError as exc:
        raise SGRSError(f"{args.model}: cannot write the statistics into the bundle ({exc.strerror or exc})") \
            from None
    print(f"stored feature statistics of {entry['cases']} cases ({entry['components']} components) "
          f"in {args.model}")
    return 0


def calibration_cases(sources) -> list:
    """(id, image) of the cases named: image files, folders of them, or a manifest's train cases,
    labelled or not (features need no label)."""
    from pathlib import Path

    from .data.cohort import find_manifest, read_manifest
    from .inference.rank import case_list
    from .util.errors import InputError

    cases = []
    for source in map(Path, sources):
        is_manifest = (source.is_dir() and any((source / m).exists() for m in ("manifest.json", "manifest.csv"))) \
            or (source.is_file() and source.name.lower().endswith((".json", ".csv")))
        if is_manifest:
            entries, _ = read_manifest(find_manifest(source))
            cases += [(e.id, e.image) for e in entries if e.split == "train"]
        else:
            cases += case_list([source])
    if not cases:
        raise InputError("no case to calibrate on: give image files, folders of them, or a cohort manifest")
    return cases


def add_calibrate_command(sub) -> None:
    from .models.registry import MODEL_HELP, model_argument

    ca = sub.add_parser("calibrate", help="store the feature statistics of cases like the model's training data "
                                          "in its bundle (the case flag's feature distance)")
    ca.add_argument("model", type=model_argument, help=MODEL_HELP)
    ca.add_argument("--cohort", nargs="+", required=True,
                    help="cases like the model's training data: image files, folders of them, or a cohort manifest "
                         "(its train cases; labels are not needed and not read). More is better: statistics of 40 "
                         "cases ranked failed results better than those of 12 (docs/trust.md)")
    ca.add_argument("--quiet", action="store_true", help="no progress line")
    ca.set_defaults(func=_calibrate)
