"""Trial store: every evaluated candidate of every study, in one SQLite file.

Stdlib `sqlite3` in WAL mode. A study row holds the search's full configuration (JSON), the code version, the
seed, the objectives and a status; a trial row holds the candidate configuration, its metrics, its seed, its
status, start/end wall-clock times and the error of a failed evaluation. Every write is one transaction, so a
process killed at any moment (SIGKILL included) leaves the file consistent and loses only what was not yet
written: the trials in flight. `synchronous=NORMAL` keeps commits cheap; it is durable against a killed process
but not against power loss (pass `durable=True` for `synchronous=FULL`).

Only the process that runs a study writes to its store; any number of readers (`ovl results`, plots) may read
concurrently.
"""
from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Literal

from compiler.errors import UserError

SCHEMA_VERSION = 1
StudyStatus = Literal["running", "finished", "failed"]
TrialStatus = Literal["complete", "failed"]
Direction = Literal["min", "max"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    objectives TEXT NOT NULL,
    seed INTEGER NOT NULL,
    code_version TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    idx INTEGER NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL NOT NULL,
    error TEXT,
    PRIMARY KEY (study_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id),
    next_index INTEGER NOT NULL,
    state BLOB NOT NULL,
    created REAL NOT NULL
);
"""


class StoreError(UserError):
    """A store file that cannot be opened or read, or a study that is missing or conflicts."""


@dataclass(frozen=True)
class Study:
    """One search run. `objectives` maps a metric name to "min" or "max" (the first one is the primary)."""

    name: str
    config: dict[str, Any]
    objectives: dict[str, Direction]
    seed: int
    code_version: str
    status: StudyStatus
    created: float
    updated: float
    n_trials: int = 0
    id: int = field(default=0, compare=False)

    @property
    def primary(self) -> tuple[str, Direction] | None:
        return next(iter(self.objectives.items()), None)


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate. `metrics` is None for a failed trial, whose `error` says why."""

    index: int
    config: Any
    metrics: dict[str, Any] | None
    seed: int
    status: TrialStatus
    started: float = 0.0
    finished: float = 0.0
    error: str | None = None

    @property
    def duration(self) -> float:
        return self.finished - self.started

    def same_result(self, other: "Trial") -> bool:
        """Equal apart from wall-clock timings (what a resumed run must reproduce)."""
        return (self.index, to_json(self.config), to_json(self.metrics), self.seed, self.status, self.error) == (
            other.index, to_json(other.config), to_json(other.metrics), other.seed, other.status, other.error)


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays without importing numpy here
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json(value: Any) -> str:
    """Canonical JSON text (sorted keys); numpy values become plain numbers and lists."""
    try:
        return json.dumps(value, sort_keys=True, default=_json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise UserError(f"value {value!r:.80} cannot be stored as JSON ({exc}): use numbers, strings, lists "
                        "and dicts in candidate configurations and metrics") from None


def canonical(value: Any) -> Any:
    """The value as it reads back from the store (tuples become lists, numpy scalars plain numbers)."""
    return json.loads(to_json(value))


def code_version() -> str:
    """`ovl-toolchain <version>` plus the git commit of the source tree when available (`+dirty` if modified)."""
    try:
        version = metadata.version("ovl-toolchain")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return f"ovl-toolchain {version}" + (f" git {commit}{'+dirty' if dirty else ''}" if commit else "")


class TrialStore:
    """A SQLite trial store. Use as a context manager, or call `close()`.

    `readonly=True` opens an existing file for reading only (what `ovl results` and the plot loaders do).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, durable: bool = False):
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise StoreError(f"store {self.path}: no such file; give the path of a .db file written by a search")
        if not readonly and not self.path.parent.is_dir():
            raise StoreError(f"store {self.path}: directory {self.path.parent} does not exist; create it first")
        try:
            uri = f"file:{self.path.resolve()}?mode=ro" if readonly else str(self.path)
            self._db = sqlite3.connect(uri, uri=readonly, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: not a trial store ({exc}); give a .db file written by a search")
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise StoreError(f"store {self.path}: schema version {version and version[0]} is not "
                             f"{SCHEMA_VERSION}; read it with the ovl version that wrote it")

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "TrialStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- studies ------------------------------------------------------------------------------------------------
    def create_study(self, name: str, *, config: dict[str, Any], objectives: dict[str, Direction], seed: int,
                     version: str | None = None) -> Study:
        if not name or not isinstance(name, str):
            raise StoreError("study name must be a non-empty string")
        bad = {k: v for k, v in objectives.items() if v not in ("min", "max")}
        if bad:
            raise UserError(f"objectives {bad}: each direction must be 'min' or 'max'")
        now = time.time()
        try:
            with self._tx():
                self._db.execute(
                    "INSERT INTO studies (name, config, objectives, seed, code_version, status, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                    (name, to_json(config), json.dumps(objectives), int(seed), version or code_version(), now, now))
        except sqlite3.IntegrityError:
            raise StoreError(f"study '{name}' already exists in {self.path}: resume it or choose another name")
        study = self.get_study(name)
        assert study is not None
        return study

    def get_study(self, name: str) -> Study | None:
        row = self._db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id) FROM studies s WHERE name = ?",
            (name,)).fetchone()
        return _study(row) if row else None

    def study(self, name: str) -> Study:
        """The study called `name`, or a `StoreError` listing the studies there are."""
        s = self.get_study(name)
        if s is None:
            names = ", ".join(st.name for st in self.studies()) or "none"
            raise StoreError(f"study '{name}' not found in {self.path}; studies there: {names}")
        return s

    def studies(self) -> list[Study]:
        rows = self._db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id) FROM studies s ORDER BY s.id")
        return [_study(r) for r in rows]

    def set_status(self, study: Study, status: StudyStatus) -> None:
        with self._tx():
            self._db.execute("UPDATE studies SET status = ?, updated = ? WHERE id = ?", (status, time.time(), study.id))

    # --- trials -------------------------------------------------------------------------------------------------
    def add_trials(self, study: Study, trials: Iterable[Trial]) -> None:
        """Write trials in one transaction (all or none). Re-adding an index is an error: trials are immutable."""
        rows = [(study.id, t.index, to_json(t.config), None if t.metrics is None else to_json(t.metrics), int(t.seed),
                 t.status, t.started, t.finished, t.error) for t in trials]
        if not rows:
            return
        try:
            with self._tx():
                self._db.executemany("INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("UPDATE studies SET updated = ? WHERE id = ?", (time.time(), study.id))
        except sqlite3.IntegrityError:
            raise StoreError(f"study '{study.name}' in {self.path}: a trial index in {[r[1] for r in rows]} is "
                             "already stored (two processes writing one study?)")

    def trials(self, study: Study, *, status: TrialStatus | None = None) -> list[Trial]:
        """Trials of a study in index order (optionally only those with `status`)."""
        sql = "SELECT idx, config, metrics, seed, status, started, finished, error FROM trials WHERE study_id = ?"
        args: tuple = (study.id,)
        if status:
            sql, args = sql + " AND status = ?", (study.id, status)
        rows = self._db.execute(sql + " ORDER BY idx", args)
        return [Trial(i, json.loads(c), None if m is None else json.loads(m), s, st, t0, t1, e)
                for i, c, m, s, st, t0, t1, e in rows]

    # --- strategy checkpoints -----------------------------------------------------------------------------------
    def save_checkpoint(self, study: Study, next_index: int, state: bytes) -> None:
        """Keep `state` (a strategy snapshot taken after telling trials < next_index) as the study's latest."""
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                             (study.id, next_index, sqlite3.Binary(state), time.time()))

    def checkpoint(self, study: Study) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT next_index, state FROM checkpoints WHERE study_id = ?", (study.id,)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def _tx(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception (autocommit connection underneath)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _study(row: tuple) -> Study:
    id_, name, config, objectives, seed, version, status, created, updated, n = row
    return Study(name, json.loads(config), json.loads(objectives), seed, version, status, created, updated, n, id_)


def metric_value(trial: Trial, metric: str) -> float:
    """A numeric metric of a trial, NaN when the trial failed or lacks it."""
    if trial.metrics is None:
        return math.nan
    v = trial.metrics.get(metric)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
