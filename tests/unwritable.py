"""Audit-log paths that cannot be written: a full device and a read-only file, for the tests that a write
is refused before anything is sent, and reported as such, when its audit line cannot be made durable."""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["FULL_DEVICE", "read_only_file", "unwritable_audit_log"]

FULL_DEVICE = Path("/dev/full")  # every write fails with ENOSPC, as on a full disk

# linux/fs.h: root writes through file modes, but not through the immutable attribute.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IMMUTABLE_FL = 0x10


def _set_immutable(path: Path, on: bool) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        flags[0] = flags[0] | _FS_IMMUTABLE_FL if on else flags[0] & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _writable(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return False
    os.close(fd)
    return True


@contextlib.contextmanager
def read_only_file(path: Path) -> Iterator[Path]:
    """An existing, empty file nobody (root included) may write while the context lasts."""
    path.write_text("")
    path.chmod(0o444)
    immutable = os.geteuid() == 0 and _set_immutable(path, True)
    try:
        if _writable(path):
            pytest.skip("this file system cannot make a file read-only for this user")
        yield path
    finally:
        if immutable:
            _set_immutable(path, False)
        path.chmod(0o644)


@pytest.fixture(params=["full device", "read-only file"])
def unwritable_audit_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """Each way an audit log can refuse a line at the moment of a write."""
    if request.param == "full device":
        yield FULL_DEVICE
        return
    with read_only_file(tmp_path / "audit.jsonl") as path:
        yield path
