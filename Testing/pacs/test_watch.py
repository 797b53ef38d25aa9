"""Issue 27 item 3: ``sgrs watch`` against the real Orthanc — studies arriving during the run (one still growing),
a server restart mid-run, a poison study set aside while the loop goes on, SIGTERM mid-case (nothing pushed, the
restart completes it), resume (nothing pushed twice), filters, pruning, one-line failures and a short soak."""
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from pacs_fixtures import PASSWORD, USER

import orthanc_server
import tiny_studies
import watch_run
from sgrs.data.credentials import PASSWORD as PASSWORD_VAR
from sgrs.data.credentials import USER as USER_VAR

CREDENTIALS = {USER_VAR: USER, PASSWORD_VAR: PASSWORD}
LOOP = ("--settle", "1.5", "--interval", "0.3", "--tries", "2", "--backoff", "0.5", "--heartbeat", "2")


@pytest.fixture
def server(tmp_path):
    why = orthanc_server.available()
    if why:
        pytest.fail(why)
    server = orthanc_server.start(tmp_path / "orthanc", {USER: PASSWORD})
    yield server
    server.stop()


def study(n):
    return tiny_studies.study_uid(n)


def done(n):
    return rf"study {study(n)}: done"


def test_watch_follows_arriving_studies_a_server_restart_and_a_poison_study_and_resumes(server, tmp_path):
    files = {n: tiny_studies.write_study(tmp_path / f"s{n}", n) for n in (1, 3, 4)}
    poison = tiny_studies.write_study(tmp_path / "s2", 2, flat=True)  # no 3D series: refused every time
    server.upload(files[1] + poison)
    out, env = tmp_path / "out", watch_run.env(**CREDENTIALS)
    watch = watch_run.Watch(server.dicomweb, out, tmp_path / "watch.log", *LOOP, environ=env)
    try:
        watch.wait_for(done(1))
        server.upload(files[3][:5])           # a study still arriving: not taken before it has settled
        watch.wait_for(rf"study {study(3)}: new, 5 instances")
        time.sleep(0.6)
        server.upload(files[3][5:])
        watch.wait_for(rf"study {study(3)}: grew to 12 instances")
        watch.wait_for(done(3))
        watch.wait_for(rf"study {study(2)}: set aside after 2 tries")
        server.stop()                         # the server goes away mid-run and comes back on the same storage
        watch.wait_for("poll failed, next try in")
        restarted = orthanc_server.start(tmp_path / "orthanc", {USER: PASSWORD}, port=server.port)
        server.process = restarted.process    # the fixture stops the one running
        server.upload(files[4])
        log = watch.wait_for(done(4))
        watch.wait_for("heartbeat: 4 studies known", count=1)
        assert watch.stop() == 0
    finally:
        watch.kill()
    log = watch.text()
    assert "stopped (SIGTERM/SIGINT)" in log
    summary = json.loads((out / study(3) / "summary.json").read_text())
    assert summary["scan"]["input"]["size"] == [40, 40, 12]  # the whole study, not the first 5 slices
    assert summary["dicom_seg"]["pushed_to"] == server.dicomweb
    pushed = watch_run.pushed_per_study(server)
    assert pushed == {study(n): {"SEG": 1, "SR": 1} for n in (1, 3, 4)}
    assert PASSWORD not in log and "Tiny^" not in log and "TINY-" not in log  # no credentials, no patient
    assert all(len(line) <= 600 for line in log.splitlines())
    # resume: a restart pushes nothing again, the poison study stays aside
    again = watch_run.once(server.dicomweb, out, "--settle", "0", environ=env)
    assert again.returncode == 0, again.stderr
    assert ": done" not in again.stdout and "4 studies known (3 done, 1 set aside)" in again.stdout
    assert watch_run.pushed_per_study(server) == pushed


