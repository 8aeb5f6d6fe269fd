"""Reading the files of an uploaded zip (a CT series, say) without trusting it.

Nothing is extracted to disk: members are read into memory one at a time after their names
and sizes are checked. Refused: paths that are absolute or climb out with ``..``, links, too
many members, too many bytes once uncompressed, and members compressed so well that they are
likely a zip bomb.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from django.utils.translation import gettext as _

from lesions_project.errors import ApplicationError

MAX_MEMBERS = 5000
MAX_TOTAL_BYTES = 4 * 1024 ** 3
MAX_RATIO = 200  # uncompressed / compressed; DICOM rarely compresses beyond about 10




@dataclass(frozen=True)
class Member:
    name: str
    data: bytes


def read_members(fileobj: IO[bytes], *, max_members: int = MAX_MEMBERS,
                 max_total_bytes: int = MAX_TOTAL_BYTES, max_ratio: int = MAX_RATIO) -> Iterator[Member]:
    """The regular files of a zip, checked before any is read; folders and macOS metadata
    (``__MACOSX/``, ``.DS_Store``) are skipped."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ApplicationError(_("This file is not a zip archive we can read."), field="file") from None
    with archive:
        entries = [e for e in archive.infolist() if not e.is_dir() and not _is_metadata(e.filename)]
        if len(entries) > max_members:
            raise ApplicationError(_("The zip holds more than %(count)d files.") % {"count": max_members}, field="file")
        total = 0
        for entry in entries:
            _check_name(entry.filename)
            if stat.S_ISLNK(entry.external_attr >> 16):
                raise ApplicationError(_("The zip contains a link (%(name)s); links are not accepted.")
                                       % {"name": entry.filename}, field="file")
            total += entry.file_size
            if total > max_total_bytes:
                raise ApplicationError(_("The zip is too large once unpacked."), field="file")
            if entry.compress_size and entry.file_size / entry.compress_size > max_ratio:
                raise ApplicationError(_("The zip looks like a zip bomb (a file compressed far "
                                         "more than medical images can be)."), field="file")
        for entry in entries:
            with archive.open(entry) as member:
                data = member.read(entry.file_size + 1)
            if len(data) != entry.file_size:  # the header lied about the size
                raise ApplicationError(_("The zip is damaged."), field="file")
            yield Member(entry.filename, data)


def _is_metadata(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and (parts[0] == "__MACOSX" or parts[-1] == ".DS_Store")


def _check_name(name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ApplicationError(_("The zip contains an unsafe path (%(name)s).") % {"name": name}, field="file")
