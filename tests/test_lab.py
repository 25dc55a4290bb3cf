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
