"""Whether an environment a session may use exists: for the local backend, a kernelspec."""

from __future__ import annotations

import re
from typing import Any, Final

from runbook.errors import ParameterError

#: What jupyter_client accepts as a kernelspec's name.
_KERNEL_NAME: Final = re.compile(r"[a-zA-Z0-9._-]+")


def environment_seen(name: str) -> dict[str, Any]:
    """``{"name", "exists", "display_name", "language"}`` of the kernelspec ``name`` (a name
    no kernelspec could have does not exist)."""
    if not name or len(name) > 200:
        raise ParameterError("name", "a kernelspec name is 1-200 characters")
    if not _KERNEL_NAME.fullmatch(name):
        return {"name": name, "exists": False, "display_name": None, "language": None}
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except (NoSuchKernel, ValueError):
        return {"name": name, "exists": False, "display_name": None, "language": None}
    return {
        "name": name,
        "exists": True,
        "display_name": spec.display_name,
        "language": spec.language,
    }
