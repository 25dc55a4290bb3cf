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


def test_catalogue_engines_are_checked_and_select_where_a_mistake_is_graded(tmp_path, monkeypatch):
    monkeypatch.setattr(proofs, "MISTAKES", tmp_path)
    (tmp_path / "x.yaml").write_text(
        "- {id: everywhere, answer: a, fails: [t], source: pass}\n"
        "- {id: servers, answer: a, fails: [t], source: pass, engines: [postgresql, mariadb]}\n"
        "- {id: lite, answer: a, fails: [t], source: pass, engines: [sqlite]}\n"
    )
    graded = {engine: [m.id for m in proofs.graded_mistakes("x", engine)] for engine in proofs.ENGINES}
    assert graded == {"sqlite": ["everywhere", "lite"], "postgresql": ["everywhere", "servers"],
                      "mariadb": ["everywhere", "servers"]}
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert [m.id for m in proofs.graded_mistakes("x")] == ["everywhere", "lite"]
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
    assert [m.id for m in proofs.graded_mistakes("x")] == ["everywhere", "servers"]
    for bad in ("[]", "[oracle]"):
        entry = f"- {{id: m, answer: a, fails: [t], source: pass, engines: {bad}}}\n"
        (tmp_path / "x.yaml").write_text(entry)
        with pytest.raises(ValueError, match="engines"):
            proofs.load_mistakes("x")


@pytest.mark.parametrize(("url", "engine"), [
    ("", "sqlite"), ("postgresql+psycopg://postgres@127.0.0.1:5432/test", "postgresql"),
    ("postgresql://u@h/db", "postgresql"), ("mysql+pymysql://root@127.0.0.1:3306/test", "mariadb"),
    ("mariadb://root@h/db", "mariadb"),
])
def test_database_engine_follows_database_url(url, engine):
    assert proofs.database_engine({"DATABASE_URL": url}) == engine


# Packing the catalogue: several mistakes per submission only where that proves the same.

GROUPS = [("a1", ["a1-v", "a1-h"]), ("a2", ["a2-v", "a2-h"]), ("a3", ["a3-v"])]


def mistake(id, answer, fails, source="x = 0", **extra):
    return proofs.Mistake(id=id, answer=answer, fails=list(fails), source=source, **extra)


def ids(packs):
    return [[m.id for m in pack] for pack in packs]


def test_mistakes_in_different_exercises_share_a_submission():
    catalogue = [mistake("m1", "a1", ["a1-h"]), mistake("m2", "a2", ["a2-v"]), mistake("m3", "a3", ["a3-v"])]
    assert ids(proofs.pack_mistakes(catalogue, GROUPS)) == [["m1", "m2", "m3"]]


def test_mistakes_of_the_same_answer_never_share():
    catalogue = [mistake("m1", "a1", ["a1-h"]), mistake("m2", "a1", ["a1-v"]), mistake("m3", "a2", ["a2-v"])]
    assert ids(proofs.pack_mistakes(catalogue, GROUPS)) == [["m1", "m3"], ["m2"]]


def test_a_cascading_mistake_is_graded_alone():
    cascade = mistake("cascade", "a1", ["a1-v", "a2-v"])  # breaks a later exercise too
    catalogue = [cascade, mistake("m2", "a2", ["a2-h"]), mistake("m3", "a3", ["a3-v"])]
    assert ids(proofs.pack_mistakes(catalogue, GROUPS)) == [["cascade"], ["m2", "m3"]]


def test_kernel_killers_unknown_answers_and_alone_entries_are_graded_alone():
    catalogue = [
        mistake("kills", "a1", ["a1-v"], source="import os\nos._exit(1)"),
        mistake("unknown", "nope", ["a2-v"]),
        mistake("loops", "a2", ["a2-v"], alone=True),
        mistake("m3", "a3", ["a3-v"]),
        mistake("m1", "a1", ["a1-h"]),
    ]
    assert ids(proofs.pack_mistakes(catalogue, GROUPS)) == [["kills"], ["unknown"], ["loops"], ["m3", "m1"]]


def test_one_per_submission_packs_nothing():
    catalogue = [mistake("m1", "a1", ["a1-h"]), mistake("m2", "a2", ["a2-v"])]
    assert ids(proofs.pack_mistakes(catalogue, GROUPS, one_per_submission=True)) == [["m1"], ["m2"]]


