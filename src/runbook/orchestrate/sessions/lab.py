"""One JupyterLab process on a folder, on loopback, behind a fresh token.

The server is a child process in its own session, so a Ctrl-C in the terminal reaches only
its starter, which stops it the clean way (SIGTERM: Jupyter shuts its kernels down), then by
force. The token travels in the child's environment, never in an argv that ``ps`` shows, and
the server's runtime files (which also hold it) live in a private folder removed on exit.
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import IO, Final

from runbook.credentials import scrubbed
from runbook.errors import FailureError

START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 10.0
#: Log lines kept in memory (a session's log file keeps them all).
LOG_LINES: Final = 500


class LabServer:
    """One JupyterLab process serving ``root`` on 127.0.0.1."""

    def __init__(
        self,
        root: Path,
        port: int,
        *,
        base_url: str = "/",
        limits: tuple[int, int] | None = None,
        log: Path | None = None,
    ) -> None:
        """Start it; ``limits`` are (address space in bytes, CPU seconds) for the server and
        its kernels; ``log``, when given, receives its log lines, token masked."""
        self.root = root
        self.token = secrets.token_hex(32)  # 256 bits
        self.runtime = Path(tempfile.mkdtemp(prefix="runbook-edit-"))
        self.port = port
        self.base_url = base_url
        self._log = log
        self._stderr: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        #: What the person starting it should know (shown by the caller).
        self.warnings: list[str] = []
        argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--ServerApp.base_url={base_url}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            # A closed network should not see lab phone home for news or updates.
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:
            # Jupyter refuses root by default; containers and CI run as root, and this server
            # listens on loopback only, behind a 256-bit token.
            argv.append("--ServerApp.allow_root=True")
            self.warnings.append("running JupyterLab as root")
        if limits is not None:
            wrapper = [sys.executable, "-m", "runbook.orchestrate.sessions.limits"]
            argv = [*wrapper, str(limits[0]), str(limits[1]), "--", *argv]
        # Kernels started in the lab must not read the store's credentials, as in runbook run.
        env = scrubbed(os.environ)
        env.update({"JUPYTER_TOKEN": self.token, "JUPYTER_RUNTIME_DIR": str(self.runtime)})
        env.pop("JUPYTER_TOKEN_FILE", None)
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,
            )
        except OSError as error:
            shutil.rmtree(self.runtime, ignore_errors=True)
            raise FailureError(f"cannot start JupyterLab: {error}") from None
        # Drain the log so the server never blocks on a full pipe; keep its tail for errors.
        self._drainer = threading.Thread(
            target=self._drain, args=(self.process.stderr,), daemon=True
        )
        self._drainer.start()

    def _drain(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        log = self._log.open("a", encoding="utf-8") if self._log is not None else None
        try:
            for line in stream:
                if line.strip():
                    masked = line.strip().replace(self.token, "***")
                    self._stderr.append(masked)
                    if log is not None:
                        log.write(masked + "\n")
                        log.flush()
        finally:
            stream.close()
            if log is not None:
                log.close()

    @property
    def log_lines(self) -> list[str]:
        """The server's last LOG_LINES log lines, token masked."""
        return list(self._stderr)

    @property
    def last_error(self) -> str:
        """The server's last log line, token masked."""
        return self._stderr[-1] if self._stderr else "no output"

    def url(self, path: str = "/lab") -> str:
        """A URL on the server, with the token."""
        return f"http://127.0.0.1:{self.port}{self.base_url.rstrip('/')}{path}?token={self.token}"

    def status(self) -> dict[str, object] | None:
        """The server's ``/api/status`` (``last_activity`` among it); None when it does not
        answer. ``no_track_activity``: asking must not count as activity."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{self.base_url.rstrip('/')}/api/status"
            "?no_track_activity=1",
            headers={"Authorization": f"token {self.token}"},
        )
        try:
            # S310: the URL is built here, always http://127.0.0.1.
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                answer = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return answer if isinstance(answer, dict) else None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``/api/status`` answers; FailureError if the server dies or is slow."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.died()
            if self._port_known() and self.status() is not None:
                return
            time.sleep(0.2)
        raise FailureError(f"JupyterLab did not answer within {timeout:.0f} s: {self.last_error}")

    def _port_known(self) -> bool:
        if self.port:
            return True
        # With port 0 the OS picks one; the server records it in its runtime file.
        info = self.runtime / f"jpserver-{self.process.pid}.json"
        try:
            self.port = int(json.loads(info.read_text(encoding="utf-8"))["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return True

    def died(self) -> FailureError:
        """The error for a server that exited on its own."""
        code = self.process.wait()
        time.sleep(0.1)  # let the drain thread catch the last lines
        return FailureError(f"JupyterLab exited with code {code}: {self.last_error}")

    def stop(self) -> None:
        """SIGTERM, up to STOP_TIMEOUT seconds for a clean shutdown, then SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                # Out of patience, or a second Ctrl-C. Its own session: the group is the
                # server and whatever it forked.
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._drainer.join(STOP_TIMEOUT)  # EOF once the server and what it forked are gone
        shutil.rmtree(self.runtime, ignore_errors=True)
