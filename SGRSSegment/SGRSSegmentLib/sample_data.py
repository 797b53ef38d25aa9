"""The bundled demo phantom as a Sample Data source (issue 8, item 15).

``SampleData.SampleDataLogic.registerCustomSampleDataSource(**demo_sample_source())`` in the module
(same keyword names in Slicer 5.8, 5.10, 5.12). The URI must be a ``file:`` URL (a bare path is not a
URL, and ``C:\\...`` would parse as scheme ``c``); Slicer copies it into its cache and reuses a cached
file by name, so the name carries the checksum.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import sgrs

DEMO_IMAGE = Path(sgrs.__file__).resolve().parents[1] / "Resources" / "Demo" / "sample" / "image.nrrd"


def demo_sample_source(image: Path = DEMO_IMAGE, thumbnail: str | None = None) -> dict:
    digest = hashlib.sha256(Path(image).read_bytes()).hexdigest()
    return {"category": "SGRS", "sampleName": "SGRSDemoPhantom", "uris": Path(image).resolve().as_uri(),
            "fileNames": f"SGRSDemoPhantom-{digest[:12]}.nrrd", "nodeNames": "SGRS demo phantom",
            "checksums": f"SHA256:{digest}", "loadFileTypes": "VolumeFile", "thumbnailFileName": thumbnail}


def register_demo_sample() -> None:
    """Slicer: list the demo phantom in the Sample Data module (called once startup completed)."""
    import SampleData  # a Slicer module: loaded by then
    SampleData.SampleDataLogic.registerCustomSampleDataSource(**demo_sample_source())
