"""Persistent collections: an embedded SQLite store that deduplicates across ingests.

A :class:`Store` is a long-lived object with small verbs (``ingest``,
``list_records``, ``get_record``, ``iter_records``, ``delete_collection``, …).
It keeps every stored document (the raw bytes, or the text of a JSON
document), every canonical record with its MinHash signature and sampled
shingles, the key of every article part a record covers, and the boilerplate
learned per collection.

Ingest (see docs/service.md, "Storage"):

1. **Documents** are deduplicated by SHA-256 (a file already stored, under
   any name, is acknowledged and skipped); a new file whose name is taken by
   different content is stored as ``stem~<sha8>.ext``.
2. The pipeline runs on the **new documents alone**, with the collection's
   learned boilerplate as ``known_boilerplate``.
3. Each new record's shingles give **candidates** among the stored records:
   MinHash LSH (an in-memory :class:`~cleaner.index.BandIndex` per
   collection, rebuilt from the stored signatures when the store opens) and
   a sampled-shingle index for containment (truncated copies), as in
   :mod:`cleaner.cluster`; each candidate is **verified** with the clusterer's
   thresholds on exact shingle sets.
4. If anything matched, the pipeline **re-runs** on the union of the matched
   records' source documents and the new documents. The results that hold a
   new article part or a matched record's part are kept; if one of them also
   holds a part owned by another stored record, that record joins the set and
   the re-run repeats (a closure, bounded by ``MAX_ROUNDS``).
5. **Ids carry over**: each kept result takes the id of the matched stored
   record it shares the most article parts with (``(file, article)`` keys,
   stable because segmentation is per file); results that share none are new.
   A matched record whose parts all went to another record is deleted
   (reported as ``merged``).
6. Everything (documents, records, parts, learned rules) is written in one
   ``BEGIN IMMEDIATE`` transaction; the in-memory index is updated after the
   commit. Ingests into one collection are serialised by a per-collection
   lock (and SQLite's write lock across connections).

Durability: WAL journal with ``synchronous=FULL``: a transaction is on disk
when ``COMMIT`` returns, so an acknowledged ingest survives a process kill and
a power loss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .cluster import ArticleClusterer, similarity
from .config import CleanConfig
from .index import BandIndex
from .normalize import KEY_VERSION
from .pipeline import Cleaner, CleanResult
from .types import Problem

SCHEMA_VERSION = 1

log = logging.getLogger(__name__)
MAX_ROUNDS = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('bytes', 'text')),
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (collection, name)
);
CREATE INDEX IF NOT EXISTS documents_sha ON documents (collection, sha256);
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    chars INTEGER NOT NULL,
    n_sources INTEGER NOT NULL,
    json TEXT NOT NULL,
    sig BLOB NOT NULL,
    samples BLOB NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS record_sources (
    collection TEXT NOT NULL,
    record_id TEXT NOT NULL,
    file TEXT NOT NULL,
    article INTEGER NOT NULL,
    PRIMARY KEY (collection, record_id, file, article),
    FOREIGN KEY (collection, record_id) REFERENCES records(collection, id) ON DELETE CASCADE,
    FOREIGN KEY (collection, file) REFERENCES documents(collection, name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS record_sources_part ON record_sources (collection, file, article);
CREATE TABLE IF NOT EXISTS learned (
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    rule TEXT NOT NULL,
    PRIMARY KEY (collection, key)
);
"""


def stored_signatures(blobs: Sequence[bytes], dtype: Any) -> np.ndarray:
    """Signatures as the store keeps them (every value widened to 8 bytes)
    back in the hasher's ``dtype``: 32-bit signatures read as 64-bit would
    keep their values but not their meaning at the top (the empty set's
    all-maximum signature would no longer be recognised as empty).

    >>> from cleaner.sketch import MinHasher, is_empty
    >>> empty = MinHasher(8, scheme="oph32").empty()
    >>> is_empty(stored_signatures([empty.astype(np.uint64).tobytes()], np.uint32)[0])
    True
    """
    return np.stack([np.frombuffer(b, dtype=np.uint64) for b in blobs]).astype(dtype)


