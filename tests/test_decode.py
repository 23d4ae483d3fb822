"""Charset detection and decoding of whole files (cleaner.decode)."""

from __future__ import annotations

import codecs
import random
import struct
import zlib
from pathlib import Path

import opencc
import pytest

from cleaner.config import CleanConfig, DecodeConfig
from cleaner.decode import decode_bytes
from cleaner.errors import InputError
from cleaner.types import Repair

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "fixtures" / "seeds").glob("*.txt"))
TRADITIONAL = ROOT / "fixtures" / "seeds" / "003_8f6810d6e151e3ce.txt"

# label -> (encode function, expected encoding name, expected BOM repair)
ENCODINGS = {
    "utf-8": (lambda s: s.encode("utf-8"), "utf-8", False),
    "utf-8-bom": (lambda s: codecs.BOM_UTF8 + s.encode("utf-8"), "utf-8-sig", True),
    "utf-16-le-bom": (lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le"), "utf-16", True),
    "utf-16-be-bom": (lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be"), "utf-16", True),
    "utf-32-le-bom": (lambda s: codecs.BOM_UTF32_LE + s.encode("utf-32-le"), "utf-32", True),
    "utf-16-le-nobom": (lambda s: s.encode("utf-16-le"), "utf-16", False),
    "gb18030": (lambda s: s.encode("gb18030"), "gb18030", False),
    "gbk": (lambda s: s.encode("gbk"), "gb18030", False),
}


def png_bytes() -> bytes:
    """A real 1x1 PNG: signature, IHDR, IDAT, IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def big5_lines(text: str) -> str:
    """The lines of ``text`` that Big5 can encode."""
    keep = []
    for line in text.split("\n"):
        try:
            line.encode("big5")
        except UnicodeEncodeError:
            continue
        keep.append(line)
    return "\n".join(keep)


@pytest.mark.parametrize("label", list(ENCODINGS))
@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_roundtrip(path: Path, label: str) -> None:
    seed = path.read_text(encoding="utf-8")
    encode, expected, has_bom = ENCODINGS[label]
    data = encode(seed)
    f = decode_bytes(data, path.name)
    assert f.encoding == expected
    assert f.decoded == seed
    assert f.text == seed
    assert f.offsets.is_identity
    assert f.repairs[0] == Repair("encoding", expected)
    assert any(r.kind == "bom" for r in f.repairs) == has_bom
    assert f.problems == ()
    assert f.size == len(data) and f.name == path.name


def test_traditional_seed_big5() -> None:
    seed = TRADITIONAL.read_text(encoding="utf-8")
    f = decode_bytes(seed.encode("big5"))
    assert (f.encoding, f.decoded, f.text) == ("big5", seed, seed)


_S2T = opencc.OpenCC("s2t")


@pytest.mark.parametrize("path", [p for p in SEEDS if p != TRADITIONAL], ids=lambda p: p.name)
def test_s2t_seed_big5_vs_gbk(path: Path) -> None:
    """Traditional text: Big5 bytes decode as big5, GBK bytes as gb18030."""
    trad = big5_lines(_S2T.convert(path.read_text(encoding="utf-8")))
    assert len(trad) > 2000
    f = decode_bytes(trad.encode("big5"))
    assert (f.encoding, f.decoded) == ("big5", trad)
    g = decode_bytes(trad.encode("gbk"))
    assert (g.encoding, g.decoded) == ("gb18030", trad)


# Short texts are where detectors confuse Big5 and GBK.
SHORT = [
    "資源型城市轉型，顧名思義就是因資源開采而興起。",
    "同志們：今天的會議很重要。",
    "我們要堅持以人為本。",
    "政务公开工作会议精神。",
    "同志们：今天的会议很重要。",
]


@pytest.mark.parametrize("text", SHORT)
def test_short_texts_big5_and_gbk(text: str) -> None:
    assert decode_bytes(text.encode("gbk")).decoded == text
    try:
        data = text.encode("big5")
    except UnicodeEncodeError:
        return
    assert decode_bytes(data).decoded == text


def test_mojibake_file_keeps_decoded_and_maps_offsets() -> None:
    seed = SEEDS[4].read_text(encoding="utf-8")
    lines = seed.split("\n")
    damaged = "\n".join(ln.encode("utf-8").decode("gbk", errors="replace") if i % 2 else ln
                        for i, ln in enumerate(lines))
    f = decode_bytes(damaged.encode("utf-8"))
    assert f.encoding == "utf-8"
    assert f.decoded == damaged
    for i, (ln, out) in enumerate(zip(lines, f.text.split("\n"))):
        if i % 2 == 0:
            assert out == ln
    assert any(r.kind == "mojibake" and r.start is not None for r in f.repairs)
    assert all(p.code == "mojibake-unrepaired" for p in f.problems)
    # offsets: each repaired line maps back to exactly its damaged line
    pos_out = pos_src = 0
    for out_line, src_line in zip(f.text.split("\n"), damaged.split("\n")):
        assert f.offsets.span_to_source(pos_out, pos_out + len(out_line)) == (pos_src, pos_src + len(src_line))
        pos_out += len(out_line) + 1
        pos_src += len(src_line) + 1


def test_crlf_latin1_mojibake_file() -> None:
    text = "第一篇:讲话\r\n同志们:\r\n"
    f = decode_bytes(text.encode("utf-8").decode("latin-1").encode("utf-8"))
    assert f.text == "第一篇:讲话\n同志们:\n"
    assert f.decoded == text.encode("utf-8").decode("latin-1")
    kinds = [r.kind for r in f.repairs]
    assert kinds[0] == "encoding" and "mojibake" in kinds and "newline" in kinds


def test_western_cp1252() -> None:
    text = "naïve café — “quoted” déjà vu\n"
    f = decode_bytes(text.encode("cp1252"))
    assert f.encoding == "cp1252" and f.text == text


def test_utf8_with_one_broken_byte() -> None:
    text = "同志们：今天的会议很重要。" * 20
    f = decode_bytes(text.encode("utf-8")[:-1])  # truncated last character
    assert f.encoding == "utf-8"
    assert f.decoded == text[:-1] + "\ufffd"
    assert [p.code for p in f.problems] == ["decode-errors"]


@pytest.mark.parametrize("data", [b"", codecs.BOM_UTF8, b"  \r\n\t ", codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")])
def test_empty(data: bytes) -> None:
    with pytest.raises(InputError) as exc:
        decode_bytes(data)
    assert exc.value.problem.code == "empty"


def test_png_is_binary() -> None:
    with pytest.raises(InputError) as exc:
        decode_bytes(png_bytes(), "image.png")
    assert exc.value.problem.code == "binary"
    assert str(exc.value) == "looks like binary data (PNG image), not text"


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(seed: int) -> None:
    rnd = random.Random(seed)
    data = rnd.randbytes(2048)
    with pytest.raises(InputError) as exc:
        decode_bytes(data)
    assert exc.value.problem.code in ("binary", "undecodable")
    no_nul = bytes(b for b in rnd.randbytes(4096) if b)
    with pytest.raises(InputError) as exc:
        decode_bytes(no_nul)
    assert exc.value.problem.code in ("binary", "undecodable")


def test_control_chars_are_binary_by_config() -> None:
    data = b"hello world\n" + bytes(range(1, 9)) * 10
    with pytest.raises(InputError) as exc:
        decode_bytes(data)
    assert exc.value.problem.code == "binary"
    lenient = CleanConfig(decode=DecodeConfig(min_printable_ratio=0.0))
    assert decode_bytes(data, config=lenient).encoding == "utf-8"
