"""Every write to ``data/`` is one transaction: locked, staged, validated, all files or none.

A writing command (``import``, ``screen``, ``release``, ``full-text-arrived``) opens
:func:`transaction`, which

1. takes an exclusive lock on the data folder (``flock`` on the folder, released by the
   operating system when the process ends, however it ends). A second writer is refused at once
   with "another command is writing since <time>, pid <pid>", never left waiting;
2. rolls back what an earlier, interrupted command left half done (see below) and says so;
3. stages every file the command will write under ``data/.transaction/new/``; a file the user
   made read-only is refused there, before anything is written;
4. validates the staged state with the rules of ``python -m analysis check`` (on a view of
   ``data/`` made of hard links, with the staged files in place): a problem that the current
   data do not already have refuses the whole transaction;
5. commits: a journal lists the files, the originals are kept as hard links under
   ``data/.transaction/backup/``, then each staged file replaces its target (``os.replace``)
   with the target's mode (new files: 0666 less the user's umask). The journal is marked
   committed and the staging folder removed.

If the process stops anywhere in step 5 (Ctrl-C, SIGTERM, SIGKILL, a power cut, a full disk),
the journal survives: an interrupted commit restores every original from its backup (Ctrl-C and
SIGTERM do this at once; after SIGKILL the next command does), so ``data/`` holds either the
old state or the new one, never a mix. Staging that never reached the journal is simply dropped.

The library never prints: what was rolled back is returned (:func:`recover`) or carried by the
exception (:class:`Interrupted`) for the command line to say.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

__all__ = ["StorageError", "LockedError", "ReadOnlyError", "PathError", "ValidationFailed",
           "Interrupted", "Transaction", "transaction", "recover", "data_lock",
           "safe_relative", "LOCK_FILE", "STAGING_DIR"]

LOCK_FILE = ".write.lock"
STAGING_DIR = ".transaction"
JOURNAL = "journal.json"


class StorageError(Exception):
    """A write to data/ that was refused; nothing was changed. The message says why."""


class LockedError(StorageError):
    """Another command holds the write lock on data/."""


class ReadOnlyError(StorageError):
    """A file the command would replace is read-only."""


class PathError(StorageError):
    """A path that would resolve outside the data folder, or is not a plain relative path."""


class ValidationFailed(StorageError):
    """The staged state breaks the rules of ``check``; ``problems`` lists the new problems."""

    def __init__(self, problems: list, description: str):
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{description} would leave the data with {len(self.problems)} new "
                         f"problem(s); nothing was changed:\n{lines}")


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM during a write. ``changed`` is False: data/ is as it was (a commit
    that had begun was rolled back, ``rolled_back`` lists its files)."""

    def __init__(self, description: str, rolled_back: list[str]):
        self.description, self.rolled_back, self.changed = description, list(rolled_back), False
        super().__init__(description)


def _checkpoint(step: str) -> None:
    """Called between the steps of a commit; does nothing. The fault-injection tests replace it
    to kill the process at each step."""


# ----------------------------------------------------------------------------- paths

def safe_relative(relative: str | os.PathLike, root: Path) -> PurePosixPath:
    """``relative`` as a path inside ``root``, or PathError: no absolute paths, no ``..``, no
    hidden parts, and no symbolic link that leads out of ``root``."""
    text = os.fspath(relative)
    path = PurePosixPath(text.replace("\\", "/"))
    if not text or path.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise PathError(f"{text!r} is not a path inside {root} (absolute or empty)")
    if any(part in ("..", "") or part.startswith(".") for part in path.parts):
        raise PathError(f"{text!r} is not a path inside {root} ('..' or a hidden part)")
    resolved = (root / path).resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise PathError(f"{text!r} resolves to {resolved}, outside {root}")
    return path


# ----------------------------------------------------------------------------- lock

