"""Tables kept on disk: the same as built, rebuilt when damaged or stale, never required."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from cleaner import normalize
from cleaner.tablecache import VERSIONS_KEPT, cache_dir, cached_codes, fingerprint


def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the tables this process built, as a new run would."""
    monkeypatch.setattr(normalize, "_CHANGERS", {})
    monkeypatch.setattr(normalize, "_ENTRIES", {})
    monkeypatch.setattr(normalize, "_KEY_TABLES", {})


def _tables() -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    return normalize._key_table(), normalize.opencc_changers("t2s"), normalize.opencc_changers("s2t")


def _same(a: tuple[np.ndarray | None, ...], b: tuple[np.ndarray | None, ...]) -> bool:
    return all((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y)) for x, y in zip(a, b))


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The tables built from the dictionaries, with no cache at all."""
    monkeypatch.setenv("CLEANER_CACHE_DIR", "")
    _fresh_process(monkeypatch)
    tables = _tables()
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path))
    _fresh_process(monkeypatch)
    return tables


def test_a_second_run_reads_the_tables_it_built_and_they_are_identical(built, monkeypatch, tmp_path):
    assert built[1] is not None, "the installed OpenCC's dictionaries could not be read"
    assert _same(_tables(), built)
    assert len(list(tmp_path.glob("*.npy"))) == 3
    _fresh_process(monkeypatch)

    def unreadable(config: str) -> None:
        raise AssertionError("the dictionaries were read again")

    monkeypatch.setattr(normalize, "_read_entries", unreadable)
    assert _same(_tables(), built)
    assert normalize.match_key("XX市長：資源型城市轉型") == "□市长资源型城市转型"


def test_a_damaged_table_file_is_rebuilt(built, monkeypatch, tmp_path):
    _tables()
    for f in tmp_path.glob("*.npy"):
        f.write_bytes(b"\x93NUMPY garbage")
    _fresh_process(monkeypatch)
    assert _same(_tables(), built)
    _fresh_process(monkeypatch)
    monkeypatch.setattr(normalize, "_read_entries", lambda config: None)
    assert _same(_tables(), built)  # the rebuilt files are whole again


def test_a_cache_directory_that_cannot_be_written_only_costs_time(built, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(blocker / "cleaner"))
    assert _same(_tables(), built)


def test_an_empty_cache_variable_turns_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv("CLEANER_CACHE_DIR", "")
    assert cache_dir() is None
    assert cached_codes("t", "key", lambda: np.arange(2)).tolist() == [0, 1]
    monkeypatch.delenv("CLEANER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "cleaner"


def test_the_fingerprint_changes_with_any_source_or_version(tmp_path):
    src = tmp_path / "dict.txt"
    src.write_text("長\t长\n", encoding="utf-8")
    first = fingerprint([src], ["1.1.9"])
    assert first == fingerprint([src], ["1.1.9"])
    assert first != fingerprint([src], ["1.2.0"])
    src.write_text("長\t长\n乾\t干\n", encoding="utf-8")
    assert first != fingerprint([src], ["1.1.9"])
    assert fingerprint([tmp_path / "gone.txt"], []) is None


def test_a_build_that_fails_is_not_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path))
    assert cached_codes("t", "key", lambda: None) is None
    assert list(tmp_path.iterdir()) == []
    assert cached_codes("t", "key", lambda: np.arange(3)).tolist() == [0, 1, 2]


def test_new_fingerprints_keep_the_newest_versions_of_that_table_only(monkeypatch, tmp_path):
    """Two environments sharing the cache keep a version each (no rebuild
    on every switch); past VERSIONS_KEPT, the oldest of that table goes."""
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path))
    cached_codes("two", "z" * 16, lambda: np.arange(2))
    for age, fp in enumerate("abcde"):
        cached_codes("one", fp * 16, lambda: np.arange(1))
        os.utime(tmp_path / f"one-{fp * 16}.npy", ns=(age * 10**9, age * 10**9))  # a second apart
    assert VERSIONS_KEPT == 4
    assert sorted(f.name for f in tmp_path.iterdir()) == [f"one-{c * 16}.npy" for c in "bcde"] + [f"two-{'z' * 16}.npy"]
    built = []
    assert cached_codes("one", "b" * 16, lambda: built.append(1) or np.arange(1)).tolist() == [0]  # read, not built
    assert built == []


def test_lsh_parameters_and_the_gbk_class_read_back_equal_their_builds(monkeypatch, tmp_path):
    from cleaner import index, mojibake

    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path))
    for threshold, num_perm in [(0.5, 128), (0.8, 64), (0.3, 256)]:
        built = index._optimal_params_numpy(threshold, num_perm, (0.5, 0.5))
        index.optimal_params.cache_clear()
        assert index.optimal_params(threshold, num_perm) == built  # built and kept
        index.optimal_params.cache_clear()
        assert index.optimal_params(threshold, num_perm) == built  # read back
    built_class = mojibake._char_class(mojibake._gbk_mojibake_codes().tolist())
    for _ in range(2):  # built and kept, then read back
        mojibake.gbk_mojibake_chars.cache_clear()
        assert mojibake.gbk_mojibake_chars() == built_class
    assert len(list(tmp_path.glob("lsh-params-*.npy"))) == 3


def test_the_han_variants_of_a_rule_pack_are_read_back_without_opencc(monkeypatch, tmp_path):
    """A rule pack's Han variants are kept too: read back, they equal what
    OpenCC gives, and no converter is made for them (two of the four,
    s2tw and s2hk, serve nothing else)."""
    from cleaner import rules

    chars = set("为欢迎访问本站更多内容请登陆网址说会发经乾燥的")
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path))
    built = rules._han_variants_built(sorted(chars))
    assert built and all(c in chars for c in built)
    assert rules._han_variants(chars) == built  # built and stored
    assert list(tmp_path.glob("han-variants-*.npy"))

    def no_converters() -> None:
        raise AssertionError("OpenCC converters were made again")

    monkeypatch.setattr(rules, "_opencc_converters", no_converters)
    assert rules._han_variants(chars) == built  # read back
    assert rules._variants_from_codes(rules._variant_codes(built)) == built
    assert rules._han_variants(set()) == {}


def test_random_parameters_are_drawn_once_and_a_warm_run_never_imports_numpy_random(monkeypatch, tmp_path):
    """MinHash permutations, oph32 probes and band coefficients are kept on
    disk: read back they equal their draw, and a later process that has
    them does not pay for importing numpy.random (5-12 ms)."""
    import subprocess
    import sys

    from cleaner import index, sketch

    monkeypatch.setenv("CLEANER_CACHE_DIR", str(tmp_path))
    got = []
    for _ in range(2):  # drawn and kept, then read back
        band = index.BandIndex(0.5, 128)
        got.append((*sketch.affine_permutations(128, 1, 32), sketch.oph_probes(128, 1), band._mult, band._salt))
    assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(*got))
    assert all(len(list(tmp_path.glob(f"{name}-*.npy"))) == 1 for name in ("affine-128-1-32", "oph-probes-128-1", "band-coefficients-25-5"))
    code = (
        "import sys\n"
        "from cleaner.cluster import cluster_texts\n"
        "text = '同志们这次会议开得很好，市长在会上作了主体报告。' * 20\n"
        "assert cluster_texts([{'id': 'a', 'text': text}, {'id': 'b', 'text': text}], workers=1) == [['a', 'b']]\n"
        "print('numpy.random' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "CLEANER_CACHE_DIR": str(tmp_path / "fresh")}).stdout.strip()
        for _ in range(2)
    ]
    assert runs == ["True", "False"]  # the first run draws; the second reads what it kept


def test_without_the_dictionaries_the_key_table_still_folds_single_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unreadable dictionaries: the key table comes from OpenCC on each CJK
    character alone, through the same replacement as the dictionary pairs."""
    with_dictionaries = normalize._build_key_table()
    monkeypatch.setattr(normalize, "_dictionary_entries", lambda config: None)
    monkeypatch.setenv("CLEANER_CACHE_DIR", "")
    alone = normalize._build_key_table()
    for trad, simp in ("們们", "會会", "議议", "長长"):
        assert alone[ord(trad)] == alone[ord(simp)] == with_dictionaries[ord(simp)]
    plain = [ord(c) for c in "abc同志，。"]
    assert alone[plain].tolist() == with_dictionaries[plain].tolist()
