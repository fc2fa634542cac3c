"""The notebook helpers with real things: subprocesses, a real kernel, a local HTTP server."""

from __future__ import annotations

import io
import json
import pickle
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from runbook.errors import ConfigError, EgressError
from runbook.helpers import (
    SECRET_MIMETYPE,
    CommandError,
    CommandTimeout,
    ShResult,
    annotate,
    glue,
    notify,
    read_scraps,
    secret,
    sh,
)
from tests.test_egress import FakeServer, serve


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """A fake Slack / JSON webhook and Grafana server on loopback."""
    fake, server = serve()
    yield fake
    server.shutdown()
    server.server_close()


#: apprise's plugin loader imports ``imghdr``, deprecated since Python 3.11: not our warning.
quiet_apprise = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the egress policy reach 127.0.0.1, as a repository would allow an internal host."""
    monkeypatch.setenv("RUNBOOK_EGRESS_ALLOW", "127.0.0.1")


def execute(tmp_path: Path, *sources: str) -> tuple[Any, Path]:
    """Run code cells in a real kernel; the executed notebook and where it was saved."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    return notebook, path


def outputs(notebook: Any) -> list[Any]:
    """Every output of every cell, in order."""
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def scrapbook_scraps(path: Path) -> dict[str, Any]:
    """What scrapbook itself reads from ``path`` (the oracle for our format)."""
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # scrapbook and papermill are old; their warnings are not ours
        import scrapbook

        return {
            name: scrap.data for name, scrap in scrapbook.read_notebook(str(path)).scraps.items()
        }


# --- sh -------------------------------------------------------------------------------------


def test_sh_captures_streams_and_prints_the_timing(capsys: pytest.CaptureFixture[str]) -> None:
    result = sh(["sh", "-c", "echo one; echo two >&2; echo three"])
    assert isinstance(result, ShResult)
    assert (result.returncode, result.stdout, result.stderr) == (0, "one\nthree\n", "two\n")
    assert result.command == "sh -c 'echo one; echo two >&2; echo three'"
    assert not result.dry_run
    assert 0 < result.duration < 5
    out, err = capsys.readouterr()
    assert out.startswith("one\nthree\n")
    assert re.search(r"^\[sh\] exit 0 in \d+\.\d\d s$", out, re.MULTILINE)
    assert err == "two\n"


