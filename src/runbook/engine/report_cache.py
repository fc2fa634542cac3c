"""nbconvert's HTML exporter with its compiled templates kept between processes.

Compiling the lab template's Jinja source takes about a third of a report's first render, in
every process. Jinja's file system bytecode cache keeps the compiled code in a folder of the
user's own (``_jinja2-cache-<uid>`` in the temporary folder, created private and refused when
another user owns it or can write to it), keyed by template name and checked against the
source's checksum, so a changed template is compiled again.
"""

from __future__ import annotations

import contextlib

import jinja2
from nbconvert import HTMLExporter


class CachedHTMLExporter(HTMLExporter):
    """An :class:`HTMLExporter` whose Jinja environment caches compiled templates on disk."""

    def _create_environment(self) -> jinja2.Environment:
        environment: jinja2.Environment = super()._create_environment()  # type: ignore[no-untyped-call]
        # No private temporary folder to be had: compile every time.
        with contextlib.suppress(RuntimeError):
            environment.bytecode_cache = jinja2.FileSystemBytecodeCache()
        return environment
