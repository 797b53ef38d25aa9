"""Python packages the extension needs inside Slicer: check (cheap, never imports them) and install.

Both modules call this before anything reaches torch: a fresh Slicer has no torch until the PyTorch
extension installs it on demand. No dialogs and no qt here: the widget asks the user once, listing every
package; ``install`` raises ``DependencyError`` with one line fit for the GUI.

Install routes (see docs/slicer-extension.md for the versions checked):
torch through the PyTorch extension's ``PyTorchUtilsLogic().installTorch`` (it picks the CUDA build);
the rest through ``slicer.packaging.pip_ensure`` (Slicer >= 5.12), else ``slicer.util.pip_install``
(5.8, 5.10), else ``python -m pip`` (outside Slicer: tests, the Studio); ``compat.pip_installer`` picks
the route. Imports point one way: this module uses ``compat``, never the reverse.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import subprocess

TORCH_REQUIREMENT = "torch>=2.1"
# numpy and SimpleITK ship with Slicer; installing them from PyPI would shadow Slicer's own builds.
REQUIREMENTS = ["safetensors>=0.4", "h5py>=3.8", "scipy>=1.10", "matplotlib>=3.7", "psutil>=5.9"]


class DependencyError(RuntimeError):
    """Raised with a one-line message fit for the GUI when a dependency cannot be provided."""


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0]


def _satisfied(requirement: str) -> bool:
    name = _name(requirement)
    try:
        if importlib.util.find_spec(name) is None:
            return False
    except (ImportError, ValueError):  # blocked, or a broken half-install
        return False
    try:
        from packaging.requirements import (
            Requirement,  # bundled with every Slicer >= 5.8
        )
        return Requirement(requirement).specifier.contains(importlib.metadata.version(name), prereleases=True)
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return True  # importable without metadata (a source tree): take it


def missing_packages() -> list[str]:
    """Requirement strings of what is missing or too old (torch first). Imports none of them."""
    return [req for req in [TORCH_REQUIREMENT, *REQUIREMENTS] if not _satisfied(req)]


def require(action: str) -> None:
    """One-line SGRSError when ``action`` needs packages that are not installed yet (a panel shows it
    in its status line or a dialog instead of an ImportError traceback)."""
    missing = missing_packages()
    if missing:
        from sgrs.util.errors import SGRSError
        raise SGRSError(f"{action} needs {', '.join(missing)}: click 'Install dependencies…' first.")


def install(packages: list[str]) -> None:
    """Install ``packages`` (from ``missing_packages``); ``DependencyError`` with one line on failure."""
    from .compat import pip_installer  # pip_ensure (5.12+), slicer.util.pip_install (5.8, 5.10), or pip
    torch = [p for p in packages if _name(p) == "torch"]
    rest = [p for p in packages if _name(p) != "torch"]
    route, pip = pip_installer()
    log = PIP_LOG["pip_install"]  # PyTorchUtils runs light-the-torch through slicer.util._executePythonModule
    try:
        if torch:
            _install_torch(torch[0])
        log = PIP_LOG[route]
        if rest:
            pip(rest)
    except subprocess.CalledProcessError as exc:
        raise DependencyError(f"Installing {', '.join(packages)} failed (exit code {exc.returncode}: "
                              f"{_last_error(exc, log)}). Check the network connection and try again, "
                              "or install them from the Python console with pip.") from None
    except DependencyError:
        raise
    except (RuntimeError, OSError) as exc:
        raise DependencyError(f"Installing {', '.join(packages)} failed: {exc}") from None
    importlib.invalidate_caches()
    still = [p for p in missing_packages() if p in packages]
    if still:
        raise DependencyError(f"{', '.join(still)} installed but cannot be imported yet: restart Slicer.")


def _install_torch(requirement: str) -> None:
    try:
        import PyTorchUtils
    except ImportError:
        raise DependencyError("The PyTorch extension is missing: install 'PyTorch' from the Extensions "
                              "Manager, restart Slicer and try again.") from None
    spec = requirement[len(_name(requirement)):]
    try:
        torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False, torchVersionRequirement=spec)
    except subprocess.CalledProcessError:
        raise
    except Exception as exc:  # noqa: BLE001  it imports torch in-process: a broken build raises ImportError
        raise DependencyError(f"PyTorch could not be installed or loaded ({type(exc).__name__}: "
                              f"{_first_line(exc)}); restart Slicer and try again.") from None
    if torch is None:
        raise DependencyError("PyTorch was not installed; see the Python console for details.")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "no details"


# Where pip's own messages are when the error carries no text: Slicer raises CalledProcessError with the
# output stream (5.8, 5.10: logProcessOutput) or none (5.12+: after its own dialog with the full log).
PIP_LOG = {"pip_ensure": "pip's log is in Slicer's 'Installation Failed' dialog",
           "pip_install": "see the Python console", "subprocess": "see the Python console"}


def _last_error(exc: subprocess.CalledProcessError, fallback: str = PIP_LOG["pip_install"]) -> str:
    text = "\n".join(t for t in (getattr(exc, "stderr", None), getattr(exc, "output", None)) if isinstance(t, str))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or [fallback])[-1]


def self_test_skip_reason() -> str | None:
    """Why the modules' self-tests cannot run here (Slicer's extension build machines have no torch),
    or None. The self-tests report it and pass instead of failing the build."""
    missing = missing_packages()
    if not missing:
        return None
    return f"SGRS self-test skipped: {', '.join(missing)} not installed (installed on demand by the modules)"


def ensure(confirm, report) -> bool:
    """The widgets' whole install flow: True when nothing is missing; else ``confirm(text)`` once with
    every package, install, and ``report(one line)`` on failure (Slicer: confirmOkCancelDisplay, errorDisplay).
    Never raises, whatever the installer raises, so the widget goes on to refresh its button."""
    missing = missing_packages()
    if not missing:
        return True
    from .i18n import translate
    question = translate("SGRSSegment", "SGRS needs these Python packages, which will be installed now:")
    if not confirm(question + "\n\n" + "\n".join(missing)):
        return False
    try:
        install(missing)
        return True
    except DependencyError as exc:
        message = str(exc)
    except Exception as exc:  # noqa: BLE001  Slicer's or an extension's installer: still one line, no traceback
        message = f"Installing {', '.join(missing)} failed ({type(exc).__name__}: {_first_line(exc)})."
    importlib.invalidate_caches()  # what a half-done install left is seen by the refreshed button
    report(message)
    return False
