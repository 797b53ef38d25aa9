"""Train: the cohort in the scene, annotation-priority ranking, base model and iterations,
Train / Cancel / Resume with progress, ETA and a live loss / validation-Dice chart; a fine-tuned model is shown
with its Dice against the base model's (on a case held out, else the validation cases) with Keep / Roll back.

``TrainSession`` (SGRSTrainLib) decides everything: the job folder, when a run counts as finished,
when the model is registered. A job outlives the Studio: on start-up the panel re-attaches to the
newest job folder under --jobs, so Resume works after a server restart.
"""
from __future__ import annotations

from pathlib import Path

from trame.widgets import html
from trame.widgets import vuetify3 as v3

from sgrs.util.errors import InputError

from . import chart
from .panel import Panel

ACTIVE = ("running", "cancelling")
ENDED = {"failed": "error", "stopped": "error", "cancelled": "info"}   # a run's end: the banner's colour


def choice_items(descriptions: dict) -> list[dict]:
    """A select's items: the name, and its one-line description under it in the list."""
    return [{"title": name, "value": name, "subtitle": text} for name, text in descriptions.items()]


class TrainPanel(Panel):
    key, title = "train", "Train"

    def __init__(self, studio):
        super().__init__(studio)
        from SGRSTrainLib.session import TrainSession

        self.session = TrainSession(self.scene, studio.slicer.segmentations_logic, studio.jobs_dir,
                                    registry=studio.models_dir, python=studio.python)
        self.rank_session = None
        self._shown_registered = None
        from sgrs.method import names
        from sgrs.training.presets import DEFAULT, DEFAULT_PRESET, PRESETS

        notes = {"method": names.METHOD_DESCRIPTIONS, "recipe": names.RECIPE_DESCRIPTIONS,
                 "teacher": names.TEACHER_DESCRIPTIONS}
        self.state.update({"tr_method": names.DEFAULT_METHOD, "tr_recipe": names.DEFAULT_RECIPE,
                           "tr_teacher": names.DEFAULT_TEACHER, "tr_notes": notes,
                           **{f"tr_{kind}s": choice_items(descriptions) for kind, descriptions in notes.items()}})
        self.state.update({
            "tr_presets": list(PRESETS), "tr_preset": DEFAULT_PRESET, "tr_estimate": "", "tr_model_zip": "",
            "tr_base": None, "tr_iterations": DEFAULT.iterations, "tr_filters": DEFAULT.filters,
            "tr_patch": " ".join(map(str, DEFAULT.patch)), "tr_batch": DEFAULT.batch, "tr_device": DEFAULT.device,
            "tr_val_every": "", "tr_log_every": "", "tr_state": "idle", "tr_progress": 0, "tr_status": "",
            "tr_running": False, "tr_blocked": "", "tr_class_notes": "", "tr_absent": "",
            "tr_resumable": False, "tr_chart": chart.empty(), "tr_cohort": "", "rank_running": False,
            "tr_hold_out": None, "tr_hold_out_items": [], "tr_hold_out_hint": "", "tr_deciding": False,
            "tr_decision": "", "tr_worse": False,
            "rank_progress": 0, "rank_results": [], "rank_status": ""})
        self._extra = ()
        self.apply_preset()
        self.state.change("tr_preset", "tr_base")(lambda **_: self.studio.guard(self.apply_preset))
        self.state.change("tr_iterations", "tr_filters", "tr_batch", "tr_patch", "tr_device", "tr_method")(
            lambda **_: self.studio.guard(self.show_estimate))   # a method's step costs its own time
        self.state.change("tr_method", "tr_absent", "tr_hold_out")(lambda **_: self.studio.guard(self.show_action))
        self._reattach()

    def build(self):
        html.Div("Cohort: {{ tr_cohort }}", classes="text-body-2 mb-1", id="train-cohort")
        with v3.VRow(dense=True):
            with v3.VCol(cols=6):
                v3.VBtn("Rank unlabelled", block=True, size="small", click=self.rank_clicked, id="rank-run",
                        disabled=("rank_running",))
            with v3.VCol(cols=6):
                v3.VBtn("Cancel ranking", block=True, size="small", click=self.rank_cancel, id="rank-cancel",
                        disabled=("!rank_running",))
        v3.VProgressLinear(model_value=("rank_progress",), height=4, v_show="rank_running", color="secondary")
        html.Div("{{ rank_status }}", v_show="rank_status", classes="text-caption", id="rank-status")
        with v3.VTable(density="compact", id="rank-results", v_show="rank_results.length", hover=True):
            with html.Thead():
                with html.Tr():
                    for heading in ("#", "Case", "Score", "Case flag"):
                        html.Th(heading)
            with html.Tbody():
                with html.Tr(v_for="r in rank_results", key="r.id", click="trigger('select_case', [r.id])",
                             style="cursor: pointer", classes="rank-row"):
                    html.Td("{{ r.rank }}", classes="rank-rank")
                    with html.Td():
                        html.Div("{{ r.name }}", classes="rank-name")
                        html.Div("{{ r.note }}", classes="text-caption rank-note")
                    html.Td("{{ r.score }}", classes="rank-score")
                    html.Td("{{ r.flag }}", classes="rank-flag", title=("r.flag_tip",))  # the engine's words
        v3.VDivider(classes="my-2")
        v3.VSelect(v_model=("tr_base",), items=("[{title: 'none (from scratch)', value: null}, ...models]",),
                   label="Base model", density="compact", id="train-base")
        v3.VSelect(v_model=("tr_preset",), items=("tr_presets",), label="Preset", density="compact",
                   id="train-preset", hint="fine-tuning keeps the base model's patch and spacing",
                   persistent_hint=True)
        v3.VSelect(v_model=("tr_method",), items=("tr_methods",), item_props=True, label="Method",
                   density="compact", id="train-method", hint=("tr_notes.method[tr_method]",), persistent_hint=True)
        # the recipe is the sgrs method's; the baselines train with the default one
        v3.VSelect(v_model=("tr_recipe",), items=("tr_recipes",), item_props=True, label="SGRS recipe",
                   density="compact", id="train-recipe", disabled=("tr_method !== 'sgrs'",),
                   hint=("tr_notes.recipe[tr_recipe]",), persistent_hint=True)
        v3.VSelect(v_model=("tr_teacher",), items=("tr_teachers",), item_props=True, label="Teacher",
                   density="compact", id="train-teacher", hint=("tr_notes.teacher[tr_teacher]",),
                   persistent_hint=True, disabled=("tr_method === 'supervised'",))
        with v3.VRow(dense=True):
            with v3.VCol(cols=4):
                v3.VTextField(v_model=("tr_iterations",), label="Iterations", type="number", density="compact",
                              id="train-iterations")
            with v3.VCol(cols=4):
                v3.VTextField(v_model=("tr_filters",), label="Filters", type="number", density="compact",
                              id="train-filters")
            with v3.VCol(cols=4):
                v3.VTextField(v_model=("tr_batch",), label="Batch", type="number", density="compact",
                              id="train-batch")
        with v3.VRow(dense=True):
            with v3.VCol(cols=6):
                v3.VTextField(v_model=("tr_patch",), label="Patch (x y z)", density="compact", id="train-patch")
            with v3.VCol(cols=6):
                v3.VSelect(v_model=("tr_device",), items=("['auto', 'cpu', 'cuda', 'mps']",), label="Device",
                           density="compact")
        with v3.VRow(dense=True):
            with v3.VCol(cols=6):
                v3.VTextField(v_model=("tr_val_every",), label="Validate every (blank: default)", type="number",
                              density="compact", id="train-val-every")
            with v3.VCol(cols=6):
                v3.VTextField(v_model=("tr_log_every",), label="Log every (blank: default)", type="number",
                              density="compact", id="train-log-every")
        v3.VTextField(v_model=("tr_absent",), label="Absent classes (comma-separated)", density="compact",
                      id="train-absent", hint="classes of the base model that some labelled cases truly lack",
                      persistent_hint=True)
        html.Div("{{ tr_class_notes }}", v_show="tr_class_notes", classes="text-caption text-warning",
                 id="train-class-notes")
        # a labelled case never trained on: the new model and the base are measured on it before Keep / Roll back
        v3.VSelect(v_model=("tr_hold_out",), items=("tr_hold_out_items",), label="Check the new model on",
                   density="compact", id="train-hold-out", disabled=("!tr_base",), hint=("tr_hold_out_hint",),
                   persistent_hint=True)
        with v3.VRow(dense=True):
            with v3.VCol(cols=4):
                v3.VBtn("Train", color="primary", block=True, click=self.train_clicked, id="train-run",
                        disabled=("tr_running || !!tr_blocked",))
            with v3.VCol(cols=4):
                v3.VBtn("Cancel", block=True, click=self.cancel_clicked, id="train-cancel",
                        disabled=("!tr_running",))
            with v3.VCol(cols=4):
                v3.VBtn("Resume", block=True, click=self.resume_clicked, id="train-resume",
                        disabled=("tr_running || !tr_resumable",))
        html.Div("{{ tr_blocked }}", v_show="tr_blocked && !tr_running", classes="text-caption text-error",
                 id="train-blocked")
        html.Div("Expected run time: {{ tr_estimate }}", classes="text-caption", id="train-estimate")
        v3.VProgressLinear(model_value=("tr_progress",), height=8, color="primary", classes="mt-2",
                           id="train-progress")
        html.Div("{{ tr_status }}", classes="text-caption", id="train-status")
        with html.Div(v_if="tr_deciding", classes="mt-2", id="train-decision"):
            html.Div("{{ tr_decision }}", classes=("tr_worse ? 'text-body-2 text-warning' : 'text-body-2'",),
                     id="train-decision-text")
            with v3.VRow(dense=True):
                with v3.VCol(cols=6):
                    v3.VBtn("Keep the new model", color="primary", block=True, size="small", id="train-keep",
                            click=self.keep_clicked)
                with v3.VCol(cols=6):
                    v3.VBtn("Roll back to the base model", block=True, size="small", id="train-roll-back",
                            click=self.roll_back_clicked)
        v3.VBtn("Download the model bundle (.zip)", v_if="tr_model_zip", href=("'data-files/' + tr_model_zip",),
                download=True, __properties=[("download", "download")], size="small", variant="tonal",
                prepend_icon="mdi-download", id="train-download")
        chart.build("tr_chart")

    # -- ranking ------------------------------------------------------------------------------
    def rank_clicked(self):
        self.studio.guard(self._rank)

    def _rank(self):
        from SGRSTrainLib import collect_cases
        from SGRSTrainLib.rank_session import RankSession

        if self.rank_session is not None:
            self.rank_session.close()
        self.rank_session = RankSession(self.state.model_path or "", device=self.state.tr_device)
        self.rank_session.start(collect_cases(self.scene))
        self.state.rank_running, self.state.rank_results = True, []

    @staticmethod
    def _rank_rows(results) -> list[dict]:
        """The engine's rows (as ``sgrs rank`` prints them), with the volume each one selects."""
        from sgrs.inference.flag_words import flag_tooltip
        from sgrs.inference.rank import rank_rows

        rows = rank_rows(results, name=lambda r: r.case.volume.GetName())
        return [{"id": r.case.volume.GetID(), "rank": row.rank, "name": row.case, "score": row.score,
                 "flag": row.flag, "flag_tip": flag_tooltip(row.flag), "note": row.note, "suggested": row.suggested}
                for r, row in zip(results, rows)]

    def rank_cancel(self):
        if self.rank_session is not None:
            self.rank_session.cancel()

    # -- training -----------------------------------------------------------------------------
    def parameters(self):
        from SGRSTrainLib import TrainParameters

        try:
            patch = tuple(int(p) for p in str(self.state.tr_patch).replace(",", " ").split())
            iterations, filters, batch = int(self.state.tr_iterations), int(self.state.tr_filters), \
                int(self.state.tr_batch)
        except ValueError:
            raise InputError("Iterations, filters, batch and patch must be whole numbers.") from None
        if len(patch) != 3:
            raise InputError("Patch needs three sides (x y z).")
        extra = []
        for flag, value in (("--val-every", self.state.tr_val_every), ("--log-every", self.state.tr_log_every)):
            if str(value or "").strip():
                if not str(value).strip().isdigit() or int(value) < 1:
                    raise InputError(f"{flag[2:].replace('-', ' ')} must be a whole number ≥ 1.")
                extra += [flag, str(int(value))]
        absent = tuple(a.strip() for a in str(self.state.tr_absent or "").split(",") if a.strip())
        return TrainParameters(base_model=self.state.tr_base or None, iterations=iterations, filters=filters,
                               batch=batch, patch=patch, device=self.state.tr_device, method=self.state.tr_method,
                               recipe=self.state.tr_recipe, teacher=self.state.tr_teacher, absent=absent,
                               hold_out=(self.state.tr_hold_out,) if self.state.tr_hold_out else (),
                               extra_args=tuple(extra) + tuple(self._extra))

    # -- presets and estimate -----------------------------------------------------------------
    def apply_preset(self):
        """Fill the fields from the preset; fine-tuning keeps the base model's patch and filters. A preset
        that names a method and recipe (paper) sets them; the others keep the user's."""
        from sgrs.models.bundle import read_meta
        from sgrs.training.presets import apply_preset

        base = read_meta(self.state.tr_base) if self.state.tr_base else None
        settings = apply_preset(self.state.tr_preset, base)
        self.state.update({"tr_iterations": settings["iterations"], "tr_filters": settings["filters"],
                           "tr_batch": settings["batch"], "tr_patch": " ".join(map(str, settings["patch"])),
                           "tr_device": settings["device"]})
        self.state.update({f"tr_{k}": settings[k] for k in ("method", "recipe") if settings[k]})
        self._extra = settings["extra"]
        self.show_estimate()

    def show_estimate(self):
        from sgrs.models.registry import registry_folder
        from sgrs.training.presets import train_estimate

        try:
            p = self.parameters()
        except InputError as exc:
            self.state.tr_estimate = str(exc)
            return
        self.state.tr_estimate = train_estimate(registry_folder(self.studio.models_dir), p.iterations, p.filters,
                                                p.batch, p.patch, p.device, method=p.method, extra=p.extra_args)
        self.show_action()

    def show_action(self):
        """Train disabled with the session's reason (the collected cohort cannot train), and the segments
        that match no class of the base model."""
        try:
            params = self.parameters()
        except InputError as exc:
            self.state.tr_blocked, self.state.tr_class_notes = str(exc), ""
            return
        self.state.tr_blocked = self.session.action(params).reason
        self.state.tr_class_notes = self.session.class_notes(params)
        self.state.tr_hold_out_hint = self.session.hold_out_hint(params)

    def train_clicked(self):
        self.studio.guard(self._train)

    def _train(self):
        params = self.parameters()
        self.session.collect()   # the scene's cases as they are now (annotations included)
        self.session.start(params)
        self._show()

    def cancel_clicked(self):
        self.studio.guard(self.session.cancel)
        self._show()

    def resume_clicked(self):
        self.studio.guard(self.session.resume)
        self._show()

    def keep_clicked(self):
        self.studio.guard(self.session.keep)
        self._show()   # registered: selected for Segment, said in the banner

    def roll_back_clicked(self):
        waiting = self.session.deciding
        self.studio.guard(self.session.roll_back)
        if waiting and not self.session.deciding:   # rolled back: the base model stays selected
            self.studio.notify(self.session.message, "info")
        self._show()

    def _reattach(self):
        """After a restart: pick up the newest job folder when it is running or its model is neither kept nor
        rolled back yet (SGRS Train's rule), or when Resume can continue it; a failed job's end is not shown again."""
        root = Path(self.studio.jobs_dir)
        from SGRSTrainLib.job import holds_job
        from SGRSTrainLib.session import worth_reattaching

        jobs = sorted((p for p in root.iterdir() if p.is_dir() and holds_job(p)), key=lambda p: p.stat().st_mtime) \
            if root.is_dir() else []
        if not jobs:
            return
        self.studio.guard(self.session.attach, jobs[-1])
        if not worth_reattaching(jobs[-1]) and not self.session.can_resume:
            self.session.forget()
        self._show()

    # -- polling ------------------------------------------------------------------------------
    def show_cohort(self, cases):
        """Called by the Data panel whenever the case list changes (collecting hashes label voxels)."""
        from SGRSTrainLib.decision import hold_out_choices
        labelled = sum(1 for c in cases if c.labelled)
        self.state.tr_cohort = f"{labelled} labelled, {len(cases) - labelled} unlabelled"
        items = [{"title": title, "value": value or None} for title, value in hold_out_choices(cases)]
        self.state.tr_hold_out_items = items
        if self.state.tr_hold_out not in [i["value"] for i in items]:   # no longer a labelled case
            self.state.tr_hold_out = None
        if not self.session.busy:
            self.session.cases = list(cases)   # what Train would export now
            self.show_action()

    def poll(self):
        if self.state.rank_running and self.rank_session is not None:
            self.rank_session.poll()
            done, total = self.rank_session.progress or (0, 0)
            self.state.rank_progress = 100.0 * done / total if total else 0
            self.state.rank_status = self.rank_session.message
            if self.rank_session.state not in ACTIVE:
                self.state.rank_running = False
                if self.rank_session.state == "done":
                    self.state.rank_results = self._rank_rows(self.rank_session.results)
                elif self.rank_session.message:
                    self.studio.notify(self.rank_session.message,
                                       "error" if self.rank_session.state == "failed" else "info")
        self.session.reap()   # an ended training process never stays a zombie of the server
        if self.session.state in ACTIVE:
            self.session.poll()
            self._show()
        elif self.state.tr_running:   # the last poll ended the run: show the final state once
            self._show()

    def _show(self):
        s = self.session
        status = s.status
        if self.state.tr_running and s.state in ENDED:   # this run just ended: said in the banner and the log
            self.studio.notify(s.message, ENDED[s.state])
        from sgrs.training.compare import verdict
        deciding = s.deciding
        self.state.tr_worse = deciding and verdict(s.check) == "worse"
        if deciding and (self.state.tr_running or not self.state.tr_deciding):   # the new model waits: say so
            self.studio.notify(s.message, "warning" if self.state.tr_worse else "info")
        if deciding != self.state.tr_deciding:   # Train waits while a new model does (the session's reason)
            self.studio.guard(self.show_action)
        self.state.tr_deciding, self.state.tr_decision = deciding, s.message if deciding else ""
        self.state.tr_state = s.state
        self.state.tr_running = s.state in ACTIVE
        self.state.tr_resumable = s.can_resume
        if s.busy:   # the estimate follows the run's measured speed
            self.state.tr_estimate = s.running_estimate()
        if status is not None:
            self.state.tr_progress = 100.0 * status.fraction
            self.state.tr_status = s.message
            self.state.tr_chart = chart.lines(status.losses or [], status.dice or [])
        else:
            self.state.tr_status = s.message or s.state
        if s.registered is not None and s.registered is not self._shown_registered:
            self._shown_registered = s.registered
            self.studio.model.refresh(select=str(s.registered.path))
            self.studio.guard(self.show_estimate)   # this run measured the seconds per iteration here
            self.state.tr_model_zip = self.studio.guard(self._zip_model, s.registered) or ""
            self.studio.notify(f"{s.message} It is selected for Segment.", "success")

    def _zip_model(self, entry) -> str:
        """The registered bundle as a zip in the data folder, for the download link."""
        import shutil

        folder = self.studio.data_dir / "downloads"
        folder.mkdir(parents=True, exist_ok=True)
        archive = shutil.make_archive(str(folder / entry.path.name), "zip", entry.path.parent, entry.path.name)
        return str(Path(archive).relative_to(self.studio.data_dir))
