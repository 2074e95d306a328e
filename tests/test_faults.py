"""Fault injection: every writing command leaves data/ either as it was or fully updated.

Each case runs the real command line in a subprocess on a copy of data/ and stops it at one
step of its commit (SIGKILL, SIGTERM or Ctrl-C, injected by replacing
``analysis.io.storage._checkpoint``, which the commit calls between its steps); then the next
command runs and the SHA-256 of every file of data/ is compared with the state before the
command and with the state a complete run produces. Also: two writers at once, a failing
second write, read-only files, file modes, a full disk (a small tmpfs where the machine allows
mounting one), Ctrl-C and a closed pipe.
"""
from __future__ import annotations

import csv
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analysis.io import storage
from conftest import snapshot

REPO = Path(__file__).resolve().parent.parent
EXPORTS = Path(__file__).resolve().parent / "fixtures" / "exports"

# Runs the command line with storage._checkpoint replaced: FAULT_HOW=record writes the name of
# every step to FAULT_LOG; kill / term / interrupt stop the process at step FAULT_AT.
RUNNER = textwrap.dedent("""
    import os, signal, sys
    from analysis.commands import cli
    from analysis.io import storage

    def checkpoint(step):
        how = os.environ.get("FAULT_HOW", "none")
        if how == "record":
            with open(os.environ["FAULT_LOG"], "a", encoding="utf-8") as log:
                log.write(step + "\\n")
        elif how != "none" and step == os.environ.get("FAULT_AT"):
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif how == "term":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt

    storage._checkpoint = checkpoint
    sys.exit(cli.main(sys.argv[1:]))
""")


def run(data: Path, *args: str, **fault: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "REVIEW_DATA_DIR": str(data), "PYTHONPATH": str(REPO),
           **{f"FAULT_{k.upper()}": v for k, v in fault.items()}}
    return subprocess.run([sys.executable, "-c", RUNNER, *args], env=env, capture_output=True,
                          text=True, timeout=300)


