"""Where ``runbook login`` keeps API tokens: one 0600 JSON file, one entry per server.

``$XDG_CONFIG_HOME/runbook/credentials.json`` (default ``~/.config/runbook/``), its folder
0700. The file is written whole to a new 0600 file and renamed over the old one, so that a
token is never readable by another user, not even for a moment, and a crash never leaves
half a file. The token is a bearer secret: whoever reads it acts as its user.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook.errors import ConfigError

_FILE = "credentials.json"


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    """The credentials file of the user (it may not exist yet)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "runbook" / _FILE


def server_key(url: str) -> str:
    """A server's URL as its entry is named: without a trailing slash."""
    return url.rstrip("/")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"current": None, "servers": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(str(path), f"cannot read the credentials: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        raise ConfigError(str(path), "not a credentials file (run `runbook login` again)")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = path.with_name(f".{_FILE}.{os.getpid()}")
    # Created 0600 from the start: the token is never in a file others may read.
    descriptor = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(new, 0o600)
    os.replace(new, path)


def save_token(url: str, token: str, user: str, path: Path | None = None) -> None:
    """Keep ``token`` for ``url`` (replacing any) and make ``url`` the current server."""
    where = path or credentials_path()
    data = _read(where)
    data["servers"][server_key(url)] = {"token": token, "user": user}
    data["current"] = server_key(url)
    _write(where, data)


def stored_token(url: str, path: Path | None = None) -> str | None:
    """The token kept for ``url``, if any."""
    entry = _read(path or credentials_path())["servers"].get(server_key(url))
    return str(entry["token"]) if isinstance(entry, dict) and "token" in entry else None


def current_server(path: Path | None = None) -> str | None:
    """The server logged in to last, if any."""
    current = _read(path or credentials_path()).get("current")
    return str(current) if current else None


def forget(url: str | None, path: Path | None = None) -> str | None:
    """Remove the token of ``url`` (default: the current server); the URL it removed."""
    where = path or credentials_path()
    data = _read(where)
    key = server_key(url) if url else data.get("current")
    if not key or key not in data["servers"]:
        return None
    del data["servers"][key]
    if data.get("current") == key:
        data["current"] = next(iter(data["servers"]), None)
    _write(where, data)
    return str(key)
