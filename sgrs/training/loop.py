"""Training: ``train(TrainConfig)`` runs a job folder from start, or resumes it, to a bundle.

Exactly resumable: batch t, the mix draws and dropout are functions of (seed, t), and the
checkpoint holds student, teacher and SGD momentum, so a resumed run continues as if never stopped.
SIGTERM / SIGINT finish the current step, save a checkpoint and end the job as ``cancelled``.
"""
from __future__ import annotations

import copy
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch

from ..data.cohort import Cohort, load_cohort
from ..data.normalize import Normalization
from ..data.sampler import BatchSampler, pad_to
from ..evaluation.metrics import foreground_dice
from ..inference.calibrate import training_feature_stats
from ..inference.features import write_feature_stats
from ..inference.sliding import model_predictor, sliding_window
from ..method.runaway import RunawayDetector, replay
from ..method.schedule import learning_rate
from ..method.step import training_step
from ..method.synergy import class_argmax
from ..models.bundle import content_hash, load_bundle, save_bundle
from ..models.card import world_of_images
from ..models.vnet import VNet
from ..util.device import autocast_for, is_out_of_memory, resolve_device, training_fit_advice
from ..util.errors import JobError, SGRSError
from ..util.progress import ProgressBar, emit_json, format_seconds
from . import distributed as ddp
from .compare import check_line, run_check
from .config import TrainConfig
from .job import JobFolder, read_events
from .spacing import median_spacing, resample_cohort, target_spacing
from .stability import StableStop


class _CancelFlag:
    """Set by SIGTERM/SIGINT; the loop checks it between steps."""

    def __init__(self):
        self.set = False
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.set = True

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def validate(model: VNet, cohort: Cohort, patch, device, overlap: float, autocast) -> dict:
    model.eval()
    predict = model_predictor(model, autocast)
    per_case = {}
    for case in cohort.val:
        probs = sliding_window(predict, case.image, patch, model.n_classes, overlap, device=device)
        # mean over the foreground classes: with several, "anything vs background" would hide swapped classes
        per_case[case.id] = foreground_dice(class_argmax(probs[None])[0].cpu().numpy(), case.label, model.n_classes)
    return {"dice": float(np.mean(list(per_case.values()))) if per_case else None, "per_case": per_case}


