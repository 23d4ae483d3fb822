"""Reading files, folders and archives, with traversal and bomb protection."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from cleaner.config import InputConfig
from cleaner.errors import InputError
from cleaner.inputs import iter_jsonl, plan_inputs, read_input, unsafe_member_reason

CASES = json.loads((Path(__file__).parent / "cases" / "archive_member_names.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CASES["unsafe"])
def test_unsafe_member_names_are_refused(name: str) -> None:
    assert unsafe_member_reason(name) is not None


@pytest.mark.parametrize("name", CASES["safe"])
def test_safe_member_names_pass(name: str) -> None:
    assert unsafe_member_reason(name) is None


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_folder_is_walked_sorted_and_hidden_files_skipped(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_bytes(b"x")
    (tmp_path / "a.txt").write_bytes(b"y")
    (tmp_path / ".hidden").write_bytes(b"z")
    names = [Path(r.name).relative_to(tmp_path).as_posix() for r in plan_inputs([tmp_path])]
    assert names == ["a.txt", "b/2.txt"]


def test_missing_path_is_a_named_problem(tmp_path: Path) -> None:
    [ref] = plan_inputs([tmp_path / "nope.txt"])
    assert ref.problem is not None and ref.problem.code == "missing"
    assert "nope.txt" in ref.problem.message


def test_zip_members_are_read(tmp_path: Path) -> None:
    z = _zip(tmp_path / "a.zip", {"dir/one.txt": "第一".encode(), "two.txt": b"second"})
    refs = list(plan_inputs([z]))
    assert [r.name for r in refs] == [f"{z}!dir/one.txt", f"{z}!two.txt"]
    assert read_input(refs[0]) == "第一".encode()


def test_zip_traversal_and_absolute_members_are_refused_others_kept(tmp_path: Path) -> None:
    z = _zip(tmp_path / "evil.zip", {"../escape.txt": b"a", "/etc/abs.txt": b"b", "ok.txt": b"c"})
    refs = {r.member or r.name.split("!")[-1]: r for r in plan_inputs([z])}
    assert refs["../escape.txt"].problem.code == "unsafe-path"
    assert refs["/etc/abs.txt"].problem.code == "unsafe-path"
    assert refs["ok.txt"].problem is None


def test_zip_bomb_member_is_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "bomb.zip", {"bomb.txt": b"\0" * (8 * 1024 * 1024), "fine.txt": b"fine"})
    refs = {r.name.split("!")[-1]: r for r in plan_inputs([z])}
    assert refs["bomb.txt"].problem.code == "zip-bomb"
    assert "bomb" in refs["bomb.txt"].problem.message
    assert refs["fine.txt"].problem is None


def test_zip_member_over_size_limit_even_if_header_lies(tmp_path: Path) -> None:
    z = _zip(tmp_path / "a.zip", {"big.txt": b"a" * 5000}, compression=zipfile.ZIP_STORED)
    cfg = InputConfig(max_file_bytes=1000)
    [ref] = plan_inputs([z], cfg)
    assert ref.problem is not None and ref.problem.code == "zip-bomb"
    # Reading directly with a forged ref still stops at the limit.
    forged = type(ref)(name=ref.name, archive=str(z), member="big.txt")
    with pytest.raises(InputError) as exc:
        read_input(forged, cfg)
    assert exc.value.problem.code == "zip-bomb"


def test_tar_gz_members_links_and_traversal(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in {"ok.txt": "文本".encode(), "../up.txt": b"x"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link.txt")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    refs = {r.name.split("!")[-1]: r for r in plan_inputs([path])}
    assert refs["ok.txt"].problem is None and read_input(refs["ok.txt"]) == "文本".encode()
    assert refs["../up.txt"].problem.code == "unsafe-path"
    assert refs["link.txt"].problem.code == "unsafe-member"


def test_tar_gz_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.tar.gz"
    data = b"\0" * (16 * 1024 * 1024)
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    [ref] = plan_inputs([path])
    assert ref.problem is not None and ref.problem.code == "zip-bomb"


def test_archive_detected_by_content_not_name(tmp_path: Path) -> None:
    z = _zip(tmp_path / "download.bin", {"a.txt": b"hello"})
    [ref] = plan_inputs([z])
    assert ref.member == "a.txt"


def test_corrupt_zip_is_a_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04garbage")
    [ref] = plan_inputs([bad])
    assert ref.problem is not None and ref.problem.code == "bad-archive"


def test_jsonl_bad_lines_are_named_and_good_lines_kept() -> None:
    text = '{"id": "a", "text": "一"}\nnot json\n[1]\n{"id": "b"}\n{"id": "a", "text": "dup"}\n\n{"text": "无id"}\n'
    lines = list(iter_jsonl(io.StringIO(text), "in.jsonl"))
    good = [l.record.id for l in lines if l.record]
    bad = {l.line: l.problem.message for l in lines if l.problem}
    assert good == ["a", "in.jsonl:7"]
    assert set(bad) == {2, 3, 4, 5}
    assert bad[2].startswith("in.jsonl line 2: invalid JSON")
    assert "duplicate id" in bad[5]
