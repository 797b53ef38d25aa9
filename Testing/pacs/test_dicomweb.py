"""DICOMweb against a real Orthanc (DICOMweb plugin, authentication on): list, pull, segment, push and
read the stored SEG back; a server that is down, refused credentials and a non-image series each give one
clear line while the batch goes on; the credentials never reach an output, a log or summary.json."""
import csv
import io
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import ROOT
from pacs_fixtures import (  # noqa: F401 (fixtures)
    DEMO,
    PASSWORD,
    REPORT_UID,
    SERIES_UID,
    STUDY_UID,
    USER,
    ct_roi,
    ct_series,
    orthanc,
)

import dciodvfy
from sgrs.data import dicomweb
from sgrs.data.credentials import PASSWORD as PASSWORD_VAR
from sgrs.data.credentials import USER as USER_VAR
from sgrs.util.errors import InputError

CREDENTIALS = {USER_VAR: USER, PASSWORD_VAR: PASSWORD}


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGRS_DICOMWEB_") and k != "NETRC"}
    return {**env, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "sgrs", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def read_csv(path):
    with open(path, newline="") as f:
        return {r["case"]: r for r in csv.DictReader(f)}


def everything_written(folder, result) -> str:
    texts = [result.stdout, result.stderr]
    texts += [p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()]
    return "\n".join(texts)


def test_list_studies_and_series(orthanc):
    env = clean_env(**CREDENTIALS)
    studies = run_cli("dicomweb", orthanc.dicomweb, env=env)
    assert studies.returncode == 0, studies.stderr
    assert "1 studies on" in studies.stdout and STUDY_UID in studies.stdout and "CT" in studies.stdout
    series = run_cli("dicomweb", f"{orthanc.dicomweb}/studies/{STUDY_UID}", "--json", env=env)
    assert series.returncode == 0, series.stderr
    listed = json.loads(series.stdout)
    assert listed[0] == {"uid": SERIES_UID, "modality": "CT", "description": "CT Body 3.0", "instances": 20,
                         "number": None}
    assert {"uid": REPORT_UID, "modality": "SR", "description": "dose report", "instances": 1,
            "number": None} in listed


def test_pull_segment_push_and_read_the_stored_seg_back(orthanc, ct_roi, tmp_path):
    import highdicom as hd
    import pydicom

    out = tmp_path / "out"
    url = f"{orthanc.dicomweb}/studies/{STUDY_UID}"  # the study: its largest image series is segmented
    done = run_cli("segment", url, "--model", DEMO, "--out", out, "--device", "cpu", "--push", "--roi", *ct_roi,
                   env=clean_env(**CREDENTIALS))
    assert done.returncode == 0, done.stderr[-3000:]
    case = out / STUDY_UID
    summary = json.loads((case / "summary.json").read_text())
    assert summary["scan"]["series"]["uid"] == SERIES_UID and summary["input"] == url
    assert summary["dicom_seg"]["pushed_to"] == orthanc.dicomweb
    assert read_csv(out / "results.csv")[STUDY_UID]["status"] == "done"
    assert not list(case.glob(".pull-*"))  # the pulled series is not kept

    # read it back from Orthanc through its own REST API (not through the code under test)
    s = orthanc.session()
    found = s.post(f"{orthanc.rest}/tools/find", json={"Level": "Instance", "Query": {"Modality": "SEG"}},
                   timeout=30).json()
    stored = [pydicom.dcmread(io.BytesIO(s.get(f"{orthanc.rest}/instances/{i}/file", timeout=30).content))
              for i in found]
    (seg,) = [d for d in stored if d.SOPInstanceUID == summary["dicom_seg"]["sop_uid"]]
    seg.save_as(tmp_path / "stored.seg.dcm")
    dciodvfy.assert_valid(tmp_path / "stored.seg.dcm")
    seg = hd.seg.Segmentation.from_dataset(seg)
    assert seg.StudyInstanceUID == STUDY_UID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == SERIES_UID
    order = summary_sorted_uids(case, orthanc)
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=order, segment_numbers=[1, 2, 3],
                                               combine_segments=False)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "label.nrrd")))
    regions = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "regions.nrrd")))
    assert label.sum() > 0
    assert np.array_equal(pixels[..., 0], label == 1)
    assert np.array_equal(pixels[..., 1], regions == 3) and np.array_equal(pixels[..., 2], regions == 2)
    # the secret reached no output: not the terminal, the summary, the CSV or the SEG
    assert PASSWORD not in everything_written(out, done)