def test_sigterm_mid_case_pushes_nothing_and_the_restart_completes_it(server, tmp_path):
    server.upload(tiny_studies.write_study(tmp_path / "s5", 5))
    out, env = tmp_path / "out", watch_run.env(**CREDENTIALS)
    watch = watch_run.Watch(server.dicomweb, out, tmp_path / "watch.log", "--settle", "0", "--interval", "0.3",
                            environ=env)
    try:
        end = time.time() + 120
        while not list((out / study(5)).glob(".pull-*/*.dcm")):  # the case has begun: its series is being read
            assert time.time() < end and watch.process.poll() is None, watch.text()
            time.sleep(0.01)
        assert watch.stop() == 0
    finally:
        watch.kill()
    assert "stopped (SIGTERM/SIGINT)" in watch.text() and ": done" not in watch.text()
    assert watch_run.pushed_per_study(server) == {}
    state = json.loads((out / "watch-state.json").read_text())
    assert state["studies"][study(5)]["status"] != "done"
    again = watch_run.once(server.dicomweb, out, "--settle", "0", environ=env)
    assert again.returncode == 0 and done(5).replace("\\", "") in again.stdout, again.stdout + again.stderr
    assert watch_run.pushed_per_study(server) == {study(5): {"SEG": 1, "SR": 1}}


def test_done_again_only_when_the_source_changes_and_a_push_cut_short_is_not_repeated(server, tmp_path):
    from pacs_fixtures import write_report

    server.upload(tiny_studies.write_study(tmp_path / "s9", 9))
    out, env = tmp_path / "out", watch_run.env(**CREDENTIALS)
    first = watch_run.once(server.dicomweb, out, "--settle", "0", environ=env)
    assert done(9).replace("\\", "") in first.stdout, first.stdout + first.stderr
    # a crash between the STOW and its record (SIGKILL, power): the state says "pushing" with the UIDs it sent
    path = out / "watch-state.json"
    state = json.loads(path.read_text())
    state["studies"][study(9)].update(status="pushing", pushed_ok=False, count=12)
    path.write_text(json.dumps(state))
    run = watch_run.once(server.dicomweb, out, "--settle", "0", environ=env)
    assert "found on the server after a stop mid-push" in run.stdout, run.stdout + run.stderr
    assert watch_run.pushed_per_study(server) == {study(9): {"SEG": 1, "SR": 1}}
    # someone else's report in the study: it grew, its source series did not
    import pydicom

    write_report(tmp_path / "report.dcm", study(9))
    report = pydicom.dcmread(tmp_path / "report.dcm")
    report.PatientID, report.PatientName = "TINY-9", "Tiny^9"  # the study's own patient
    report.save_as(tmp_path / "report.dcm")
    server.upload([tmp_path / "report.dcm"])
    run = watch_run.once(server.dicomweb, out, "--settle", "0", environ=env)
    assert "changed, but not its source series: nothing to do" in run.stdout, run.stdout + run.stderr
    assert watch_run.pushed_per_study(server)[study(9)] == {"SEG": 1, "SR": 2}  # the 2nd SR is the report
    # a slice added to the source series: segmented and pushed again
    server.upload(tiny_studies.write_study(tmp_path / "s9b", 9, slices=13)[12:])
    run = watch_run.once(server.dicomweb, out, "--settle", "0", environ=env)
    assert done(9).replace("\\", "") in run.stdout, run.stdout + run.stderr
    assert watch_run.pushed_per_study(server)[study(9)] == {"SEG": 2, "SR": 3}
    summary = json.loads((out / study(9) / "summary.json").read_text())
    assert summary["scan"]["input"]["size"] == [40, 40, 13]