@dataclass(frozen=True)
class NewDocument:
    """A file (raw bytes, decoded by the pipeline) or a text (JSON document) to add."""

    name: str
    data: bytes | None = None
    text: str | None = None
    meta: Mapping[str, Any] | None = None

    @property
    def kind(self) -> str:
        return "text" if self.text is not None else "bytes"

    @property
    def payload(self) -> bytes:
        if self.text is not None:
            return self.text.encode("utf-8", "surrogatepass")
        return self.data or b""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.kind.encode() + b"\0" + self.payload).hexdigest()

    def feed(self, cleaner: Cleaner) -> int:
        if self.text is not None:
            return cleaner.add_text(self.name, self.text, self.meta)
        return cleaner.add_bytes(self.name, self.data or b"")


@dataclass
class IngestResult:
    """What an ingest did: records created and updated (full records), ids
    merged away, every document's fate, and the report of the new files."""

    collection: str
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    result: CleanResult | None = field(default=None, repr=False)


class CollectionNotFound(KeyError):
    pass


class DocumentRejected(ValueError):
    """A document the caller required to be processable could not be (binary,
    empty, undecodable): the ingest stored nothing."""

    def __init__(self, name: str, problem: Problem) -> None:
        super().__init__(problem.message)
        self.name = name
        self.problem = problem


PartKey = tuple[str, int]


def record_parts(record: Mapping[str, Any]) -> set[PartKey]:
    """The ``(file, article)`` parts a record covers.

    >>> sorted(record_parts({"sources": [{"file": "a", "article": 1}, {"file": "b", "article": 0}]}))
    [('a', 1), ('b', 0)]
    """
    return {(s["file"], int(s["article"])) for s in record.get("sources", ())}


def _alt_name(name: str, sha: str) -> str:
    """``dir/a.txt`` -> ``dir/a~1a2b3c4d.txt`` (the suffix keeps HTML detection).

    >>> _alt_name("x.zip!p/a.html", "1a2b3c4d99")
    'x.zip!p/a~1a2b3c4d.html'
    """
    cut = max(name.rfind("/"), name.rfind("!"))
    head, tail = name[: cut + 1], name[cut + 1 :]
    stem, ext = posixpath.splitext(tail)
    return f"{head}{stem or tail}~{sha[:8]}{ext if stem else ''}"


