"""Configuration: one frozen dataclass per step, composed in :class:`CleanConfig`.

>>> CleanConfig().output.script
'original'
>>> load_config_text('[output]\\nscript = "simplified"').output.script
'simplified'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

from .sketch import SCHEMES

Script = Literal["original", "simplified", "traditional"]
SCRIPTS: tuple[str, ...] = ("original", "simplified", "traditional")


@dataclass(frozen=True)
class InputConfig:
    """Limits on what we read, so a hostile archive cannot exhaust the machine."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_archive_members: int = 100_000
    max_archive_total_bytes: int = 2 * 1024 * 1024 * 1024
    # A member whose expanded size exceeds its compressed size by more than this
    # ratio (and is large) is treated as a decompression bomb.
    max_compression_ratio: float = 200.0
    bomb_min_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class DecodeConfig:
    """Charset detection on whole bytes."""

    # Below this share of printable text after decoding, bytes are "binary".
    min_printable_ratio: float = 0.85


@dataclass(frozen=True)
class RepairConfig:
    """Text repair: ftfy (CJK-safe) plus our GBK-mojibake re-decoder."""

    ftfy: bool = True
    mojibake: bool = True
    normalize_newlines: bool = True


@dataclass(frozen=True)
class SegmentConfig:
    """Splitting files into articles and articles into blocks."""

    # A paragraph longer than this (code points) is split into sentence runs.
    max_block_chars: int = 600
    rejoin_broken_lines: bool = True
    min_article_chars: int = 20


@dataclass(frozen=True)
class BoilerplateConfig:
    """Noise labelling: rule pack plus repetition across unrelated articles."""

    rules_path: str = ""  # a rules TOML to use instead of the built-in pack
    edge_blocks: int = 3  # notice rules apply this many blocks from an article's head or tail
    repetition: bool = True  # learn boilerplate from repetition across the corpus
    shingle_k: int = 5
    num_perm: int = 64
    block_threshold: float = 0.8  # Jaccard for two blocks to be the same stamp
    min_unrelated: int = 2  # unrelated articles a repeated block must span
    related_share: float = 0.3  # share of blocks two articles share to be copies
    max_group_articles: int = 200  # ubiquitous blocks do not make articles related
    related_min_key: int = 20  # shorter blocks (salutations, headings) do not relate articles
    short_notice_chars: int = 60  # a repeated text this short needs one site cue, a longer one two
    inline_ngram: int = 8
    inline_min_chars: int = 8
    inline_min_unrelated: int = 3


@dataclass(frozen=True)
class ClusterConfig:
    """Grouping copies of one article: candidates, verification, no chaining."""

    merge: bool = True  # merge each cluster into one canonical record
    shingle_k: int = 5
    word_k: int = 3  # word n-grams for Latin text
    num_perm: int = 128
    # One permutation hashing: 32-bit values like datasketch's default
    # affine32 (plenty for documents), about 7x faster to compute; the
    # signature was 27 % of the per-text work of duplicate detection.
    scheme: str = "oph32"
    candidate_threshold: float = 0.3  # LSH threshold for near-duplicate candidates
    jaccard_min: float = 0.35  # verified: shingle Jaccard at least this ...
    containment_min: float = 0.6  # ... or the smaller contained in the larger at least this
    word_containment_min: float = 0.35  # the same for Latin text shingled by words
    min_shingles: int = 20  # containment needs this many shingles (short texts never collide)
    compatible_jaccard: float = 0.1  # members of one cluster must not be "far": at least this Jaccard ...
    compatible_containment: float = 0.4  # ... or this containment (distinct speeches share < 0.03)
    sample_mod: int = 8  # containment index samples shingles with hash % sample_mod == 0
    min_shared_samples: int = 2
    max_bucket: int = 500  # skip buckets larger than this (degenerate, e.g. empty texts)
    # Above this many distinct texts, copies are first folded into leaders
    # (linear in the copies); up to it every candidate pair is linked.
    exact_nodes: int = 200
    guard_size: int = 8  # satellites per leader that later members must not be far from
    probes: int = 4  # satellites a text that copies no leader is compared with
    bucket_probes: int = 8  # satellites kept per LSH bucket for those probes


@dataclass(frozen=True)
class OutputConfig:
    script: Script = "original"


@dataclass(frozen=True)
class CleanConfig:
    """Everything a run can be told, composed from the per-step configs."""

    input: InputConfig = field(default_factory=InputConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    repair: RepairConfig = field(default_factory=RepairConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def with_script(self, script: str) -> "CleanConfig":
        if script not in SCRIPTS:
            raise ValueError(f"script must be one of {', '.join(SCRIPTS)}, not {script!r}")
        return replace(self, output=replace(self.output, script=script))  # type: ignore[arg-type]


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message says where."""


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"unknown setting {where}{key!r}; known: {', '.join(sorted(known))}")
        default = getattr(cls(), key)
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} must be a table")
            kwargs[key] = _build(type(default), value, f"{where}{key}.")
        else:
            if isinstance(default, bool) != isinstance(value, bool) or (
                isinstance(default, (int, float)) and not isinstance(value, (int, float))
            ) or (isinstance(default, str) and not isinstance(value, str)):
                raise ConfigError(f"{where}{key} must be {type(default).__name__}, not {value!r}")
            kwargs[key] = type(default)(value) if isinstance(default, float) else value
    obj = cls(**kwargs)
    if cls is OutputConfig and obj.script not in SCRIPTS:
        raise ConfigError(f"output.script must be one of {', '.join(SCRIPTS)}, not {obj.script!r}")
    if cls is ClusterConfig and obj.scheme not in SCHEMES:
        raise ConfigError(f"cluster.scheme must be one of {', '.join(SCHEMES)}, not {obj.scheme!r}")
    if cls is ClusterConfig and min(obj.exact_nodes, obj.guard_size, obj.probes, obj.bucket_probes) < 0:
        raise ConfigError("cluster.exact_nodes, guard_size, probes and bucket_probes must not be negative")
    return obj


def load_config_text(text: str) -> CleanConfig:
    """Parse TOML text into a :class:`CleanConfig`; unknown keys are errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}") from None
    return _build(CleanConfig, data, "")


def load_config(path: str | Path) -> CleanConfig:
    """Read a TOML config file (see docs/tuning.md for every key)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    try:
        return load_config_text(text)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
