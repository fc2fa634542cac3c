"""``[catalog.sources.NAME]``: every mistake is one ConfigError naming the key; secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.errors import ConfigError
from runbook.model.catalog.alert_sources import parse_source
from runbook.model.repository import read_config


@pytest.mark.parametrize(
    ("table", "where", "reason"),
    [
        ({"kind": "nagios", "secret": "s"}, "prod.kind", "'nagios' is not one of"),
        ({"kind": "grafana", "auth": "basic", "secret": "s"}, "prod.auth", "not one of bearer"),
        ({"kind": "alertmanager"}, "prod", "exactly one of secret and secret_env"),
        (
            {"kind": "alertmanager", "secret": "s", "secret_env": "RUNBOOK_ALERT_X"},
            "prod",
            "exactly one",
        ),
        ({"kind": "alertmanager", "secret_env": "AM_TOKEN"}, "prod.secret_env", "RUNBOOK_ALERT_"),
        ({"kind": "alertmanager", "secret": "s", "token": "x"}, "prod.token", "not a key"),
        ({"kind": "generic", "secret": "s"}, "prod.labels", "must map its labels"),
        (
            {"kind": "generic", "secret": "s", "labels": {"service": 3}},
            "prod.labels",
            "dotted paths",
        ),
        ({"kind": "alertmanager", "secret": "a\nb"}, "prod.secret", "one line"),
    ],
)
def test_a_wrong_source_names_its_key(table: dict[str, object], where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_source("prod", table, "runbook.toml: catalog")
    assert caught.value.where == f"runbook.toml: catalog.sources.{where}"
    assert reason in caught.value.reason


def test_a_source_name_must_fit_a_url() -> None:
    with pytest.raises(ConfigError, match="letters, digits"):
        parse_source("a/b", {"kind": "alertmanager", "secret": "s"}, "catalog")


def test_the_secret_is_read_when_asked_and_never_shown() -> None:
    source = parse_source("prod", {"kind": "pagerduty", "secret_env": "RUNBOOK_ALERT_PD"}, "c")
    assert source.auth == "pagerduty" and source.recorded_as == "pagerduty:prod"
    secret = source.sender_secret({"RUNBOOK_ALERT_PD": "hush"})
    assert secret.secret == "hush"
    assert "hush" not in repr(secret) and "hush" not in repr(source)
    assert source.sender_secret({}).secret == ""


def test_runbook_toml_errors_name_the_file(tmp_path: Path) -> None:
    config = tmp_path / "runbook.toml"
    config.write_text('[catalog.sources.prod]\nkind = "alertmanager"\nsecret = 3\n')
    with pytest.raises(ConfigError) as caught:
        read_config(config)
    assert str(caught.value) == f"{config}: catalog.sources.prod.secret: must be one line of text"
    config.write_text('[catalog.sources.prod]\nkind = "alertmanager"\nsecret = "s"\n')
    assert read_config(config).catalog_sources["prod"].kind == "alertmanager"