def test_packed_submissions_carry_every_answer_and_the_union_of_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(proofs, "MISTAKES", tmp_path)
    (tmp_path / "x.yaml").write_text(
        "- {id: m1, answer: a1, fails: [a1-h], source: 'x = 2'}\n"
        "- {id: m2, answer: a2, fails: [a2-v], source: 'y = 2'}\n"
        "- {id: m3, answer: a1, fails: [a1-v], source: 'x = 3'}\n"
    )
    nb = new_notebook([
        answer("a1", "x = 1"), authoring.tests("a1-v", 1, "assert x"), authoring.tests("a1-h", 1, "assert x"),
        answer("a2", "y = 1"), authoring.tests("a2-v", 1, "assert y"),
    ])
    packed, alone = proofs.mistake_submissions(nb, "x", one_each=False)
    assert packed.lost == {"a1-h", "a2-v"} and [m.id for m in packed.mistakes] == ["m1", "m2"]
    assert [c.source for c in proofs.answer_cells(packed.notebook).values()] == ["x = 2", "y = 2"]
    assert alone.student == "mistake-m3" and alone.lost == {"a1-v"}
    assert [m.id for m in alone.mistakes] == ["m3"]
    assert len(proofs.mistake_submissions(nb, "x", one_each=True)) == 3
    monkeypatch.setenv("PROOFS_ONE_PER_SUBMISSION", "1")
    assert len(proofs.mistake_submissions(nb, "x")) == 3


def packed(lost):
    exercises = {"a1": ["t1"], "a2": ["t2"]}
    pack = [mistake("m1", "a1", ["t1"]), mistake("m2", "a2", ["t2"])]
    return proofs.Expected("mistakes-m1-and-1-more", nbformat.v4.new_notebook(), set(lost), "why",
                           pack, exercises)


def test_a_packed_submission_that_agrees_reports_nothing():
    assert proofs.check_batch([packed({"t1", "t2"})], {"mistakes-m1-and-1-more": result("s", t1=0.0, t2=0.0)},
                              MAX) == []


def test_a_packed_mistake_that_is_not_caught_is_named():
    results = {"mistakes-m1-and-1-more": result("s", t1=0.0)}
    problems = proofs.check_batch([packed({"t1", "t2"})], results, MAX)
    assert len(problems) == 1, problems
    assert "'m2'" in problems[0] and "kept ['t2']" in problems[0]


def test_a_packed_mistake_losing_an_unclaimed_cell_of_its_exercise_is_named():
    exercises = {"a1": ["t1", "t2"], "a2": ["t3"]}
    pack = [mistake("m1", "a1", ["t1"]), mistake("m2", "a2", ["t3"])]
    expected = proofs.Expected("p", nbformat.v4.new_notebook(), {"t1", "t3"}, "why", pack, exercises)
    results = {"p": Result("p", scores={"t1": 0.0, "t2": 0.0, "t3": 0.0}, max_scores={**MAX, "t3": 1.0})}
    problems = proofs.check_batch([expected], results, {**MAX, "t3": 1.0})
    assert len(problems) == 1 and "'m1'" in problems[0] and "also lost ['t2']" in problems[0]


def test_a_packed_loss_outside_every_mistakes_exercise_is_reported():
    exercises = {"a1": ["t1"], "a2": ["t3"]}
    pack = [mistake("m1", "a1", ["t1"]), mistake("m2", "a2", ["t3"])]
    expected = proofs.Expected("p", nbformat.v4.new_notebook(), {"t1", "t3"}, "why", pack, exercises)
    maxes = {**MAX, "t3": 1.0}
    results = {"p": Result("p", scores={"t1": 0.0, "t2": 0.0, "t3": 0.0}, max_scores=maxes)}
    problems = proofs.check_batch([expected], results, maxes)
    assert len(problems) == 1 and "no mistake of the submission targets" in problems[0]


def test_the_runaway_waits_unless_a_spinning_loop_is_asked_for():
    cells = []
    for n in range(1, 5):
        cells += [answer(f"a{n}", f"x{n} = 1"), authoring.tests(f"a{n}-v", 1, f"assert x{n}")]
    nb = new_notebook(cells)
    groups = proofs.exercise_groups(nb)

    def runaway_answers(**loop):
        hostile = proofs.hostile_submissions(nb, nb, groups, **loop)
        (runaway,) = [e for e in hostile if e.student.startswith("runaway")]
        return [c.source for c in proofs.answer_cells(runaway.notebook).values()]

    assert runaway_answers() == [proofs.WAITING_LOOP, "x2 = 1", "x3 = 1", "import os\nos._exit(1)"]
    assert runaway_answers(loop=proofs.SPINNING_LOOP)[0] == "while True:\n    pass"
