"""Bytes to text: charset detection on whole files, then repair.

Detection order (first match wins):

1. known binary signatures (PNG, JPEG, PDF, ZIP, ...) -> ``binary``;
2. a byte-order mark: UTF-32 LE/BE, UTF-8, UTF-16 LE/BE;
3. NUL bytes: UTF-16/32 without BOM if it clearly is, else ``binary``;
4. strict UTF-8;
5. legacy Chinese encodings (GB18030, Big5/CP950) and UTF-16 without BOM,
   each decoded strictly and scored for plausibility as Chinese; charset-
   normalizer (restricted to those plus cp1252/latin-1) breaks ties and
   handles non-Chinese text.

Charset-normalizer alone confuses Big5 and GBK on short texts, because any
Big5 byte pair is also a valid GBK pair; the plausibility score (share of
common hanzi, see :mod:`cleaner.mojibake`) tells them apart reliably.

>>> f = decode_bytes("同志们:\\n今天的会议很重要。".encode("gbk"))
>>> f.encoding, f.text
('gb18030', '同志们:\\n今天的会议很重要。')
"""

from __future__ import annotations

import codecs

from .config import CleanConfig
from .errors import InputError
from .fixes import repair_text
from .mojibake import plausibility
from .types import DecodedFile, Problem, Repair

# Signatures of common binary formats a scrape folder may hold by mistake.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive or Office document"),
    (b"\x1f\x8b", "gzip data"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"RIFF", "RIFF media (WAV/AVI/WebP)"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
)

# Longest first: the UTF-32 LE BOM starts with the UTF-16 LE BOM.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)

# Legacy candidates, in preference order; the reported name is the first.
_CJK_CODECS: tuple[tuple[str, str], ...] = (
    ("gb18030", "gb18030"),  # superset of GBK and GB2312
    ("big5", "big5"),
    ("cp950", "cp950"),  # Microsoft's Big5, a few extra characters
    ("big5hkscs", "big5hkscs"),
)

# charset-normalizer's names -> ours.
_CN_NAMES = {
    "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030",
    "big5": "big5", "cp950": "cp950", "big5hkscs": "big5hkscs",
    "cp1252": "cp1252", "windows-1252": "cp1252", "latin_1": "latin-1", "iso8859_1": "latin-1",
    "utf_16_le": "utf-16-le", "utf_16_be": "utf-16-be", "utf_8": "utf-8", "ascii": "utf-8",
}

_CONTROL_OK = frozenset("\n\r\t\f\v")


def _printable_ratio(text: str, c1_ok: bool = False) -> float:
    """Share of characters that are printable or ordinary whitespace.

    With ``c1_ok``, C1 controls (U+0080-U+009F) count as printable: in text
    that was *validly* encoded as UTF-8/16 they are latin-1 mojibake for a
    repair step to fix, not a sign of binary data.
    """
    if not text:
        return 1.0
    if text.isascii() and text.isprintable():
        return 1.0
    bad = 0
    for ch in text:
        if not ch.isprintable() and ch not in _CONTROL_OK and ch != "\u3000":
            if c1_ok and "\x80" <= ch <= "\x9f":
                continue
            bad += 1
    return 1.0 - bad / len(text)