def summary_sorted_uids(case, orthanc):
    """The CT's instance UIDs along the slice normal, from Orthanc's own tags."""
    s = orthanc.session()
    tags = s.get(f"{orthanc.rest}/series/{orthanc_series_id(orthanc)}/instances-tags?simplify", timeout=30).json()
    rows = [(float(t["ImagePositionPatient"].split("\\")[2]), t["SOPInstanceUID"]) for t in tags.values()]
    return [uid for _, uid in sorted(rows)]


def orthanc_series_id(orthanc) -> str:
    s = orthanc.session()
    return s.post(f"{orthanc.rest}/tools/lookup", data=SERIES_UID, timeout=30).json()[0]["ID"]


def test_down_server_and_non_image_series_fail_in_one_line_and_the_batch_goes_on(orthanc, ct_roi, tmp_path):
    from orthanc_server import free_port

    down = f"http://127.0.0.1:{free_port()}/dicom-web/studies/{STUDY_UID}"
    report = f"{orthanc.dicomweb}/studies/{STUDY_UID}/series/{REPORT_UID}"
    good = f"{orthanc.dicomweb}/studies/{STUDY_UID}/series/{SERIES_UID}"
    todo = tmp_path / "todo.txt"
    todo.write_text("\n".join([down, report, good]) + "\n")
    out = tmp_path / "out"
    done = run_cli("segment", todo, "--model", DEMO, "--out", out, "--device", "cpu", "--roi", *ct_roi,
                   "--no-regions", env=clean_env(**CREDENTIALS))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    rows = read_csv(out / "results.csv")
    assert [r["status"] for r in rows.values()] == ["failed", "failed", "done"]
    assert "cannot reach the DICOMweb server (down, or wrong host/port)" in rows[STUDY_UID]["error"]
    assert "series is SR, not an image series" in rows[REPORT_UID]["error"]
    failures = [line for line in done.stderr.splitlines() if line.startswith("sgrs: ")]
    assert len(failures) == 2 and all(line.count("\n") == 0 for line in failures)


def test_refused_credentials_give_one_line_never_the_secret_and_a_local_case_still_runs(
        orthanc, ct_series, ct_roi, tmp_path):
    wrong = "wrong-" + PASSWORD
    out = tmp_path / "out"
    done = run_cli("segment", f"{orthanc.dicomweb}/studies/{STUDY_UID}", ct_series, "--model", DEMO, "--out", out,
                   "--device", "cpu", "--roi", *ct_roi, "--no-regions",
                   env=clean_env(**{USER_VAR: USER, PASSWORD_VAR: wrong}))
    assert done.returncode == 1
    rows = read_csv(out / "results.csv")
    assert rows[STUDY_UID]["status"] == "failed" and rows[ct_series.name]["status"] == "done"
    assert "refused the credentials (HTTP 401)" in rows[STUDY_UID]["error"]
    written = everything_written(out, done)
    assert wrong not in written and PASSWORD not in written

    nothing = run_cli("dicomweb", orthanc.dicomweb, env=clean_env())
    assert nothing.returncode == 1 and nothing.stderr.count("\n") == 1
    assert "refused the credentials (HTTP 401)" in nothing.stderr


def test_credentials_from_a_netrc_file_and_never_from_the_url(orthanc, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    listed = run_cli("dicomweb", orthanc.dicomweb, env=clean_env(NETRC=str(netrc)))
    assert listed.returncode == 0, listed.stderr
    assert STUDY_UID in listed.stdout and PASSWORD not in listed.stdout + listed.stderr
    inline = orthanc.dicomweb.replace("http://", f"http://{USER}:{PASSWORD}@")
    refused = run_cli("dicomweb", inline, env=clean_env())
    assert refused.returncode == 1 and "not in the URL" in refused.stderr
    assert PASSWORD not in refused.stderr + refused.stdout


def test_no_log_line_holds_the_secret_even_at_debug_level(orthanc, tmp_path, monkeypatch, caplog):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SGRS_DICOMWEB_TOKEN", raising=False)
    caplog.set_level(logging.DEBUG)  # every logger: ours, dicomweb_client, requests, urllib3
    assert dicomweb.list_studies(orthanc.dicomweb)[0]["uid"] == STUDY_UID
    pulled = dicomweb.retrieve(dicomweb.Reference.parse(f"{orthanc.dicomweb}/studies/{STUDY_UID}"), tmp_path / "pull")
    assert len(list(pulled.iterdir())) == 20
    assert caplog.records and PASSWORD not in caplog.text
    monkeypatch.setenv(PASSWORD_VAR, "nope")
    with pytest.raises(InputError, match="refused the credentials") as refused:
        dicomweb.list_studies(orthanc.dicomweb)
    assert "nope" not in str(refused.value) and "nope" not in caplog.text
