"""Tables derived from installed data, kept on disk between runs.

Some look-up tables are built from OpenCC's dictionaries on first use: the
match-key table and the "which characters does a conversion rewrite"
tables. Exporting and reading those dictionaries costs about 0.25 s per
process, every run, for tables that only change when OpenCC or this
package does. :func:`cached_codes` keeps each one as a small ``.npy`` file
named by a fingerprint of everything it is built from: the dictionary
files and the module that builds the table (path, size, modification time
of each) and the OpenCC version. Any change gives a new name, so a stale
table is never read; a file that cannot be read is rebuilt. The newest
:data:`VERSIONS_KEPT` versions of each table are kept: environments that
share the cache (a test and a benchmark virtualenv, each with its own
OpenCC) do not rebuild each other's tables on every run, and upgrades do
not pile up.

Where: ``$CLEANER_CACHE_DIR``, else ``$XDG_CACHE_HOME/cleaner``, else
``~/.cache/cleaner`` (none without a home directory).
``CLEANER_CACHE_DIR=`` (empty) turns the cache off;
a directory that cannot be written only means tables are built each run.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

__all__ = ["VERSIONS_KEPT", "cache_dir", "cached_codes", "drawn_once"]

# Part of every fingerprint: bumped if the file layout below changes.
_LAYOUT = b"1"
# Versions of one table kept (by modification time, newest first).
VERSIONS_KEPT = 4


def cache_dir() -> Path | None:
    """The directory tables are kept in, or None when caching is off.

    >>> cache_dir() is None or isinstance(cache_dir(), Path)
    True
    """
    env = os.environ.get("CLEANER_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home == "~":  # no home directory to speak of: no cache
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "cleaner"


def fingerprint(sources: Iterable[Path], extra: Iterable[str | bytes]) -> str | None:
    """A short hash of ``sources`` (each file's path, size and modification
    time) and ``extra``; None when a source cannot be read (no cache then).

    >>> fingerprint([Path("/no/such/file")], []) is None
    True
    """
    h = hashlib.sha1(_LAYOUT)
    try:
        for p in sources:
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogatepass"))
    except OSError:
        return None
    for x in extra:
        h.update(x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def cached_codes(name: str, key: str | None, build: Callable[[], np.ndarray | None]) -> np.ndarray | None:
    """``build()``, or the array it gave last time for the same ``key``.

    ``key`` is a :func:`fingerprint` of what ``build`` reads (None: do not
    cache). A None result (the data could not be read) is not kept.

    >>> cached_codes("demo", None, lambda: np.arange(3, dtype=np.int32)).tolist()  # None: not kept
    [0, 1, 2]
    """
    folder = cache_dir()
    path = folder / f"{name}-{key}.npy" if folder is not None and key is not None else None
    if path is not None:
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            pass  # not there yet, or damaged: built again below
    out = build()
    if out is not None and path is not None:
        _store(path, out)
    return out


def drawn_once(name: str, source: Path, draw: Callable[[], np.ndarray]) -> np.ndarray:
    """``draw()``, a fixed draw of random parameters made in ``source`` (the
    module that draws), kept like a table: importing ``numpy.random`` costs
    5-12 ms in every process that draws; read back, the same values cost a
    fraction of a millisecond. ``name`` must say every argument of the draw;
    the module's fingerprint and numpy's version cover the rest.

    >>> drawn_once("doctest-drawn-once", Path(__file__), lambda: np.arange(3, dtype=np.uint32)).tolist()
    [0, 1, 2]
    """
    got = cached_codes(name, fingerprint([source], [np.__version__]), draw)
    assert got is not None
    return got


def _store(path: Path, codes: np.ndarray) -> None:
    # Written aside and renamed: a reader in another process sees the whole
    # file or none, never a half-written one.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, codes, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        # Versions for other fingerprints are another environment's, or
        # stale (an upgrade, an edited dictionary): only the newest few stay.
        stem = path.stem.rsplit("-", 1)[0]
        others = [old for old in path.parent.glob(f"{stem}-*.npy") if old != path and len(old.stem) == len(path.stem)]
        others.sort(key=lambda old: (old.stat().st_mtime_ns, old.name), reverse=True)
        for old in others[VERSIONS_KEPT - 1 :]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # read-only home, full disk: the table is simply built next time too
