"""What a segmentation run takes and gives: plain data, no torch, so GUIs import it at setup."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SegmentParameters:
    volume: object = None                 # vtkMRMLScalarVolumeNode
    model: str = ""                       # bundle folder
    device: str = "auto"
    overlap: float = 0.5
    regions: bool = True
    tau: float | None = None
    delta_rule: str | None = None
    region_opacity: float = 0.5
    roi: object = None                    # vtkMRMLMarkupsROINode or None: segment only inside it
    extra: dict = field(default_factory=dict)

    def is_valid(self) -> tuple[bool, str]:
        """(ok, reason): the same text the GUI shows and ``process`` raises."""
        if self.volume is None:
            return False, "Select an input volume."
        if not self.volume.IsA("vtkMRMLScalarVolumeNode") or self.volume.IsA("vtkMRMLLabelMapVolumeNode"):
            return False, f"'{self.volume.GetName()}' is not a scalar volume."
        if not self.model:
            return False, "Select a model."
        if not 0.0 <= self.overlap < 1.0:
            return False, "Overlap must be in [0, 1)."
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
    return SegmentParameters(volume=s.inputVolume, model=s.model, device=s.device, overlap=s.overlap,
                             regions=s.regions, tau=s.tau, delta_rule=s.deltaRule, region_opacity=s.regionOpacity,
                             roi=s.roi)
