"""``sgrs`` command line. Exit codes: 0 done, 1 error (one line on stderr), 2 usage, 130 cancelled."""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .method.names import DEFAULT_METHOD, METHOD_DESCRIPTIONS, METHODS
from .models.registry import MODEL_HELP, model_argument
from .util.errors import SGRSError


def _phantom(args) -> int:
    from .data.phantom import write_cohort
    from .util.progress import ProgressBar

    bar = ProgressBar(args.cases, "phantom")
    try:
        path = write_cohort(args.out_dir, args.cases, args.seed, args.val, args.test, tuple(args.size),
                            tuple(args.spacing), progress=lambda i, n: bar.update(i), family=args.family)
    except ValueError as exc:
        raise SGRSError(str(exc)) from None
    except OSError as exc:
        raise SGRSError(f"{args.out_dir}: cannot write the cohort ({exc.strerror or exc})") from None
    bar.close()
    print(f"wrote {args.cases} cases and {path}")
    return 0


def base_patch(base_model) -> list:
    """Fine-tuning keeps the base model's patch unless --patch says otherwise."""
    if base_model:
        from .models.meta import read_meta
        return list(read_meta(base_model)["patch_size"])
    return [112, 112, 80]


def _train(args) -> int:
    from .method import recipes
    from .training.config import TrainConfig
    from .training.loop import Cancelled, train

    if args.resume:
        config = TrainConfig(cohort="", out=args.out, device=args.device)
    else:
        if not args.cohort:
            raise SGRSError("--cohort is required (unless --resume)")
        config = TrainConfig(
            cohort=args.cohort, out=args.out, labelled=args.labelled, val=args.val, iterations=args.iterations,
            patch=tuple(args.patch or base_patch(args.base_model)), spacing=args.spacing,
            filters=args.filters, dropout=args.dropout, method=args.method,
            unsup_weight=args.unsup_weight, batch=args.batch, lr=args.lr,
            lr_policy=args.lr_policy, seed=args.seed, device=args.device, tau=args.tau,
            theta_loss=args.theta_loss, recipe=args.recipe,
            **{name: getattr(args, name) for name in recipes.OPTIONS},
            guard_weight=args.guard_weight, guard_quantile=args.guard_quantile,
            runaway_share=args.runaway_share, runaway_window=args.runaway_window,
            ct_window=tuple(args.ct_window) if args.ct_window else None,
            base_model=str(args.base_model) if args.base_model else None,   # a resolved registry name: a Path
            postprocess=args.postprocess, absent_classes=tuple(args.absent_classes or ()),
            hold_out=tuple(args.hold_out or ()),
            freeze_encoder=args.freeze_encoder, stop_when_stable=args.stop_when_stable,
            freeze_norm=args.freeze_norm,
            stable_dice=args.stable_dice,
            val_every=args.val_every, checkpoint_every=args.checkpoint_every, log_every=args.log_every,
            speed_dir=str(args.speed_dir) if args.speed_dir else None)
    try:
        bundle = train(config, resume=args.resume, json_progress=args.json_progress,
                       show_bar=not args.json_progress)
    except Cancelled as exc:
        print(f"sgrs: {exc}", file=sys.stderr)
        return 130
    print(f"model: {bundle}")
    from .training.compare import check_line, read_check
    check = read_check(args.out)
    if check is not None:   # fine-tuned: the new model against its base (JOB/check.json)
        print(f"check: {check_line(check)}")
    return 0


def _import(args) -> int:
    from .models.checkpoint import import_checkpoint

    reference = None
    if args.mix_reference:
        from .data.image_io import read_image
        from .data.normalize import Normalization
        reference = Normalization()(read_image(args.mix_reference)[0])
        if tuple(reference.shape) != tuple(args.patch):
            raise SGRSError(f"{args.mix_reference}: mix reference must be one patch {tuple(args.patch)}, "
                            f"got {reference.shape}")
    out = import_checkpoint(args.checkpoint, args.out, tuple(args.patch), mix_reference=reference,
                            spacing=args.spacing, orientation=args.orientation)
    print(f"imported {args.checkpoint} → {out}")
    return 0


def _models(args) -> int:
    from .models.registry import list_models, register, registry_folder

    if args.register:
        entry = register(args.register, args.name, args.registry)
        print(f"registered {entry.name} → {entry.path}")
        return 0
    print(f"models (registry {registry_folder(args.registry)}):")
    for e in list_models(args.registry):
        print(f"  {e.label():50s} {e.path}")
    return 0


