"""The `cleaner` command: outputs, archives, JSONL mode, bad input, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
import zlib
import struct
from pathlib import Path

import pytest

from cleaner.cli import main

from .conftest import FIXTURES, SEED_NAMES, SEEDS_DIR

# The installed console script, as a user runs it (it sits beside the interpreter).
_SCRIPT = Path(sys.executable).parent / "cleaner"
CLEANER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "cleaner.cli"]


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes([x * 8 % 256, 0, 255 - x]) * 32 for x in range(32))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", zlib.compress(raw)
    ) + chunk(b"IEND", b"")


def _read_out(out: Path) -> tuple[list[dict], dict]:
    records = [json.loads(line) for line in (out / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return records, report


@pytest.fixture(scope="module")
def seeds_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    assert main(["clean", str(SEEDS_DIR), "-o", str(out), "--no-progress"]) == 0
    return out


def test_clean_writes_records_texts_and_report(seeds_out: Path) -> None:
    records, report = _read_out(seeds_out)
    assert records and report["totals"]["inputs"] == 5 and report["totals"]["processed"] == 5
    texts = sorted(p.name for p in (seeds_out / "text").glob("*.txt"))
    assert texts == sorted(f"{r['id']}.txt" for r in records)
    for r in records:
        assert (seeds_out / "text" / f"{r['id']}.txt").read_text(encoding="utf-8") == r["text"] + "\n"
        assert set(r) >= {"id", "title", "meta", "text", "sources", "paragraphs", "removed", "repairs"}
    assert {f["file"] for f in report["files"]} == {str(SEEDS_DIR / n) for n in SEED_NAMES}


def test_archives_give_the_same_records_as_the_folder(tmp_path: Path, seeds_out: Path) -> None:
    folder_records, _ = _read_out(seeds_out)
    zpath = tmp_path / "seeds.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in SEED_NAMES:
            zf.write(SEEDS_DIR / n, f"seeds/{n}")
    for archive in (zpath, FIXTURES / "seeds.tar.gz"):
        out = tmp_path / f"out-{archive.name}"
        assert main(["clean", str(archive), "-o", str(out), "--no-progress", "-q"]) == 0
        records, report = _read_out(out)
        assert [r["id"] for r in records] == [r["id"] for r in folder_records]
        assert all("!seeds/" in f["file"] for f in report["files"])


def test_bad_inputs_are_named_listed_and_the_run_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(_png())
    (tmp_path / "noise.bin").write_bytes(bytes(range(256)) * 40)
    with zipfile.ZipFile(tmp_path / "evil.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../../escape.txt", "逃逸")
        zf.writestr("/abs.txt", "绝对")
        zf.writestr("bomb.txt", b"0" * (16 * 1024 * 1024))
        zf.writestr("good.txt", (SEEDS_DIR / SEED_NAMES[3]).read_bytes())
    good = tmp_path / "good.txt"
    shutil.copy(SEEDS_DIR / SEED_NAMES[4], good)
    missing = tmp_path / "missing.txt"
    out = tmp_path / "out"
    code = main(["clean", str(tmp_path / "empty.txt"), str(tmp_path / "image.png"), str(tmp_path / "noise.bin"),
                 str(tmp_path / "evil.zip"), str(good), str(missing), "-o", str(out), "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    _, report = _read_out(out)
    by_file = {f["file"]: f for f in report["files"]}
    expect = {
        str(tmp_path / "empty.txt"): "empty",
        str(tmp_path / "image.png"): "binary",
        str(missing): "missing",
        f"{tmp_path / 'evil.zip'}!../../escape.txt": "unsafe-path",
        f"{tmp_path / 'evil.zip'}!/abs.txt": "unsafe-path",
        f"{tmp_path / 'evil.zip'}!bomb.txt": "zip-bomb",
    }
    for name, code_ in expect.items():
        assert by_file[name]["status"] == "error", name
        assert by_file[name]["problems"][0]["code"] == code_, name
        assert Path(name.split("!")[0]).name in err, f"{name} not named on stderr"
    assert by_file[str(tmp_path / "noise.bin")]["problems"][0]["code"] in {"binary", "undecodable"}
    assert by_file[str(good)]["status"] == "ok"
    assert by_file[f"{tmp_path / 'evil.zip'}!good.txt"]["status"] == "ok"
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()


def test_nothing_processable_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    code = main(["clean", str(tmp_path / "empty.txt"), str(tmp_path / "nope"), "-o", str(tmp_path / "out"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no input could be processed" in err and "nope" in err and "empty.txt" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["clean"],
        ["clean", "x.txt"],
        ["clean", "-", "-o", "o"],
        ["clean", "x", "-o", "o", "--script", "klingon"],
        ["clean", "x", "-o", "o", "--workers", "-1"],
        ["clean", "x", "-o", "o", "--workers", "two"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_bad_config_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[segment]\nmax_blok_chars = 3\n", encoding="utf-8")
    assert main(["clean", str(SEEDS_DIR), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert "max_blok_chars" in capsys.readouterr().err


@pytest.mark.parametrize("rules", ["missing.toml", "broken.toml"])
def test_a_bad_rule_file_is_a_usage_error_before_any_input_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str
) -> None:
    (tmp_path / "broken.toml").write_text("[[rule]]\nid = \"x\"\n", encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[boilerplate]\nrules_path = \"{(tmp_path / rules).as_posix()}\"\n", encoding="utf-8")
    assert main(["clean", str(SEEDS_DIR), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "boilerplate.rules_path" in err and rules in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "setting,named",
    [("scheme = \"affine16\"", "cluster.scheme"), ("exact_nodes = -1", "exact_nodes"), ("probes = \"4\"", "probes")],
)
def test_bad_cluster_settings_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, named: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[cluster]\n{setting}\n", encoding="utf-8")
    assert main(["clean", str(SEEDS_DIR), "-o", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert named in capsys.readouterr().err


def test_jsonl_pipeline_through_the_real_console_script(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    lines = [json.dumps({"id": name, "text": text}, ensure_ascii=False) for name, text in seed_texts.items()]
    lines.insert(2, "{this is not json")
    proc = subprocess.run(
        CLEANER + ["clean", "--jsonl", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(l) for l in proc.stdout.splitlines()]
    assert records and {s["file"] for r in records for s in r["sources"]} == set(seed_texts)
    assert "line 3" in proc.stderr and "invalid JSON" in proc.stderr
    # The same records as the Python API.
    from cleaner import clean_texts

    api = clean_texts([{"id": n, "text": t} for n, t in seed_texts.items()]).records()
    assert records == api


def test_jsonl_with_output_folder_and_script(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    src = tmp_path / "in.jsonl"
    name = "003_8f6810d6e151e3ce.txt"
    src.write_text(json.dumps({"id": "t1", "text": seed_texts[name]}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["clean", "--jsonl", str(src), "-o", str(out), "--script", "simplified", "--no-progress", "-q"]) == 0
    records, report = _read_out(out)
    assert "同志们" in records[0]["text"] and records[0]["sources"][0]["file"] == "t1"


def test_progress_bar_is_drawn_when_asked(tmp_path: Path) -> None:
    proc = subprocess.run(
        CLEANER + ["clean", str(SEEDS_DIR), "-o", str(tmp_path / "o"), "--progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0
    assert "5/5" in proc.stderr and "results written to" in proc.stderr


def test_progress_covers_merging_and_records_stream_out(tmp_path: Path) -> None:
    """A progress bar per phase on one and two worker processes, each
    counting its own unit to the end (inputs read, files labelled, articles
    sketched, clusters merged) and saying what follows the count; the
    output folder holds a complete articles.jsonl (no .part left) equal to
    the one-process run."""
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"o{workers}"
        proc = subprocess.run(
            CLEANER + ["clean", str(SEEDS_DIR), "-o", str(out), "--progress", "--workers", workers],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        for phase in ("reading", "labelling", "clustering", "merging"):
            assert phase in proc.stderr, phase
        lines = proc.stderr.replace("\r", "\n").splitlines()
        for phase, unit, then in (
            ("labelling", "file", "learning repeated text"),
            ("clustering", "article", "grouping copies"),
            ("merging", "cluster", None),
        ):
            done = [ln for ln in lines if ln.startswith(f"{phase}: 100%") and (f"{unit}/s" in ln or f"s/{unit}" in ln)]
            assert done, (phase, proc.stderr)
            assert then is None or then in done[-1], (phase, done[-1])
        assert "labelling: 100%|██████████| 5/5" in proc.stderr
        assert not (out / "articles.jsonl.part").exists()
        runs[workers] = _read_out(out)[0]
    assert runs["2"] == runs["1"]


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code = main(["clean", str(SEEDS_DIR), "-o", str(blocker / "out"), "--no-progress", "-q"])
    assert code == 1
    assert "cannot write" in capsys.readouterr().err


def test_a_full_temporary_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    import cleaner.spill as spill

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # Clustering's shingle sets go to a temporary file; a full disk there
    # names the folder and the way out, not the output folder.
    monkeypatch.setattr(spill.os, "pwrite", full)
    code = main(["clean", str(SEEDS_DIR), "-o", str(tmp_path / "out"), "--no-progress", "-q", "-j", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "temporary file" in err and "TMPDIR" in err and "No space left" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "articles.jsonl").exists()


def test_explain_shows_removals_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SEEDS_DIR / "001_66774ca9e7b2c39c.txt")]) == 0
    out = capsys.readouterr().out
    assert "utf-8" in out and "article 0" in out
    assert "boilerplate/preamble" in out and "投稿" in out


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--json", str(SEEDS_DIR / "003_8f6810d6e151e3ce.txt")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["articles"] and data["removed"][0]["reason"] == "boilerplate"


def test_explain_on_binary_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "x.png"
    png.write_bytes(_png())
    assert main(["explain", str(png)]) == 1
    assert "binary" in capsys.readouterr().err