def watch_here(monkeypatch, capsys, url, out, *extra, credentials=True):
    """``sgrs watch --once`` in this process (no segmentation in these runs: no torch start per run)."""
    from sgrs.cli import main
    from sgrs.data.credentials import TOKEN

    for name in (USER_VAR, PASSWORD_VAR, TOKEN, "NETRC", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (CREDENTIALS.items() if credentials else ()):
        monkeypatch.setenv(name, value)
    code = main(watch_run.command(url, out, "--once", *extra)[3:])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_filters_prune_and_failures_are_one_line(server, tmp_path, monkeypatch, capsys):
    server.upload(tiny_studies.write_study(tmp_path / "s6", 6, body_part="HEAD")
                  + tiny_studies.write_study(tmp_path / "s7", 7, study_date="20240101"))
    out = tmp_path / "out"
    code, text = watch_here(monkeypatch, capsys, server.dicomweb, out, "--settle", "0", "--modality", "MR")
    assert code == 0 and "0 studies known" in text, text
    code, text = watch_here(monkeypatch, capsys, server.dicomweb, out, "--settle", "0", "--modality", "CT",
                            "--body-part", "CHEST")
    assert f"study {study(6)}: skipped, no series of body part CHEST" in text, text
    assert study(7) not in text  # StudyDate before --since
    assert watch_run.pushed_per_study(server) == {}
    # a finished study's folder older than --prune-days goes; its record stays, so it is not done again
    (out / "old-case").mkdir()
    state = json.loads((out / "watch-state.json").read_text())
    state["studies"][study(6)]["folder"] = "old-case"
    (out / "watch-state.json").write_text(json.dumps(state))
    (out / "keep-me").mkdir()
    for name in ("old-case", "keep-me"):
        os.utime(out / name, (time.time() - 3 * 86400,) * 2)
    code, text = watch_here(monkeypatch, capsys, server.dicomweb, out, "--settle", "0", "--prune-days", "2")
    assert "pruned 1 output folder(s)" in text and not (out / "old-case").exists(), text
    assert (out / "keep-me").exists()  # not ours: never touched
    # failures: one line each, no traceback, no password
    closed = f"http://127.0.0.1:{orthanc_server.free_port()}/dicom-web"
    cases = {"--ca-bundle": (server.dicomweb, "--ca-bundle", tmp_path / "no.pem"),
             "cannot reach the DICOMweb server": (closed,),
             "not a study": (f"{server.dicomweb}/studies/{study(6)}",),
             "not in the URL": (f"http://{USER}:{PASSWORD}@127.0.0.1:{server.port}/dicom-web",)}
    bad = {words: watch_here(monkeypatch, capsys, args[0], out, *args[1:]) for words, args in cases.items()}
    bad["refused the credentials"] = watch_here(monkeypatch, capsys, server.dicomweb, out, credentials=False)
    for words, (code, text) in bad.items():
        assert code == 1 and words in text, text
        assert "Traceback" not in text and PASSWORD not in text, text
        assert sum(words in line for line in text.splitlines()) == 1, text  # the reason: one line


def test_short_soak_twenty_studies_each_pushed_once_memory_flat(tmp_path):
    if orthanc_server.available():
        pytest.fail(orthanc_server.available())
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pacs" / "watch_soak.py"), "--studies", "20",
                          "--work", str(tmp_path)], capture_output=True, text=True, timeout=600,
                         env=watch_run.env())
    assert run.returncode == 0, run.stdout + run.stderr
    assert "20 of 20 studies done, each with 1 SEG and 1 SR" in run.stdout, run.stdout


def test_tls_is_verified_against_the_hospitals_own_ca(server, tmp_path):
    import tls_proxy

    server_pem, ca, other = tiny_studies.hospital_ca(tmp_path / "tls")
    proxy = tls_proxy.TlsProxy(server_pem, server.port)
    try:
        server.upload(tiny_studies.write_study(tmp_path / "s8", 8))
        env = watch_run.env(**CREDENTIALS)
        untrusted = watch_run.once(proxy.url, tmp_path / "out", "--settle", "0", "--ca-bundle", other, environ=env)
        assert untrusted.returncode == 1 and "TLS certificate is not trusted" in untrusted.stdout, untrusted.stdout
        assert "Traceback" not in untrusted.stdout + untrusted.stderr
        trusted = watch_run.once(proxy.url, tmp_path / "out", "--settle", "0", "--ca-bundle", ca, environ=env)
        assert trusted.returncode == 0 and done(8).replace("\\", "") in trusted.stdout, trusted.stdout
        assert watch_run.pushed_per_study(server) == {study(8): {"SEG": 1, "SR": 1}}
    finally:
        proxy.stop()
