"""What a segmentation run takes and gives: plain data, no torch, so GUIs import it at setup."""
from __future__ import annotations

from dataclasses import dataclass, field

from sgrs.inference.defaults import DEFAULT_OVERLAP
from sgrs.method.names import DELTA_RULES, DEVICES


@dataclass
class SegmentParameters:
    volume: object = None                 # vtkMRMLScalarVolumeNode
    model: str = ""                       # bundle folder
    device: str = "auto"
    overlap: float = DEFAULT_OVERLAP
    regions: bool = True
    tau: float | None = None
    delta_rule: str | None = None
    region_opacity: float = 0.5
    roi: object = None                    # vtkMRMLMarkupsROINode or None: segment only inside it
    extra: dict = field(default_factory=dict)

    def is_valid(self) -> tuple[bool, str]:
        """(ok, reason): the same text the GUI shows and ``process`` raises."""
        from .i18n import translate
        if self.volume is None:
            return False, translate("SGRSSegment", "Select an input volume.")
        name = self.volume.GetName()
        if not self.volume.IsA("vtkMRMLScalarVolumeNode") or self.volume.IsA("vtkMRMLLabelMapVolumeNode"):
            return False, translate("SGRSSegment", "'{name}' is not a scalar volume.").format(name=name)
        if self.volume.GetParentTransformNode() is not None:  # its node frame is not the world (finding 5)
            return False, translate("SGRSSegment", "'{name}' is under a transform: harden it first (Data module, "
                                    "right-click the transform, 'Harden transform').").format(name=name)
        if not self.model:
            return False, translate("SGRSSegment", "Select a model.")
        if not 0.0 <= self.overlap < 1.0:
            return False, translate("SGRSSegment", "Overlap must be in [0, 1).")
        for option, value, allowed in (("device", self.device, DEVICES), ("Δ rule", self.delta_rule, DELTA_RULES)):
            if value is not None and value not in allowed:  # e.g. from a scene saved by another version
                return False, translate("SGRSSegment", "Unknown {option} '{value}': choose one of {allowed}.").format(
                    option=option, value=value, allowed=", ".join(allowed))
        return True, ""


@dataclass
class SegmentResult:
    segmentation: object
    regions: object | None
    entropy: object
    table: object | None
    summary: dict


def parameters_from_settings(s) -> SegmentParameters:
    """From the module's parameter node (or any object with the same attribute names, e.g. the Studio's
    state): inputVolume, roi, model, device, overlap, regions, tau, deltaRule, regionOpacity."""
    tau, rule = overrides(s.model, s.tau, s.deltaRule)  # the model's own values are not passed (item 8)
    return SegmentParameters(volume=s.inputVolume, model=s.model, device=s.device, overlap=s.overlap,
                             regions=s.regions, tau=tau, delta_rule=rule, region_opacity=s.regionOpacity,
                             roi=s.roi)


TAU_STEP = 5e-4  # half the τ spin box's last digit (3 decimals): closer than this is the same value


def model_region_rule(model: str):
    """(τ, Δ rule) a bundle was trained with (its model.json), or None when it cannot be read.
    Torch-free: the panel calls it whenever the model changes."""
    from sgrs.models.meta import read_meta, region_rule
    from sgrs.util.errors import SGRSError
    if not model:
        return None
    try:
        meta = read_meta(model)
    except (SGRSError, OSError):
        return None
    return region_rule(meta)


def follow_model(settings, model: str) -> None:
    """Select ``model`` in ``settings`` (parameter node or Studio state: model, tau, deltaRule). τ and
    the Δ rule show the new model's own values, except a value the user changed from the previous
    model's, which stays (issue 14, item 8)."""
    old, new = model_region_rule(settings.model), model_region_rule(model)
    settings.model = model
    if new is None:
        return
    if old is None or abs(settings.tau - old[0]) < TAU_STEP:
        settings.tau = new[0]
    if old is None or settings.deltaRule == old[1]:
        settings.deltaRule = new[1]


def overrides(model: str, tau: float, delta_rule: str) -> tuple:
    """(tau, delta_rule) to pass to the engine: None where the value is the model's own, so the engine
    reads it from the bundle rather than a rounded copy."""
    own = model_region_rule(model)
    if own is None:
        return tau, delta_rule
    return (None if abs(tau - own[0]) < TAU_STEP else tau), (None if delta_rule == own[1] else delta_rule)
