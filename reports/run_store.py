"""Where a scenario run keeps its chunks on disk, so that it can be resumed.

Layout: ``<out>/runs/<scenario name>/manifest.json`` holds the run's identity
(plan fingerprint, scenario hash, seed, draws, chunk size); each completed
chunk is ``chunk_NNNNN.npz``, written to a temporary file and moved into place,
so a file that exists is complete. Resuming reads the chunks present and runs
only the missing ones; the final numbers are those of an uninterrupted run.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from model.errors import ReachplanError
from reports.plan_files import write_text_atomic
from solver.batch import ChunkResult


class RunStoreError(ReachplanError):
    """A stored run cannot be resumed (it belongs to a different run)."""


class RunStore:
    """Chunk files of one scenario run."""

    def __init__(self, out_dir: Path, scenario_name: str) -> None:
        self.directory = out_dir / "runs" / scenario_name

    def _chunk_path(self, chunk: int) -> Path:
        return self.directory / f"chunk_{chunk:05d}.npz"

    def start(self, key: str, resume: bool) -> list[ChunkResult]:
        """Prepare the directory; return the chunks to keep when resuming.

        Raises
        ------
        RunStoreError
            When resuming a directory that holds another run.
        """
        manifest = self.directory / "manifest.json"
        if resume and manifest.exists():
            stored = json.loads(manifest.read_text()).get("run_key")
            if stored != key:
                raise RunStoreError(
                    f"{self.directory} holds a different run (other plan, scenario, seed or "
                    "draws); run without --resume to start again"
                )
            return self.load()
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("chunk_*.npz"):
            old.unlink()
        write_text_atomic(manifest, json.dumps({"run_key": key}, indent=1) + "\n")
        return []

    def load(self) -> list[ChunkResult]:
        """Every complete chunk in the directory (unreadable files are skipped and re-run)."""
        chunks = []
        for path in sorted(self.directory.glob("chunk_*.npz")):
            try:
                with np.load(path) as data:
                    chunks.append(ChunkResult.from_npz(dict(data)))
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                continue
        return chunks

    def write(self, chunk: ChunkResult) -> None:
        """Write one chunk completely or not at all."""
        buf = io.BytesIO()
        np.savez(buf, **chunk.to_npz())  # type: ignore[arg-type]
        write_text_atomic(self._chunk_path(chunk.chunk), buf.getvalue())