@contextlib.contextmanager
def data_lock(root: Path) -> Iterator[None]:
    """Hold the exclusive write lock of the data folder, or raise LockedError at once.

    The lock is ``flock`` on the folder itself, which the operating system releases when the
    process ends however it ends; while it is held, ``data/.write.lock`` says who holds it since
    when (the file is removed again when the lock is released, so data/ keeps no trace)."""
    root.mkdir(parents=True, exist_ok=True)
    handle = os.open(root, os.O_RDONLY)
    holder_file = root / LOCK_FILE
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            try:
                holder = holder_file.read_text(encoding="utf-8").split()
            except OSError:
                holder = []
            since = holder[1] if len(holder) > 1 else "a moment ago"
            pid = holder[0] if holder else "unknown"
            raise LockedError(f"another command is writing to {root} since {since}, pid {pid}; "
                              "nothing was changed. Run this command again when it has "
                              "finished") from None
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            with contextlib.suppress(OSError):  # a full disk: the lock holds without the note
                holder_file.write_text(f"{os.getpid()} {stamp}\n", encoding="utf-8")
            yield
        finally:
            holder_file.unlink(missing_ok=True)
    finally:
        os.close(handle)  # closing releases the lock


# ----------------------------------------------------------------------------- recovery

def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _write_journal(staging: Path, journal: dict) -> None:
    temporary = staging / (JOURNAL + ".tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(journal, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, staging / JOURNAL)
    _fsync_dir(staging)


def _roll_back(root: Path, staging: Path, journal: dict) -> list[str]:
    """Put back every original the journal lists; remove files the commit created."""
    restored = []
    for relative in journal["files"]:
        target, backup = root / relative, staging / "backup" / relative
        if relative in journal["created"]:
            if target.exists():
                target.unlink()
                restored.append(relative)
        elif backup.exists():
            os.replace(backup, target)
            restored.append(relative)
    for relative in journal.get("folders", []):
        with contextlib.suppress(OSError):
            (root / relative).rmdir()
    _fsync_dir(root)
    return restored


def _recover_locked(root: Path) -> str | None:
    staging = root / STAGING_DIR
    if not staging.exists():
        return None
    try:
        journal = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        journal = None
    if journal is None or journal.get("state") == "staging":
        shutil.rmtree(staging)
        what = journal["description"] if journal else "an earlier command"
        return f"removed the staged files of {what}, which stopped before writing; data/ was not changed"
    if journal["state"] == "committed":
        shutil.rmtree(staging)
        return None  # every file was in place; only the clean-up was missing
    restored = _roll_back(root, staging, journal)
    shutil.rmtree(staging)
    return (f"rolled back {journal['description']} (pid {journal['pid']}, {journal['started']}), "
            f"which was interrupted while writing: {', '.join(restored) or 'no file'} restored; "
            "data/ is as it was before it")


def recover(root: Path) -> str | None:
    """Roll back an unfinished transaction left by an interrupted command; return what was done
    (None when there was nothing to do). Does nothing while another command holds the lock."""
    if not (root / STAGING_DIR).exists():
        return None
    try:
        with data_lock(root):
            return _recover_locked(root)
    except LockedError:
        return None


# ----------------------------------------------------------------------------- transaction

def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@dataclass
class Transaction:
    """Files staged for one all-or-nothing write to ``root`` (see the module's docstring)."""

    root: Path
    description: str
    staged: dict[str, Path] = field(default_factory=dict)
    recovered: str | None = None
    preexisting_problems: list = field(default_factory=list)
    committed: bool = False

    @property
    def staging(self) -> Path:
        return self.root / STAGING_DIR

    def _stage_path(self, relative: str | os.PathLike) -> tuple[str, Path]:
        path = safe_relative(relative, self.root)
        target = self.root / path
        if target.exists():
            if target.is_dir():
                raise PathError(f"{path} is a folder, not a file")
            if not target.stat().st_mode & stat.S_IWUSR:
                raise ReadOnlyError(f"{target} is read-only; nothing was changed. Make it "
                                    f"writable (chmod u+w) if this change is intended")
        staged = self.staging / "new" / path
        staged.parent.mkdir(parents=True, exist_ok=True)
        return path.as_posix(), staged

    def stage_bytes(self, relative: str | os.PathLike, data: bytes) -> None:
        """Stage the complete new content of ``data/<relative>``."""
        key, staged = self._stage_path(relative)
        with open(staged, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        self.staged[key] = staged

    def stage_text(self, relative: str | os.PathLike, text: str) -> None:
        self.stage_bytes(relative, text.encode("utf-8"))

    def stage_copy(self, relative: str | os.PathLike, source: Path) -> None:
        """Stage a copy of ``source`` (byte for byte) as ``data/<relative>``."""
        key, staged = self._stage_path(relative)
        shutil.copyfile(source, staged)
        with open(staged, "rb+") as stream:
            os.fsync(stream.fileno())
        self.staged[key] = staged

    def current_bytes(self, relative: str | os.PathLike) -> bytes | None:
        """The staged content if staged, else the file's current content (None if absent)."""
        key = safe_relative(relative, self.root).as_posix()
        path = self.staged.get(key, self.root / key)
        return path.read_bytes() if path.exists() else None

    # ---- validation
    def view(self) -> Path:
        """A folder that looks like data/ after the commit: hard links (copies where links are
        not possible) of every file, with the staged files in their place."""
        view = self.staging / "view"
        if view.exists():
            shutil.rmtree(view)
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if relative.parts[0] in (STAGING_DIR, LOCK_FILE) or not path.is_file():
                continue
            destination = view / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)
        for key, staged in self.staged.items():
            destination = view / key
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.unlink(missing_ok=True)
            try:
                os.link(staged, destination)
            except OSError:
                shutil.copy2(staged, destination)
        return view

    def validate(self, problems_of: Callable[[Path], list], *, allow_existing: bool = True) -> None:
        """Refuse (ValidationFailed) when the staged state has a problem, found by
        ``problems_of(folder)``, that the current data do not have (with ``allow_existing``
        False: any problem at all). Problems are compared without their row number, so rows
        shifted by the change do not count as new."""
        def key(problem) -> tuple:
            return (getattr(problem, "file", ""), getattr(problem, "column", ""),
                    getattr(problem, "message", str(problem)))

        before = problems_of(self.root) if allow_existing else []
        after = problems_of(self.view())
        known = {key(p) for p in before}
        new = [p for p in after if key(p) not in known]
        self.preexisting_problems = before
        if new:
            raise ValidationFailed(new, self.description)

    # ---- commit
    def commit(self) -> list[str]:
        """Replace every target by its staged file, all or none; return the files written."""
        if not self.staged:
            return []
        staging = self.staging
        if (staging / "view").exists():
            shutil.rmtree(staging / "view")
        files = sorted(self.staged)
        created = [f for f in files if not (self.root / f).exists()]
        folders = sorted({str(PurePosixPath(f).parent) for f in created
                          if not (self.root / f).parent.exists()})
        journal = {"state": "staging", "description": self.description, "pid": os.getpid(),
                   "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                   "files": files, "created": created, "folders": folders}
        modes = {f: stat.S_IMODE((self.root / f).stat().st_mode) for f in files if f not in created}
        new_mode = _new_file_mode()
        for relative in files:
            os.chmod(self.staged[relative], modes.get(relative, new_mode))
            if relative not in created:
                backup = staging / "backup" / relative
                backup.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(self.root / relative, backup)
                except OSError:
                    shutil.copy2(self.root / relative, backup)
        _checkpoint("staged")
        journal["state"] = "committing"
        _write_journal(staging, journal)
        _checkpoint("journal written")
        try:
            for relative in files:
                target = self.root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.staged[relative], target)
                _fsync_dir(target.parent)
                _checkpoint(f"replaced {relative}")
        except BaseException as error:
            restored = _roll_back(self.root, staging, journal)
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, (KeyboardInterrupt, Interrupted)):
                raise Interrupted(self.description, restored) from None
            raise StorageError(f"{self.description} could not be written ({error}); "
                               f"rolled back, nothing was changed") from error
        journal["state"] = "committed"
        _write_journal(staging, journal)
        _checkpoint("committed")
        shutil.rmtree(staging, ignore_errors=True)
        self.committed = True
        return files


@contextlib.contextmanager
def transaction(root: Path, description: str) -> Iterator[Transaction]:
    """Lock ``root``, roll back any unfinished earlier transaction, and yield a Transaction to
    stage files in; the caller validates and commits. Leaving the block without a commit
    (an error, Ctrl-C) drops the staged files: nothing was changed."""
    with data_lock(root):
        recovered = _recover_locked(root)
        tx = Transaction(root=root, description=description, recovered=recovered)
        try:
            yield tx
        except KeyboardInterrupt:
            raise Interrupted(description, []) from None
        finally:
            if not tx.committed:
                shutil.rmtree(tx.staging, ignore_errors=True)
