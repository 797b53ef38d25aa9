"""Keep the new model, or roll back to the base (issue 28, item 2): a fine-tuned model is registered only when
the user keeps it, after seeing its Dice against the base model's (the engine's JOB/check.json,
sgrs.training.compare). A model trained from scratch has no base to compare with and is registered at once.

    pending(folder)          # a finished fine-tuning job whose model is neither kept nor rolled back
    check_text(check)        # "New model: Dice 0.88 on case003 (base model 0.76) …" in the GUIs' words
    hold_out_choices(cases)  # the labelled cases the user may hold out: [(title, volume id)], none first
    hold_out_hint(cases, held)  # what holding out (or not) means for this scene
    hold_out_after_import(scene, held)  # "" when a scene import renumbered the held-out volume's id

Files in the job folder: ``registered.json`` (kept: registered once, ever) or ``rolled-back.json``
(rolled back: never registered, never offered again; nothing is deleted).
No qt, no torch.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from SGRSSegmentLib.i18n import translate

REGISTERED_FILE = "registered.json"
ROLLED_BACK_FILE = "rolled-back.json"


def fine_tuned(folder) -> bool:
    """The job fine-tunes a base model (its config names one)."""
    try:
        return bool(json.loads((Path(folder) / "config.json").read_text()).get("base_model"))
    except (OSError, ValueError, AttributeError):
        return False


def decided(folder) -> bool:
    return any((Path(folder) / name).exists() for name in (REGISTERED_FILE, ROLLED_BACK_FILE))


def pending(folder) -> bool:
    return fine_tuned(folder) and not decided(folder)


def rolled_back(folder) -> bool:
    return (Path(folder) / ROLLED_BACK_FILE).exists()


def mark_rolled_back(folder) -> None:
    (Path(folder) / ROLLED_BACK_FILE).write_text(json.dumps({"time": round(time.time(), 3)}))


def _on(check: dict) -> str:
    cases = ", ".join(check["cases"])
    if check.get("kind") == "validation" and len(check["cases"]) == 1:
        return translate("SGRSTrain", "on the validation case {cases}").format(cases=cases)
    if check.get("kind") == "validation":
        return translate("SGRSTrain", "on the validation cases {cases}").format(cases=cases)
    return translate("SGRSTrain", "on {cases}").format(cases=cases)


def check_text(check: dict | None) -> str:
    """The check in plain words; says plainly when the new model is worse."""
    from sgrs.training.compare import verdict
    from sgrs.training.failure_words import gui_reason
    choose = translate("SGRSTrain", "Keep it, or roll back to the base model.")
    if check and check.get("error"):
        return translate("SGRSTrain", "New model ready, but the check against the base model could not run "
                                      "({reason}). {choose}").format(reason=gui_reason(check["error"]), choose=choose)
    if not check or not check.get("cases"):
        return translate("SGRSTrain", "New model ready. No check case was available (no case held out and no "
                                      "validation case), so how it compares with the base model is unknown. "
                                      "{choose}").format(choose=choose)
    new, base, on = check["new"]["dice"], check["base"]["dice"], _on(check)
    words = {"better": translate("SGRSTrain", "New model: Dice {new:.2f} {on} (base model {base:.2f}). {choose}"),
             "same": translate("SGRSTrain", "New model: Dice {new:.2f} {on}, the same as the base model "
                                            "({base:.2f}). {choose}"),
             "worse": translate("SGRSTrain", "New model: Dice {new:.2f} {on}: worse than the base model ({base:.2f}). "
                                             "Rolling back keeps the base model; keep the new one only if you have "
                                             "a reason to.")}[verdict(check)]
    return words.format(new=new, base=base, on=on, choose=choose)


def rolled_back_text(base_name: str) -> str:
    return translate("SGRSTrain", "Rolled back: the base model '{name}' stays selected; the new model was not "
                                  "registered (its files stay in the job folder).").format(name=base_name)


def hold_out_choices(cases) -> list[tuple[str, str]]:
    none = translate("SGRSTrain", "none (check on the validation cases)")
    return [(none, "")] + [(c.volume.GetName(), c.volume.GetID()) for c in cases if c.labelled]


def held_cases(cases, hold_out) -> list:
    """The scene's labelled cases among the held-out volume ids."""
    return [c for c in cases if c.labelled and c.volume.GetID() in set(hold_out or ())]


def hold_out_hint(cases, hold_out, base_model) -> str:
    labelled = sum(c.labelled for c in cases)
    if not base_model:
        return translate("SGRSTrain", "A model trained from scratch has no base model to check against.")
    held = held_cases(cases, hold_out)
    if held:
        left = labelled - len(held)
        text = translate("SGRSTrain", "'{name}' is not trained on: the new model and the base model are both "
                                      "measured on it before you keep the new one.").format(
            name=", ".join(c.volume.GetName() for c in held))
        if left < 1:
            return text + " " + translate("SGRSTrain", "It is the only labelled case: label another one to train on.")
        if left == 1:
            more = translate("SGRSTrain", "With {n} labelled cases, holding one out leaves 1 to train on.")
            text += " " + more.format(n=labelled)
        return text
    if labelled > 2:
        return translate("SGRSTrain", "The new model is checked on the validation case (the last labelled case, "
                                      "not trained on).")
    return translate("SGRSTrain", "No validation case (that needs more than 2 labelled cases): hold a labelled case "
                                  "out to check the new model against the base model.")


def hold_out_after_import(scene, hold_out: str) -> str:
    """The stored hold-out (a volume node id) after a scene was imported into this one: "" when the import
    renumbered that id. MRML gives an imported node whose id clashes a new one but cannot rewrite a plain
    string, so the id may now name another scan (the imported scene's or this one's): the user picks again
    rather than a model being checked on the wrong case."""
    return "" if hold_out and scene is not None and scene.GetChangedID(hold_out) else hold_out


def hold_out_problem(cases, hold_out, base_model) -> str:
    """Why Train cannot start with this hold-out ("" when it can)."""
    if not hold_out or not base_model:
        return ""
    held = held_cases(cases, hold_out)
    if len(held) < len(set(hold_out)):
        return translate("SGRSTrain", "The case held out to check the new model is not a labelled case of the "
                                      "scene any more: choose another, or none.")
    if sum(c.labelled for c in cases) - len(held) < 1:
        return translate("SGRSTrain", "Holding out '{name}' leaves no labelled case to train on: label another case, "
                                      "or hold none out.").format(name=held[0].volume.GetName())
    return ""
