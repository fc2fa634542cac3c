"""``runbook scheduler``: the long-running process that fires schedules and sensors."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

import click

from runbook.cli.context import json_option, repository, store_sessions
from runbook.cli.output import print_json


@click.command("scheduler")
@click.option(
    "--once",
    is_flag=True,
    help="One tick: fire what is due, poll every sensor now, wait for the runs, exit.",
)
@click.option(
    "--tick",
    "tick_seconds",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How often schedules and sensors are looked at.",
)
@click.option(
    "--catch-up",
    type=click.Choice(["run_once", "skip"]),
    default="run_once",
    show_default=True,
    help="Fire times missed while no scheduler ran: run_once starts one run for the whole "
    "gap, skip starts none.",
)
@click.option(
    "--grace",
    "grace_seconds",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="A fire time at most this old is on time, not missed.",
)
@json_option
@click.pass_context
def scheduler_command(
    ctx: click.Context,
    once: bool,
    tick_seconds: float,
    catch_up: str,
    grace_seconds: float,
    as_json: bool,
) -> int:
    """Run workflows on their cron schedules and when their sensors see new dates.

    \b
    Its state is in the store: after a restart, a fire time already fired is not fired
    again, and fire times missed while it was down are caught up per --catch-up. Several
    schedulers may share one PostgreSQL store: each fire time starts one run. A sensor
    starts each (workflow, date, parameters) once; a failed one is retried on later polls
    ([workflows] sensor_attempts, default 3). Stop with Ctrl-C or SIGTERM: running
    workflows finish first. Log level: [workflows] log_level or RUNBOOK_LOG_LEVEL
    (AUTOFLOW_LOG_LEVEL).
    """
    from runbook.config import log_level_number
    from runbook.orchestrate.leases import lease_owner
    from runbook.orchestrate.workflows.scheduler import Scheduler, SchedulerOptions, run_scheduler
    from runbook.orchestrate.workflows.workflow_files import settings_for

    repo = repository(ctx)
    settings = settings_for(repo)
    logging.basicConfig(
        level=log_level_number(settings.log_level),
        format="%(asctime)s %(levelname)s %(message)s",
    )
    log = logging.getLogger("runbook.scheduler")
    options = SchedulerOptions(
        catch_up="skip" if catch_up == "skip" else "run_once",
        grace=timedelta(seconds=grace_seconds),
    )
    with store_sessions(repo) as sessions:
        scheduler = Scheduler(
            sessions, repo, settings, lease_owner(), log.info, options, log_error=log.error
        )
        if once:
            started = scheduler.tick(poll_now=True)
            scheduler.close()
            if as_json:
                print_json({"started": [run.id for run in started]})
            return 0
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            log.info("stopping: waiting for running workflows to finish")
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        log.info("scheduler started (tick %.0f s, catch-up %s)", tick_seconds, catch_up)
        run_scheduler(scheduler, tick_seconds, stop)
    return 0
