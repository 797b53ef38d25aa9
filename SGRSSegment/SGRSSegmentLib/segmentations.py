"""Which vtkSlicerSegmentationsModuleLogic to use (no torch: widgets call it at setup)."""
import slicer


def module_segmentations_logic(scene):
    """The Segmentations module's own logic (Slicer), else one shared per scene (tests, Studio).

    Every new vtkSlicerSegmentationsModuleLogic registers its converter rules again in the global
    factory (issue 8, item 9), so never make one per widget or per run.
    """
    modules = getattr(slicer, "modules", None)
    if modules is not None and hasattr(modules, "segmentations"):
        return modules.segmentations.logic()
    logic = _SHARED.get(id(scene))
    if logic is None:
        logic = _SHARED[id(scene)] = slicer.vtkSlicerSegmentationsModuleLogic()
        logic.SetMRMLScene(scene)
    return logic


_SHARED = {}  # scene id -> logic, outside Slicer only