def fresh(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(REPO / "data", target)
    return target


def nbib(path: Path, title: str) -> Path:
    path.write_text(f"PMID- 99{abs(hash(title)) % 10**6:06d}\nTI  - {title}\nAU  - Tester A\n"
                    f"DP  - 2026\nJT  - Journal of Fault Injection\n", encoding="utf-8")
    return path


def import_args(export: Path) -> tuple[str, ...]:
    return ("import", str(export), "--question", "q2", "--source", "MEDLINE (PubMed)",
            "--query", "fault injection[ti]", "--date", "2026-11-25")


def decisions(path: Path, reviewer: str) -> Path:
    """Two title/abstract decisions on first-round q2 records that ``reviewer`` has not made."""
    path.write_text("record_id,stage,reviewer,decision,reason,note\n"
                    f"R0001,title_abstract,{reviewer},include,,\n"
                    f"R0002,title_abstract,{reviewer},exclude,not a controlled trial,\n",
                    encoding="utf-8")
    return path


def release_args() -> tuple[str, ...]:
    return ("release", "--summary", "fault injection", "--date", "2026-11-29", "--kind", "patch")


def _case(tmp_path: Path, name: str):
    """(arguments, files written) of one writing command on its own copy of data/."""
    if name == "import":
        return import_args(nbib(tmp_path / "export.nbib", "A record that only the fault tests import"))
    if name == "screen":
        return ("screen", str(decisions(tmp_path / "decisions.csv", "reviewer_7")), "--question", "q2")
    return release_args()


@pytest.mark.parametrize("command", ["import", "screen", "release"])
def test_kill_at_every_step_leaves_old_or_new_state(tmp_path, command):
    args = _case(tmp_path, command)
    complete = fresh(tmp_path, "complete")
    log = tmp_path / "steps.txt"
    done = run(complete, *args, how="record", log=str(log))
    assert done.returncode == 0, done.stderr
    steps = log.read_text(encoding="utf-8").splitlines()
    assert steps[:2] == ["staged", "journal written"] and steps[-1] == "committed"
    replaced = sum(step.startswith("replaced ") for step in steps)
    if command == "release":  # its log, results and head, then the sidecars and the archive
        assert replaced >= 3
    else:
        assert replaced == {"import": 2, "screen": 1}[command]
    new_state = snapshot(complete)

    for number, step in enumerate(steps):
        # SIGKILL at every step; SIGTERM (handled like Ctrl-C) in the middle of the commit
        for how in ("kill", "term") if step == "journal written" else ("kill",):
            data = fresh(tmp_path, f"{how}{number}")
            old_state = snapshot(data)
            stopped = run(data, *args, how=how, at=step)
            assert stopped.returncode != 0, f"{command} was not stopped at {step!r}"
            assert "Traceback" not in stopped.stderr
            if how == "term":  # SIGTERM rolls back at once, like Ctrl-C
                assert stopped.returncode == 130 and "interrupted;" in stopped.stderr
            notice = storage.recover(data)  # what the next command does first (in-process here)
            state = snapshot(data)
            if step == "committed":
                assert state == new_state, f"{how} at {step!r}"
            else:
                assert state == old_state, f"{how} at {step!r}: data/ is neither old nor new"
            if how == "kill" and step not in ("staged", "committed"):
                assert notice.startswith("rolled back "), notice


def test_ctrl_c_during_the_commit_rolls_back_and_says_so(tmp_path):
    data = fresh(tmp_path, "data")
    before = snapshot(data)
    export = nbib(tmp_path / "export.nbib", "Interrupted import")
    stopped = run(data, *import_args(export), how="interrupt", at="replaced q2_interventions/searches/searches.csv")
    if stopped.returncode == 0:  # the log happened to be written first: stop at the other file
        pytest.fail("the interrupt step was not reached")
    assert stopped.returncode == 130
    assert "interrupted; rolled back import of export.nbib" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert snapshot(data) == before
    again = run(data, *import_args(export))
    assert again.returncode == 0, again.stderr  # the interrupted import can simply be run again


def test_ctrl_c_before_the_commit_changes_nothing(tmp_path):
    data = fresh(tmp_path, "data")
    before = snapshot(data)
    stopped = run(data, "screen", str(decisions(tmp_path / "d.csv", "reviewer_7")), "--question", "q2",
                  how="interrupt", at="staged")
    assert stopped.returncode == 130
    assert stopped.stderr.strip() == "interrupted; nothing was changed"
    assert snapshot(data) == before


def test_a_second_writer_is_refused_at_once_with_who_and_since(tmp_path):
    data = fresh(tmp_path, "data")
    with storage.data_lock(data):
        before = snapshot(data)
        refused = run(data, "screen", str(decisions(tmp_path / "d.csv", "reviewer_7")), "--question", "q2")
        assert snapshot(data) == before
    assert refused.returncode == 1
    assert f"another command is writing to {data} since " in refused.stderr
    assert f"pid {os.getpid()}" in refused.stderr
    assert not (data / storage.LOCK_FILE).exists()  # no trace once the lock is released


def _parallel(data: Path, commands: list[tuple[str, ...]]) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "REVIEW_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    processes = [subprocess.Popen([sys.executable, "-m", "analysis", *args], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in commands]
    results = []
    for args, process in zip(commands, processes):
        out, err = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return results


def test_two_reviewers_screening_at_once_never_lose_a_decision(tmp_path):
    for trial in range(2):
        data = fresh(tmp_path, f"data{trial}")
        forms = [decisions(tmp_path / f"r{i}.csv", f"reviewer_{i}") for i in (7, 8)]
        results = _parallel(data, [("screen", str(form), "--question", "q2") for form in forms])
        with (data / "q2_interventions" / "screening.csv").open(newline="", encoding="utf-8") as stream:
            stored = {(row["record_id"], row["reviewer"]) for row in csv.DictReader(stream)}
        for reviewer, result in zip((7, 8), results):
            if result.returncode == 0:
                assert "2 decision(s) appended" in result.stdout
                assert {("R0001", f"reviewer_{reviewer}"), ("R0002", f"reviewer_{reviewer}")} <= stored
            else:  # refused while the other wrote: says so, and wrote nothing of its own
                assert result.returncode == 1 and "another command is writing" in result.stderr
                assert ("R0001", f"reviewer_{reviewer}") not in stored


def test_two_imports_at_once_never_share_a_search_id(tmp_path):
    data = fresh(tmp_path, "data")
    exports = [nbib(tmp_path / f"e{i}.nbib", f"Concurrent import number {i}") for i in (1, 2)]
    results = _parallel(data, [import_args(export) for export in exports])
    with (data / "q2_interventions" / "searches" / "searches.csv").open(newline="", encoding="utf-8") as stream:
        log = list(csv.DictReader(stream))
    ids = [row["search_id"] for row in log]
    assert len(ids) == len(set(ids))
    assert len(log) == 1 + sum(result.returncode == 0 for result in results)
    for result in results:
        assert result.returncode == 0 or "another command is writing" in result.stderr
    files = sorted(p.name for p in (data / "q2_interventions" / "searches").iterdir())
    assert len(files) == len(log) + 1  # one export per log row (the first round's is records.csv) + the log


def test_a_failing_second_write_of_a_release_changes_nothing(tmp_path, monkeypatch, capsys):
    from analysis.commands import cli

    data = fresh(tmp_path, "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(data))
    before = snapshot(data)
    real_replace, calls = os.replace, []

    def replace(source, target):
        if ".transaction/new/" in str(source):
            calls.append(target)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    assert cli.main(list(release_args())) == 1
    err = capsys.readouterr().err
    assert "rolled back, nothing was changed" in err and "Traceback" not in err
    assert len(calls) == 2
    assert snapshot(data) == before
    monkeypatch.setattr(os, "replace", real_replace)
    assert cli.main(list(release_args())) == 0  # and the next release is not refused


def test_a_read_only_file_is_refused_not_replaced(tmp_path):
    data = fresh(tmp_path, "data")
    target = data / "q2_interventions" / "screening.csv"
    target.chmod(0o444)
    before = snapshot(data)
    refused = run(data, "screen", str(decisions(tmp_path / "d.csv", "reviewer_7")), "--question", "q2")
    assert refused.returncode == 1
    assert f"{target} is read-only; nothing was changed" in refused.stderr
    assert snapshot(data) == before and stat.S_IMODE(target.stat().st_mode) == 0o444


def test_files_keep_their_mode_and_new_files_follow_the_umask(tmp_path):
    data = fresh(tmp_path, "data")
    log = data / "q2_interventions" / "searches" / "searches.csv"
    log.chmod(0o640)
    export = nbib(tmp_path / "export.nbib", "Mode test")
    previous = os.umask(0o027)
    try:
        done = run(data, *import_args(export))
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o640
    stored = next(p for p in log.parent.iterdir() if p.suffix == ".nbib")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o640  # 0666 less the umask 027
    form = tmp_path / "form.csv"
    previous = os.umask(0o022)
    try:
        assert run(data, "queue", "--question", "q2", "--out", str(form)).returncode == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(form.stat().st_mode) == 0o644  # not 0600


def test_a_full_disk_leaves_the_data_as_they_were(tmp_path):
    """data/ on a 2 MB tmpfs, filled up: the import's staging fails and nothing changes."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({mounted.stderr.strip() or 'mount failed'})")
    try:
        data = mount / "data"
        shutil.copytree(REPO / "data", data)
        filler = mount / "filler"
        with filler.open("wb") as stream:
            try:
                while True:
                    stream.write(b"\0" * 65536)
            except OSError:
                pass
        before = snapshot(data)
        big = tmp_path / "big.nbib"
        big.write_text("".join(f"PMID- {900000 + i}\nTI  - Full disk record {i}\nDP  - 2026\n\n"
                               for i in range(3000)), encoding="utf-8")
        refused = run(data, *import_args(big))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert snapshot(data) == before
        assert not (data / storage.STAGING_DIR).exists()
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_closed_pipe_ends_quietly(tmp_path):
    data = fresh(tmp_path, "data")
    env = {**os.environ, "REVIEW_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    piped = subprocess.run(f"{sys.executable} -m analysis release --summary x --dry-run "
                           f"2>{tmp_path / 'err'} | true", shell=True, env=env, cwd=REPO, timeout=300)
    assert piped.returncode == 0  # the pipeline's status is that of `true`
    assert (tmp_path / "err").read_text() == ""


def test_safe_relative_refuses_paths_that_leave_the_folder(tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "link").symlink_to(tmp_path)
    for bad in ("/etc/passwd", "../x", "a/../../x", "", ".hidden/x", "link/x"):
        with pytest.raises(storage.PathError):
            storage.safe_relative(bad, tmp_path / "inside")
    assert str(storage.safe_relative("searches/a.ris", tmp_path)) == "searches/a.ris"


def test_an_interrupted_staging_is_dropped_and_reported(tmp_path):
    data = fresh(tmp_path, "data")
    before = snapshot(data)
    staging = data / storage.STAGING_DIR / "new" / "q1_webhelp"
    staging.mkdir(parents=True)
    (staging / "screening.csv").write_text("half", encoding="utf-8")
    assert storage.recover(data).startswith("removed the staged files")
    assert snapshot(data) == before


def test_sigkill_during_the_commit_is_rolled_back_by_the_next_command_with_a_note(tmp_path):
    data = fresh(tmp_path, "data")
    before = snapshot(data)
    form = decisions(tmp_path / "d.csv", "reviewer_7")
    stopped = run(data, "screen", str(form), "--question", "q2", how="kill",
                  at="replaced q2_interventions/screening.csv")
    assert stopped.returncode == -signal.SIGKILL
    following = run(data, "queue", "--question", "q2")
    assert following.returncode == 0
    assert "note: rolled back screen d.csv into q2_interventions" in following.stderr
    assert snapshot(data) == before


def test_an_export_left_outside_the_log_is_reported(tmp_path):
    data = fresh(tmp_path, "data")
    stray = data / "q2_interventions" / "searches" / "2026-11-25_S002_medline-pubmed.nbib"
    nbib(stray, "Left behind by an import killed before the transactions existed")
    found = run(data, "check")
    assert found.returncode == 1
    assert "q2_interventions/searches/2026-11-25_S002_medline-pubmed.nbib:-:-: a search export that " \
           "the search log does not list" in found.stdout
    again = run(data, *import_args(nbib(tmp_path / "e.nbib", "Another record")))
    assert again.returncode == 1 and "already exists but is not in the search log" in again.stderr


def test_ctrl_c_after_the_commit_does_not_claim_nothing_changed(tmp_path, monkeypatch, capsys):
    """Ctrl-C while `import` prints its summary (after its files were written)."""
    from analysis.commands import cli
    from analysis.search import dedup

    data = fresh(tmp_path, "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(data))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dedup, "new_records_summary", interrupted)  # called after the commit
    assert cli.main(list(import_args(nbib(tmp_path / "e.nbib", "Printed when interrupted")))) == 130
    err = capsys.readouterr().err
    assert "interrupted after the command had finished writing: search S002 was imported" in err
    assert "S002" in (data / "q2_interventions" / "searches" / "searches.csv").read_text(encoding="utf-8")
