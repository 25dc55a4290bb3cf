"""Start nbgrader processes without building a grammar they never use.

``jsonschema`` imports ``rfc3987_syntax`` when it is installed (``jupyter-events`` asks for it)
to check the ``iri`` string format, and importing it builds an Earley grammar: 1.3 s on a
quiet machine, 3-4 s on a loaded one, about half of what starting ``nbgrader`` costs. Notebook
validation never uses that format, so grading processes skip the import; jsonschema then
leaves the ``iri`` format unchecked, as it does wherever the package is not installed.

``python -m helpers.grader.startup ARGS`` is ``nbgrader ARGS`` started this way.
"""

from __future__ import annotations

import sys


def skip_iri_grammar() -> None:
    """Make ``import rfc3987_syntax`` fail fast in this process (unless it is already imported)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: ImportError on import


def nbgrader_command(*args: str) -> list[str]:
    """The command line that runs ``nbgrader *args`` with this Python, started quickly."""
    return [sys.executable, "-m", "helpers.grader.startup", *args]


if __name__ == "__main__":
    skip_iri_grammar()
    from nbgrader.apps.nbgraderapp import main

    sys.argv[0] = "nbgrader"
    main()
