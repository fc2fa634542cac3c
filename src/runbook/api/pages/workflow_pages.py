"""The workflow run pages: the list, and one run with its DAG drawn (tasks in their
dependency layers, coloured by state, each linking to its run and reports). A running
workflow's page reloads itself every few seconds (a ``<meta>`` refresh: no script)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from runbook.api.pages.guard import page_requires
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.store import StoreRoute, store_session
from runbook.model.roles import Permission
from runbook.model.workflows.workflow import WorkflowSpec
from runbook.orchestrate.workflows.workflow_history import find_workflow_runs, show_workflow_run
from runbook.orchestrate.workflows.workflow_summaries import task_summary, workflow_run_summary

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
Store = Annotated[Session, Depends(store_session)]
#: The drawing's grid: a task's box, and the gaps between layers and rows.
BOX_W: Final = 150
BOX_H: Final = 44
GAP_X: Final = 50
GAP_Y: Final = 20


@dataclass(frozen=True)
class Node:
    """A task's box in the drawing."""

    key: str
    x: int
    y: int
    state: str
    run: str | None


@dataclass(frozen=True)
class Edge:
    """A dependency's line, from the upstream box's right side to the task's left side."""

    x1: int
    y1: int
    x2: int
    y2: int


def layout(spec: WorkflowSpec, states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The DAG as boxes in dependency layers (left to right) and lines between them."""
    nodes: dict[str, Node] = {}
    for column, layer in enumerate(spec.order()):
        for row, key in enumerate(layer):
            task = states.get(key, {})
            nodes[key] = Node(
                key,
                10 + column * (BOX_W + GAP_X),
                10 + row * (BOX_H + GAP_Y),
                str(task.get("state", "pending")),
                task.get("run"),
            )
    edges = [
        Edge(up.x + BOX_W, up.y + BOX_H // 2, node.x, node.y + BOX_H // 2)
        for node in nodes.values()
        for up in (nodes[k] for k in sorted(spec.dependencies(node.key)))
    ]
    width = max((n.x for n in nodes.values()), default=0) + BOX_W + 10
    height = max((n.y for n in nodes.values()), default=0) + BOX_H + 10
    return {"nodes": list(nodes.values()), "edges": edges, "width": width, "height": height}


@router.get("/workflow-runs", dependencies=[page_requires(Permission.VIEW)])
def get_workflow_runs(request: Request, session: Store) -> Response:
    """The newest workflow runs."""
    runs = [workflow_run_summary(r) for r in find_workflow_runs(session, limit=100)]
    return page(request, "workflow_runs.html", runs=runs)


@router.get("/workflow-runs/{run_id}", dependencies=[page_requires(Permission.VIEW)])
def get_workflow_run(run_id: str, request: Request, session: Store) -> Response:
    """One workflow run: its DAG drawn, and each task's state, run and reports."""
    run, tasks = show_workflow_run(session, run_id)
    shown = [task_summary(t) for t in tasks]
    drawing = layout(run.spec, {t["key"]: t for t in shown})
    return page(
        request,
        "workflow_run.html",
        run=workflow_run_summary(run),
        tasks=shown,
        dag=drawing,
        box={"w": BOX_W, "h": BOX_H},
    )
