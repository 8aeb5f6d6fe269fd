"""Multipart bodies (RFC 2046) read from a stream, as DICOMweb STOW-RS sends them: the body
is read in chunks, the boundary found even when it straddles two reads, and each part
spooled to a temporary file (in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE for the whole
body), so a large CT push goes to disk and is never held twice."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.http import UnreadablePostError
from django.template.defaultfilters import filesizeformat
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _

from lesions_project.errors import ApplicationError

CHUNK_SIZE = 64 * 1024
MAX_PART_HEADER_BYTES = 16 * 1024




@dataclass
class Part:
    headers: dict[str, str]  # names in lower case
    file: IO[bytes]  # positioned at the start once the body is read
    size: int = 0

    @property
    def content_type(self) -> str:
        return parse_header_parameters(self.headers.get("content-type", ""))[0]

    def read_and_close(self) -> bytes:
        data = self.file.read()
        self.file.close()
        return data


def read_parts(stream, *, boundary: str, max_bytes: int, chunk_size: int = CHUNK_SIZE,
               memory_budget: int | None = None) -> list[Part]:
    """The parts of a multipart body read from ``stream`` in chunks; ApplicationError when
    it is malformed or larger than ``max_bytes``. The caller closes the parts' files."""
    scanner = _Scanner(boundary.encode("ascii"),
                       settings.FILE_UPLOAD_MAX_MEMORY_SIZE if memory_budget is None else memory_budget)
    received = 0
    try:
        while not scanner.done:
            try:
                chunk = stream.read(chunk_size)
            except UnreadablePostError:
                raise ApplicationError(_("The request body could not be read to its end.")) from None
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise ApplicationError(too_large(max_bytes), status=413)
            scanner.feed(chunk)
        return scanner.finish()
    except BaseException:
        scanner.close()
        raise


class _Scanner:
    """Splits a body fed in chunks of any size at the delimiters (CRLF "--" boundary), which
    may straddle two chunks; part bodies go to temporary files as they arrive."""

    def __init__(self, boundary: bytes, memory_budget: int) -> None:
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")  # the first delimiter may open the body
        self._state = "preamble"
        self._memory_budget = memory_budget
        self._spooled = 0
        self.parts: list[Part] = []

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while not self.done and self._step():
            pass

    def finish(self) -> list[Part]:
        if not self.done:
            raise ApplicationError(_("The body ends before its closing boundary (truncated?)."))
        if not self.parts:
            raise ApplicationError(_("The body holds no parts."))
        for part in self.parts:
            part.file.seek(0)
        return self.parts

    def close(self) -> None:
        for part in self.parts:
            part.file.close()

    def _step(self) -> bool:
        """Consume what the buffer allows; False when more data is needed."""
        if self._state in ("preamble", "body"):
            return self._step_to_delimiter()
        if self._state == "delimiter":
            return self._step_past_boundary_line()
        return self._step_headers()

    def _step_to_delimiter(self) -> bool:
        buffer, delimiter = self._buffer, self._delimiter
        index = buffer.find(delimiter)
        if index < 0:
            safe = len(buffer) - (len(delimiter) - 1)  # the rest may start a delimiter
            if safe > 0:
                self._write(buffer[:safe])
                del buffer[:safe]
            return False
        self._write(buffer[:index])
        del buffer[:index + len(delimiter)]
        self._state = "delimiter"
        return True

    def _step_past_boundary_line(self) -> bool:
        buffer = self._buffer
        if len(buffer) < 2:
            return False
        if buffer[:2] == b"--":
            self._state = "done"
            return False
        end = buffer.find(b"\r\n")
        if end < 0 and len(buffer) < MAX_PART_HEADER_BYTES:
            return False
        if end < 0 or buffer[:end].strip(b" \t"):  # only padding may follow a boundary
            raise ApplicationError(_("A boundary line is malformed."))
        del buffer[:end + 2]
        self._state = "headers"
        return True

    def _step_headers(self) -> bool:
        """The part's headers, up to an empty line."""
        buffer = self._buffer
        end = 0 if buffer[:2] == b"\r\n" else buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_PART_HEADER_BYTES:
                raise ApplicationError(_("The headers of a part are too long."))
            return False
        headers = _part_headers(bytes(buffer[:end]))
        del buffer[:end + (2 if end == 0 else 4)]
        self.parts.append(Part(headers, self._new_file()))
        self._state = "body"
        return True

    def _write(self, data: bytearray) -> None:
        if self._state == "body" and data:
            self.parts[-1].file.write(data)
            self.parts[-1].size += len(data)
            self._spooled += len(data)

    def _new_file(self) -> IO[bytes]:
        """In memory while the request's parts so far fit the budget, on disk after."""
        room = self._memory_budget - self._spooled
        if room > 0:
            return tempfile.SpooledTemporaryFile(max_size=room, dir=settings.FILE_UPLOAD_TEMP_DIR)
        return tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)


def _part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not line:
            continue
        if not colon or not name.strip():
            raise ApplicationError(_("A part has a malformed header line."))
        headers[name.strip().lower()] = value.strip()
    return headers


def too_large(limit: int) -> str:
    return _("The request is larger than %(limit)s.") % {"limit": filesizeformat(limit)}
