"""``runbook serve``: the service (REST API) on this repository and its store."""

from __future__ import annotations

import functools

import click

from runbook.cli.context import repository


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port, printed at startup).",
)
@click.option(
    "--kernel-pool",
    type=click.IntRange(min=0, max=32),
    default=2,
    show_default=True,
    help="Run processes kept waiting with a booted kernel, per kernelspec (0: none); "
    "each serves one run and is replaced.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Server processes sharing the port, each with its own kernel pool (reads scale "
    "with cores; on SQLite writes still take turns).",
)
@click.pass_context
def serve_command(ctx: click.Context, host: str, port: int, kernel_pool: int, workers: int) -> None:
    """Serve the REST API of this repository on HOST:PORT until interrupted.

    Callers authenticate with an API token (`runbook token create`), a trusted reverse
    proxy's user header, or an OpenID Connect bearer token, as `[service]` in runbook.toml
    says; the OpenAPI document is at /openapi.json, its pages at /docs.
    """
    import uvicorn

    from runbook.api.app import LOG_CONFIG, create_app

    repo = repository(ctx)
    if workers > 1:
        from runbook.cli.serve_workers import serve_workers

        build = functools.partial(create_app, repo, run_pool_size=kernel_pool)
        serve_workers(build, host, port, workers, LOG_CONFIG)
        return
    app = create_app(repo, run_pool_size=kernel_pool)
    # JSON log lines; the app's own access line (with the request id) replaces uvicorn's.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=LOG_CONFIG,
        access_log=False,
        server_header=False,
    )
