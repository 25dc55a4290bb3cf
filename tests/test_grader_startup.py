"""helpers/grader/startup.py: quicker nbgrader processes that grade exactly as before."""

from __future__ import annotations

import copy

import jsonschema
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from helpers.grader.startup import _SchemaCheckedOnce, cache_metadata_schema

GOOD = {"grade": True, "grade_id": "q1-visible", "locked": True, "points": 2, "schema_version": 3,
        "solution": False, "task": False}
BAD = [
    {**GOOD, "points": "two"},          # wrong type
    {**GOOD, "surprise": 1},             # a key the schema does not allow
    {k: v for k, v in GOOD.items() if k != "grade"},  # a required key missing
]


def cell(meta):
    from nbformat.v4 import new_code_cell

    c = new_code_cell("x = 1")
    c.metadata["nbgrader"] = copy.deepcopy(meta)
    return c


@pytest.mark.parametrize("meta", BAD, ids=["type", "extra-key", "missing-key"])
def test_cached_validation_rejects_what_jsonschema_rejects(meta):
    schema = MetadataValidator().schema
    with pytest.raises(jsonschema.ValidationError) as stock:
        jsonschema.validate(meta, schema)
    with pytest.raises(jsonschema.ValidationError) as cached:
        _SchemaCheckedOnce().validate(meta, schema)
    assert cached.value.message == stock.value.message


def test_nbgrader_still_rejects_bad_metadata_once_cached():
    cache_metadata_schema()
    cache_metadata_schema()  # applying it twice changes nothing
    validator = MetadataValidator()
    validator.validate_cell(cell(GOOD))
    for meta in BAD:
        with pytest.raises(ValidationError):
            validator.validate_cell(cell(meta))


def test_a_bad_schema_is_still_refused():
    with pytest.raises(jsonschema.SchemaError):
        _SchemaCheckedOnce().validate({}, {"type": "not-a-type"})
