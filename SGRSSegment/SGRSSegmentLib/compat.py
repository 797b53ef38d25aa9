"""Every Slicer call of this Lib whose availability differs between Slicer 5.8 and the newest release,
in one place, each with the source that shows the difference (read at v5.8.1, v5.10.0, v5.12.0, main).

- terminology: ``vtkSegment.SetTerminology`` exists from v5.10.0 (``Libs/vtkSegmentationCore/vtkSegment.h``
  l. 58) and is only ``SetTag(GetTerminologyEntryTagName(), entry)`` (``vtkSegment.cxx`` v5.10.0
  l. 395-398); v5.8.1 has the tag name (``vtkSegment.h`` l. 52) and ``SetTag`` (l. 94). So: SetTag.
- pip: ``slicer.packaging.pip_ensure`` from v5.12.0 (``Base/Python/slicer/packaging.py`` l. 329); 5.8 and
  5.10 have ``slicer.util.pip_install(requirements)`` (``util.py`` v5.8.1 l. 3899, v5.10.0 l. 3991).
  Either raises ``CalledProcessError`` whose ``output`` is the process's stdout *stream*
  (``logProcessOutput``, v5.8.1 l. 3861, v5.12.0 l. 4250), so a failure's text is only in the Python console.
  Outside Slicer (tests, the Studio) the route is plain ``python -m pip``.
- parameter node GUI: ``connectGui`` returns no tag at v5.8.1 (``wrapper.py`` l. 253), the tag from
  v5.10.0; ``connectParametersToGui`` returns it at every tag (v5.8.1 l. 194-213). ``disconnectGui``
  removes the node's GUI-update observer only from v5.12.0 (l. 263-265); before, the observer stays but
  writes nothing, the tag's connectors being gone.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

PARAMETER_PROPERTY = "SlicerParameterName"


def set_terminology(segment, entry: str) -> None:
    """Works on every release (see above); ``segment.GetTerminology()`` reads it back on 5.10+."""
    segment.SetTag(segment.GetTerminologyEntryTagName(), entry)


def pip_installer():
    """(route, install(list of requirement strings)) for this Slicer: 'pip_ensure' (5.12+),
    'pip_install' (5.8, 5.10: Slicer's PythonSlicer is on PATH) or 'subprocess' (outside Slicer)."""
    try:
        import slicer.packaging
    except ImportError:
        pass
    else:  # the user has already agreed in our own dialog, listing every package
        return "pip_ensure", lambda reqs: slicer.packaging.pip_ensure(reqs, prompt_install=False, requester="SGRS")
    if shutil.which("PythonSlicer"):
        import slicer.util
        return "pip_install", lambda reqs: slicer.util.pip_install(" ".join(reqs))
    return "subprocess", pip_subprocess


def pip_subprocess(requirements: list[str]) -> None:
    """Plain ``python -m pip install`` (outside Slicer); CalledProcessError carries pip's output."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *requirements],
                   check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def parameter_widgets(ui_widget) -> dict:
    """{parameter name: widget} of every child with the SlicerParameterName property."""
    import slicer.util
    return {w.property(PARAMETER_PROPERTY): w for w in slicer.util.findChildren(ui_widget)
            if hasattr(w, "property") and w.property(PARAMETER_PROPERTY)}


def rebind(old, old_tag, new, ui_widget, observer=None, on_change=None):
    """Disconnect ``old`` (a parameter node wrapper or None) and connect ``new``; returns the new tag
    (``connectParametersToGui``: the one call that returns it on every release). With ``observer`` (the
    widget, a VTKObservationMixin), ``on_change`` follows the node's ModifiedEvent, moved along too."""
    import vtk
    if old is not None and old_tag is not None:
        old.disconnectGui(old_tag)
    if old is not None and observer is not None:
        observer.removeObserver(old, vtk.vtkCommand.ModifiedEvent, on_change)
    if new is not None and observer is not None:
        observer.addObserver(new, vtk.vtkCommand.ModifiedEvent, on_change)
    return new.connectParametersToGui(parameter_widgets(ui_widget)) if new is not None else None
