"""The submissions that prove an assignment grades correctly (DESIGN §4).

For one assignment, :func:`build_batch` makes a batch of submissions, each with the
score it must get, and :func:`check_batch` compares the gradebook with them. The
test suite runs every assignment through these; ``make bench`` times them.

The batch holds:

- the solution (full marks) and the untouched release (zero);
- the entries of the wrong-answer catalogue ``tests/mistakes/<slug>.yaml``, packed
  several to a submission where that proves the same thing (see :func:`pack_mistakes`;
  ``PROOFS_ONE_PER_SUBMISSION=1`` grades each alone);
- tampered copies: test cells edited, test cells deleted, a graded cell duplicated,
  points changed;
- a submission whose first answer loops forever and whose last answer kills the
  kernel (its loop waits rather than spins unless asked: see :data:`SPINNING_LOOP`).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nbformat import NotebookNode

from helpers.course.cells import answer_cells, exercise_groups, graded_cells, read
from helpers.course.grading import Result
from helpers.course.steps import REPO

MISTAKES = REPO / "tests" / "mistakes"


@dataclass
class Expected:
    """A submission and what it must score: full marks except the cells in ``lost``."""

    student: str
    notebook: NotebookNode
    lost: set[str] = field(default_factory=set)
    why: str = ""
    #: The catalogued mistakes this submission holds (empty for the other submissions).
    mistakes: list[Mistake] = field(default_factory=list)
    #: answer grade_id -> the test grade_ids of its exercise (to name a packed mistake)
    exercises: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Mistake:
    """One entry of a wrong-answer catalogue.

    ``alone: true`` keeps the entry in a submission of its own (for an answer that
    loops or kills the kernel, which would cost the other answers packed with it
    their run).

    ``engines`` lists the databases on which the answer is wrong, for one that is right
    on some (``BEGIN IMMEDIATE`` without ``FOR UPDATE`` is safe on SQLite only): it is
    graded only there. Without it, the answer is wrong, and graded, on every engine.
    """

    id: str
    answer: str
    fails: list[str]
    source: str
    why: str = ""
    alone: bool = False
    engines: list[str] | None = None

    def wrong_on(self, engine: str) -> bool:
        """True if this answer is wrong (so graded) on ``engine`` (see :data:`ENGINES`)."""
        return self.engines is None or engine in self.engines


#: The databases a step-03 answer runs on: SQLite by default, the others with DATABASE_URL.
ENGINES = ("sqlite", "postgresql", "mariadb")


def database_engine(environ: Mapping[str, str] | None = None) -> str:
    """The engine of :data:`ENGINES` that ``DATABASE_URL`` in ``environ`` (default:
    ``os.environ``) selects; ``'sqlite'`` when it is unset."""
    url = (os.environ if environ is None else environ).get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite"
    return "postgresql" if url.startswith("postgres") else "mariadb"


#: Answers that end the kernel; such a mistake is graded alone.
KILLS_KERNEL = re.compile(r"\bos\.(_exit|abort|kill|killpg)\s*\(|\bsignal\.raise_signal\s*\(")


def packable(mistake: Mistake, groups: list[tuple[str, list[str]]]) -> bool:
    """True if ``mistake`` can share a submission with mistakes in other exercises.

    Cells run top to bottom, so a wrong answer can only affect test cells after it.
    One that fails only tests of its own exercise (between its answer and the next
    answer cell) cannot change what another exercise's tests score; one whose
    ``fails`` reach further (a cascade), or that loops or kills the kernel, can.
    """
    own = dict(groups).get(mistake.answer)
    if own is None or mistake.alone or KILLS_KERNEL.search(mistake.source):
        return False
    return bool(mistake.fails) and set(mistake.fails) <= set(own)


def pack_mistakes(mistakes: list[Mistake], groups: list[tuple[str, list[str]]],
                  one_per_submission: bool = False) -> list[list[Mistake]]:
    """The catalogue grouped into submissions, in catalogue order (first fit).

    A pack holds at most one mistake per answer cell, only :func:`packable` ones, and
    their ``fails`` are disjoint (they lie in different exercises). Such a submission
    must lose exactly the union of their ``fails``; each lost cell is then one its
    own mistake claims, so every wrong answer is still shown to be caught. Any other
    mistake gets a submission of its own.
    """
    packs: list[list[Mistake]] = []
    shared: list[list[Mistake]] = []  # the packs that can take more
    for mistake in mistakes:
        if one_per_submission or not packable(mistake, groups):
            packs.append([mistake])
            continue
        for pack in shared:
            if all(m.answer != mistake.answer and not set(m.fails) & set(mistake.fails) for m in pack):
                pack.append(mistake)
                break
        else:
            pack = [mistake]
            shared.append(pack)
            packs.append(pack)
    return packs


def load_mistakes(assignment: str) -> list[Mistake]:
    """The wrong-answer catalogue of ``assignment`` (empty if it has none)."""
    path = MISTAKES / f"{assignment}.yaml"
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text()) or []
    mistakes = []
    for entry in entries:
        unknown = set(entry) - {"id", "answer", "fails", "source", "why", "alone", "engines"}
        if unknown:
            raise ValueError(f"{path}: entry {entry.get('id')!r} has unknown keys {sorted(unknown)}")
        engines = entry.get("engines", ENGINES)
        if not engines or not set(engines) <= set(ENGINES):
            raise ValueError(f"{path}: entry {entry.get('id')!r} has engines {engines!r}; "
                             f"expected a non-empty list of {list(ENGINES)}")
        mistakes.append(Mistake(**entry))
    return mistakes


def graded_mistakes(assignment: str, engine: str | None = None) -> list[Mistake]:
    """The catalogue entries of ``assignment`` that are wrong on ``engine`` (default: the
    one :func:`database_engine` reads from the environment), so graded there."""
    engine = database_engine() if engine is None else engine
    return [m for m in load_mistakes(assignment) if m.wrong_on(engine)]


def _is_test(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def with_answer(nb: NotebookNode, grade_id: str, source: str) -> NotebookNode:
    """A copy of ``nb`` with the answer cell ``grade_id`` replaced by ``source``."""
    return _with_answers(nb, {grade_id: source})


def _with_answers(nb: NotebookNode, sources: dict[str, str]) -> NotebookNode:
    nb = copy.deepcopy(nb)
    cells = answer_cells(nb)
    for grade_id, source in sources.items():
        cells[grade_id].source = source
    return nb


def proof_workers() -> int | None:
    """How many grading workers grade a proof batch: ``PROOFS_WORKERS`` (default 2), or
    ``None`` for stock ``nbgrader autograde`` (``PROOFS_WORKERS=0``)."""
    return int(os.environ.get("PROOFS_WORKERS", "2")) or None


def one_per_submission() -> bool:
    """True when ``PROOFS_ONE_PER_SUBMISSION=1``: grade each catalogued mistake alone."""
    return os.environ.get("PROOFS_ONE_PER_SUBMISSION", "") not in ("", "0")


def mistake_submissions(solution: NotebookNode, assignment: str, one_each: bool | None = None,
                        keep: Callable[[Mistake], bool] | None = None,
                        engine: str | None = None) -> list[Expected]:
    """The catalogue of ``assignment`` as submissions, packed unless ``one_each``: the
    mistakes wrong on ``engine`` (default: the environment's, see :func:`graded_mistakes`)
    that ``keep`` accepts, if given."""
    one_each = one_per_submission() if one_each is None else one_each
    groups = exercise_groups(solution)
    mistakes = [m for m in graded_mistakes(assignment, engine) if keep is None or keep(m)]
    batch = []
    for pack in pack_mistakes(mistakes, groups, one_each):
        if len(pack) == 1:
            (mistake,) = pack
            batch.append(Expected(f"mistake-{mistake.id}",
                                  with_answer(solution, mistake.answer, mistake.source),
                                  set(mistake.fails), mistake.why, [mistake]))
            continue
        batch.append(Expected(
            f"mistakes-{pack[0].id}-and-{len(pack) - 1}-more",
            _with_answers(solution, {m.answer: m.source for m in pack}),
            {cell for m in pack for cell in m.fails},
            "; ".join(f"{m.id}: {m.why}" for m in pack),
            list(pack),
            dict(groups),
        ))
    return batch


#: The runaway answers. Both never return, and a cell timeout stops both the same way (an
#: interrupt raises KeyboardInterrupt in the loop). A spinning loop burns a core until then
#: (20 CPU-s per batch at nbgrader_config.py's timeout), so the per-assignment proofs use the
#: waiting one; tests/test_grade_command.py and tests/test_sandbox.py grade spinning ones.
SPINNING_LOOP = "while True:\n    pass"
WAITING_LOOP = "import time\nwhile True:\n    time.sleep(1)"


#: How a test cell of the release is tampered with, in turn, one kind per unanswered exercise.
TAMPERINGS = ("edited", "unmarked", "inflated")


def _tamper(cell: NotebookNode, kind: str) -> None:
    """Make a test cell pass whatever the answer: replaced by ``pass``, turned into an
    ordinary cell, or worth 1000 points."""
    if kind == "inflated":
        cell.metadata["nbgrader"]["points"] = 1000
        return
    cell.source = "pass"
    if kind == "unmarked":
        del cell.metadata["nbgrader"]


def hostile_submissions(solution: NotebookNode, released: NotebookNode,
                         groups: list[tuple[str, list[str]]],
                         loop: str = WAITING_LOOP) -> list[Expected]:
    """Submissions that tamper with their tests or run away: each must earn what its answers earn.

    Each kind of tampering would raise the grade if it worked, so one submission can
    prove several (a mismatch report names the submission; its ``why`` lists the kinds):

    - ``tampered-release``: the release with the first exercise answered; in each other
      exercise the test cells are replaced by ``pass``, made ordinary cells, or raised to
      1000 points (in turn). It must lose every test but the first exercise's, at the
      original points.
    - ``tampered-solution``: a correct notebook with every test cell deleted and the first
      answer cell copied and pasted (same metadata, new id, as JupyterLab pastes): full marks.
    - ``runaway-loop-then-crash``: the first answer never returns (``loop``), the last one
      kills the kernel: graded within the cell timeout, losing only those two exercises' tests (in a
      capstone, whose answers are ``%%writefile`` modules later milestones import, the
      looping answer writes its module first, and only the last exercise's tests are lost).
    """
    if len(groups) < 1 + len(TAMPERINGS):
        raise ValueError(f"the tampering proofs need at least {1 + len(TAMPERINGS)} exercises, "
                         f"the notebook has {len(groups)}")
    all_tests = {test for _, tests in groups for test in tests}
    (first_answer, first_tests), (last_answer, last_tests) = groups[0], groups[-1]

    release = copy.deepcopy(released)
    answer_cells(release)[first_answer].source = answer_cells(solution)[first_answer].source
    tests = graded_cells(release)
    for number, (_, group_tests) in enumerate(groups[1:]):
        for test in group_tests:
            _tamper(tests[test], TAMPERINGS[number % len(TAMPERINGS)])

    copied = copy.deepcopy(solution)
    copied.cells = [c for c in copied.cells if not _is_test(c)]
    answer = answer_cells(copied)[first_answer]
    pasted = copy.deepcopy(answer)
    pasted["id"] = f"{answer['id']}-copy"
    copied.cells.insert(copied.cells.index(answer) + 1, pasted)

    runaway_lost = set(first_tests) | set(last_tests)
    first_source = answer_cells(solution)[first_answer].source
    if first_source.startswith("%%writefile "):
        # A capstone's answer writes a module of one package (`%%writefile blog/security.py`)
        # that every later milestone imports. This runaway writes the module, then never
        # returns: the cell timeout must stop it and the rest must still be graded (the
        # first exercise's tests pass, since its module is there).
        magic, body = first_source.split("\n", 1)
        loop = (f"from pathlib import Path\nPath({magic.split()[-1]!r}).write_text({body + chr(10)!r})\n"
                + loop)
        runaway_lost = set(last_tests)
    runaway = _with_answers(solution, {first_answer: loop, last_answer: "import os\nos._exit(1)"})
    return [
        Expected("tampered-release", release, all_tests - set(first_tests),
                 "one exercise answered; the other exercises' tests edited to pass, unmarked "
                 "or raised to 1000 points"),
        Expected("tampered-solution", copied, set(),
                 "a correct notebook with every test cell deleted and an answer cell pasted twice"),
        Expected("runaway-loop-then-crash", runaway, runaway_lost,
                 "the first answer never returns; the last one kills the kernel"),
    ]


def build_batch(source_path: Path, released_path: Path, assignment: str,
                loop: str = WAITING_LOOP) -> list[Expected]:
    """Every submission of the proof batch for ``assignment``, with its expected losses
    (``loop``: the runaway answer, :data:`WAITING_LOOP` or :data:`SPINNING_LOOP`)."""
    solution, released = read(source_path), read(released_path)
    all_tests = set(graded_cells(solution))
    groups = exercise_groups(solution)
    batch = [
        Expected("solution", solution, set(), "the instructor's solution"),
        Expected("untouched-release", released, all_tests, "the release, unanswered"),
    ]
    batch += mistake_submissions(solution, assignment)

    batch += hostile_submissions(solution, released, groups, loop)
    return batch


def _pack_problems(expected: Expected, lost: set[str]) -> list[str]:
    """Per mistake of a packed submission: its claimed cells kept, its exercise's other cells lost."""
    problems = []
    own_cells = set()
    for mistake in expected.mistakes:
        group = set(expected.exercises.get(mistake.answer, ())) | set(mistake.fails)
        own_cells |= group
        kept = sorted(set(mistake.fails) - lost)
        extra = sorted((group - set(mistake.fails)) & lost)
        if kept or extra:
            problems.append(
                f"{expected.student}: mistake {mistake.id!r} ({mistake.why}) should lose "
                f"{sorted(mistake.fails)}; " + "; ".join(
                    part for part in (kept and f"kept {kept}", extra and f"also lost {extra}") if part)
            )
    elsewhere = sorted(lost - own_cells)
    if elsewhere:
        problems.append(
            f"{expected.student}: lost {elsewhere}, which no mistake of the submission targets "
            f"({', '.join(m.id for m in expected.mistakes)}); rerun with "
            "PROOFS_ONE_PER_SUBMISSION=1 to find the one that reaches past its own exercise"
        )
    return problems


def check_batch(batch: list[Expected], results: dict[str, Result],
                max_scores: dict[str, float]) -> list[str]:
    """Where the gradebook disagrees with the batch's expectations (empty when all agree).

    A packed submission's disagreement is reported per mistake: the cells it should
    have lost and kept, and the cells of its exercise it lost without claiming them.
    """
    problems = []
    for expected in batch:
        result = results.get(expected.student)
        if result is None:
            problems.append(f"{expected.student}: no grade in the gradebook ({expected.why})")
            continue
        if result.max_scores != max_scores:
            problems.append(f"{expected.student}: max scores {result.max_scores} != {max_scores}")
        lost = result.lost()
        scored_zero = {g for g in lost if result.scores[g] == 0}
        if lost != expected.lost and len(expected.mistakes) > 1:
            problems += _pack_problems(expected, lost)
        elif lost != expected.lost:
            problems.append(
                f"{expected.student} ({expected.why}): expected to lose "
                f"{sorted(expected.lost) or 'nothing'}, lost {sorted(lost) or 'nothing'}"
            )
        elif scored_zero != lost:
            problems.append(
                f"{expected.student} ({expected.why}): partial credit on "
                f"{sorted(lost - scored_zero)}, where a failing test must score zero"
            )
    return problems
