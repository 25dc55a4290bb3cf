"""`make lab`'s set-up: settings overrides and the learner/instructor panels."""

from __future__ import annotations

import json

from helpers.course import lab


def test_settings_overrides_turn_off_the_news_prompt_and_keep_other_settings(tmp_path):
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}))
    assert lab.write_settings_overrides(tmp_path) == path
    settings = json.loads(path.read_text())
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}


def test_validate_button_is_never_among_the_hidden_panels():
    assert "@jupyter/nbgrader:validate-assignment" not in lab.INSTRUCTOR_PLUGINS
    assert "@jupyter/nbgrader:formgrader" in lab.INSTRUCTOR_PLUGINS


def test_page_config_hides_the_instructor_plugins_and_the_menu_and_shows_them_back(tmp_path):
    path = lab.write_page_config(instructor=False, config_dir=tmp_path / "etc" / "jupyter")
    assert path == tmp_path / "etc" / "jupyter" / "labconfig" / "page_config.json"
    disabled = json.loads(path.read_text())["disabledExtensions"]
    assert disabled["@jupyter/nbgrader:menu"] is True, "no empty Nbgrader menu for learners"
    assert all(disabled[p] for p in lab.INSTRUCTOR_PLUGINS)
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    lab.write_page_config(instructor=True, config_dir=tmp_path / "etc" / "jupyter")
    assert json.loads(path.read_text())["disabledExtensions"] == {}


def test_a_warm_start_writes_nothing(tmp_path):
    lab.write_page_config(instructor=False, config_dir=tmp_path / "etc" / "jupyter")
    lab.write_settings_overrides(tmp_path)
    lab.write_server_config(tmp_path / "etc" / "jupyter")
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 3
    before = {p: p.stat().st_mtime_ns for p in files}
    lab.write_page_config(instructor=False, config_dir=tmp_path / "etc" / "jupyter")
    lab.write_settings_overrides(tmp_path)
    lab.write_server_config(tmp_path / "etc" / "jupyter")
    assert {p: p.stat().st_mtime_ns for p in files} == before


def test_lab_opens_on_the_course_home_at_the_repository_root():
    command = lab.command()
    assert "--LabApp.default_url=/lab/tree/HOME.md" in command
    assert f"--ServerApp.root_dir={lab.REPO}" in command
    assert "--ServerApp.ip=127.0.0.1" in command
    assert not any("labextension" in part for part in command)


def test_home_lists_the_steps_and_says_what_to_open_next(tmp_path, monkeypatch):
    from helpers.course import home, steps, workspace

    monkeypatch.setattr(steps, "WORK", tmp_path / "my-work")
    workspace.ensure_copies()
    text = home.render()
    assert "**Next:** step 01" in text
    assert "[read](my-work/01-fundamentals-walkthrough.ipynb)" in text
    assert "[do](my-work/01-fundamentals/01-fundamentals.ipynb)" in text
    assert all(s.title in text for s in steps.STEPS)
    first = steps.STEPS[0]
    record = {"passed": 8, "exercises": 8, "earned": 9, "available": 9, "not_started": False,
              "checked": "now", "mtime": first.work_copy.stat().st_mtime}
    home.progress_path().write_text(json.dumps({first.slug: record}))
    text = home.render()
    assert "■■■■■■■■ 8/8 (9/9 points)" in text and "**Next:** step 02" in text
    assert home.write() == tmp_path / "HOME.md"