def mix_reference_patch(cohort: Cohort, patch) -> np.ndarray:
    """A patch of the first labelled case centred on its foreground: the region-map mix partner."""
    case = cohort.labelled[0]
    image, label = pad_to(case.image, patch, float(case.image.min())), pad_to(case.label, patch, 0)
    fg = np.argwhere(label > 0)
    centre = fg.mean(0).round().astype(int) if len(fg) else np.array(image.shape) // 2
    start = [int(np.clip(c - p // 2, 0, s - p)) for c, p, s in zip(centre, patch, image.shape)]
    return np.ascontiguousarray(image[tuple(slice(a, a + p) for a, p in zip(start, patch))])


def _state_tensors(student, teacher, optimizer) -> dict[str, torch.Tensor]:
    out = {f"student.{k}": v for k, v in student.state_dict().items()}
    if teacher is not None:
        out.update({f"teacher.{k}": v for k, v in teacher.state_dict().items()})
    for i, p in enumerate(optimizer.param_groups[0]["params"]):
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            out[f"momentum.{i}"] = buf
    return out


def _restore(tensors, student, teacher, optimizer) -> None:
    def part(prefix):
        return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    student.load_state_dict(part("student."), strict=True)
    if teacher is not None:
        teacher.load_state_dict(part("teacher."), strict=True)
    for i, p in enumerate(optimizer.param_groups[0]["params"]):
        if f"momentum.{i}" in tensors:
            optimizer.state[p]["momentum_buffer"] = tensors[f"momentum.{i}"].to(p.device).clone()


def prepare_job(config: TrainConfig, resume: bool, job: JobFolder) -> TrainConfig:
    """Create or reopen the job folder; never overwrite another run's checkpoint or model."""
    if resume:
        job.stop_request.unlink(missing_ok=True)  # the stop asked of the previous run
        saved = TrainConfig.from_json(job.read_config())
        saved.device = config.device or saved.device
        events = read_events(job.progress)
        if events and events[-1]["event"] == "finished":
            raise JobError(f"{job.path}: this job already finished; its model is in {job.model}")
        return saved
    if job.config.exists() or job.checkpoint.exists() or job.model.exists():
        raise JobError(f"{job.path}: folder already holds a training job; use --resume to continue it "
                       "or choose another --out")
    return config


def train(config: TrainConfig, resume: bool = False, json_progress: bool = False,
          show_bar: bool = True) -> Path:
    """Run (or resume) a job; return the bundle folder. Raises SGRSError with a one-line reason."""
    job = JobFolder(config.out)
    device = resolve_device(config.device)
    info = ddp.setup(device.type)
    if info.is_main:
        job.create()
    config = prepare_job(config, resume, job)
    try:
        config.check()
    except ValueError as exc:
        raise SGRSError(str(exc)) from None
    if info.enabled and config.freeze_encoder:  # DDP expects a gradient for every weight at every step
        raise SGRSError("freezing the encoder is for one-process training; run without --freeze-encoder")
    if device.type == "cuda" and info.enabled:
        device = torch.device("cuda", info.local_rank)
    writer = job if info.is_main else None

    def event(kind, **fields):
        if writer is None:
            return
        record = writer.event(kind, **fields)
        if json_progress:
            emit_json(record)

    def record_failure(reason: str) -> None:
        try:
            event("failed", reason=reason)
        except JobError:
            pass  # the folder itself is what failed; the raised error says so

    try:
        return _run(config, resume, job, device, info, event, show_bar and info.is_main)
    except Cancelled:
        raise
    except SGRSError as exc:
        record_failure(str(exc))
        raise
    except Exception as exc:
        if is_out_of_memory(exc):  # one line that says how to fit, not a traceback
            reason = training_fit_advice(device, config.batch, config.patch)
            record_failure(reason)
            raise SGRSError(reason) from None
        record_failure(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        ddp.teardown(info)


def _run(config, resume, job, device, info, event, show_bar) -> Path:
    base = load_bundle(config.base_model) if config.base_model else None
    normalization = Normalization.from_json(base.meta["normalization"]) if base else \
        Normalization("zscore", config.ct_window)
    base_name = f"the base model '{base.meta.get('name') or base.path.name}'" if base else ""
    cohort = load_cohort(config.cohort, config.labelled, config.val, normalization,
                         need_unlabelled=config.method != "supervised",
                         orientation=base.meta.get("orientation") if base else None,
                         base_classes=base.meta["classes"] if base else None, base_name=base_name,
                         absent=config.absent_classes, hold_out=config.hold_out)
    if base and len(cohort.class_entries) != base.n_classes:
        raise SGRSError(f"{base.path}: model.json names {len(cohort.class_entries)} classes but the network "
                        f"has {base.n_classes} outputs")
    spacing = target_spacing(config.spacing, base.meta if base else None)
    if spacing is not None:
        resample_cohort(cohort, spacing)
    torch.manual_seed(config.seed)
    student = base.model if base else VNet(len(cohort.class_entries), config.filters, dropout=config.dropout)
    for m in student.modules():  # a fine-tuned bundle's network too
        if isinstance(m, torch.nn.Dropout3d):
            m.p = config.dropout
    student = student.to(device).train()
    teacher = None
    if config.method != "supervised":
        teacher = copy.deepcopy(student)
        for p in teacher.parameters():
            p.requires_grad_(False)
    optimizer = torch.optim.SGD(student.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    start = 0
    if resume:
        saved = job.load_checkpoint()
        if saved is not None:
            _restore({k: v.to(device) for k, v in saved[0].items()}, student, teacher, optimizer)
            start = int(saved[1].get("iteration", 0))
    elif info.is_main:
        job.write_config(config.to_json())
    if info.enabled:
        torch.distributed.barrier()
    model = torch.nn.parallel.DistributedDataParallel(student) if info.enabled else student
    autocast = autocast_for(device)
    sampler = BatchSampler(cohort.labelled, cohort.unlabelled, config.patch, config.batch_labelled,
                           config.batch_unlabelled, config.seed, info.rank, augment=config.augment,
                           draw=config.batch_draw)
    step_cfg = config.step_config()
    runaway = RunawayDetector(config.runaway_share, config.runaway_window, start=config.warmup_steps)
    warnings: list[dict] = []
    if resume:  # the detector continues from the logged history; its past warnings stay in the summary
        history = [e for e in read_events(job.progress) if e.get("iteration", 0) <= start]
        replay(history, runaway)
        warnings = [{k: v for k, v in e.items() if k not in ("event", "time")} for e in history
                    if e["event"] == "warning"]
    event("started", iteration=start, iterations=config.iterations, resumed=resume, device=str(device),
          pid=os.getpid(), recipe=config.recipe, recipe_overrides=config.recipe_overrides(),
          world_size=info.world, cohort=cohort.describe(),
          parameters=sum(p.numel() for p in student.parameters()))
    bar = ProgressBar(config.iterations, "train", enabled=show_bar)
    # a resumed run keeps the validations recorded before the interruption
    validation = [{k: e[k] for k in ("iteration", "dice", "per_case")} for e in read_events(job.progress)
                  if e["event"] == "validation" and e["iteration"] <= start] if resume else []
    t_run, rate = time.monotonic(), None
    speed = SpeedRecorder(config, str(device), start)
    # no validation split with two labelled cases: the unlabelled cases' predictions say when to stop
    stable = StableStop(config.stop_when_stable, [c.image for c in cohort.unlabelled or cohort.labelled],
                        config.patch, device, autocast, config.stable_dice, config.stable_checks,
                        start=config.freeze_encoder)
    final = config.iterations

    def checkpoint(t):
        if info.is_main:
            job.save_checkpoint(_state_tensors(student, teacher, optimizer), {"iteration": t})
            event("checkpoint", iteration=t, path=job.checkpoint.name)

    with _CancelFlag() as cancel:
        for t, (x_l, y_l, x_u) in sampler.iterate(start, config.iterations):
            if ddp.any_rank(cancel.set or job.stop_requested(), info):  # the file: Windows has no SIGTERM
                checkpoint(t)
                event("cancelled", iteration=t, reason="stopped by signal; resume with --resume")
                bar.close()
                raise Cancelled(t)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(t, config.iterations, config.lr, config.lr_policy)
            if config.freeze_encoder:
                freeze_encoder(student, t < config.freeze_encoder)
            torch.manual_seed(config.seed * 1_000_003 + t * 31 + info.rank)  # dropout: a function of t
            rng = np.random.default_rng([config.seed, t, info.rank, 1])
            t0 = time.monotonic()
            stats = training_step(model, teacher, optimizer, x_l.to(device), y_l.to(device), x_u.to(device),
                                  t, config.warmup_steps, step_cfg, rng, autocast,
                                  after_update=lambda: _average_buffers(student, teacher, step_cfg, info))
            dt = time.monotonic() - t0
            rate = dt if rate is None else 0.9 * rate + 0.1 * dt
            eta = rate * (config.iterations - t - 1)
            done = t + 1
            if done % config.every("log_every") == 0 or done == config.iterations:
                logged = {k: round(v, 6) for k, v in stats.items()}
                event("step", iteration=done, lr=optimizer.param_groups[0]["lr"],
                      it_per_s=round(1.0 / max(rate, 1e-9), 3), eta_s=round(eta, 1), **logged)
                if "share_delta" in logged:
                    warning = runaway.feed(done, logged["share_delta"], logged["share_theta"])
                    if warning:
                        warnings.append(warning)
                        event("warning", **warning)
            bar.update(done, f"loss {stats['loss']:.3f}", eta)
            if cohort.val and (done % config.every("val_every") == 0 or done == config.iterations) \
                    and info.is_main:
                result = validate(student, cohort, config.patch, device, config.val_overlap, autocast)
                student.train()
                validation.append({"iteration": done, **result})
                event("validation", iteration=done, **result)
            if done % config.every("checkpoint_every") == 0 and done < config.iterations:
                checkpoint(done)
            if info.is_main:
                speed.after(done)
            if stable.due(done) and done < config.iterations:
                stop = info.is_main and stable.check(student)
                if info.is_main:
                    event("stability", iteration=done, agreement=stable.last, in_a_row=stable.in_a_row)
                if ddp.any_rank(stop, info):
                    final = done
                    speed.stopped(done)
                    event("converged", iteration=done, reason=f"the predictions on {len(stable.images)} "
                          f"case(s) agreed ≥ {config.stable_dice:g} at {config.stable_checks} checks in a row")
                    break
        bar.close()
    checkpoint(final)
    teacher_spread = ddp.max_param_difference(teacher, info) if teacher is not None else 0.0
    bundle = None
    if info.is_main:
        bundle = save_bundle(
            job.model, student, teacher, patch_size=config.patch, classes=cohort.class_entries,
            normalization=normalization.to_json(),
            tau=config.tau, delta_rule=config.delta_rule, mix_reference=mix_reference_patch(cohort, config.patch),
            spacing=spacing or median_spacing(cohort), orientation=cohort.orientation, mix_lambda=config.mix_lambda,
            postprocess=postprocess_of(config, base.meta if base else None),
            provenance={**lineage(base.meta if base else None),
                        "data": cohort.describe(), "iterations": final, "method": config.method,
                        "seed": config.seed, "validation": validation[-1] if validation else None,
                        "recipe": config.recipe_summary(), "warnings": warnings,
                        "validation_history": [{"iteration": v["iteration"], "dice": v["dice"]} for v in validation],
                        "label_volume_ml": label_volume_range(cohort.labelled),
                        "train_seconds": round(time.monotonic() - t_run, 1),
                        "world": world_of_images(c.source for c in cohort.labelled + cohort.unlabelled)})
        # the case flag's feature distance measures scans against this model's own training cases
        stats = training_feature_stats(student, [c.image for c in cohort.labelled + cohort.unlabelled],
                                       config.patch, device)
        if stats is not None:
            write_feature_stats(bundle, stats)
        check = None
        if base:   # the user keeps the new model or rolls back to the base on this (JOB/check.json)
            check = run_check(job.path, config.base_model, bundle, cohort, device.type)
            event("check", check=check, line=check_line(check))
        speed.finished(final)   # after the statistics and the check: the run's save time includes them
        event("finished", iteration=final, model=str(bundle), teacher_rank_spread=teacher_spread,
              warnings=[w["message"] for w in warnings], **({"check": check_line(check)} if check else {}),
              elapsed=format_seconds(time.monotonic() - t_run))
    if info.enabled:  # no rank tears its process group down while rank 0 still writes (gloo aborts)
        torch.distributed.barrier()
    return bundle or job.model


class SpeedRecorder:
    """This run's speed into ``config.speed_dir`` (sgrs.util.speed) after its first iterations, so an estimate
    made during the run is already measured, and at the end: seconds per iteration over the loop (validation and
    checkpoints included) and the seconds outside it (start-up, reading the cohort, saving the model)."""
    FIRST = 10

    def __init__(self, config: TrainConfig, device: str, start: int):
        self.config, self.devices, self.start = config, dict.fromkeys((config.device, device)), start
        self.t_loop = time.monotonic()
        self.startup = max(0.0, time.time() - _process_start())
        self.t_end = None

    def _record(self, per_iteration: float, overhead: float) -> None:
        from ..util.speed import record_training
        c = self.config
        for device in self.devices:   # as asked ("auto") and as run ("cpu"): the next estimate asks either
            record_training(c.speed_dir, c.filters, c.batch, c.patch, device, per_iteration, overhead,
                            method=c.method, frozen=c.freeze_encoder > 0)

    def after(self, done: int) -> None:
        if self.config.speed_dir and done - self.start == min(self.FIRST, self.config.iterations - self.start):
            self._record((time.monotonic() - self.t_loop) / (done - self.start), self.startup)
        if done == self.config.iterations:
            self.t_end = time.monotonic()

    def stopped(self, done: int) -> None:
        """The run ended early, at ``done``: the loop's time ends here."""
        self.t_end = time.monotonic()

    def finished(self, final: int) -> None:
        if not self.config.speed_dir or final <= self.start:
            return
        end = self.t_end or time.monotonic()
        exit_s = 1.0   # the process's own exit after the last event (torch teardown)
        self._record((end - self.t_loop) / (final - self.start), self.startup + time.monotonic() - end + exit_s)


def _process_start() -> float:
    """When this process started (the interpreter and torch imports count in the run's time)."""
    try:
        import psutil
        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001  an estimate is a convenience
        return time.time()


def freeze_encoder(student, frozen: bool) -> None:
    """Fixed encoder weights get no gradient, so SGD (and its weight decay) leaves them as they are."""
    for p in student.encoder.parameters():
        p.requires_grad_(not frozen)


def postprocess_of(config: TrainConfig, base_meta: dict | None) -> str:
    """The user's choice, else the base model's (fine-tuning keeps what the base does), else none."""
    if config.postprocess is not None:
        return config.postprocess
    return str((base_meta or {}).get("postprocess") or "none")


def lineage(base_meta: dict | None) -> dict:
    """The provenance a fine-tuned model inherits: the base's name and content hash, and the chain of
    models before it (oldest first). Nothing else of the base's provenance: its validation, trust
    figures and training statistics describe the base model, not this one."""
    if not base_meta:
        return {"base_model": None}
    base = {"name": base_meta.get("name"), "sha256": content_hash(base_meta),
            "engine_version": (base_meta.get("provenance") or {}).get("engine_version")}
    before = (base_meta.get("provenance") or {}).get("lineage") or []
    return {"base_model": base["name"], "base_model_sha256": base["sha256"],
            "lineage": [dict(b) for b in before if isinstance(b, dict)] + [base]}


def _average_buffers(student, teacher, step_cfg, info) -> None:
    """Ranks agree on the BatchNorm statistics: the student's, and the reference teacher's own."""
    ddp.average_buffers(student, info)
    if teacher is not None and step_cfg.teacher_noise:
        ddp.average_buffers(teacher, info)


class Cancelled(SGRSError):
    """The run stopped on a signal after saving a checkpoint."""

    def __init__(self, iteration: int):
        super().__init__(f"training cancelled at iteration {iteration}; continue with --resume")
        self.iteration = iteration


def label_volume_range(cases) -> dict | None:
    """Foreground volume (mL) of the labelled cases: the case flag compares a prediction with it."""
    volumes = [float((c.label > 0).sum()) * float(np.prod(c.geometry.spacing)) / 1000.0
               for c in cases if c.label is not None and c.geometry is not None]
    if not volumes:
        return None
    return {"min": round(min(volumes), 3), "max": round(max(volumes), 3), "cases": len(volumes)}
