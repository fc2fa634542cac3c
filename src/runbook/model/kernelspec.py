"""The kernel a notebook runs on when it names none, in a module that imports nothing.

The early kernel launch needs it before nbformat (~0.17 s of imports) is loaded.
"""

from __future__ import annotations

from typing import Final

#: The kernel a notebook runs on when its kernelspec names none (nbclient's default too).
DEFAULT_KERNEL: Final = "python3"
DEFAULT_KERNELSPEC: Final = {
    "name": DEFAULT_KERNEL,
    "display_name": "Python 3",
    "language": "python",
}
