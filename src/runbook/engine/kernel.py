"""The kernel side of a run: an nbclient client that streams, masks and can be interrupted."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from nbclient import NotebookClient

from runbook.errors import ConfigError
from runbook.masking import SecretMasker
from runbook.secrets import resolve_reference

#: The mimetype ``runbook.helpers.secret()`` publishes: a reference to mask, never a value.
SECRET_MIMETYPE: Final = "application/vnd.runbook.secret+json"  # noqa: S105 - a mimetype
#: Server-side secrets a runbook has no business reading (the store's credentials).
SCRUBBED_VARIABLES: Final = (
    "RUNBOOK_DB_URL",
    "RUNBOOK_DB_PASSWORD",
    "RUNBOOK_DB_PASSWORD_FILE",
)

OutputCallback = Callable[[int, Any], None]


class StreamingClient(NotebookClient):
    """An nbclient client whose outputs are masked and handed to a callback as they arrive."""

    def __init__(
        self, notebook: Any, *, masker: SecretMasker, on_output: OutputCallback, **traits: Any
    ) -> None:
        super().__init__(notebook, **traits)
        self._masker = masker
        self._on_output = on_output

    def output(
        self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> Any:
        """Learn secret references, mask every output, then pass it on."""
        data = msg.get("content", {}).get("data", {})
        if msg.get("msg_type") == "display_data" and SECRET_MIMETYPE in data:
            self._learn_secret(data[SECRET_MIMETYPE])
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None:
            self._masker.mask_output(out)
            self._on_output(cell_index, out)
        return out

    def _learn_secret(self, payload: Any) -> None:
        reference = payload.get("reference") if isinstance(payload, dict) else None
        if isinstance(reference, str):
            # If it cannot be resolved here, the kernel failed too and its cell says so.
            with contextlib.suppress(ConfigError):
                self._masker.add(
                    resolve_reference(reference if ":" in reference else f"secret:{reference}")
                )


def kernel_environment(
    *,
    run_id: str,
    plan_id: str,
    repo_root: Path,
    dry_run: bool,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The kernel's environment: ours, minus the store's credentials, plus run context."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if k not in SCRUBBED_VARIABLES
    }
    env.update(
        {
            "RUNBOOK_RUN_ID": run_id,
            "RUNBOOK_PLAN_ID": plan_id,
            "RUNBOOK_REPO": str(repo_root),
            "RUNBOOK_DRY_RUN": "1" if dry_run else "0",
        }
    )
    return env


def kernel_name(notebook: Any) -> str:
    """The notebook's own kernelspec name, python3 when it names none."""
    spec = notebook.metadata.get("kernelspec", {})
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else "python3"