def _binary_kind(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            if kind == "Windows executable" and b"PE\x00\x00" not in data[:1024]:
                continue  # "MZ" alone is too short a signature to trust
            if kind == "RIFF media (WAV/AVI/WebP)" and len(data) < 12:
                continue
            return kind
    return None


def _cjk_chars(text: str) -> int:
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16/32 without a BOM, accepted only when it clearly is: strict
    decode, mostly printable, and either the NUL bytes sit on one parity (the
    high byte of ASCII) or the text is plausible Chinese."""
    if len(data) % 2:
        return None
    even_nul = data[0::2].count(0)
    odd_nul = data[1::2].count(0)
    candidates: list[tuple[str, str, bool]] = []
    if len(data) % 4 == 0 and data[2::4].count(0) + data[3::4].count(0) > len(data) // 4:
        candidates += [("utf-32-le", "utf-32", True), ("utf-32-be", "utf-32", True)]
    # ASCII puts NULs on the odd bytes of UTF-16-LE; CJK puts a few on the
    # even ones (U+xx00), so demand a clear majority, or plausible Chinese.
    if odd_nul > even_nul:
        candidates.append(("utf-16-le", "utf-16", odd_nul > 3 * even_nul))
    elif even_nul > odd_nul:
        candidates.append(("utf-16-be", "utf-16", even_nul > 3 * odd_nul))
    for codec, name, clear in candidates:
        text = _strict(data, codec)
        if text is None or _printable_ratio(text) < 0.98:
            continue
        if clear or plausibility(text) >= 0.7:
            return text, name
    return None


def _legacy(data: bytes) -> tuple[str, str, float, list[Problem]]:
    """Pick among GB18030, Big5 and friends by plausibility; fall back to
    charset-normalizer (restricted) and then cp1252/latin-1."""
    scored: list[tuple[float, int, str, str]] = []
    for rank, (codec, name) in enumerate(_CJK_CODECS):
        text = _strict(data, codec)
        if text is None or _cjk_chars(text) == 0:
            continue
        scored.append((plausibility(text), -rank, name, text))
    if len(data) % 2 == 0:
        for codec in ("utf-16-le", "utf-16-be"):
            text = _strict(data, codec)
            if text is not None and _cjk_chars(text) and _printable_ratio(text) >= 0.98:
                scored.append((plausibility(text) - 0.05, -9, "utf-16", text))
    scored.sort(reverse=True)
    if scored and scored[0][0] >= 0.5:
        best = scored[0]
        # Big5 and cp950 often both decode; keep the plainer name on a tie.
        return best[3], best[2], round(min(1.0, best[0] + 0.05), 3), []

    # Not (plausible) Chinese: ask charset-normalizer, among sane candidates.
    problems: list[Problem] = []
    try:
        from charset_normalizer import from_bytes

        match = from_bytes(
            data,
            cp_isolation=["gb18030", "big5", "cp950", "cp1252", "latin_1"],
        ).best()
    except Exception:  # pragma: no cover - detection must never crash decoding
        match = None
    if match is not None:
        name = _CN_NAMES.get(match.encoding, match.encoding)
        text = str(match)
        return text, name, round(max(0.0, 1.0 - float(match.chaos)), 3), problems
    if scored:  # implausible but strictly decodable Chinese: better than latin-1
        best = scored[0]
        return best[3], best[2], round(best[0], 3), problems
    text = _strict(data, "cp1252")
    if text is not None:
        return text, "cp1252", 0.3, problems
    return data.decode("latin-1"), "latin-1", 0.1, problems


def _declared_fallback(data: bytes) -> tuple[str, str, int] | None:
    """A page's own charset declaration, used when detection found no
    strict decoding: a GB page with a handful of broken bytes is still GB.
    Accepted only if at most 0.5% of the characters come out replaced."""
    from .html import declared_charset  # a byte-level regex; no extractor import cost

    charset = declared_charset(data)
    if charset is None or charset in ("cp1252", "latin-1", "utf-8"):
        return None
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:
        return None
    errors = text.count("\ufffd")
    if errors > 0.005 * max(1, len(text)):
        return None
    return text, charset, errors


def decode_bytes(data: bytes, name: str = "<bytes>", config: CleanConfig | None = None) -> DecodedFile:
    """Detect the encoding of ``data`` (whole file), decode it, repair the text.

    ``decoded`` is the charset-decoded text with only a BOM removed;
    ``text`` is the repaired text and ``offsets`` maps it back to
    ``decoded``. Raises :class:`~cleaner.errors.InputError` with code
    ``empty``, ``binary`` or ``undecodable``.

    >>> f = decode_bytes(b"\\xef\\xbb\\xbfhello\\r\\n")
    >>> f.encoding, f.decoded, f.text, [r.kind for r in f.repairs]
    ('utf-8-sig', 'hello\\r\\n', 'hello\\n', ['encoding', 'bom', 'newline'])
    """
    cfg = config or CleanConfig()
    if not data:
        raise InputError(Problem("empty", "file is empty (0 bytes)"))
    kind = _binary_kind(data)
    if kind is not None:
        raise InputError(Problem("binary", f"looks like binary data ({kind}), not text"))

    repairs: list[Repair] = []
    problems: list[Problem] = []
    confidence = 1.0
    bom_name = None
    for bom, codec, enc_name in _BOMS:
        if data.startswith(bom):
            bom_name = codec
            body = data[len(bom):]
            encoding = enc_name
            decoded = _strict(body, codec)
            if decoded is None:
                decoded = body.decode(codec, errors="replace")
                problems.append(Problem("decode-errors", f"invalid {codec} bytes replaced with \ufffd"))
                confidence = 0.8
            break
    else:
        nul = data.count(0)
        if nul:
            found = _utf16_without_bom(data)
            if found is None:
                raise InputError(Problem("binary", "looks like binary data (contains NUL bytes), not text"))
            decoded, encoding = found
            confidence = 0.9
        else:
            utf8 = _strict(data, "utf-8")
            if utf8 is not None:
                decoded, encoding = utf8, "utf-8"
            else:
                decoded, encoding, confidence, extra = _legacy(data)
                problems.extend(extra)
                # A UTF-8 file with a few broken bytes (a truncated final
                # character, one bad byte) is still UTF-8.
                if encoding in ("cp1252", "latin-1") or confidence < 0.5:
                    loose = data.decode("utf-8", errors="replace")
                    errors = loose.count("\ufffd")
                    if errors <= max(2, len(loose) // 1000) and any(ch >= "\x80" for ch in loose):
                        decoded, encoding, confidence = loose, "utf-8", 0.7
                        problems.append(Problem("decode-errors", f"{errors} invalid UTF-8 byte sequence(s) replaced with \ufffd"))
                    else:
                        declared = _declared_fallback(data)
                        if declared is not None:
                            decoded, encoding, errors = declared
                            confidence = 0.7
                            problems.append(Problem(
                                "decode-errors",
                                f"decoded as the declared charset {encoding}; {errors} invalid byte sequence(s) replaced with \ufffd",
                            ))

    if not decoded.replace("\ufeff", "").strip():
        raise InputError(Problem("empty", "file holds no text (only whitespace or a byte-order mark)"))
    ratio = _printable_ratio(decoded, c1_ok=encoding.startswith("utf"))
    if ratio < cfg.decode.min_printable_ratio:
        raise InputError(Problem("binary", f"looks like binary data ({ratio:.0%} printable characters), not text"))
    if encoding in ("cp1252", "latin-1"):
        # Text that is mostly high-bit bytes yet no CJK encoding accepts it
        # is not Western prose either: refuse rather than emit mojibake.
        high = sum(1 for ch in decoded if ch >= "\x80")
        if high > 0.3 * len(decoded):
            raise InputError(Problem(
                "undecodable",
                "could not determine the text encoding (not UTF-8, UTF-16, GB18030, Big5 or Windows-1252)",
            ))

    repairs.append(Repair("encoding", encoding))
    if bom_name is not None:
        repairs.append(Repair("bom", f"{bom_name} byte-order mark removed"))
    fixed = repair_text(decoded, cfg.repair)
    repairs.extend(fixed.repairs)
    problems.extend(fixed.problems)
    return DecodedFile(
        name=name,
        encoding=encoding,
        decoded=decoded,
        text=fixed.text,
        offsets=fixed.offsets,
        repairs=tuple(repairs),
        problems=tuple(problems),
        confidence=confidence,
        size=len(data),
    )
