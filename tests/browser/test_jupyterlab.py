"""What a learner sees in JupyterLab, driven in a real (headless) Chromium.

One server and one browser for the whole module (see conftest.py); each test opens
its own tab. Run with ``pytest tests/browser``.
"""

from __future__ import annotations

import nbformat

from helpers.course import selfcheck, steps
from helpers.course.__main__ import main
from helpers.course.cells import answer_cells, read
from tests.browser.conftest import text_of

FIRST = steps.STEPS[0]
KERNEL_IDLE = "document.querySelector('.jp-Notebook') && document.body.innerText.includes('| Idle')"


def test_the_first_screen_is_the_course_home(open_lab):
    page = open_lab("/")  # the address `make lab` prints leads here too
    text = page.wait_for(text_of(".jp-RenderedMarkdown"), what="the rendered course home")
    assert "The steps" in text and "Next:" in text and FIRST.title in text
    tabs = page.evaluate(text_of(".lm-DockPanel-tabBar .lm-TabBar-tabLabel"))
    assert "HOME.md" in tabs and "Launcher" not in tabs
    files = page.wait_for(text_of(".jp-DirListing-itemName"), what="the file browser")
    assert "my-work" in files and "HOME.md" in files, "the file browser is at the course root"


def test_learners_get_no_nbgrader_menu(open_lab):
    page = open_lab("/lab")
    menus = page.wait_for(text_of(".lm-MenuBar-itemLabel"), what="the menu bar")
    assert "File" in menus and "Nbgrader" not in menus


def test_an_untouched_exercise_copy_opens_saved(open_lab, course):
    page = open_lab(f"/lab/tree/my-work/{FIRST.slug}/{FIRST.slug}.ipynb")
    page.wait_for(KERNEL_IDLE, timeout=90, what="the notebook's kernel to be idle")
    page.evaluate("new Promise(r => setTimeout(r, 2000))")  # metadata updates land after idle
    dirty = page.evaluate("document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty').length")
    assert dirty == 0, "an untouched copy must not open with unsaved changes"
    assert "Validate" in page.evaluate(text_of(".jp-Toolbar-item")), "nbgrader's Validate stays"


def test_reset_refuses_while_the_copy_is_open(open_lab, course, capsys):
    page = open_lab(f"/lab/tree/my-work/{FIRST.slug}/{FIRST.slug}.ipynb")
    page.wait_for(KERNEL_IDLE, timeout=90, what="the notebook's kernel to be idle")
    before = FIRST.work_copy.read_bytes()
    assert main(["reset", "01"]) == 3
    assert "Close its tab first" in capsys.readouterr().err
    assert FIRST.work_copy.read_bytes() == before



# The open tab's button: JupyterLab may restore other notebooks, hidden, from the workspace.
VALIDATE_BUTTON = ".jp-NotebookPanel:not(.lm-mod-hidden) jp-button.validate-button"
VALIDATE_DIALOG = ("document.querySelector('.jp-Dialog #validation-message') && "
                   "document.querySelector('.jp-Dialog #validation-message').innerText")


def click_validate(open_lab, path: str) -> str:
    """Open ``path``, click nbgrader's Validate button, return the dialog's visible text."""
    page = open_lab(f"/lab/tree/{path}?reset")  # ?reset: no notebook restored from an earlier test
    page.wait_for(KERNEL_IDLE, timeout=90, what="the notebook's kernel to be idle")
    name = path.rsplit("/", 1)[-1]
    page.wait_for(f"{text_of('.lm-DockPanel-tabBar .lm-mod-current .lm-TabBar-tabLabel')} === {name!r}",
                  what=f"{name} to be the current tab")
    page.wait_for(f"document.querySelectorAll({VALIDATE_BUTTON!r}).length === 1", what="the Validate button")
    page.click(VALIDATE_BUTTON)
    text = page.wait_for(VALIDATE_DIALOG, timeout=120, what="the Validation Results dialog")
    title = page.evaluate("document.querySelector('.jp-Dialog-header').innerText")
    page.click(".jp-Dialog .jp-mod-accept")
    assert title.strip() == "Validation Results"
    return text


def test_validate_on_an_untouched_copy_lists_the_questions_not_started(open_lab, course):
    text = click_validate(open_lab, f"my-work/{FIRST.slug}/{FIRST.slug}.ipynb")
    questions = selfcheck.released_questions(read(FIRST.exercise))
    total = sum(q.available for q in questions)
    assert f"Visible tests: 0/{total:g} points" in text, text
    assert all(f"○ {q.heading}: not started" in text for q in questions), text
    assert "Hidden tests did not run" in text
    for noise in ("The following cell failed", "Traceback", "passes all the tests"):
        assert noise not in text, f"{noise!r} in the dialog:\n{text}"


def test_validate_on_a_partly_solved_copy_says_what_to_fix(open_lab, course):
    nb = read(FIRST.exercise)
    answers = list(answer_cells(nb).values())
    solution = answer_cells(read(FIRST.solution))
    answers[0].source = solution[answers[0].metadata.nbgrader["grade_id"]].source
    answers[1].source = solution[answers[1].metadata.nbgrader["grade_id"]].source.replace(
        "return", "return None and", 1)
    path = course / "my-work" / FIRST.slug / f"{FIRST.slug}-partly.ipynb"
    nbformat.write(nb, path)
    text = click_validate(open_lab, path.relative_to(course).as_posix())
    first, second, *rest = selfcheck.released_questions(read(FIRST.exercise))
    total = first.available + second.available + sum(q.available for q in rest)
    assert f"Visible tests: {first.available:g}/{total:g} points, 1 of {2 + len(rest)}" in text, text
    assert f"✓ {first.heading}: passed" in text
    assert f"✗ {second.heading}: failing" in text and "got None" in text
    assert all(f"○ {q.heading}: not started" in text for q in rest), text
    assert "Hidden tests did not run" in text and "Traceback" not in text
