"""Start nbgrader processes without building a grammar they never use.

``jsonschema`` imports ``rfc3987_syntax`` when it is installed (``jupyter-events`` asks for it)
to check the ``iri`` string format, and importing it builds an Earley grammar: 1.3 s on a
quiet machine, 3-4 s on a loaded one, about half of what starting ``nbgrader`` costs. Notebook
validation never uses that format, so grading processes skip the import; jsonschema then
leaves the ``iri`` format unchecked, as it does wherever the package is not installed.

It also checks cell metadata without re-checking nbgrader's own schema each time
(:func:`cache_metadata_schema`); ``nbgrader_config.py`` applies that to every nbgrader process.

``python -m helpers.grader.startup ARGS`` is ``nbgrader ARGS`` started this way.
"""

from __future__ import annotations

import sys

from helpers.quick_imports import skip_iri_grammar

__all__ = ["cache_metadata_schema", "nbgrader_command", "skip_iri_grammar"]


class _SchemaCheckedOnce:
    """``jsonschema`` as nbgrader's metadata validator uses it, with the schema checked once.

    nbgrader validates every graded cell's metadata with ``jsonschema.validate``, which first
    checks the *schema* itself against its meta-schema: about 0.4 s per notebook of a
    grader's CPU, spent on one unchanging schema. This ``validate`` does what
    ``jsonschema.validate`` does (same validator class, same best-matching error) but keeps
    one validator per schema.
    """

    def __init__(self) -> None:
        import jsonschema

        self._jsonschema = jsonschema
        self._validators: dict[str, object] = {}

    def __getattr__(self, name: str):
        return getattr(self._jsonschema, name)

    def validate(self, instance, schema) -> None:
        import json

        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


def cache_metadata_schema() -> None:
    """Make nbgrader's cell-metadata validation check its schema once per process."""
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, _SchemaCheckedOnce):
        common.jsonschema = _SchemaCheckedOnce()


def nbgrader_command(*args: str) -> list[str]:
    """The command line that runs ``nbgrader *args`` with this Python, started quickly."""
    return [sys.executable, "-m", "helpers.grader.startup", *args]


if __name__ == "__main__":
    skip_iri_grammar()
    from nbgrader.apps.nbgraderapp import main

    sys.argv[0] = "nbgrader"
    main()
