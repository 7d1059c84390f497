"""Files the pipeline keeps for itself on this machine (the Deezer pace file), where no other user can
put one in its way.

A fixed name in the shared temporary folder would let another local user make the pipeline write
where they choose (a symbolic link planted under that name) or stop its work (a file of theirs, or
junk, under that name). So such a file lives in a folder only this user can write:

1. ``.private`` in the folder holding the staging root, when staging is local (``data/.private``);
2. else ``$XDG_RUNTIME_DIR/music-etl`` (the per-user runtime folder the login session provides);
3. else ``<temporary folder>/music-etl-<uid>``.

The folder is created with mode 0700 and checked: a real folder (not a symbolic link), this user's
own, writable by no one else. The file is opened without following a symbolic link (``O_NOFOLLOW``),
not inherited by child processes (``O_CLOEXEC``), created with mode 0600, and checked: a regular
file, this user's own, writable by no one else. What fails a check is refused with one line naming
the path and the fix (``PrivateFileError``, terminal): nothing is written through it.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

from pipeline.errors import TerminalError

FOLDER_NAME = ".private"


class PrivateFileError(TerminalError):
    """A private file or folder that is not safe to use: a symbolic link, another user's, not a file."""


def _refuse(path: str, problem: str, what: str, setting: str) -> PrivateFileError:
    """One line: the path, what is wrong with it, and the fix."""
    where = f", or set {setting} to a file in a folder only you can write" if setting else ""
    remove = "rm -r" if os.path.isdir(path) and not os.path.islink(path) else "rm"
    return PrivateFileError(f"{what} {path} {problem}: refusing to use it; remove it ({remove} {path}){where}")


def _owner_problem(st: os.stat_result) -> str | None:
    if st.st_uid != os.getuid():
        return f"belongs to user id {st.st_uid}, not to you (user id {os.getuid()})"
    return None


def ensure_private_folder(folder: str, what: str = "the private folder", setting: str = "") -> str:
    """``folder``, created 0700 if missing (its parents as any folder), checked to be a real folder of
    this user's that no one else can write (one that only lacks its mode is given it back, being ours)."""
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(folder, 0o700)  # the umask can only take bits away from 0700
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(folder, "is a symbolic link, not a folder", what, setting)
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(folder, "is not a folder", what, setting)
    problem = _owner_problem(st)
    if problem:
        raise _refuse(folder, problem, what, setting)
    if st.st_mode & 0o022:
        # Ours, but others may write into it: take that away (through a descriptor of this very folder).
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
    return folder


def private_folder(what: str = "the private folder", setting: str = "") -> str:
    """This user's folder for the pipeline's own files on this machine (see the module's docstring)."""
    from pipeline import config

    root = config.staging().root.rstrip("/")
    if root and not root.startswith("s3://"):
        folder = os.path.join(os.path.dirname(os.path.normpath(os.path.abspath(root))), FOLDER_NAME)
    elif os.path.isabs(os.environ.get("XDG_RUNTIME_DIR", "")) and os.path.isdir(os.environ["XDG_RUNTIME_DIR"]):
        folder = os.path.join(os.environ["XDG_RUNTIME_DIR"], "music-etl")
    else:
        folder = os.path.join(tempfile.gettempdir(), f"music-etl-{os.getuid()}")
    return ensure_private_folder(folder, what, setting)


def open_private_file(path: str, what: str = "the private file", setting: str = "") -> int:
    """A read-write descriptor of ``path`` (created 0600 if missing), never through a symbolic link, checked
    to be a regular file of this user's that no one else can write; the caller closes it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, "is a symbolic link", what, setting) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise _refuse(path, f"cannot be opened ({exc.strerror}; another user's file?)", what, setting) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, "is not a regular file", what, setting)
        problem = _owner_problem(st)
        if problem:
            raise _refuse(path, problem, what, setting)
        if st.st_mode & 0o022:
            os.fchmod(fd, 0o600)  # ours, written by an older version under a loose umask
    except BaseException:
        os.close(fd)
        raise
    return fd
