"""What a learner sees in JupyterLab, driven in a real (headless) Chromium.

One server and one browser for the whole module (see conftest.py); each test opens
its own tab. Run with ``pytest tests/browser``.
"""

from __future__ import annotations

from helpers.course import steps
from helpers.course.__main__ import main
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