def test_sh_output_arrives_while_the_command_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command waits for a file that the notebook side creates on seeing its first line."""
    marker = tmp_path / "seen-first-line"

    class Notebook(io.StringIO):
        def write(self, text: str) -> int:
            if "first" in text:
                marker.touch()
            return super().write(text)

    sink = Notebook()
    monkeypatch.setattr("sys.stdout", sink)
    script = f"echo first; while [ ! -e {marker} ]; do sleep 0.02; done; echo second"
    result = sh(["sh", "-c", script], timeout=10)
    assert result.stdout == "first\nsecond\n"
    assert sink.getvalue().startswith("first\nsecond\n[sh] exit 0 in ")


def test_sh_splits_a_string_without_a_shell(tmp_path: Path) -> None:
    result = sh("echo 'a  b' $HOME; touch pwned", cwd=tmp_path)
    assert result.stdout == "a  b $HOME; touch pwned\n"
    assert list(tmp_path.iterdir()) == []


def test_a_hostile_argument_is_passed_literally(tmp_path: Path) -> None:
    hostile = "$(touch pwned1); `touch pwned2` | touch pwned3 && touch pwned4 > x"
    result = sh(["printf", "%s", hostile], cwd=tmp_path)
    assert result.stdout == hostile
    assert list(tmp_path.iterdir()) == []


def test_shell_is_an_explicit_opt_in(tmp_path: Path) -> None:
    piped = sh("echo $((40 + 2)) | tr 4 X", shell=True)  # noqa: S604 - the opt-in under test
    assert piped.stdout == "X2\n"
    extra = sh(["sh", "-c", 'echo "$GREETING" && pwd'], env={"GREETING": "hi"}, cwd=tmp_path)
    assert extra.stdout == f"hi\n{tmp_path}\n"


def test_a_failure_raises_command_error_with_code_and_stderr_tail() -> None:
    script = "for i in $(seq 1 30); do echo line$i >&2; done; exit 3"
    with pytest.raises(subprocess.CalledProcessError) as caught:
        sh(["sh", "-c", script])
    error = caught.value
    assert isinstance(error, CommandError)
    assert error.returncode == 3
    message = str(error)
    assert "sh -c" in message
    assert "exit code 3" in message
    assert "line30" in message
    assert "line21" in message
    assert "line20\n" not in message
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert str(again) == message
    unchecked = sh(["sh", "-c", "exit 5"], check=False)
    assert unchecked.returncode == 5


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    # The shell must have started and written its lines before the timeout: 3 s is long
    # enough on a loaded machine, and far less than the 30 s the command would take.
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as caught:
        sh(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; echo started; wait"], timeout=3)
    assert time.monotonic() - started < 25
    assert isinstance(caught.value, subprocess.TimeoutExpired)
    assert "timed out after 3 s" in str(caught.value)
    assert caught.value.output == "started\n"
    child = int(pidfile.read_text())
    while _alive(child):  # killed with its group: gone once reaped (pytest's timeout bounds it)
        time.sleep(0.05)


def test_sleep_30_with_a_timeout_returns_well_before_it_would_end() -> None:
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        sh("sleep 30", timeout=0.5)
    assert time.monotonic() - started < 25


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_dry_run_announces_a_mutative_command_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RUNBOOK_DRY_RUN", "1")
    target = tmp_path / "created"
    result = sh(["touch", str(target)], mutative=True)
    assert not target.exists()
    assert result == ShResult(f"touch {target}", 0, "", "", 0.0, dry_run=True)
    assert capsys.readouterr().out == f"[dry-run] would run: touch {target}\n"
    assert sh(["echo", "reads still run"]).stdout == "reads still run\n"
    monkeypatch.setenv("RUNBOOK_DRY_RUN", "0")
    assert not sh(["touch", str(target)], mutative=True).dry_run
    assert target.exists()


# --- glue, read_scraps and secret in a real kernel ---------------------------------------------


@pytest.mark.kernel
def test_glue_round_trips_through_a_real_kernel(tmp_path: Path) -> None:
    notebook, path = execute(
        tmp_path,
        'from runbook.helpers import glue\nglue("x", {"a": 1})\nglue("t", "text")',
        'glue("n", 3)\nglue("later", [1])\nglue("later", [2])',
        'class Pod:\n    def __repr__(self):\n        return "Pod(db1)"',
        'glue("obj", Pod(), display=True)',
    )
    scraps = read_scraps(path)
    assert scraps["x"] == {"a": 1}
    assert scraps["t"] == "text"
    assert scraps["n"] == 3
    assert scraps["later"] == [2]
    assert scraps["obj"] == "Pod(db1)"
    first = outputs(notebook)[0]
    assert first.data == {
        "application/scrapbook.scrap.json+json": {
            "name": "x",
            "data": {"a": 1},
            "encoder": "json",
            "version": 1,
        }
    }
    assert first.metadata == {"scrapbook": {"name": "x", "data": True, "display": False}}
    shown = [o for o in outputs(notebook) if o.metadata.get("scrapbook", {}).get("display")]
    assert shown
    assert shown[0].data == {"text/plain": "Pod(db1)"}
    assert shown[0].metadata == {"scrapbook": {"name": "obj", "data": False, "display": True}}
    oracle = scrapbook_scraps(path)
    assert oracle["x"] == {"a": 1}
    # scrapbook 0.5 lets a display output replace the data of its own display=True scraps;
    # read_scraps keeps the data.
    assert oracle.pop("obj") is None
    assert oracle == {name: data for name, data in scraps.items() if name != "obj"}


@pytest.mark.kernel
def test_read_scraps_reads_what_scrapbook_glued(tmp_path: Path) -> None:
    _, path = execute(
        tmp_path,
        "import warnings\nwarnings.simplefilter('ignore')\nimport scrapbook as sb\n"
        "sb.glue('s', 'hello')\nsb.glue('d', {'k': [1, 2]})\nsb.glue('n', 7)\n"
        "sb.glue('s', 'again')",
    )
    assert read_scraps(path) == {"s": "again", "d": {"k": [1, 2]}, "n": 7}
    assert scrapbook_scraps(path) == read_scraps(path)


def test_read_scraps_reads_the_legacy_papermill_record(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pm.record('old', {'v': 1})")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"application/papermill.record+json": {"old": {"v": 1}}}
        ),
        nbformat.v4.new_output("stream", name="stdout", text="noise\n"),
    ]
    notebook.cells = [cell, nbformat.v4.new_markdown_cell("no outputs here")]
    path = tmp_path / "legacy.ipynb"
    nbformat.write(notebook, path)
    assert read_scraps(path) == {"old": {"v": 1}}
    assert scrapbook_scraps(path) == {"old": {"v": 1}}


def test_glue_outside_a_kernel_says_so() -> None:
    with pytest.raises(RuntimeError, match="only inside a Jupyter kernel"):
        glue("x", 1)


@pytest.mark.kernel
def test_secret_in_a_kernel_publishes_the_reference_never_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-8e1f5c0d2b7a4963"
    monkeypatch.setenv("RB_TEST_CANARY", canary)
    notebook, path = execute(
        tmp_path,
        "from runbook.helpers import secret\nvalue = secret('env:RB_TEST_CANARY')\nlen(value)",
        "secret('RB_TEST_CANARY') == value",
    )
    published = [
        o.data[SECRET_MIMETYPE] for o in outputs(notebook) if SECRET_MIMETYPE in o.get("data", {})
    ]
    assert published == [
        {"reference": "env:RB_TEST_CANARY"},
        {"reference": "secret:RB_TEST_CANARY"},
    ]
    results = [o.data["text/plain"] for o in outputs(notebook) if o.output_type == "execute_result"]
    assert results == [str(len(canary)), "True"]
    assert canary not in path.read_text(encoding="utf-8")


@pytest.mark.kernel
def test_sh_streams_into_the_notebook(tmp_path: Path) -> None:
    notebook, _ = execute(tmp_path, "from runbook.helpers import sh\n_ = sh(['echo', 'from-sh'])")
    text = "".join(o.text for o in outputs(notebook) if o.output_type == "stream")
    assert text.startswith("from-sh\n[sh] exit 0 in ")


def test_secret_outside_a_kernel_publishes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RB_PLAIN", "plain-value")
    assert secret("RB_PLAIN") == "plain-value"
    assert secret("env:RB_PLAIN") == "plain-value"
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ConfigError, match="secret not found"):
        secret("RB_MISSING")


# --- notify ---------------------------------------------------------------------------------


@quiet_apprise
def test_notify_sends_to_a_json_webhook(fake: FakeServer, allow_loopback: None) -> None:
    url = f"json://127.0.0.1:{fake.port}/hooks/ops"
    assert notify("disk full on db1", title="db1", urls=[url], level="warning") is True
    assert fake.paths() == ["/hooks/ops"]
    body = json.loads(fake.seen[0].body)
    assert body["message"] == "disk full on db1"
    assert body["title"] == "db1"
    assert body["type"] == "warning"


@quiet_apprise
def test_notify_reads_targets_from_the_environment_and_runbook_toml(
    fake: FakeServer, allow_loopback: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "RUNBOOK_NOTIFY_URLS", f"json://127.0.0.1:{fake.port}/a, json://127.0.0.1:{fake.port}/b"
    )
    assert notify("from env") is True
    monkeypatch.delenv("RUNBOOK_NOTIFY_URLS")
    monkeypatch.setenv("RB_WEBHOOK", f"json://127.0.0.1:{fake.port}/from-secret")
    (tmp_path / "runbook.toml").write_text('[notify]\nurls = ["env:RB_WEBHOOK"]\n')
    monkeypatch.setenv("RUNBOOK_REPO", str(tmp_path))
    assert notify("from toml") is True
    assert sorted(fake.paths()) == ["/a", "/b", "/from-secret"]  # apprise sends in parallel


@quiet_apprise
def test_notify_uses_the_repository_egress_allowlist(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runbook.toml").write_text('[egress]\nallow_private = ["127.0.0.0/8"]\n')
    monkeypatch.chdir(tmp_path)
    assert notify("allowed by runbook.toml", urls=[f"json://127.0.0.1:{fake.port}/x"])
    assert fake.paths() == ["/x"]


@quiet_apprise
def test_notify_refuses_private_targets_before_sending(fake: FakeServer) -> None:
    for url in (
        "json://169.254.169.254/latest",
        f"json://127.0.0.1:{fake.port}/x",
        "forms://user:pw@10.0.0.1/hook",
        "mmost://169.254.169.254/abcdefghijklmnopqrstuvwxyz",
        "hassio://192.168.1.10/long-lived-access-token",
        "http://169.254.169.254/services/T/B/X",
    ):
        with pytest.raises(EgressError, match="refused by the egress policy") as caught:
            notify("hello", urls=[url])
        assert "pw" not in str(caught.value)
        assert "/services/T/B/X" not in str(caught.value)  # a webhook path is a credential
    assert fake.seen == []


@quiet_apprise
def test_notify_does_not_follow_redirects_and_reports_failure(
    fake: FakeServer, allow_loopback: None
) -> None:
    base = f"json://127.0.0.1:{fake.port}"
    assert notify("x", urls=[f"{base}/redirect-local?redirect=yes"]) is False
    assert notify("x", urls=[f"{base}/fail", f"{base}/ok"]) is False
    assert sorted(fake.paths()) == ["/fail", "/ok", "/redirect-local"]  # never /sink


@quiet_apprise
def test_notify_without_targets_returns_false(capsys: pytest.CaptureFixture[str]) -> None:
    assert notify("nobody listens") is False
    out, err = capsys.readouterr()
    assert "no notification target" in out
    assert err == ""


@quiet_apprise
def test_notify_rejects_unknown_urls_and_levels() -> None:
    with pytest.raises(ConfigError, match=r"nosuchscheme://…") as caught:
        notify("x", urls=["nosuchscheme://secret-token-value"])
    assert "secret-token-value" not in str(caught.value)
    with pytest.raises(ValueError, match="unknown level"):
        notify("x", urls=["json://example.com/"], level="loud")


# --- annotate -------------------------------------------------------------------------------


def test_annotate_posts_to_grafana(
    fake: FakeServer, allow_loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_URL", f"{fake.base}/grafana/")
    monkeypatch.setenv("GRAFANA_TOKEN", fake.token)
    annotation = annotate(
        "failover started",
        tags=["runbook", "db"],
        dashboard_uid="abc123",
        panel_id=4,
        time_ms=1_700_000_000_000,
        time_end_ms=1_700_000_060_000,
    )
    assert annotation == 42
    seen = fake.seen[0]
    assert (seen.method, seen.path) == ("POST", "/grafana/api/annotations")
    assert seen.headers["Authorization"] == f"Bearer {fake.token}"
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {
        "text": "failover started",
        "tags": ["runbook", "db"],
        "dashboardUID": "abc123",
        "panelId": 4,
        "time": 1_700_000_000_000,
        "timeEnd": 1_700_000_060_000,
    }
    assert annotate("org-wide", url=fake.base, token=fake.token) == 42
    assert json.loads(fake.seen[1].body) == {"text": "org-wide", "tags": []}


def test_annotate_never_shows_the_token(fake: FakeServer, allow_loopback: None) -> None:
    token = "wrong-token-5d8c1a9e"
    with pytest.raises(RuntimeError, match="HTTP 401") as caught:
        annotate("x", url=fake.base, token=token)
    assert token not in str(caught.value)
    assert fake.seen[0].headers["Authorization"] == f"Bearer {token}"  # the server echoed it
    with pytest.raises(EgressError) as refused:
        annotate("x", url="http://169.254.169.254", token=token)
    assert token not in str(refused.value)
    with pytest.raises(ConfigError, match="GRAFANA_URL"):
        annotate("x", token=token)
    with pytest.raises(ConfigError, match="GRAFANA_TOKEN"):
        annotate("x", url=fake.base)
    with pytest.raises(ConfigError, match="control characters") as bad:
        annotate("x", url=fake.base, token="abc\r\nX-Evil: 1")
    assert "X-Evil" not in str(bad.value)


def test_importing_helpers_stays_light() -> None:
    code = (
        "import sys, runbook.helpers\n"
        "heavy = [m for m in ('IPython', 'apprise', 'requests') if m in sys.modules]\n"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
