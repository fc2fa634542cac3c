"""Reading inventories: static, files, commands and HTTP, and every way they go wrong."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runbook.egress import EgressPolicy
from runbook.errors import ConfigError, DataSourceError
from runbook.model.playbooks.playbook import (
    CommandInventory,
    FileInventory,
    HttpInventory,
    StaticInventory,
    Target,
    load_playbook,
)
from runbook.orchestrate.playbooks.inventory import read_inventory
from tests.builders import alias_bomb
from tests.localhttp import JsonHandler, serving

POLICY = EgressPolicy(allow_private=("127.0.0.1",), timeout=5)
TOKEN = "cmdb-token-value"
HOSTS: list[dict[str, Any]] = [
    {"name": "web1", "address": "10.0.0.1", "vars": {"role": "web"}},
    {"name": "web2"},
]
EXPECTED = [Target("web1", "10.0.0.1", {"role": "web"}), Target("web2", "web2", {})]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository folder with an ``inventory/`` subfolder."""
    (tmp_path / "repo" / "inventory").mkdir(parents=True)
    return tmp_path / "repo"


def _read(inventory: Any, root: Path, timeout: float = 60) -> list[Target]:
    return read_inventory(inventory, root, POLICY, timeout)


def test_static(root: Path) -> None:
    targets = (Target("a", "10.0.0.1"), Target("b", "b", {"k": 1}))
    assert _read(StaticInventory(targets), root) == list(targets)


def test_yaml_file(root: Path) -> None:
    (root / "inventory" / "web.yml").write_text(
        "- {name: web1, address: 10.0.0.1, vars: {role: web}}\n- name: web2\n"
    )
    assert _read(FileInventory("inventory/web.yml"), root) == EXPECTED
    (root / "inventory" / "wrapped.yaml").write_text(json.dumps({"targets": HOSTS}))
    assert _read(FileInventory("inventory/wrapped.yaml"), root) == EXPECTED


def test_json_file(root: Path) -> None:
    (root / "inventory" / "web.json").write_text(json.dumps({"targets": HOSTS}))
    assert _read(FileInventory("inventory/web.json"), root) == EXPECTED
    (root / "inventory" / "empty.json").write_text("[]")
    assert _read(FileInventory("inventory/empty.json"), root) == []


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        ("{", "inventory/x.json", "the file did not give valid JSON"),
        ('{"hosts": []}', "inventory/x.json: hosts", "unknown key (expected one of: targets)"),
        ('{"targets": 3}', "inventory/x.json: targets", "expected a list of targets"),
        ("42", "inventory/x.json: inventory", "expected a list of targets or {targets: [...]}"),
        ('[{"name": "a"}, {"address": "b"}]', "inventory/x.json: targets[1].name", "missing"),
        ('[{"name": "a"}, {"name": "a"}]', "inventory/x.json: targets[1].name", "duplicate"),
        ('[{"name": "a", "os": "linux"}]', "inventory/x.json: targets[0].os", "unknown key"),
        ('[{"name": "a b"}]', "inventory/x.json: targets[0].name", "letters, digits"),
        ('[{"name": "a", "vars": [1]}]', "inventory/x.json: targets[0].vars", "a mapping"),
        ('["a"]', "inventory/x.json: targets[0]", "expected a mapping"),
    ],
)
def test_bad_json_files(root: Path, content: str, where: str, reason: str) -> None:
    (root / "inventory" / "x.json").write_text(content)
    with pytest.raises(ConfigError) as caught:
        _read(FileInventory("inventory/x.json"), root)
    assert caught.value.where == where
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value)


def test_several_bad_targets_are_counted(root: Path) -> None:
    (root / "inventory" / "x.json").write_text('[{"name": 1}, {"name": 2}, {}]')
    with pytest.raises(ConfigError, match=r"\(and 2 more problems\)$"):
        _read(FileInventory("inventory/x.json"), root)


