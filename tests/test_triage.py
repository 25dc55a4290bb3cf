"""helpers/course/triage.py: red-team candidates are checked before anything is graded."""

import pytest

from helpers.course.triage import load_candidates

ANSWERS = {"q1_1-answer", "q1_2-answer"}


def write(tmp_path, text):
    path = tmp_path / "candidates.yaml"
    path.write_text(text)
    return path


def test_well_formed_candidates_load_and_extra_keys_are_ignored(tmp_path):
    path = write(tmp_path, "- {id: a, why: w, answer: q1_1-answer, source: 'x = 1', visible_passes: true}\n")
    assert [c["id"] for c in load_candidates(path, ANSWERS)] == ["a"]


@pytest.mark.parametrize(("text", "message"), [
    ("- {id: a, why: w, answer: q1_1-answer}\n", "lacks ['source']"),
    ("- {id: a, why: w, answer: q1_1-answer, source: s}\n"
     "- {id: a, why: w, answer: q1_2-answer, source: s}\n", "'a' appears twice"),
    ("- {id: a, why: w, answer: q9_9-answer, source: s}\n", "answers 'q9_9-answer', which is none of"),
])
def test_malformed_candidates_are_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(SystemExit, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_candidates(write(tmp_path, text), ANSWERS)
