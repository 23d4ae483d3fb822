"""Arrays kept in a temporary file instead of memory, read back on demand.

Clustering keeps one sorted shingle set per text (4 bytes a character of
the corpus) but, after sorting the texts by completeness, reads most of
them once or twice; only leaders and their guards are read again and
again. :class:`SpilledArrays` writes each set to an anonymous temporary
file as it arrives and reads it back when asked, keeping the most recently
read ones (about ``cache_bytes``) in memory.

>>> store = SpilledArrays()
>>> store.append(np.array([1, 5, 9], dtype=np.uint32))
>>> store.append(np.zeros(0, dtype=np.uint32))
>>> len(store), store[0].tolist(), store.sizes.tolist()
(2, [1, 5, 9], [3, 0])
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["SpillError", "SpilledArrays"]


class SpillError(OSError):
    """The temporary file could not be made, written or read (a full or
    read-only temporary folder): ``strerror`` says which folder and why."""


class SpilledArrays(Sequence[np.ndarray]):
    """An append-only sequence of 1-D arrays of one dtype, stored in a
    temporary file (deleted when the object is closed or collected)."""

    def __init__(self, dtype: Any = np.uint32, cache_bytes: int = 4 << 20) -> None:
        self.dtype = np.dtype(dtype)
        try:
            self._file = tempfile.TemporaryFile(prefix="cleaner-sets-")
        except OSError as exc:
            raise _spill_error(exc) from exc
        self._fd = self._file.fileno()
        self._end = 0
        self._offsets: list[int] = []
        self._sizes: list[int] = []
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached = 0
        self._cache_bytes = cache_bytes

    def append(self, arr: np.ndarray) -> None:
        data = np.ascontiguousarray(arr, dtype=self.dtype).tobytes()
        done = 0
        try:
            while done < len(data):  # os.pwrite may write less than asked
                done += os.pwrite(self._fd, data[done:], self._end + done)
        except OSError as exc:
            raise _spill_error(exc) from exc
        self._offsets.append(self._end)
        self._sizes.append(len(data) // self.dtype.itemsize)
        self._end += len(data)

    @property
    def sizes(self) -> np.ndarray:
        """The length of every array, without reading any."""
        return np.asarray(self._sizes, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]  (no slices: nothing needs them)
        if i < 0:
            i += len(self)
        arr = self._cache.get(i)
        if arr is not None:
            self._cache.move_to_end(i)
            return arr
        n = self._sizes[i] * self.dtype.itemsize  # IndexError for a bad i, as a list gives
        data = os.pread(self._fd, n, self._offsets[i]) if n else b""
        while len(data) < n:
            data += os.pread(self._fd, n - len(data), self._offsets[i] + len(data))
        arr = np.frombuffer(data, dtype=self.dtype)
        self._cache[i] = arr
        self._cached += n
        while self._cached > self._cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached -= old.nbytes
        return arr

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        self._cache.clear()
        self._file.close()

    def __enter__(self) -> SpilledArrays:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spill_error(exc: OSError) -> SpillError:
    folder = tempfile.gettempdir()
    return SpillError(
        exc.errno or 0,
        f"clustering's temporary file in {folder}: {exc.strerror or exc}"
        " (set TMPDIR to a folder with room: about 4 bytes per character of input)",
    )


def sizes_of(arrays: Sequence[np.ndarray]) -> list[int]:
    """``[len(a) for a in arrays]``, without reading spilled arrays back.

    >>> sizes_of([np.zeros(2), np.zeros(0)])
    [2, 0]
    """
    if isinstance(arrays, SpilledArrays):
        return arrays.sizes.tolist()
    return [len(a) for a in arrays]