def test_bad_yaml_file_names_the_line(root: Path) -> None:
    (root / "inventory" / "x.yml").write_text("- name: a\n- name: [b\n")
    with pytest.raises(ConfigError) as caught:
        _read(FileInventory("inventory/x.yml"), root)
    assert caught.value.where.startswith("inventory/x.yml:")
    assert "invalid YAML" in caught.value.reason
    (root / "inventory" / "tag.yml").write_text("!!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        _read(FileInventory("inventory/tag.yml"), root)


@pytest.mark.timeout(60)  # a backstop: without the loader's caps this walks 9**9 strings
def test_an_inventory_file_that_is_an_alias_bomb_is_refused(root: Path) -> None:
    (root / "inventory" / "bomb.yml").write_text(
        f"targets: [{{name: a, vars: {{x: {alias_bomb()}}}}}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        _read(FileInventory("inventory/bomb.yml"), root)
    assert caught.value.where.startswith("inventory/bomb.yml:1:")
    assert caught.value.reason == "YAML refused: aliases expand to more than 100000 nodes"
    (root / "inventory" / "latin.yml").write_bytes(b"- name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"^inventory/latin\.yml: cannot read the inventory "):
        _read(FileInventory("inventory/latin.yml"), root)


@pytest.mark.parametrize("path", ["../outside.yml", "/etc/hosts.yml", "inventory/../../x.yml"])
def test_files_outside_the_repository_are_refused(root: Path, path: str) -> None:
    (root.parent / "outside.yml").write_text("[]")
    with pytest.raises(ConfigError, match="inventory file must be a relative path"):
        _read(FileInventory(path), root)


def test_symlink_out_of_the_repository_is_refused(root: Path) -> None:
    (root.parent / "secret.yml").write_text("[]")
    os.symlink(root.parent / "secret.yml", root / "inventory" / "link.yml")
    with pytest.raises(ConfigError, match="inventory file is outside the repository"):
        _read(FileInventory("inventory/link.yml"), root)


def test_missing_file_and_bad_suffix(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"^inventory/none\.yml: no such inventory file$"):
        _read(FileInventory("inventory/none.yml"), root)
    (root / "hosts.txt").write_text("[]")
    with pytest.raises(ConfigError, match=r"must be \.yml, \.yaml or \.json"):
        _read(FileInventory("hosts.txt"), root)


def _python(code: str) -> CommandInventory:
    return CommandInventory((sys.executable, "-c", code))


def test_command(root: Path) -> None:
    code = f"import json; print(json.dumps({HOSTS!r}))"
    assert _read(_python(code), root) == EXPECTED
    wrapped = f"import json; print(json.dumps({{'targets': {HOSTS!r}}}))"
    assert _read(_python(wrapped), root) == EXPECTED


def test_command_runs_in_the_repository_without_a_shell(root: Path) -> None:
    script = root / "list-hosts"
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "here = os.path.basename(os.getcwd())\n"
        "print(json.dumps([{'name': here, 'vars': {'argv': sys.argv[1:]}}]))\n"
    )
    script.chmod(0o755)
    spec = load_playbook(
        "name: p\nversion: 1\ninventory: {command: \"./list-hosts --tier 'web; rm -rf x' $HOME\"}\n"
        "steps: [{shell: 'true'}]\n"
    )
    [target] = read_inventory(spec.inventory, root, POLICY)
    assert target.name == "repo"
    assert target.vars == {"argv": ["--tier", "web; rm -rf x", "$HOME"]}


def test_command_failures(root: Path) -> None:
    fail = "import sys; sys.stderr.write('cmdb down\\nmore\\n'); sys.exit(3)"
    with pytest.raises(DataSourceError, match=r"exited with status 3: cmdb down$") as caught:
        _read(_python(fail), root)
    assert caught.value.where == f"inventory command {sys.executable}"
    with pytest.raises(DataSourceError, match="the command did not give valid JSON"):
        _read(_python("print('web1')"), root)
    with pytest.raises(DataSourceError, match=r"targets\[0\]\.name: missing"):
        _read(_python("print('[{}]')"), root)
    with pytest.raises(DataSourceError, match=r"timed out after 0\.5 s"):
        _read(_python("import time; time.sleep(5)"), root, timeout=0.5)
    with pytest.raises(DataSourceError, match="program not found"):
        _read(CommandInventory(("/nonexistent/list-hosts-xyz",)), root)
    with pytest.raises(ConfigError, match="no command"):
        _read(CommandInventory(()), root)


class _Handler(JsonHandler):
    routes: ClassVar[dict[str, Any]] = {
        "/list": HOSTS,
        "/wrapped": {"targets": HOSTS},
        "/field": {"data": {"targets": HOSTS}, "count": 2},
        "/html": b"<html>",
        "/bad": [{"name": "a"}, {"name": "a"}],
    }

    def answer(self, path: str) -> tuple[int, Any]:
        if path == "/private":
            return (200, HOSTS) if self.bearer() == TOKEN else (403, {"msg": "forbidden"})
        if path in self.routes:
            return 200, self.routes[path]
        return super().answer(path)


@pytest.fixture
def base_url() -> Iterator[str]:
    """A CMDB-like server on 127.0.0.1, shut down and closed afterwards."""
    with serving(_Handler) as url:
        yield url


def test_http(base_url: str, root: Path) -> None:
    assert _read(HttpInventory(f"{base_url}/list"), root) == EXPECTED
    assert _read(HttpInventory(f"{base_url}/wrapped"), root) == EXPECTED
    assert _read(HttpInventory(f"{base_url}/field", "data"), root) == EXPECTED
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert _read(HttpInventory(f"{base_url}/private", None, headers), root) == EXPECTED


def test_http_header_secrets_are_references_resolved_when_read(
    base_url: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMDB_TOKEN", TOKEN)
    headers = {"Authorization": "Bearer env:CMDB_TOKEN"}
    assert _read(HttpInventory(f"{base_url}/private", None, headers), root) == EXPECTED
    monkeypatch.delenv("CMDB_TOKEN")
    with pytest.raises(ConfigError, match="env:CMDB_TOKEN: secret not found") as caught:
        _read(HttpInventory(f"{base_url}/private", None, headers), root)
    assert TOKEN not in str(caught.value)


def test_http_failures(base_url: str, root: Path) -> None:
    with pytest.raises(DataSourceError, match="the server answered 403") as caught:
        _read(HttpInventory(f"{base_url}/private?token=abc", None, {"X-Key": "wrong"}), root)
    assert caught.value.where == f"{base_url}/private"
    assert "abc" not in str(caught.value)
    with pytest.raises(DataSourceError, match="answered 404"):
        _read(HttpInventory(f"{base_url}/nowhere"), root)
    with pytest.raises(DataSourceError, match="the server did not give valid JSON"):
        _read(HttpInventory(f"{base_url}/html"), root)
    with pytest.raises(DataSourceError, match="no field 'missing'"):
        _read(HttpInventory(f"{base_url}/field", "missing"), root)
    with pytest.raises(
        DataSourceError, match=r"/field: data: unknown key .* \(and 1 more problem\)$"
    ):
        _read(HttpInventory(f"{base_url}/field"), root)
    with pytest.raises(DataSourceError, match=r"/bad: targets\[1\]\.name: duplicate target name"):
        _read(HttpInventory(f"{base_url}/bad"), root)


def test_http_refused_by_the_default_policy(base_url: str, root: Path) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with pytest.raises(DataSourceError, match="refused by the egress policy: loopback") as caught:
        read_inventory(HttpInventory(f"{base_url}/private", None, headers), root, EgressPolicy())
    assert TOKEN not in str(caught.value)
