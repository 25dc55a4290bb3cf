"""helpers.supply_chain: hash-checked installs and advisory checks, offline."""

from __future__ import annotations

from helpers.supply_chain import audit, build_wheel, pip_install, sha256_of

ADVISORY = {
    "id": "DEMO-1",
    "affected": [{"package": {"name": "greetlib"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"}]}]}],
}


def test_require_hashes_installs_the_pinned_file_and_refuses_a_changed_one(tmp_path):
    wheel = build_wheel(tmp_path / "wheels", "greetlib", "1.0.0", "def hello():\n    return 'hi'\n")
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"greetlib==1.0.0 --hash={sha256_of(wheel)}\n")
    code, output = pip_install(lock, tmp_path / "wheels", tmp_path / "site")
    assert code == 0, output
    assert (tmp_path / "site" / "greetlib.py").read_text() == "def hello():\n    return 'hi'\n"
    build_wheel(tmp_path / "wheels", "greetlib", "1.0.0", "def hello():\n    return 'evil'\n")
    code, output = pip_install(lock, tmp_path / "wheels", tmp_path / "site-2")
    assert code != 0 and "DO NOT MATCH THE HASHES" in output and "\x1b[" not in output
    assert not (tmp_path / "site-2" / "greetlib.py").exists()


def test_audit_reports_affected_versions_only():
    assert audit({"greetlib": "1.1.5"}, [ADVISORY]) == [("greetlib", "1.1.5", "DEMO-1", "1.2")]
    assert audit({"greetlib": "1.2"}, [ADVISORY]) == []
    assert audit({"greetlib": "0.9"}, [ADVISORY]) == []
    assert audit({"other": "1.1"}, [ADVISORY]) == []
