"""``sgrs review RESULT_DIR``: the review list and case flag of a segmentation output folder."""
from __future__ import annotations

import json


def _review(args) -> int:
    from .inference.trust import describe_review, review_folder

    fields = review_folder(args.result_dir, args.map, args.q_min, write=not args.dry_run)
    print(json.dumps(fields, indent=1) if args.json else describe_review(fields, args.top))
    return 0


def add_review_command(sub) -> None:
    from .inference.review import DEFAULT_MAP, DEFAULT_Q_MIN, REVIEW_MAPS

    rv = sub.add_parser("review", help="regions to review (ranked by expected error, LPS mm) and the case flag "
                                       "of a 'sgrs segment' output folder")
    rv.add_argument("result_dir", help="folder written by 'sgrs segment' (summary.json, label/entropy/regions.nrrd)")
    rv.add_argument("--map", choices=REVIEW_MAPS, default=DEFAULT_MAP,
                    help=f"which map marks the voxels to review (default {DEFAULT_MAP}; docs/trust.md: how well each "
                         "finds errors)")
    rv.add_argument("--q-min", type=float, default=DEFAULT_Q_MIN,
                    help=f"entropy map: mark voxels at least this likely to be wrong (default {DEFAULT_Q_MIN})")
    rv.add_argument("--top", type=int, default=10, help="regions to print (all are in summary.json)")
    rv.add_argument("--json", action="store_true", help="print the fields as JSON")
    rv.add_argument("--dry-run", action="store_true", help="do not update summary.json")
    rv.set_defaults(func=_review)
