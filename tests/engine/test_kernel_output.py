"""The kernel's own output is forwarded as written, except ipykernel's shutdown-race traceback."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runbook.engine.kernel_output import ShutdownNoiseFilter

# As ipykernel 7.4 / pyzmq 27 print it when OutStream.flush races the IOPub thread's close.
SHUTDOWN_RACE = [
    "ERROR:tornado.general:Uncaught exception in ZMQStream callback\n",
    "Traceback (most recent call last):\n",
    '  File "/venv/lib/python3.11/site-packages/ipykernel/kernelbase.py", line 406,'
    " in process_control\n",
    "    sys.stdout.flush()\n",
    '  File "/venv/lib/python3.11/site-packages/ipykernel/iostream.py", line 343, in schedule\n',
    '    self._event_pipe.send(b"")\n',
    "    ~~~~~~~~~~~~~~~~~~~~~^^^^^\n",
    "zmq.error.ZMQError: Socket operation on non-socket\n",
]


def _through(lines: list[str]) -> list[str]:
    seen: list[str] = []
    noise = ShutdownNoiseFilter(seen.append)
    for line in lines:
        noise.feed(line)
    noise.close()
    return seen


def test_the_shutdown_race_traceback_is_dropped_and_what_surrounds_it_is_kept() -> None:
    assert _through(["before\n", *SHUTDOWN_RACE, "after"]) == ["before\n", "after"]


def test_any_other_uncaught_traceback_is_forwarded_whole() -> None:
    other = [*SHUTDOWN_RACE[:-1], "ValueError: the cell's own problem\n"]
    assert _through(other) == other


def test_a_block_cut_off_by_the_end_of_the_stream_is_forwarded() -> None:
    cut = SHUTDOWN_RACE[:4]
    assert _through(cut) == cut


@given(st.lists(st.text().filter(lambda t: "ZMQStream" not in t)))
def test_output_without_the_header_passes_unchanged(lines: list[str]) -> None:
    assert _through(lines) == lines
