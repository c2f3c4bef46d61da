"""The database file on disk: created 0600 and fsync'd, its sidecars' modes aligned, its identity."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def prepare_file(path: Path) -> None:
    """Create the database file 0600 if missing; align stray -wal/-shm files with its mode."""
    if not path.exists():
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(path.parent)
    align_sidecars(path)


def align_sidecars(path: Path) -> None:
    """Give the -wal, -shm and -journal files the database file's mode (SQLite uses the umask)."""
    mode = stat.S_IMODE(path.stat().st_mode) & 0o666
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(sidecar.stat().st_mode) != mode:
                os.chmod(sidecar, mode)


def fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (the file's own fsync does not cover its name)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_identity(path: Path) -> tuple[int, int]:
    """(device, inode): changes when the file is replaced under an open store."""
    st = path.stat()
    return (st.st_dev, st.st_ino)
