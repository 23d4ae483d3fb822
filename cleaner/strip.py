"""Applying cuts to blocks: cleaned text out, removed spans mapped to raw offsets.

A block's ``text`` is its raw slice with rejoined line breaks taken out (see
:mod:`cleaner.segment`), so positions in the text map to raw positions by
walking both strings together. Cuts never overlap in the result: when two
rules claim overlapping spans, the earlier-starting (then longer) one wins and
the other is merged into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .types import Block, Cut


@dataclass(frozen=True, slots=True)
class StrippedBlock:
    """A block after its cuts: the text that stays, and what went where.

    ``removed`` holds ``(raw_start, raw_end, cut)`` with raw offsets into the
    text the block was segmented from.
    """

    block: Block
    text: str
    removed: tuple[tuple[int, int, Cut], ...]


def text_to_raw(block_text: str, raw: str) -> Sequence[int]:
    """For each position ``0..len(block_text)`` in a block's text, the offset
    in its raw slice (a ``range`` when they are the same: no list of a
    block's length for the two offsets a cut reads).

    Raw has the same characters plus line breaks and the whitespace around
    them (or a space where text joined two Latin words).

    >>> text_to_raw("ab cd", "ab\\ncd")
    [0, 1, 2, 3, 4, 5]
    >>> text_to_raw("abc", "abc")
    range(0, 4)
    >>> text_to_raw("abcd", "ab \\n cd")
    [0, 1, 5, 6, 7]
    """
    if block_text == raw:  # no line breaks taken out: most blocks
        return range(len(raw) + 1)
    return _walk(block_text, raw)


def _walk(block_text: str, raw: str) -> list[int]:
    """:func:`text_to_raw` the slow way, always walking both strings."""
    out: list[int] = []
    j = 0
    n = len(raw)
    for ch in block_text:
        while j < n and raw[j] != ch:
            if ch == " " and raw[j] in "\r\n":
                break
            j += 1
        out.append(min(j, n))
        j += 1
    out.append(out[-1] + 1 if block_text else 0)
    return out


def merge_cuts(cuts: list[Cut]) -> list[Cut]:
    """Sort cuts and merge overlapping ones (the first-starting cut's reason wins).

    >>> [ (c.start, c.end) for c in merge_cuts([Cut(5, 9, "a", "r"), Cut(0, 6, "b", "s")]) ]
    [(0, 9)]
    """
    out: list[Cut] = []
    for c in sorted(cuts, key=lambda c: (c.start, -(c.end - c.start))):
        if c.end <= c.start and not c.replacement:
            continue
        if out and c.start < out[-1].end:
            last = out[-1]
            if c.end > last.end:
                out[-1] = Cut(last.start, c.end, last.reason, last.rule, last.replacement)
            continue
        out.append(c)
    return out


def strip_block(block: Block, source_text: str, cuts: list[Cut]) -> StrippedBlock:
    """Remove ``cuts`` from ``block.text``; map each removed span to raw offsets.

    ``source_text`` is the text the block's ``start``/``end`` index (the
    repaired file text).

    >>> b = Block(0, 12, "同志们(广告)今天开会")
    >>> s = strip_block(b, "同志们(广告)今天开会", [Cut(3, 7, "watermark", "x")])
    >>> s.text, [(a, z) for a, z, _ in s.removed]
    ('同志们今天开会', [(3, 7)])
    """
    if not cuts:
        return StrippedBlock(block, block.text, ())
    merged = merge_cuts(cuts)
    raw = source_text[block.start : block.end]
    pos = text_to_raw(block.text, raw)
    pieces: list[str] = []
    removed: list[tuple[int, int, Cut]] = []
    at = 0
    for c in merged:
        pieces.append(block.text[at : c.start])
        pieces.append(c.replacement)
        rs = block.start + pos[c.start]
        # The raw end is just past the cut's last character.
        re_ = block.start + (pos[c.end - 1] + 1 if c.end > c.start else pos[c.start])
        removed.append((rs, re_, c))
        at = c.end
    pieces.append(block.text[at:])
    return StrippedBlock(block, "".join(pieces), tuple(removed))
