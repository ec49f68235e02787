"""Former name of :mod:`scenarios.build_plan.default_plan`, kept for existing imports.

``python -m scenarios.build_default_plan`` still works; ``python -m scenarios.build_plan`` is the
command to use.
"""

from __future__ import annotations

from scenarios.build_plan.default_plan import SOURCE_DIR, build, main, read_document_tables

__all__ = ["SOURCE_DIR", "build", "main", "read_document_tables"]

if __name__ == "__main__":
    main()
