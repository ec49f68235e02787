"""Where a scenario run keeps its chunks on disk, so that it can be resumed.

Layout: ``<out>/runs/<scenario name>/manifest.json`` holds the run's identity
(the run key: plan fingerprint, scenario hash, seed, draws, chunk size); each
completed chunk is ``chunk_NNNNN.npz``. Resuming reads the chunks present and
runs only the missing ones; the final numbers are those of an uninterrupted run.

What makes a stored chunk trustworthy:

- it is written with :func:`reports.plan_files.write_text_atomic` (temporary file,
  ``fsync``, rename, directory ``fsync``), so a file that exists is complete even
  after a crash or power loss;
- besides its arrays it carries the run key (``run_key``) and a SHA-256 checksum
  (``checksum``) of the key and of every array (name, dtype, shape and bytes).

On resume every chunk file is checked. A chunk that is empty (0 bytes or no
draws), unreadable (truncated, not an .npz), without a checksum (written by an
older version), foreign (its run key is that of another plan, scenario, seed,
number of draws or order of solves, e.g. copied from another run), altered (checksum mismatch), or
misplaced (its chunk number differs from its file name) is reported through the
``warn`` callback and in :attr:`RunStore.problems`, deleted, and recomputed. This
module never prints; the command line decides how to show the warnings.

The run directory comes from the scenario name, so the name is checked: a name
whose directory would not lie strictly inside ``<out>/runs`` (absolute, ``..``,
a symbolic link pointing elsewhere, NUL characters) raises :class:`RunStoreError`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from reachplan.model.errors import ReachplanError
from reachplan.reports.plan_files import write_text_atomic
from reachplan.solver.batch import ChunkResult

CHUNK_FORMAT = 2
"""Version of the chunk file layout (2: run key and checksum inside the .npz)."""

_META = ("run_key", "checksum", "format")


class RunStoreError(ReachplanError):
    """A stored run cannot be used: it belongs to a different run, or its name is not a place."""


def chunk_checksum(key: str, arrays: Mapping[str, NDArray[np.generic]]) -> str:
    """SHA-256 of the run key and of each array's name, dtype, shape and bytes (sorted by name)."""
    digest = hashlib.sha256()
    digest.update(key.encode())
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{value.dtype.str}\0{value.shape}\0".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def run_directory(out_dir: Path, scenario_name: str) -> Path:
    """``<out>/runs/<scenario_name>``, resolved; refused unless strictly inside ``<out>/runs``.

    Raises
    ------
    RunStoreError
        When the name is empty, contains NUL, or its directory would lie outside
        ``<out>/runs`` (an absolute name, ``..``, a symbolic link pointing elsewhere).
    """
    root = Path(out_dir) / "runs"
    if not scenario_name.strip() or "\0" in scenario_name:
        raise RunStoreError(
            f"scenario name {scenario_name!r} cannot name a run directory under {root}"
        )
    try:
        resolved_root = root.resolve()
        resolved = (root / scenario_name).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise RunStoreError(
            f"scenario name {scenario_name!r}: no run directory under {root} ({exc})"
        ) from exc
    if resolved_root not in resolved.parents:
        raise RunStoreError(
            f"scenario name {scenario_name!r} would put its run outside {root}; "
            "use a plain name (letters, digits, '-', '_')"
        )
    return resolved


