"""``runbook catalog``: validate and import ``catalog/``, look procedures up, answer alerts.

Thin: every rule is in :mod:`runbook.orchestrate.catalog`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.output import console, print_json
from runbook.errors import UsageError
from runbook.model.files import read_failure, read_text
from runbook.outcomes import EXIT_FAILURE, EXIT_OK

_HELP = """The catalog: services, error codes, and the procedures that answer them.

\b
Files: catalog/*.yml hold services, error_codes and procedures (see README "Catalog").
Resolution (one order; `runbook catalog why` shows it at work): a service's own rule
beats a tag's, which beats the platform's ("*"); then an exact code beats a pattern;
then more label matchers beat fewer; then the catalog's order. A rule's mode decides:
override (the answer), extend (added to the procedure it extends), suppress (no
procedure here, on purpose).
"""


@click.group("catalog", help=_HELP)
def catalog_group() -> None:
    """The catalog: services and error codes to procedures."""


def _labels(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--label {pair!r}: expected NAME=VALUE")
        found[name.strip()] = value
    return found


label_option = click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="NAME=VALUE",
    help="An alert label, for rules with label matchers (repeatable).",
)


@catalog_group.command("validate")
@json_option
@click.pass_context
def validate_command(ctx: click.Context, as_json: bool) -> int:
    """Check catalog/ and list every error with its file and YAML path. Exit 1 on errors."""
    from runbook.orchestrate.catalog.catalog_files import validate_catalog

    catalog, errors = validate_catalog(repository(ctx))
    if as_json:
        print_json(
            {"ok": not errors, "errors": [{"where": e.where, "reason": e.reason} for e in errors]}
        )
    else:
        for error in errors:
            click.echo(str(error))
        if not errors:
            click.echo(
                f"catalog: valid ({len(catalog.services)} services, {len(catalog.codes)} "
                f"error codes, {len(catalog.procedures)} procedures)"
            )
    return EXIT_FAILURE if errors else EXIT_OK


@catalog_group.command("import")
@as_option
@json_option
@click.pass_context
def import_command(ctx: click.Context, as_user: str | None, as_json: bool) -> None:
    """Validate catalog/ and store it as the next revision, with its git commit.

    Importing content identical to the newest revision stores nothing ("unchanged").
    Alerts are answered by the newest revision.
    """
    from runbook.orchestrate.catalog.catalog_files import import_catalog

    repo = repository(ctx)
    with store_session(repo) as session:
        result = import_catalog(session, repo, imported_by=acting_user(as_user, repo))
    found = result.revision
    if as_json:
        print_json(
            {
                "revision": found.revision,
                "created": result.created,
                "git_commit": found.git_commit,
                "dirty": found.dirty,
                "sha256": found.sha256,
            }
        )
        return
    verdict = "imported as" if result.created else "unchanged: identical to"
    commit = (found.git_commit or "none")[:12] + (" dirty" if found.dirty else "")
    click.echo(f"catalog: {verdict} revision {found.revision} (commit {commit})")


@catalog_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """The catalog in use: services, error codes and procedures."""
    from runbook.orchestrate.catalog.catalog_queries import list_catalog

    with store_session(repository(ctx)) as session:
        data = list_catalog(session)
    if as_json:
        print_json(data)
        return
    paused = " (automated response PAUSED)" if data["paused"] else ""
    click.echo(f"catalog revision {data['revision']}{paused}")
    for service in data["services"]:
        tags = ", ".join(service["tags"])
        click.echo(f"service {service['name']}  team={service['team']}  tags={tags}")
    for code in data["error_codes"]:
        click.echo(f"code {code['code']}  {code['severity']}  {code['title']}")
    for rule in data["procedures"]:
        code = rule["code"] or f"~{rule['code_pattern']}"
        click.echo(
            f"procedure {rule['name']}  for {rule['for']}  {code}  {rule['mode']}  "
            f"{rule['policy']}  → {rule['runbook'] or '(nothing)'}"
        )


@catalog_group.command("show")
@json_option
@click.argument("service")
@click.pass_context
def show_command(ctx: click.Context, as_json: bool, service: str) -> None:
    """SERVICE and every procedure that applies to it."""
    from runbook.orchestrate.catalog.catalog_queries import show_service

    with store_session(repository(ctx)) as session:
        data = show_service(session, service)
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]{escape(data['name'])}[/] owner={escape(data['owner'])} "
        f"team={escape(data['team'])} tier={escape(data['tier'])}"
    )
    for rule in data["procedures"]:
        console.print(
            f"  {escape(rule['name'])} ({escape(rule['for'])}, {rule['mode']}, {rule['policy']})",
            highlight=False,
        )


def _entry(ctx: click.Context, service: str, code: str, labels: tuple[str, ...]) -> dict[str, Any]:
    from runbook.orchestrate.catalog.catalog_queries import entry

    repo = repository(ctx)
    with store_session(repo) as session:
        return entry(
            session, service, code, base_url=repo.config.catalog_base_url, labels=_labels(labels)
        )


@catalog_group.command("lookup")
@json_option
@label_option
@click.argument("service")
@click.argument("code")
@click.pass_context
def lookup_command(
    ctx: click.Context, as_json: bool, labels: tuple[str, ...], service: str, code: str
) -> None:
    """The procedure that answers CODE for SERVICE."""
    data = _entry(ctx, service, code, labels)
    if as_json:
        print_json(data)
        return
    described = data["error_code"]
    if described:
        click.echo(f"{code}: {described['title']} ({described['severity']})")
        for key in ("user_sees", "check_first"):
            if described[key]:
                click.echo(f"  {key.replace('_', ' ')}: {described[key]}")
    rule = data["procedure"]
    if rule is None:
        what = f"suppressed by {data['suppressed_by']}" if data["suppressed_by"] else "a gap"
        click.echo(f"{service} {code}: no procedure ({what})")
        return
    click.echo(f"{service} {code}: {rule['name']} → {rule['runbook']} ({rule['policy']})")
    for name, value in rule["parameters"].items():
        click.echo(f"  {name} = {value}")
    for extra in data["also"]:
        click.echo(f"  also: {extra['name']} → {extra['runbook']}")


@catalog_group.command("why")
@json_option
@label_option
@click.argument("service")
@click.argument("code")
@click.pass_context
def why_command(
    ctx: click.Context, as_json: bool, labels: tuple[str, ...], service: str, code: str
) -> None:
    """Every candidate rule for CODE on SERVICE, ranked, and why the winner won."""
    data = _entry(ctx, service, code, labels)
    if as_json:
        print_json(
            {k: data[k] for k in ("code", "candidates", "gap", "suppressed_by")}
            | {"service": service, "winner": (data["procedure"] or {}).get("name")}
        )
        return
    click.echo(
        f"{service} {code}: order: service rule > tag rule > platform (*); exact code >"
        " pattern; more matchers > fewer; catalog order"
    )
    if not data["candidates"]:
        click.echo("  no candidate rule: a gap in the catalog")
    for number, candidate in enumerate(data["candidates"], start=1):
        click.echo(f"  {number}. {candidate['rule']} ({candidate['for']}): {candidate['verdict']}")
    winner = data["procedure"]
    click.echo(f"answer: {winner['name'] if winner else 'none'}")


@catalog_group.command("runbook-url")
@click.argument("service")
@click.argument("code")
@click.pass_context
def runbook_url_command(ctx: click.Context, service: str, code: str) -> None:
    """The URL of the catalog entry, for a Prometheus rule's runbook_url annotation.

    Needs `[catalog] base_url` in runbook.toml (the service's URL).
    """
    from runbook.model.catalog.alert_matching import entry_url

    click.echo(entry_url(repository(ctx).config.catalog_base_url, service, code))


@catalog_group.command("alerts")
@json_option
@click.option("--action", help="Only alerts answered so: gap, suppressed, manual, suggest, auto.")
@click.pass_context
def alerts_command(ctx: click.Context, as_json: bool, action: str | None) -> None:
    """Alerts received, newest first, with what was done."""
    from runbook.orchestrate.catalog.catalog_queries import alerts

    with store_session(repository(ctx)) as session:
        found = alerts(session, action=action)
    _show_alerts(found, as_json)


@catalog_group.command("gaps")
@json_option
@click.pass_context
def gaps_command(ctx: click.Context, as_json: bool) -> None:
    """Alerts the catalog had no procedure for: its gaps."""
    from runbook.orchestrate.catalog.catalog_queries import gaps

    with store_session(repository(ctx)) as session:
        found = gaps(session)
    _show_alerts(found, as_json)


def _show_alerts(found: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    for alert in found:
        resolved = f" resolved {alert['resolved_at']}" if alert["resolved_at"] else ""
        click.echo(
            f"{alert['id']}  {alert['source']}  {alert['service'] or '?'}  "
            f"{alert['code'] or '?'}  {alert['action']}: {alert['detail']}{resolved}"
        )


@catalog_group.command("pause")
@as_option
@click.option("--reason", help="Why (recorded in the audit log).")
@click.pass_context
def pause_command(ctx: click.Context, as_user: str | None, reason: str | None) -> None:
    """Stop every automated response (the kill switch): auto rules only suggest."""
    from runbook.orchestrate.catalog.catalog_queries import pause

    repo = repository(ctx)
    with store_session(repo) as session:
        pause(session, by=acting_user(as_user, repo), reason=reason)
    click.echo("catalog: automated response paused")


@catalog_group.command("resume")
@as_option
@click.pass_context
def resume_command(ctx: click.Context, as_user: str | None) -> None:
    """Let auto rules run again."""
    from runbook.orchestrate.catalog.catalog_queries import resume

    repo = repository(ctx)
    with store_session(repo) as session:
        resume(session, by=acting_user(as_user, repo))
    click.echo("catalog: automated response resumed")


@catalog_group.command("receive")
@json_option
@click.argument("source", type=click.Choice(["alertmanager", "grafana", "pagerduty"]))
@click.argument("file", metavar="FILE")
@click.pass_context
def receive_command(ctx: click.Context, as_json: bool, source: str, file: str) -> None:
    """Answer the alerts of a webhook payload in FILE (JSON) as `runbook serve` would,
    and wait for any automated run to end."""
    from runbook.orchestrate.catalog.receiving import receive_payload

    try:
        payload = json.loads(read_text(Path(file)))
    except (OSError, ValueError) as error:
        raise UsageError(f"{file}: cannot read a JSON payload: {read_failure(error)}") from None
    from runbook.cli.context import store_sessions

    repo = repository(ctx)
    with store_sessions(repo) as sessions:
        received = receive_payload(sessions, repo, source, payload)
        for one in received:
            if one.run is not None:
                one.run.join()
    found = [
        {"alert": r.alert_id, "created": r.created, "action": r.action, "detail": r.detail}
        for r in received
    ]
    if as_json:
        print_json(found)
        return
    for item in found:
        new = "" if item["created"] else " (already received)"
        click.echo(f"{item['alert']}{new}: {item['action']}: {item['detail']}")
