import io
import zipfile

import pytest

from lesions_project.errors import ApplicationError
from studies.intake.archives import read_members


def zip_of(files: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_regular_files_are_read_and_folders_and_mac_metadata_skipped():
    archive = zip_of({"series/1.dcm": b"a" * 10, "series/2.dcm": b"b" * 10,
                      "__MACOSX/series/._1.dcm": b"x", "series/.DS_Store": b"y"})
    members = list(read_members(archive))
    assert [(m.name, m.data) for m in members] == [("series/1.dcm", b"a" * 10),
                                                   ("series/2.dcm", b"b" * 10)]


@pytest.mark.parametrize("name", ["../evil.dcm", "series/../../evil.dcm", "/etc/passwd",
                                  "C:/windows/evil.dcm", "..\\evil.dcm"])
def test_unsafe_paths_are_refused(name):
    with pytest.raises(ApplicationError, match="unsafe path"):
        list(read_members(zip_of({"ok.dcm": b"1", name: b"2"})))


def test_a_zip_bomb_is_refused_before_anything_is_read():
    bomb = zip_of({"scan.dcm": b"\0" * 5_000_000})
    with pytest.raises(ApplicationError, match="zip bomb"):
        next(read_members(bomb))


def test_limits_on_members_and_total_size():
    with pytest.raises(ApplicationError, match="more than 2 files"):
        list(read_members(zip_of({f"{i}.dcm": b"x" for i in range(3)}), max_members=2))
    with pytest.raises(ApplicationError, match="too large"):
        list(read_members(zip_of({"a.dcm": b"x" * 600, "b.dcm": b"y" * 600},
                                 zipfile.ZIP_STORED), max_total_bytes=1000))


def test_a_file_that_is_not_a_zip_is_refused():
    with pytest.raises(ApplicationError, match="not a zip"):
        list(read_members(io.BytesIO(b"PK but not really a zip")))


def test_links_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("series/link.dcm")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    buffer.seek(0)
    with pytest.raises(ApplicationError, match="link"):
        list(read_members(buffer))