class RunStore:
    """Chunk files of one scenario run.

    Parameters
    ----------
    out_dir
        The output folder; the run lives in ``<out_dir>/runs/<scenario_name>``.
    scenario_name
        The scenario's name (checked, see :func:`run_directory`).
    warn
        Called with one line per stored chunk found damaged, foreign or empty (it is
        then recomputed), e.g. to print ``warning: ...`` on stderr. The same lines are
        kept in :attr:`problems`.

    Raises
    ------
    RunStoreError
        When the scenario name would put the run outside ``<out_dir>/runs``.
    """

    def __init__(
        self,
        out_dir: Path,
        scenario_name: str,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = run_directory(out_dir, scenario_name)
        self.problems: list[str] = []
        self._warn = warn
        self._key: str | None = None

    def _chunk_path(self, chunk: int) -> Path:
        return self.directory / f"chunk_{chunk:05d}.npz"

    def _report(self, message: str) -> None:
        self.problems.append(message)
        if self._warn is not None:
            self._warn(message)

    def _remove_leftovers(self) -> None:
        """Temporary files of writes that were interrupted (kill -9) never count."""
        for tmp in self.directory.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def start(self, key: str, resume: bool) -> list[ChunkResult]:
        """Prepare the directory; return the chunks to keep when resuming.

        With ``resume`` and a manifest of the same run, the valid chunks are kept
        (damaged ones are reported and deleted, to be recomputed). Otherwise the
        directory is emptied of chunks and a new manifest written.

        Raises
        ------
        RunStoreError
            When resuming a directory that holds another run.
        """
        manifest = self.directory / "manifest.json"
        self._key = key
        if resume and manifest.exists():
            try:
                stored = json.loads(manifest.read_text(encoding="utf-8")).get("run_key")
            except (OSError, ValueError, AttributeError) as exc:
                # each chunk carries its own run key: the manifest can be rewritten
                self._report(f"{manifest}: unreadable ({exc}); rewriting it")
                stored = key
                write_text_atomic(manifest, json.dumps({"run_key": key}, indent=1) + "\n")
            if stored != key:
                raise RunStoreError(
                    f"{self.directory} holds a different run (other plan, scenario, seed, "
                    "draws or order of solves); run without --resume to start again"
                )
            self._remove_leftovers()
            return self.load(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("chunk_*.npz"):
            old.unlink()
        self._remove_leftovers()
        write_text_atomic(manifest, json.dumps({"run_key": key}, indent=1) + "\n")
        return []

    def load(self, key: str | None = None) -> list[ChunkResult]:
        """Every valid chunk of run ``key`` in the directory.

        Invalid chunk files are reported (``warn`` and :attr:`problems`) and deleted,
        so that the run recomputes them.
        """
        key = self._key if key is None else key
        if key is None:
            raise ValueError("RunStore.load needs the run key (call start first)")
        chunks = []
        for path in sorted(self.directory.glob("chunk_*.npz")):
            chunk, reason = self._read_chunk(path, key)
            if chunk is not None:
                chunks.append(chunk)
                continue
            self._report(f"{path}: {reason}; recomputing it")
            path.unlink(missing_ok=True)
        return chunks

    def _read_chunk(self, path: Path, key: str) -> tuple[ChunkResult | None, str]:
        """The chunk in ``path`` if valid for run ``key``, else ``(None, reason)``."""
        try:
            if path.stat().st_size == 0:
                return None, "empty file (0 bytes)"
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except Exception as exc:  # noqa: BLE001 - a damaged zip can fail in many ways
            return None, f"unreadable, truncated or not a chunk file ({type(exc).__name__})"
        if "checksum" not in arrays or "run_key" not in arrays:
            return None, "no checksum (written by an older version of reachplan)"
        stored_key = str(arrays["run_key"])
        payload = {k: v for k, v in arrays.items() if k not in _META}
        if stored_key != key:
            return None, ("belongs to another run (other plan, scenario, seed, draws or order "
                          "of solves)")
        if str(arrays["checksum"]) != chunk_checksum(key, payload):
            return None, "checksum mismatch (numbers altered or damaged)"
        try:
            chunk = ChunkResult.from_npz(payload)
        except (KeyError, TypeError, ValueError) as exc:
            return None, f"incomplete chunk ({type(exc).__name__}: {exc})"
        expected = path.name
        if self._chunk_path(chunk.chunk).name != expected:
            return None, f"holds chunk {chunk.chunk}, not the one its name says"
        n = len(chunk.people_reached)
        if n == 0:
            return None, "holds no draws"
        if (
            len(chunk.objective) != n
            or chunk.need.shape[0] != n
            or chunk.reached.shape != chunk.need.shape
        ):
            return None, "arrays of inconsistent sizes"
        return chunk, ""

    def write(self, chunk: ChunkResult) -> None:
        """Write one chunk completely or not at all, with the run key and its checksum."""
        if self._key is None:
            raise ValueError("RunStore.write needs the run key (call start first)")
        arrays = chunk.to_npz()
        extra = {
            "run_key": np.array(self._key),
            "checksum": np.array(chunk_checksum(self._key, arrays)),
            "format": np.array(CHUNK_FORMAT),
        }
        buf = io.BytesIO()
        np.savez(buf, **arrays, **extra)  # type: ignore[arg-type]
        write_text_atomic(self._chunk_path(chunk.chunk), buf.getvalue())
