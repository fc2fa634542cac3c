"""Sending a notification through apprise, behind the egress policy.

The one notification path: notebooks call it as ``runbook.helpers.notify`` (re-exported there),
the core's run notifications call it from here, as the core may not import ``runbook.helpers``.
Importing this module stays cheap: apprise is imported only when a message is sent.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from runbook.egress import config_root, config_table, notification_origin, policy_from_config
from runbook.errors import ConfigError
from runbook.secrets import resolve_reference

NOTIFY_ENV: Final = "RUNBOOK_NOTIFY_URLS"

_LEVEL_ALIASES: Final = {"warn": "warning", "error": "failure", "critical": "failure"}


def notify(
    message: str,
    *,
    title: str | None = None,
    urls: Sequence[str] | None = None,
    level: str = "info",
) -> bool:
    """Send ``message`` to every target (apprise URLs); True when every target accepted it.

    Targets: ``urls``, else ``RUNBOOK_NOTIFY_URLS`` (comma or space separated), else ``[notify]
    urls`` in runbook.toml; an entry may be a secret reference (``secret:SLACK_WEBHOOK``), as a
    webhook URL is a credential. Targets reached over HTTP must pass the egress policy
    (EgressError), get no redirects and verified TLS; apprise resolves the host again, so it is
    checked, not pinned. ``level``: info, success, warning, failure. No target: returns False.
    """
    notify_type = _LEVEL_ALIASES.get(level.strip().lower(), level.strip().lower())
    if notify_type not in ("info", "success", "warning", "failure"):
        raise ValueError(f"notify: unknown level {level!r} (info, success, warning, failure)")
    root = config_root(os.environ)
    targets = _notify_urls(urls, root)
    if not targets:
        sys.stdout.write("[notify] no notification target configured; nothing sent\n")
        return False
    import apprise

    policy = policy_from_config(os.environ, root)
    asset = apprise.AppriseAsset(http_redirects=False)
    sender = apprise.Apprise(asset=asset)
    for url in targets:
        plugin = apprise.Apprise.instantiate(url, asset=asset)
        origin = notification_origin(url, plugin)
        if origin is not None:
            policy.check_url(origin)
        if plugin is None:  # never name the URL itself: it is often a credential
            scheme = url.partition(":")[0].lower()
            raise ConfigError(f"notification target {scheme}://…", "not a URL apprise knows")
        plugin.redirects = False
        plugin.verify_certificate = True
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, policy.timeout)
        plugin.socket_read_timeout = min(plugin.socket_read_timeout, policy.timeout)
        sender.add(plugin)
    return bool(sender.notify(body=message, title=title or "", notify_type=notify_type))


def _notify_urls(urls: Sequence[str] | None, root: Path | None) -> list[str]:
    if urls is None and os.environ.get(NOTIFY_ENV, "").strip():
        urls = re.split(r"[\s,]+", os.environ[NOTIFY_ENV])
    elif urls is None:
        listed = config_table(root, "notify").get("urls", [])
        urls = [listed] if isinstance(listed, str) else listed if isinstance(listed, list) else []
    return [_dereference(u.strip()) for u in urls if isinstance(u, str) and u.strip()]


def _dereference(url: str) -> str:
    """A secret reference (``secret:NAME``, ``env:VAR``, ``file:PATH``) becomes its value."""
    if re.match(r"(secret|env|file):(?!//)", url):
        return resolve_reference(url).strip()
    return url
