"""accounts.yaml validation and the command line: exit codes, messages, help text."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

import commands
from pipeline.config import ConfigError, load_accounts

REFERENCE = ROOT / "config" / "accounts.yaml"


def test_reference_config_has_the_44_slots(accounts):
    by_platform = {}
    for a in accounts[:44]:  # the 44 as the city registered them; slots beside them follow
        by_platform[a.platform] = by_platform.get(a.platform, 0) + 1
    assert by_platform == {"x": 31, "facebook": 6, "instagram": 4, "youtube": 3}
    assert [a.handle for a in accounts if not a.placeholder] == ["seoulmania"]
    assert sum(a.owner == "mayor" for a in accounts) == 2
    assert sum(a.live_chat for a in accounts) == 1
    assert {a.language for a in accounts} == {"ko", "en", "zh", "ja"}


def broken_config(tmp_path: Path, mutate) -> Path:
    doc = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    mutate(doc["accounts"])
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


CASES = {
    "unknown platform": (lambda a: a[3].update(platform="myspace"),
                         "x_seoul_taxi", "platform", "unknown platform 'myspace'"),
    "duplicate key": (lambda a: a[5].update(key="x_seoulmania"),
                      "x_seoulmania", "key", "duplicate key"),
    "missing field": (lambda a: a[40].pop("department"),
                      "ig_visit_seoul", "department", "missing required field"),
    "bad interval": (lambda a: a[2].update(interval_minutes=0),
                     "x_seoul_topis", "interval_minutes", "bad interval 0"),
    "interval not a number": (lambda a: a[2].update(interval_minutes="15m"),
                              "x_seoul_topis", "interval_minutes", "bad interval '15m'"),
    "secret instead of a name": (lambda a: a[0].update(credentials=["AAAA-secret-value"]),
                                 "x_seoulmania", "credentials", "never the secrets"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_names_file_account_and_field(tmp_path, case):
    mutate, account, field, message = CASES[case]
    path = broken_config(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_accounts(path)
    assert (err.value.file, err.value.account, err.value.field) == (str(path), account, field)
    assert message in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("case", ["unknown platform", "missing field"])
def test_bad_config_exits_2_before_any_request(tmp_path, case, capsys):
    mutate, account, field, _ = CASES[case]
    path = broken_config(tmp_path, mutate)
    db = tmp_path / "smc.db"
    for command in (["check-config"], ["collect", "--simulate"]):
        code = commands.main(["--config", str(path), "--db", str(db), *command])
        err = capsys.readouterr().err
        assert code == 2 and account in err and field in err
    assert not db.exists()  # nothing was opened, let alone requested


def test_missing_file_and_unknown_account(tmp_path, capsys):
    assert commands.main(["--config", str(tmp_path / "none.yaml"), "check-config"]) == 2
    assert "file not found" in capsys.readouterr().err
    code = commands.main(["--db", str(tmp_path / "d.db"), "collect", "--simulate",
                          "--account", "x_nobody"])
    assert code == 2 and "unknown account x_nobody" in capsys.readouterr().err


def test_live_collect_without_credentials_skips_naming_the_variable(tmp_path, monkeypatch,
                                                                    capsys):
    """No tokens in the environment: every account is skipped, no request is made."""
    for name in ("X_BEARER_TOKEN", "IG_ACCESS_TOKEN", "YOUTUBE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)
    code = commands.main(["--db", str(tmp_path / "d.db"), "collect", "--platform", "x"])
    assert code == 0
    assert "environment variable X_BEARER_TOKEN is not set" in capsys.readouterr().err


def test_live_collect_without_author_key_stops(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SMC_AUTHOR_KEY", raising=False)
    code = commands.main(["--db", str(tmp_path / "d.db"), "collect", "--platform", "x"])
    assert code == 2 and "SMC_AUTHOR_KEY is not set" in capsys.readouterr().err


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_and_option_has_help():
    parser = commands.build_parser()
    subcommands = _subcommands(parser)
    assert {"collect", "demo", "status", "check-config"} <= set(subcommands)
    helps = {a.dest: a.help for a in parser._actions
             if isinstance(a, argparse._SubParsersAction)}
    assert helps
    for name, sub in [("", parser), *subcommands.items()]:
        assert sub.description or name == "", f"{name} has no description"
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"command {choice.dest} has no help"
                continue
            assert action.help, f"{name or 'global'} option {action.dest} has no help"


def test_help_runs_as_a_program():
    out = subprocess.run([sys.executable, "run_pipeline.py", "collect", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "--simulate" in out and "--account" in out


def test_demo_and_live_data_never_share_a_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SMC_AUTHOR_KEY", "k" * 32)
    for name in ("X_BEARER_TOKEN", "IG_ACCESS_TOKEN", "YOUTUBE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    live, demo = str(tmp_path / "live.db"), str(tmp_path / "demo.db")
    assert commands.main(["--db", live, "collect", "--platform", "x"]) == 0
    assert commands.main(["--db", live, "collect", "--simulate", "--account",
                          "x_seoul_bus"]) == 2
    assert "holds live data" in capsys.readouterr().err
    assert commands.main(["--db", demo, "collect", "--simulate", "--account",
                          "x_seoul_bus"]) == 0
    assert commands.main(["--db", demo, "collect", "--platform", "x"]) == 2
    assert "holds simulated data" in capsys.readouterr().err
