"""Python packages the extension needs inside Slicer. The widget asks the user once, listing
every package; this module only checks and installs (no dialogs, no qt)."""
from __future__ import annotations

import importlib.util

TORCH_REQUIREMENT = "torch>=2.1"
REQUIREMENTS = ["safetensors>=0.4", "h5py>=3.8", "scipy>=1.10", "matplotlib>=3.7"]
# Slicer ships these; installing them from PyPI would shadow Slicer's own builds.
SKIP = ["SimpleITK", "numpy", "torch"]


class DependencyError(RuntimeError):
    """Raised with a message fit for the GUI when a dependency cannot be provided."""


def missing_packages() -> list[str]:
    """Requirement strings of what is not importable yet (torch first)."""
    missing = [] if importlib.util.find_spec("torch") else [TORCH_REQUIREMENT]
    for req in REQUIREMENTS:
        name = req.split(">")[0].split("=")[0]
        if importlib.util.find_spec(name) is None:
            missing.append(req)
    return missing


def install(packages: list[str]) -> None:
    """torch through the PyTorch extension (it knows the GPU), the rest with ``pip_ensure``."""
    import slicer

    if TORCH_REQUIREMENT in packages:
        try:
            import PyTorchUtils
        except ImportError:
            raise DependencyError("The PyTorch extension is missing: install 'PyTorch' from the Extensions "
                                  "Manager, restart Slicer and try again.") from None
        torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False,
                                                               torchVersionRequirement=TORCH_REQUIREMENT[5:])
        if torch is None:
            raise DependencyError("PyTorch could not be installed; see the Python console for details.")
    rest = [p for p in packages if p != TORCH_REQUIREMENT]
    if not rest:
        return
    try:
        import slicer.pydeps as pydeps  # Slicer ≥ 5.11
        from packaging.requirements import Requirement
        pydeps.pip_ensure([Requirement(r) for r in rest], skip_packages=SKIP, requester="SGRS")
    except ImportError:
        slicer.util.pip_install(" ".join(rest))  # older Slicer
