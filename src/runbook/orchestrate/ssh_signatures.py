"""Signing and verifying review verdicts with SSH keys, through ``ssh-keygen -Y``.

As git signs commits: the reviewer's key signs a message naming the plan, its sha256, the
verdict and when, under Runbook's own namespace (so a signature made for git or for
anything else never verifies here); the repository's ``allowed_signers`` file (OpenSSH's
format, committed, so changes to it are reviewed in git) says which key is whose. The
principal a key is listed under *is* the reviewer: identity is a key, not a flag.

The key comes from ``--key`` (a private key, or a public key whose private half is in the
ssh-agent), else the first key of the agent listed in ``allowed_signers``, else
``~/.ssh/id_ed25519``, ``id_ecdsa``, ``id_rsa``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runbook.errors import SignatureError

NAMESPACE: Final = "runbook-review"
_DEFAULT_KEYS: Final = ("id_ed25519", "id_ecdsa", "id_rsa")
_TIMEOUT: Final = 30.0


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SignatureError("signed reviews need ssh-keygen (apt-get install openssh-client)")
    return found


def _keygen(args: list[str], stdin: str, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [_ssh_keygen(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SignatureError(f"{what}: ssh-keygen failed: {error}") from None


@dataclass(frozen=True)
class SigningKey:
    """A key file (private, or public with its private half in the agent), or the public
    key text of an agent's key; ``name`` says which, in errors."""

    name: str
    path: Path | None = None
    agent_public_key: str = ""


def sign(message: str, key: SigningKey) -> str:
    """The armored SSH signature of ``message`` by ``key``."""
    if key.path is not None:
        if not key.path.is_file():
            raise SignatureError(f"{key.name}: no such key file")
        return _sign_with(message, key.path, key.name)
    with _text_file(key.agent_public_key, ".pub") as public:
        return _sign_with(message, public, key.name)


def _sign_with(message: str, path: Path, name: str) -> str:
    done = _keygen(["-Y", "sign", "-f", str(path), "-n", NAMESPACE, "-q"], message, name)
    if done.returncode != 0 or "BEGIN SSH SIGNATURE" not in done.stdout:
        reason = _last_line(done.stderr) or "no signature was made"
        raise SignatureError(f"{name}: cannot sign: {reason}")
    return done.stdout


def principals(signature: str, allowed_signers: Path) -> list[str]:
    """The principals ``allowed_signers`` lists for the key that made ``signature``
    (empty when the key is not listed or the signature is malformed)."""
    with _text_file(signature, ".sig") as path:
        done = _keygen(
            ["-Y", "find-principals", "-s", str(path), "-f", str(allowed_signers)],
            "",
            str(allowed_signers),
        )
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def verifies(message: str, signature: str, allowed_signers: Path, principal: str) -> bool:
    """Whether ``signature`` is ``principal``'s, per ``allowed_signers``, over ``message``."""
    checked = ["-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE]
    with _text_file(signature, ".sig") as path:
        done = _keygen([*checked, "-s", str(path)], message, str(allowed_signers))
    return done.returncode == 0


def fingerprint(message: str, signature: str) -> str:
    """The SHA256 fingerprint of the key that made ``signature`` over ``message``, or ''."""
    with _text_file(signature, ".sig") as path:
        done = _keygen(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(path)], message, "key")
    for word in (done.stdout + " " + done.stderr).split():
        if word.startswith("SHA256:"):
            return word
    return ""


def choose_key(
    given: Path | None, allowed_signers: Path, environ: Mapping[str, str] | None = None
) -> SigningKey:
    """The key to sign with: ``given``, else an agent key listed in ``allowed_signers``,
    else the first default key under ``~/.ssh``; SignatureError when there is none."""
    if given is not None:
        return SigningKey(str(given), path=given)
    env = os.environ if environ is None else environ
    listed = _agent_key(allowed_signers, env)
    if listed is not None:
        return listed
    home = Path(env.get("HOME") or Path.home())
    for name in _DEFAULT_KEYS:
        if (home / ".ssh" / name).is_file():
            return SigningKey(f"~/.ssh/{name}", path=home / ".ssh" / name)
    raise SignatureError(
        "this repository requires signed reviews and no SSH key was found: "
        "pass --key or add your key to the ssh-agent"
    )


def _agent_key(allowed_signers: Path, env: Mapping[str, str]) -> SigningKey | None:
    """The first key of the agent that ``allowed_signers`` lists."""
    if not env.get("SSH_AUTH_SOCK") or shutil.which("ssh-add") is None:
        return None
    try:
        listed = subprocess.run(
            ["ssh-add", "-L"], capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
        signers = allowed_signers.read_text(encoding="utf-8")
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in listed.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        blob = rest.split(" ", 1)[0]
        if blob and f"{kind} {blob}" in signers:
            return SigningKey(f"the ssh-agent's {kind} key", agent_public_key=f"{kind} {blob}\n")
    return None


@contextlib.contextmanager
def _text_file(text: str, suffix: str) -> Iterator[Path]:
    """A private temporary file holding ``text`` (a signature, an agent's public key), for
    ssh-keygen's file arguments; removed afterwards."""
    handle, name = tempfile.mkstemp(prefix="runbook-review-", suffix=suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
