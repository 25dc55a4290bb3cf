"""Import ``jsonschema`` without building a grammar nothing here uses.

``jsonschema`` imports ``rfc3987_syntax`` when it is installed (``jupyter-events`` asks for it)
to check the ``iri`` string format, and importing that builds an Earley grammar: 1.3 s on a
quiet machine, 3-4 s on a loaded one (python-jsonschema/jsonschema#1428). No schema of the
course (nor nbformat's or nbgrader's) uses that format, so a process that imports jsonschema
can skip it first; jsonschema then leaves ``iri`` unchecked, as it does wherever the package
is not installed. Grading processes (``helpers/grader/startup.py``) and step 04 do.
"""

from __future__ import annotations

import sys


def skip_iri_grammar() -> None:
    """Make ``import rfc3987_syntax`` fail fast in this process (unless it is already imported)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: ImportError on import