class _CollectionIndex:
    """Candidates among a collection's stored records: MinHash LSH plus a
    sampled-shingle index for containment (as :class:`ArticleClusterer`)."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.lsh = BandIndex(cfg.candidate_threshold, cfg.num_perm)
        self.samples: dict[int, set[str]] = defaultdict(set)
        self.sampled: dict[str, np.ndarray] = {}

    def add(self, rid: str, sig: np.ndarray, samples: np.ndarray) -> None:
        if rid in self.lsh:
            self.remove(rid)
        self.lsh.add(rid, sig)
        self.sampled[rid] = samples
        for h in samples.tolist():
            self.samples[h].add(rid)

    def remove(self, rid: str) -> None:
        if rid in self.lsh:
            self.lsh.remove(rid)
        for h in self.sampled.pop(rid, np.zeros(0, dtype=np.uint64)).tolist():
            owners = self.samples.get(h)
            if owners is not None:
                owners.discard(rid)
                if not owners:
                    del self.samples[h]

    def candidates(self, sig: np.ndarray, samples: np.ndarray) -> set[str]:
        found = set(self.lsh.query(sig)) if len(self.lsh) else set()
        shared: dict[str, int] = defaultdict(int)
        for h in samples.tolist():
            owners = self.samples.get(h)
            if owners is not None and len(owners) <= self.cfg.max_bucket:
                for rid in owners:
                    shared[rid] += 1
        found.update(r for r, n in shared.items() if n >= self.cfg.min_shared_samples)
        return found


class Store:
    """The embedded store: one SQLite file, one connection per thread.

    >>> import tempfile, os
    >>> s = Store(os.path.join(tempfile.mkdtemp(), "c.sqlite3"))
    >>> r = s.ingest("demo", [NewDocument("a.txt", text="讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。")])
    >>> len(r.created), s.collection_info("demo")["records"]
    (1, 1)
    >>> s.close()
    """

    def __init__(self, path: str | Path, config: CleanConfig | None = None, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.config = config or CleanConfig()
        self.synchronous = synchronous
        self.clusterer = ArticleClusterer(self.config.cluster)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._indexes: dict[str, _CollectionIndex] = {}
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._resketch_if_changed(conn)
        self.rebuild_indexes()

    # -- connections ---------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    def ping(self) -> bool:
        """The store answers (readiness)."""
        try:
            self._conn().execute("SELECT count(*) FROM collections").fetchone()
            return True
        except sqlite3.Error:
            return False

    def _lock(self, collection: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(collection, threading.Lock())

    def _sketch_label(self) -> str:
        c = self.config.cluster
        return f"{c.scheme}/{c.num_perm}/k{c.shingle_k}/w{c.word_k}/keys{KEY_VERSION}"

    def _resketch_if_changed(self, conn: sqlite3.Connection) -> None:
        """Stored signatures and samples are only comparable with new ones
        made the same way: after a change of scheme, shingles or match keys
        (a new release, another config), they are computed again from the
        stored record texts, once, before the index is built from them."""
        label = self._sketch_label()
        row = conn.execute("SELECT value FROM meta WHERE key='sketch'").fetchone()
        if row is not None and row[0] == label:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute("SELECT collection, id, json FROM records ORDER BY collection, id").fetchall()
            for start in range(0, len(rows), 500):
                batch = rows[start : start + 500]
                _, _, sigs, samples = self._sketch([json.loads(r[2])["text"] for r in batch])
                conn.executemany(
                    "UPDATE records SET sig=?, samples=? WHERE collection=? AND id=?",
                    [(sigs[i].astype(np.uint64).tobytes(), samples[i].astype(np.uint64).tobytes(), c, rid)
                     for i, (c, rid, _) in enumerate(batch)],
                )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('sketch', ?)", (label,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if rows:
            log.info("store %s: signatures of %d records recomputed for %s (were %s)", self.path, len(rows), label,
                     row[0] if row else "unlabelled")

    # -- the in-memory index ---------------------------------------------------
    def rebuild_indexes(self) -> None:
        """(Re)build every collection's candidate index from stored signatures."""
        conn = self._conn()
        indexes: dict[str, _CollectionIndex] = {}
        for (name,) in conn.execute("SELECT name FROM collections").fetchall():
            idx = _CollectionIndex(self.config.cluster)
            rows = conn.execute("SELECT id, sig, samples FROM records WHERE collection=?", (name,)).fetchall()
            if rows:
                sigs = stored_signatures([r[1] for r in rows], self.clusterer.hasher.dtype)
                idx.lsh.add_many([r[0] for r in rows], sigs)
                for rid, _, samples in rows:
                    arr = np.frombuffer(samples, dtype=np.uint64)
                    idx.sampled[rid] = arr
                    for h in arr.tolist():
                        idx.samples[h].add(rid)
            indexes[name] = idx
        self._indexes = indexes

    def _index(self, collection: str) -> _CollectionIndex:
        idx = self._indexes.get(collection)
        if idx is None:
            idx = self._indexes[collection] = _CollectionIndex(self.config.cluster)
        return idx

    def _sketch(self, texts: Sequence[str]) -> tuple[list[np.ndarray], list[bool], np.ndarray, list[np.ndarray]]:
        sets, words = self.clusterer.shingles(list(texts))
        sigs = self.clusterer.hasher.signatures(sets) if sets else np.zeros((0, self.config.cluster.num_perm), np.uint64)
        mod = np.uint64(self.config.cluster.sample_mod)
        samples = [
            s[s % mod == 0] if len(s) >= self.config.cluster.min_shingles else np.zeros(0, dtype=np.uint64) for s in sets
        ]
        return sets, words, sigs, samples

    # -- reading -----------------------------------------------------------------
    def list_collections(self) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT name FROM collections ORDER BY name").fetchall()
        return [info for (name,) in rows if (info := self.collection_info(name)) is not None]

    def collection_info(self, collection: str) -> dict[str, Any] | None:
        conn = self._conn()
        row = conn.execute("SELECT created, updated, version FROM collections WHERE name=?", (collection,)).fetchone()
        if row is None:
            return None
        docs, size = conn.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM documents WHERE collection=?", (collection,)
        ).fetchone()
        (records,) = conn.execute("SELECT count(*) FROM records WHERE collection=?", (collection,)).fetchone()
        (learned,) = conn.execute("SELECT count(*) FROM learned WHERE collection=?", (collection,)).fetchone()
        return {
            "name": collection,
            "documents": docs,
            "bytes": size,
            "records": records,
            "learned_rules": learned,
            "created": row[0],
            "updated": row[1],
            "version": row[2],
        }

    def exists(self, collection: str) -> bool:
        return self._conn().execute("SELECT 1 FROM collections WHERE name=?", (collection,)).fetchone() is not None

    def list_records(self, collection: str, limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of record summaries ordered by id, and the cursor of the next page."""
        if not self.exists(collection):
            raise CollectionNotFound(collection)
        rows = self._conn().execute(
            "SELECT id, title, chars, n_sources, created, updated FROM records "
            "WHERE collection=? AND id > ? ORDER BY id LIMIT ?",
            (collection, cursor or "", limit + 1),
        ).fetchall()
        page = [
            {"id": r[0], "title": r[1], "chars": r[2], "sources": r[3], "created": r[4], "updated": r[5]}
            for r in rows[:limit]
        ]
        return page, (page[-1]["id"] if len(rows) > limit else None)

    def get_record(self, collection: str, rid: str) -> dict[str, Any] | None:
        if not self.exists(collection):
            raise CollectionNotFound(collection)
        row = self._conn().execute("SELECT json FROM records WHERE collection=? AND id=?", (collection, rid)).fetchone()
        return json.loads(row[0]) if row else None

    def iter_records(self, collection: str, batch: int = 200) -> Iterator[str]:
        """Every record as its stored JSON text, ordered by id (a consistent
        snapshot: one read transaction)."""
        if not self.exists(collection):
            raise CollectionNotFound(collection)
        # The consumer (a streaming response) may resume this generator on
        # another thread; the connection is only ever used by one at a time.
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("BEGIN")
            last = ""
            while True:
                rows = conn.execute(
                    "SELECT id, json FROM records WHERE collection=? AND id > ? ORDER BY id LIMIT ?",
                    (collection, last, batch),
                ).fetchall()
                if not rows:
                    break
                for rid, text in rows:
                    yield text
                last = rows[-1][0]
            conn.execute("COMMIT")
        finally:
            conn.close()

    def documents(self, collection: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT name, kind, sha256, size, created FROM documents WHERE collection=? ORDER BY name", (collection,)
        ).fetchall()
        return [{"name": r[0], "kind": r[1], "sha256": r[2], "bytes": r[3], "created": r[4]} for r in rows]

    def learned(self, collection: str) -> dict[str, str]:
        rows = self._conn().execute("SELECT key, rule FROM learned WHERE collection=?", (collection,)).fetchall()
        return dict(rows)

    def _load_documents(self, conn: sqlite3.Connection, collection: str, names: Sequence[str]) -> list[NewDocument]:
        out = []
        for name in sorted(set(names)):
            row = conn.execute(
                "SELECT kind, data, meta FROM documents WHERE collection=? AND name=?", (collection, name)
            ).fetchone()
            if row is None:
                continue
            kind, data, meta = row
            if kind == "text":
                out.append(NewDocument(name, text=bytes(data).decode("utf-8", "surrogatepass"), meta=json.loads(meta) or None))
            else:
                out.append(NewDocument(name, data=bytes(data)))
        return out

    # -- writing -----------------------------------------------------------------
    def delete_collection(self, collection: str) -> bool:
        with self._lock(collection):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute("DELETE FROM collections WHERE name=?", (collection,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._indexes.pop(collection, None)
            return cur.rowcount > 0

    def _run(
        self, docs: Sequence[NewDocument], learned: Mapping[str, str], problems: Sequence[tuple[str, Problem, int]] = ()
    ) -> CleanResult:
        cleaner = Cleaner(self.config, known_boilerplate=learned)
        for name, problem, size in problems:
            cleaner.add_problem(name, problem, size)
        for doc in docs:
            doc.feed(cleaner)
        return cleaner.finish()

    def ingest(
        self,
        collection: str,
        docs: Sequence[NewDocument],
        problems: Sequence[tuple[str, Problem, int]] = (),
        reject: Collection[str] = (),
    ) -> IngestResult:
        """Add documents to a collection (created on first use), deduplicating
        against everything stored; see the module docstring for the algorithm.

        ``problems``: inputs that could not be read (reported, not stored);
        ``reject``: names of documents whose failure (``error`` status) aborts
        the ingest with :class:`DocumentRejected` before anything is written.
        """
        with self._lock(collection):
            return self._ingest(collection, docs, problems, reject)

    def _ingest(
        self,
        collection: str,
        docs: Sequence[NewDocument],
        problems: Sequence[tuple[str, Problem, int]],
        reject: Collection[str],
    ) -> IngestResult:
        conn = self._conn()
        out = IngestResult(collection)
        learned = self.learned(collection)

        # 1. Documents: idempotent by content, unique by name.
        fresh: list[NewDocument] = []
        original: dict[str, str] = {}
        seen_sha: dict[str, str] = {}
        taken: set[str] = set()
        for doc in docs:
            sha = doc.sha256
            row = conn.execute(
                "SELECT name FROM documents WHERE collection=? AND sha256=? LIMIT 1", (collection, sha)
            ).fetchone()
            dup_of = row[0] if row else seen_sha.get(sha)
            if dup_of is not None:
                out.documents.append({"name": doc.name, "status": "duplicate", "stored_as": dup_of, "sha256": sha})
                continue
            name = doc.name
            if name in taken or conn.execute(
                "SELECT 1 FROM documents WHERE collection=? AND name=?", (collection, name)
            ).fetchone():
                name = _alt_name(name, sha)
            original[name] = doc.name
            if name != doc.name:
                doc = replace(doc, name=name)
            taken.add(name)
            seen_sha[sha] = name
            fresh.append(doc)

        # 2. The pipeline on the new documents alone.
        res_new = self._run(fresh, learned, problems)
        status = {fr.file: fr.status for fr in res_new.report.files}
        for fr in res_new.report.files:
            if fr.status == "error" and original.get(fr.file, fr.file) in reject:
                problem = fr.problems[0] if fr.problems else Problem("error", f"{fr.file}: cannot be processed")
                raise DocumentRejected(original.get(fr.file, fr.file), problem)
        stored_docs = [d for d in fresh if status.get(d.name) != "error"]
        for d in fresh:
            entry = {"name": d.name, "status": "added" if status.get(d.name) != "error" else "rejected", "sha256": d.sha256}
            if original.get(d.name, d.name) != d.name:
                entry["uploaded_as"] = original[d.name]
            out.documents.append(entry)
        out.report = res_new.report.to_dict()
        out.result = res_new
        new_records = [a.to_dict() for a in res_new.articles]
        new_parts = set().union(*(record_parts(r) for r in new_records)) if new_records else set()

        # 3. Candidates among stored records, verified.
        idx = self._index(collection)
        cfg = self.config.cluster
        matched: set[str] = set()
        if new_records and len(idx.lsh):
            sets, words, sigs, samples = self._sketch([r["text"] for r in new_records])
            cand_by_new = [idx.candidates(sigs[i], samples[i]) for i in range(len(new_records))]
            cands = sorted(set().union(*cand_by_new))
            old_texts = self._record_texts(conn, collection, cands)
            old_ids = [c for c in cands if c in old_texts]
            if old_ids:
                osets, owords, _, _ = self._sketch([old_texts[c] for c in old_ids])
                opos = {c: i for i, c in enumerate(old_ids)}
                for i, cset in enumerate(cand_by_new):
                    for c in cset:
                        j = opos.get(c)
                        if j is not None and similarity(sets[i], osets[j]).same_article(cfg, words[i] and owords[j]):
                            matched.add(c)

        # 4. Re-run on the union, closing over records the results touch.
        learned_out = dict(res_new.learned)
        old_records: dict[str, dict[str, Any]] = {}
        if matched:
            affected = set(matched)
            final: list[dict[str, Any]] = []
            for _ in range(MAX_ROUNDS):
                old_records = self._records(conn, collection, affected)
                old_parts = {p: rid for rid, rec in old_records.items() for p in record_parts(rec)}
                names = {p[0] for p in old_parts}
                rerun = self._run([*self._load_documents(conn, collection, sorted(names)), *stored_docs], learned)
                learned_out.update(rerun.learned)
                final = [
                    r
                    for r in (a.to_dict() for a in rerun.articles)
                    if record_parts(r) & (new_parts | old_parts.keys())
                ]
                touched = set()
                for r in final:
                    touched |= self._owners(conn, collection, record_parts(r) - old_parts.keys() - new_parts)
                touched -= affected
                if not touched:
                    break
                affected |= touched
            old_records = self._records(conn, collection, affected)
        else:
            final = new_records

        # 5. Ids: a result takes the id of the stored record it shares most parts with.
        assigned = self._assign_ids(conn, collection, final, old_records)
        now = time.time()
        created_ids, updated_ids = [], []
        for rec, (rid, was_old) in zip(final, assigned):
            rec["id"] = rid
            (updated_ids if was_old else created_ids).append(rid)
        kept = {rid for rid, _ in assigned}
        out.merged = sorted(set(old_records) - kept)

        # 6. One transaction.
        fsets, fwords, fsigs, fsamples = self._sketch([r["text"] for r in final]) if final else ([], [], None, [])
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO collections(name, created, updated, version) VALUES (?, ?, ?, 1) "
                "ON CONFLICT(name) DO UPDATE SET updated=excluded.updated, version=version+1",
                (collection, now, now),
            )
            for d in stored_docs:
                conn.execute(
                    "INSERT INTO documents(collection, name, kind, sha256, data, meta, size, created) VALUES (?,?,?,?,?,?,?,?)",
                    (collection, d.name, d.kind, d.sha256, d.payload, json.dumps(dict(d.meta or {}), ensure_ascii=False), len(d.payload), now),
                )
            for rid in out.merged:
                conn.execute("DELETE FROM records WHERE collection=? AND id=?", (collection, rid))
            for i, rec in enumerate(final):
                rid = rec["id"]
                conn.execute("DELETE FROM record_sources WHERE collection=? AND record_id=?", (collection, rid))
                conn.execute(
                    "INSERT INTO records(collection, id, title, chars, n_sources, json, sig, samples, created, updated) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(collection, id) DO UPDATE SET title=excluded.title, "
                    "chars=excluded.chars, n_sources=excluded.n_sources, json=excluded.json, sig=excluded.sig, "
                    "samples=excluded.samples, updated=excluded.updated",
                    (
                        collection, rid, rec.get("title", ""), len(rec["text"]), len(rec["sources"]),
                        json.dumps(rec, ensure_ascii=False), fsigs[i].astype(np.uint64).tobytes(),
                        fsamples[i].astype(np.uint64).tobytes(), now, now,
                    ),
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO record_sources(collection, record_id, file, article) VALUES (?,?,?,?)",
                    [(collection, rid, f, a) for f, a in sorted(record_parts(rec))],
                )
            conn.executemany(
                "INSERT OR REPLACE INTO learned(collection, key, rule) VALUES (?,?,?)",
                [(collection, k, v) for k, v in learned_out.items()],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

        for rid in out.merged:
            idx.remove(rid)
        for i, rec in enumerate(final):
            idx.add(rec["id"], fsigs[i], fsamples[i])
        by_id = {r["id"]: r for r in final}
        out.created = [by_id[r] for r in created_ids]
        out.updated = [by_id[r] for r in updated_ids]
        return out

    def _records(self, conn: sqlite3.Connection, collection: str, ids: set[str]) -> dict[str, dict[str, Any]]:
        out = {}
        for rid in sorted(ids):
            row = conn.execute("SELECT json FROM records WHERE collection=? AND id=?", (collection, rid)).fetchone()
            if row:
                out[rid] = json.loads(row[0])
        return out

    def _record_texts(self, conn: sqlite3.Connection, collection: str, ids: Sequence[str]) -> dict[str, str]:
        return {rid: rec["text"] for rid, rec in self._records(conn, collection, set(ids)).items()}

    def _owners(self, conn: sqlite3.Connection, collection: str, parts: set[PartKey]) -> set[str]:
        owners: set[str] = set()
        for f, a in parts:
            owners.update(
                r for (r,) in conn.execute(
                    "SELECT record_id FROM record_sources WHERE collection=? AND file=? AND article=?", (collection, f, a)
                )
            )
        return owners

    def _assign_ids(
        self, conn: sqlite3.Connection, collection: str, final: list[dict[str, Any]], old: dict[str, dict[str, Any]]
    ) -> list[tuple[str, bool]]:
        old_parts = {rid: record_parts(rec) for rid, rec in old.items()}
        old_base = {rid: (rec["sources"][0]["file"], rec["sources"][0]["article"]) if rec.get("sources") else None for rid, rec in old.items()}
        pairs = []
        for i, rec in enumerate(final):
            parts = record_parts(rec)
            for rid, op in old_parts.items():
                n = len(parts & op)
                if n:
                    pairs.append((-n, old_base[rid] not in parts, rid, i))
        pairs.sort()
        result: list[tuple[str, bool] | None] = [None] * len(final)
        used: set[str] = set()
        for _, _, rid, i in pairs:
            if result[i] is None and rid not in used:
                result[i] = (rid, True)
                used.add(rid)
        for i, rec in enumerate(final):
            if result[i] is None:
                base = rec["id"]
                rid, n = base, 1
                while rid in used or (
                    rid not in old
                    and conn.execute("SELECT 1 FROM records WHERE collection=? AND id=?", (collection, rid)).fetchone()
                ):
                    n += 1
                    rid = f"{base}-{n}"
                result[i] = (rid, False)
                used.add(rid)
        return [r for r in result if r is not None]

    # -- checks ------------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems with the stored data (empty when consistent): SQLite's
        integrity and foreign-key checks, every record's sources stored, no
        article part in two records."""
        conn = self._conn()
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
        docs = {(c, n) for c, n in conn.execute("SELECT collection, name FROM documents")}
        owner: dict[tuple[str, str, int], str] = {}
        for coll, rid, text in conn.execute("SELECT collection, id, json FROM records"):
            rec = json.loads(text)
            if rec.get("id") != rid:
                problems.append(f"{coll}/{rid}: stored id differs from the record's ({rec.get('id')})")
            for f, a in record_parts(rec):
                if (coll, f) not in docs:
                    problems.append(f"{coll}/{rid}: source {f!r} is not a stored document")
                prev = owner.setdefault((coll, f, a), rid)
                if prev != rid:
                    problems.append(f"{coll}: part {f}#{a} is in records {prev} and {rid}")
        return problems


__all__ = ["CollectionNotFound", "DocumentRejected", "IngestResult", "NewDocument", "Store", "record_parts"]
