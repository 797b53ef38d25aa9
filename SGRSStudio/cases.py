"""Per-case state of the Studio, kept in memory and in the data folder, so switching cases and
restarting the server lose nothing.

    store = CaseStore(scene, segmentations_logic, data_dir / "workspace")
    store.add_case(volume, image_path)       # the case list, saved at once
    store.set_result(volume, result)         # a finished segmentation: written as it is made
    store.set_annotation(volume, node)       # the node being annotated (maybe the result itself)
    store.save_annotation(volume)            # after an edit or "Mark reviewed"
    store.result(volume), store.annotation(volume), store.status[volume ID]
    store.restore(open_volume)               # on start: cases, results and annotations come back

Layout: ``workspace/cases.json`` (case names, image files, which outputs exist) and one folder per
case with ``segmentation.seg.nrrd`` (its generated-fingerprint tags survive in the header, so an edit
still counts as one), ``regions.nrrd``, ``entropy.nrrd``, ``summary.json`` and ``annotation.seg.nrrd``.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from sgrs.util.atomic import write_text

log = logging.getLogger("sgrs.studio")
INDEX = "cases.json"


def _key(name: str, used) -> str:
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "case"
    while key in used:
        key += "_"
    return key


class CaseStore:
    def __init__(self, scene, segmentations_logic, folder):
        self.scene, self.segmentations_logic = scene, segmentations_logic
        self.folder = Path(folder)
        self.entries: dict[str, dict] = {}    # volume ID -> {"key", "name", "image", "annotation", ...}
        self.results: dict[str, object] = {}  # volume ID -> SegmentResult
        self.annotations: dict[str, object] = {}
        self.status: dict[str, str] = {}      # volume ID -> the Segment panel's last line for it
        self._restoring = False

    # -- the case list ------------------------------------------------------------------------
    def add_case(self, volume, image: Path) -> None:
        key = _key(volume.GetName(), {e["key"] for e in self.entries.values()})
        self.entries[volume.GetID()] = {"key": key, "name": volume.GetName(), "image": str(Path(image).resolve())}
        self._write_index()

    def _write_index(self) -> None:
        if self._restoring:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(self.folder / INDEX, json.dumps({"cases": list(self.entries.values())}, indent=1))

    def _dir(self, volume) -> Path | None:
        entry = self.entries.get(volume.GetID())
        return None if entry is None else self.folder / entry["key"]

    # -- results ------------------------------------------------------------------------------
    def result(self, volume):
        return self.results.get(volume.GetID()) if volume is not None else None

    def annotation(self, volume):
        return self.annotations.get(volume.GetID()) if volume is not None else None

    def set_result(self, volume, result) -> None:
        """The case's new result replaces the old one's nodes; an old result the user edited or
        marked reviewed stays, as the case's annotation."""
        from SGRSSegmentLib.labels import counts_as_label

        vid = volume.GetID()
        old, keep = self.results.get(vid), False
        if old is not None:
            keep = counts_as_label(old.segmentation)
            annotation = self.annotations.get(vid)
            if keep:
                old.segmentation.GetDisplayNode().SetVisibility(False)
                if annotation is None:
                    self.annotations[vid] = annotation = old.segmentation
            elif annotation is old.segmentation:
                self.annotations.pop(vid)
            for node in (None if keep else old.segmentation, old.regions, old.entropy, old.table):
                if node is not None and self.scene.IsNodePresent(node):
                    self.scene.RemoveNode(node)
        self.results[vid] = result
        self._save_result(volume, result)
        if keep and self.annotations.get(vid) is old.segmentation:
            self.save_annotation(volume)   # now a file of its own: the result file holds the new run

    def set_annotation(self, volume, node) -> None:
        self.annotations[volume.GetID()] = node
        self.save_annotation(volume)

    def _save_result(self, volume, result) -> None:
        folder = self._dir(volume)
        if folder is None or self._restoring:
            return
        from sgrs.data.image_io import write_image
        from SGRSSegmentLib.volume_io import array_of, geometry_of

        folder.mkdir(parents=True, exist_ok=True)
        write_segmentation(self.scene, result.segmentation, folder / "segmentation.seg.nrrd")
        for name, node in (("regions", result.regions), ("entropy", result.entropy)):
            if node is not None:
                write_image(array_of(node).astype("uint8"), geometry_of(volume), folder / f"{name}.nrrd")
            else:
                (folder / f"{name}.nrrd").unlink(missing_ok=True)
        write_text(folder / "summary.json", json.dumps(result.summary or {}))
        entry = self.entries[volume.GetID()]
        entry["result"] = True
        if entry.get("annotation") == "result" and self.annotation(volume) is not result.segmentation:
            entry.pop("annotation")   # the file now holds a new, untouched run
        self._write_index()

    def save_annotation(self, volume) -> None:
        """Write the case's annotation (the edited result, or a separate segmentation) as it is now."""
        from SGRSSegmentLib.labels import REVIEWED

        node, folder = self.annotation(volume), self._dir(volume)
        if node is None or folder is None or self._restoring:
            return
        folder.mkdir(parents=True, exist_ok=True)
        result = self.result(volume)
        is_result = result is not None and result.segmentation is node
        write_segmentation(self.scene, node, folder / ("segmentation.seg.nrrd" if is_result else "annotation.seg.nrrd"))
        entry = self.entries[volume.GetID()]
        entry["annotation"] = "result" if is_result else "annotation.seg.nrrd"
        entry["reviewed"] = node.GetAttribute(REVIEWED) == "1"
        self._write_index()

    def forget(self, node) -> None:
        """A node removed from the scene is no longer anyone's annotation."""
        for vid, ann in list(self.annotations.items()):
            if ann is node:
                self.annotations.pop(vid)

    # -- restart ------------------------------------------------------------------------------
    def saved_cases(self) -> list[dict]:
        try:
            return json.loads((self.folder / INDEX).read_text()).get("cases", [])
        except (OSError, ValueError):
            return []

    def restore(self, open_volume) -> list:
        """Open the saved cases (``open_volume(path, name) -> node``) with their results and annotations.
        A case whose image is gone is skipped with a log line; the others still come back."""
        volumes = []
        for entry in self.saved_cases():
            try:
                volume = open_volume(Path(entry["image"]), entry["name"])
            except Exception as exc:  # noqa: BLE001  one lost file must not stop the others
                log.warning("could not reopen case %s: %s", entry.get("name"), exc)
                continue
            self.entries[volume.GetID()] = {k: v for k, v in entry.items()}
            self._restoring = True
            try:
                self._restore_outputs(volume, entry)
            except Exception as exc:  # noqa: BLE001
                log.warning("could not restore the outputs of %s: %s", entry.get("name"), exc)
            finally:
                self._restoring = False
            volumes.append(volume)
        self._write_index()
        return volumes

    def _restore_outputs(self, volume, entry) -> None:
        from sgrs.data.image_io import read_image
        from SGRSSegmentLib import result_nodes
        from SGRSSegmentLib.labels import mark_reviewed
        from SGRSSegmentLib.parameters import SegmentResult
        from SGRSSegmentLib.session import done_message

        folder, base = self.folder / entry["key"], volume.GetName()
        result = None
        if entry.get("result") and (folder / "segmentation.seg.nrrd").exists():
            summary = json.loads((folder / "summary.json").read_text())
            seg = read_segmentation(self.scene, folder / "segmentation.seg.nrrd", volume, f"{base} SGRS segmentation")
            entropy, _ = result_nodes.add_entropy_map(self.scene, volume, read_image(folder / "entropy.nrrd")[0]
                                                      .astype("uint8"), f"{base} SGRS uncertainty")
            regions = table = None
            if (folder / "regions.nrrd").exists():
                regions, _ = result_nodes.add_region_map(self.scene, volume, read_image(folder / "regions.nrrd")[0]
                                                         .astype("uint8"), f"{base} SGRS regions")
                table = result_nodes.add_statistics_table(self.scene, summary, f"{base} SGRS region statistics")
            result = SegmentResult(seg, regions, entropy, table, summary)
            self.results[volume.GetID()] = result
            self.status[volume.GetID()] = done_message(summary)
        annotation = entry.get("annotation")
        node = None
        if annotation == "result" and result is not None:
            node = result.segmentation
        elif annotation and (folder / annotation).exists():
            node = read_segmentation(self.scene, folder / annotation, volume, f"{base} annotation")
        if node is not None:
            if entry.get("reviewed"):
                mark_reviewed(node)
            node.GetDisplayNode().SetVisibility(False)
            self.annotations[volume.GetID()] = node


def write_segmentation(scene, node, path: Path) -> Path:
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    try:
        storage.SetFileName(str(path))
        if not storage.WriteData(node):
            raise OSError(f"{path.name}: Slicer could not write the segmentation")
    finally:
        scene.RemoveNode(storage)
    return path


def read_segmentation(scene, path: Path, volume, name: str):
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    try:
        storage.SetFileName(str(path))
        if not storage.ReadData(node):
            scene.RemoveNode(node)
            raise OSError(f"{path.name}: Slicer could not read the segmentation")
    finally:
        scene.RemoveNode(storage)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    return node
