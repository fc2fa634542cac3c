"""Inventory drift during a playbook run: reading the inventory again between batches.

New names are recorded ADDED (and, with ``added_targets: later``, locked and given batches
of the last planned size after the planned ones); names that vanished before starting
become REMOVED, and those already started or done keep their state with ``removed`` set.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from runbook.egress import egress_policy
from runbook.errors import ConfigError, DataSourceError
from runbook.model.playbooks.playbook import AddedTargets, TargetState
from runbook.model.playbooks.playbook_run import TargetRecord
from runbook.model.playbooks.strategy import inventory_drift
from runbook.orchestrate.playbooks.inventory import read_inventory
from runbook.store.playbooks.playbook_runs import add_targets
from runbook.store.target_locks import lock_targets

if TYPE_CHECKING:
    from runbook.orchestrate.playbooks.fleet_runner import FleetExecution

#: The states of a target that has not started yet.
WAITING: Final = (TargetState.PENDING, TargetState.ADDED)


async def reread_inventory(execution: FleetExecution, batches: list[list[str]]) -> None:
    """Record the drift since the last read; runnable added targets extend ``batches``."""
    if not execution.watch_inventory:
        return
    batch = len(batches) + 1
    spec, root = execution.spec, execution.repository.root
    policy = egress_policy(execution.repository.config.egress())
    try:
        current = await asyncio.to_thread(read_inventory, spec.inventory, root, policy)
    except (ConfigError, DataSourceError) as error:
        execution.warnings.append(f"the inventory could not be read again: {error}")
        return
    records = execution.records
    added, removed = inventory_drift(records, current)
    for name in removed:
        record = records[name]
        if record.removed:
            continue
        if record.state in WAITING:
            note = "left the inventory before it started"
            execution.change(name, state=TargetState.REMOVED, removed=True, message=note)
        else:
            execution.change(name, removed=True)
    if not added:
        return
    later = spec.strategy.added_targets is AddedTargets.LATER
    position = max(record.position for record in records.values()) + 1
    fresh = [
        TargetRecord(
            run_id=execution.run.id,
            name=target.name,
            address=target.address,
            vars=dict(target.vars),
            state=TargetState.ADDED,
            position=position + offset,
            added=True,
            message=None if later else "joined the inventory during the run; not run",
        )
        for offset, target in enumerate(added)
    ]
    execution.flush()
    with execution.sessions.begin() as session:
        add_targets(session, fresh)
    for record in fresh:
        records[record.name] = record
        execution.listener.target_changed(record)
    if not later:
        return
    runnable = [record.name for record in fresh if _lock_added(execution, record.name)]
    for start in range(0, len(runnable), execution.later_size):
        chunk = runnable[start : start + execution.later_size]
        batches.append(chunk)
        for name in chunk:
            execution.change(name, batch=batch)
        batch += 1


def _lock_added(execution: FleetExecution, name: str) -> bool:
    if not execution.spec.lock:
        return True
    with execution.sessions.begin() as session:
        conflict = lock_targets(session, execution.run.id, [execution.records[name]])
    if conflict is None:
        return True
    note = f"joined the inventory during the run; in use by playbook run {conflict[1]}"
    execution.change(name, state=TargetState.SKIPPED, message=note)
    return False
