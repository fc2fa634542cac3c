"""Masking secret values in everything Runbook writes: outputs, logs, records, reports.

A value is masked in the forms it commonly takes on its way out: as is, URL-encoded (with and
without ``/`` kept, as ``urllib.parse.quote`` does by default), JSON-escaped, and base64 at every
alignment: a secret inside a longer encoded text (``base64("bob:" + password)``, an HTTP Basic
header) shows up as the stable middle of its encoding, whichever of the three byte offsets it
starts at. Very short values are not masked (every ``a`` in a log would become
``***``); secrets that short are refused by nothing but are also not secrets worth the name.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote, quote_plus

from runbook.typing import Notebook, Output

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 4
# The middle of a misaligned base64 encoding is shorter than the secret; below this many
# characters it would match ordinary base64 text by chance, so it is not registered.
MIN_BASE64_FRAGMENT: Final = 8


class SecretMasker:
    """Replaces every registered secret value, in its common encodings, with ``***``."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._variants: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def __bool__(self) -> bool:
        return bool(self._variants)

    def add(self, value: str) -> None:
        """Register a secret value (and its encodings) for masking."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        raw = _bytes(value)
        variants = {
            value,
            quote(raw, safe=""),
            quote(raw),
            quote_plus(raw),
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            base64.b64encode(raw).decode("ascii"),
            base64.urlsafe_b64encode(raw).decode("ascii"),
            base64.b64encode(raw).decode("ascii").rstrip("="),
        }
        self._variants |= {v for v in variants if len(v) >= MIN_SECRET_LENGTH}
        self._variants |= _base64_fragments(raw)
        # Longest first, so a value is never half-masked by a shorter variant matching inside.
        ordered = sorted(self._variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        """``text`` with every registered secret replaced."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def unfinished(self, text: str) -> int:
        """How many characters at the end of ``text`` could begin a secret (to hold back).

        A stream written in pieces may split a secret between two chunks, each harmless on
        its own; the caller keeps these characters until the next chunk or the end.
        """
        if not self._variants or not text:
            return 0
        longest = max(len(v) for v in self._variants)
        for size in range(min(len(text), longest - 1), 0, -1):
            tail = text[-size:]
            if any(v.startswith(tail) for v in self._variants):
                return size
        return 0

    def mask_data(self, data: Any) -> Any:
        """A copy of JSON-like data with every string (keys included) masked."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, list):
            return [self.mask_data(item) for item in data]
        if isinstance(data, dict):
            return {self.mask(str(k)): self.mask_data(v) for k, v in data.items()}
        return data

    def mask_output(self, output: Output) -> None:
        """Mask one notebook output in place: stream text, data, tracebacks, error values."""
        if self._pattern is None:
            return
        for key in ("text", "evalue", "ename"):
            if isinstance(output.get(key), str | list):
                output[key] = self.mask_data(output[key])
        if "traceback" in output:
            output["traceback"] = self.mask_data(output["traceback"])
        if isinstance(output.get("data"), dict):
            for mimetype, value in list(output["data"].items()):
                output["data"][mimetype] = self.mask_data(value)

    def mask_notebook(self, notebook: Notebook) -> None:
        """Mask every output and every cell source of a notebook in place."""
        if self._pattern is None:
            return
        for cell in notebook.get("cells", []):
            if isinstance(cell.get("source"), str):
                cell["source"] = self.mask(cell["source"])
            for output in cell.get("outputs", []):
                self.mask_output(output)


def _bytes(value: str) -> bytes:
    """The bytes a process writes for ``value``: UTF-8, and for text decoded from bytes that
    were not (an environment variable's, as Python decodes them), those bytes again."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _base64_fragments(raw: bytes) -> set[str]:
    """The parts of ``raw``'s base64 that do not depend on the bytes around it, at each offset.

    Base64 encodes 3 bytes as 4 characters. A secret starting ``offset`` bytes into a group
    shares its first group with the bytes before it and its last with the bytes after it, so
    only the groups made of its own bytes alone are the same in every text it is part of.
    """
    fragments: set[str] = set()
    for offset in (0, 1, 2):
        whole_groups = (offset + len(raw)) // 3
        first = 1 if offset else 0
        if whole_groups <= first:
            continue
        padded = bytes(offset) + raw
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(padded).decode("ascii")
            fragment = encoded[4 * first : 4 * whole_groups]
            if len(fragment) >= MIN_BASE64_FRAGMENT:
                fragments.add(fragment)
    return fragments