def _add_recipe_arguments(tr) -> None:
    """--recipe and one flag per recipe option; a flag left out takes the recipe's value."""
    from .method import recipes  # pure data, no torch
    from .method.runaway import RUNAWAY_SHARE, RUNAWAY_WINDOW

    tr.add_argument("--recipe", default="default", choices=list(recipes.RECIPES),
                    help="preset of the options below: default (ours), paper (the equations as printed), "
                         "released (the authors' code minus its cross-sample mask bug); see docs/method.md")
    for name, (allowed, doc) in recipes.OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if allowed is None:
            tr.add_argument(flag, type=float, default=None, help=f"{doc} (default: the recipe's)")
        elif isinstance(allowed[0], bool):
            tr.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                            help=f"{doc} (default: the recipe's)")
        else:
            tr.add_argument(flag, default=None, choices=list(allowed), help=f"{doc} (default: the recipe's)")
    tr.add_argument("--guard-weight", type=float, default=0.1, help="delta-ce guard: weight of the CE on Δ")
    tr.add_argument("--guard-quantile", type=float, default=0.8,
                    help="tau-quantile guard: τ ≤ this quantile of the batch entropies")
    tr.add_argument("--runaway-share", type=float, default=RUNAWAY_SHARE,
                    help="warn when Δ + Θ stays above this share of the patch voxels ...")
    tr.add_argument("--runaway-window", type=int, default=RUNAWAY_WINDOW,
                    help="... for this many logged steps after the warm-up")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sgrs", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"sgrs {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    ph = sub.add_parser("phantom", help="write a deterministic synthetic cohort (images, labels, manifest)")
    ph.add_argument("out_dir")
    ph.add_argument("--cases", type=int, default=10)
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--val", type=int, default=None, help="validation cases (default: a tenth, ≥ 1)")
    ph.add_argument("--test", type=int, default=None, help="test cases (default: a tenth, ≥ 1)")
    ph.add_argument("--size", type=int, nargs=3, default=[64, 64, 48], metavar=("X", "Y", "Z"))
    ph.add_argument("--spacing", type=float, nargs=3, default=[1.25, 1.25, 1.25], metavar=("X", "Y", "Z"))
    ph.add_argument("--family", default="default", choices=["default", "hard"],
                    help="default: the demo's phantoms; hard: blurred, touching distractors, lower contrast "
                         "(the benchmark's family with headroom)")
    ph.set_defaults(func=_phantom)

    tr = sub.add_parser("train", help="semi-supervised training into a job folder")
    tr.add_argument("--cohort", help="folder with manifest.json/.csv or train.list, or a manifest file")
    tr.add_argument("--out", required=True, help="job folder (config, progress.jsonl, checkpoint, model/)")
    tr.add_argument("--labelled", type=int, default=None, help="use the first N labelled train cases")
    tr.add_argument("--val", type=int, default=None, help="validation cases taken from train if no val split")
    tr.add_argument("--iterations", type=int, default=15000)
    tr.add_argument("--patch", type=int, nargs=3, default=None, metavar=("X", "Y", "Z"),
                    help="default: the base model's patch when fine-tuning, else 112 112 80")
    tr.add_argument("--spacing", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                    help="mm to train at (cases are resampled); default: the base model's spacing when "
                         "fine-tuning, else the cohort's own (median recorded in the bundle)")
    tr.add_argument("--filters", type=int, default=16, help="V-Net first-stage filters (16 = official)")
    tr.add_argument("--dropout", type=float, default=None,
                    help="the V-Net's Dropout3d probability (default: 0.5 from 16 filters on, 0.1 below)")
    tr.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS),
                    help="; ".join(f"{k}: {v}" for k, v in METHOD_DESCRIPTIONS.items()))
    tr.add_argument("--unsup-weight", type=float, default=None,
                    help="weight of the unlabelled term (default: 0.1 for mean-teacher, else 1)")
    tr.add_argument("--batch", type=int, default=4, help="half labelled, half unlabelled")
    tr.add_argument("--lr", type=float, default=0.01)
    tr.add_argument("--lr-policy", default="constant", choices=["constant", "poly"])
    tr.add_argument("--seed", type=int, default=1337)
    tr.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    tr.add_argument("--tau", type=float, default=0.296, help="entropy threshold of Δ (log10)")
    tr.add_argument("--theta-loss", default="nr", choices=["nr", "con", "none"],
                    help="loss on Θ: noise-robust (default), the consistent-region loss, or none")
    _add_recipe_arguments(tr)
    tr.add_argument("--ct-window", type=float, nargs=2, metavar=("LOW", "HIGH"), help="clip before z-score")
    tr.add_argument("--base-model", type=model_argument, help="model to fine-tune from: " + MODEL_HELP)
    tr.add_argument("--postprocess", default=None, choices=["none", "lcc"],
                    help="stored in the bundle: lcc keeps the largest connected component at inference "
                         "(default: the base model's when fine-tuning, else none)")
    tr.add_argument("--freeze-encoder", type=int, default=0, metavar="N",
                    help="fine-tuning: keep the encoder's weights fixed for the first N iterations (cheaper steps)")
    tr.add_argument("--freeze-norm", action="store_true",
                    help="fine-tuning: BatchNorm keeps the base model's statistics (small batches make them noisy)")
    tr.add_argument("--stop-when-stable", type=int, default=0, metavar="N",
                    help="every N iterations (after a frozen encoder's) segment a few unlabelled cases; end the run "
                         "when that stops changing (agreement ≥ --stable-dice at 2 checks in a row; 0: off)")
    tr.add_argument("--stable-dice", type=float, default=0.98,
                    help="agreement with the previous check that counts as unchanged (with --stop-when-stable)")
    tr.add_argument("--absent-classes", nargs="+", default=(), metavar="CLASS",
                    help="fine-tuning: base-model classes that labelled cases may lack (they are trained as "
                         "absent there); without it such a case is refused")
    tr.add_argument("--hold-out", nargs="+", default=(), metavar="CASE_ID",
                    help="fine-tuning: labelled cases never trained on; at the end the new model's Dice and the "
                         "base model's are measured on them (default: on the validation cases) into check.json")
    tr.add_argument("--val-every", type=int)
    tr.add_argument("--checkpoint-every", type=int)
    tr.add_argument("--log-every", type=int)
    tr.add_argument("--speed-dir", default=None,
                    help="keep this run's measured speed here for the next estimate (the GUIs: the model registry)")
    tr.add_argument("--resume", action="store_true", help="continue the job in --out from its checkpoint")
    tr.add_argument("--json-progress", action="store_true", help="events as JSON lines on stdout")
    tr.set_defaults(func=_train)

    im = sub.add_parser("import-checkpoint", help="official .pth state dict → bundle (never executed)")
    im.add_argument("checkpoint")
    im.add_argument("--out", required=True)
    im.add_argument("--patch", type=int, nargs=3, default=[112, 112, 80], metavar=("X", "Y", "Z"))
    im.add_argument("--mix-reference", help="labelled image patch for region maps (patch-sized)")
    im.add_argument("--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"),
                    help="training spacing in mm (default: unknown, scans are not resampled)")
    im.add_argument("--orientation", help="training orientation code, e.g. LPS or RAS (default: unknown, "
                    "scans are used in file order)")
    im.set_defaults(func=_import)

    mo = sub.add_parser("models", help="list the model registry (the demo model always included)")
    mo.add_argument("--registry", help="registry folder (default $SGRS_MODELS or ~/.sgrs/models)")
    mo.add_argument("--register", metavar="BUNDLE", help="copy a bundle into the registry")
    mo.add_argument("--name", help="name for --register")
    mo.set_defaults(func=_models)

    from .cli_inference import add_inference_commands
    add_inference_commands(sub)
    from .cli_review import add_review_command
    add_review_command(sub)
    from .cli_calibrate import add_calibrate_command
    add_calibrate_command(sub)
    from .cli_watch import add_watch_command
    add_watch_command(sub)
    return p


def main(argv=None) -> int:
    from .util.threads import passive_openmp
    passive_openmp()  # before a command imports torch
    args = build_parser().parse_args(argv)
    if os.environ.get("SGRS_ENGINE_PID_FILE"):  # started by a GUI: tell it our PID (a launcher may sit between)
        from .util.background import record_engine_pid
        record_engine_pid()
    try:
        return args.func(args)
    except SGRSError as exc:
        from .util.redact import safe_line
        print(f"sgrs: error: {safe_line(exc, 1000)}", file=sys.stderr)  # one bounded line, never a credential
        return 1
    except KeyboardInterrupt:
        print("sgrs: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("sgrs: error: out of memory; use a smaller --patch/--batch or a GPU", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
