"""The grading proofs' own checks can fail: check_batch and the catalogue loader."""

from __future__ import annotations

import nbformat
import pytest

from helpers.course import authoring, proofs
from helpers.course.authoring import answer, md, new_notebook
from helpers.course.grading import Result

MAX = {"t1": 1.0, "t2": 2.0}


def result(student, **scores):
    return Result(student, scores={**MAX, **scores}, max_scores=dict(MAX))


def expected(student, lost=()):
    return proofs.Expected(student, nbformat.v4.new_notebook(), set(lost), "why")


def test_agreement_reports_nothing():
    batch = [expected("a"), expected("b", {"t2"})]
    results = {"a": result("a"), "b": result("b", t2=0.0)}
    assert proofs.check_batch(batch, results, MAX) == []


def test_a_missing_grade_is_reported():
    assert "no grade" in proofs.check_batch([expected("a")], {}, MAX)[0]


def test_losing_more_or_less_than_expected_is_reported():
    batch = [expected("a", {"t1"}), expected("b")]
    results = {"a": result("a", t1=0.0, t2=0.0), "b": result("b", t1=0.0)}
    problems = proofs.check_batch(batch, results, MAX)
    assert len(problems) == 2


def test_partial_credit_where_zero_was_expected_is_reported():
    batch = [expected("a", {"t2"})]
    assert proofs.check_batch(batch, {"a": result("a", t2=1.0)}, MAX) != []


def test_changed_max_scores_are_reported():
    tampered = Result("a", scores=dict(MAX), max_scores={"t1": 1.0, "t2": 1000.0})
    assert "max scores" in proofs.check_batch([expected("a")], {"a": tampered}, MAX)[0]


def test_exercise_groups_pair_answers_with_their_tests():
    nb = new_notebook([
        md("intro"),
        answer("a1", "x = 1"), authoring.tests("a1-v", 1, "assert x"), authoring.tests("a1-h", 1, "assert x"),
        md("next"),
        answer("a2", "y = 1"), authoring.tests("a2-v", 1, "assert y"),
    ])
    assert proofs.exercise_groups(nb) == [("a1", ["a1-v", "a1-h"]), ("a2", ["a2-v"])]


def test_catalogue_with_unknown_keys_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(proofs, "MISTAKES", tmp_path)
    (tmp_path / "x.yaml").write_text("- id: m\n  answer: a\n  fails: [t]\n  source: pass\n  fials: [t]\n")
    with pytest.raises(ValueError, match="unknown keys"):
        proofs.load_mistakes("x")
