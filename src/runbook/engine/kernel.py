"""The kernel side of a run: an nbclient client that streams, masks and can be interrupted."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Final

from jupyter_core.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError
from nbformat.v4 import new_output

from runbook.errors import ConfigError
from runbook.masking import SecretMasker
from runbook.secrets import resolve_reference
from runbook.typing import Cell, Notebook, Output

#: The mimetype ``runbook.helpers.secret()`` publishes: a reference to mask, never a value.
SECRET_MIMETYPE: Final = "application/vnd.runbook.secret+json"  # noqa: S105 - a mimetype
OutputCallback = Callable[[int, Output], None]


class StreamingClient(NotebookClient):
    """An nbclient client whose outputs are masked and handed to a callback as they arrive.

    A cell past ``cell_timeout`` seconds is interrupted (a kernel interrupt, as Ctrl-C) and
    ``timed_out`` holds the timeout until the next cell starts; a kernel that is still busy
    one more timeout later raises nbclient's CellTimeoutError: it cannot run another cell.
    """

    def __init__(
        self,
        notebook: Notebook,
        *,
        masker: SecretMasker,
        on_output: OutputCallback,
        cell_timeout: float | None = None,
        **traits: Any,
    ) -> None:
        # nbclient's `timeout` is an integer; its timeout_func may answer any seconds.
        super().__init__(notebook, timeout_func=lambda _cell: cell_timeout, **traits)
        self._masker = masker
        self._on_output = on_output
        # Per (cell, stream name): text held back because it could begin a secret.
        self._held: dict[tuple[int, str], str] = {}
        self.timed_out: float | None = None

    async def async_execute_cell(
        self,
        cell: Cell,
        cell_index: int,
        execution_count: int | None = None,
        store_history: bool = True,
    ) -> Cell:
        """Execute one cell, with ``timed_out`` cleared first."""
        self.timed_out = None
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    async def _async_handle_timeout(
        self, timeout: int, cell: Cell | None = None
    ) -> dict[str, Any] | None:
        if self.timed_out is not None or self.km is None:
            # Interrupted one timeout ago and still busy: give up on this kernel.
            raise CellTimeoutError(f"Cell execution timed out after {timeout} s")
        self.timed_out = timeout
        await ensure_async(self.km.interrupt_kernel())
        return None  # nbclient waits on for the reply: the cell's KeyboardInterrupt

    def output(
        self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> Any:
        """Learn secret references, mask every output, then pass it on."""
        data = msg.get("content", {}).get("data", {})
        if msg.get("msg_type") == "display_data" and SECRET_MIMETYPE in data:
            self._learn_secret(data[SECRET_MIMETYPE])
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return None
        if out.get("output_type") == "stream" and isinstance(out.get("text"), str):
            key = (cell_index, str(out.get("name")))
            text = self._masker.mask(self._held.pop(key, "") + out["text"])
            # Masked first, so a whole secret is gone; what is left at the end may begin one.
            held = self._masker.unfinished(text)
            if held:
                self._held[key] = text[-held:]
                text = text[:-held]
            out["text"] = text
            if not text:
                outs.remove(out)
                return None
        self._masker.mask_output(out)
        self._on_output(cell_index, out)
        return out

    def flush_streams(self, cell: Cell, cell_index: int) -> None:
        """At a cell's end: add the text held back from its streams, masked, and pass it on.

        It joins the stream's last output when there is one (as if never held back).
        """
        for (index, name), text in list(self._held.items()):
            if index != cell_index:
                continue
            del self._held[(index, name)]
            out = new_output("stream", name=name, text=text)
            self._masker.mask_output(out)
            outputs = cell.setdefault("outputs", [])
            same = [i for i, o in enumerate(outputs) if o.get("name") == name]
            outputs.insert(same[-1] + 1 if same else len(outputs), out)
            self._on_output(cell_index, out)

    async def _async_cleanup_kernel(self) -> None:
        # nbclient leaves its exit-time cleanup registered when a kernel dies while starting,
        # after cleaning up once (km is None then): it would fail with a traceback at exit.
        if self.km is not None:
            await super()._async_cleanup_kernel()

    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    def _learn_secret(self, payload: Any) -> None:
        reference = payload.get("reference") if isinstance(payload, dict) else None
        if isinstance(reference, str):
            # If it cannot be resolved here, the kernel failed too and its cell says so.
            with contextlib.suppress(ConfigError):
                self._masker.add(
                    resolve_reference(reference if ":" in reference else f"secret:{reference}")
                )
