"""`runbook playbook run` against `ansible-playbook`: `/bin/true` on 500 local targets.

Usage: .venv/bin/python bench/fanout_vs_ansible.py [N] [TARGETS]   (default N=3, 500 targets)

Both tools run the same single step, the command `/bin/true` (no shell), on the same 500
targets, 50 at a time, as whole processes, N times each, interleaved so that machine noise
hits both alike:

- runbook: a playbook of 500 static targets, `concurrency: 50`, one batch, imported once;
  each run records the run, its frozen definition, 500 target records, locks and audit events;
- ansible: an inventory of 500 hosts with `ansible_connection=local`, `forks=50`, a play with
  `gather_facts: false` and one `ansible.builtin.command: /bin/true` task.

Prints both medians and the ratio runbook / ansible (target: < 1.0).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def build_runbook(root: Path, targets: int) -> None:
    """A repository with playbook `fanout` imported."""
    subprocess.run([BIN / "runbook", "init", str(root)], check=True, capture_output=True)
    playbook = {
        "name": "fanout",
        "version": "1",
        "inventory": {"targets": [{"name": f"host{i:03d}"} for i in range(targets)]},
        "steps": [{"name": "true", "shell": ["/bin/true"]}],
        "strategy": {"batch_size": "100%", "concurrency": 50, "max_failures": 0},
    }
    (root / "playbooks" / "fanout.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    subprocess.run(
        [BIN / "runbook", "playbook", "import", "playbooks/fanout.yml"],
        cwd=root,
        check=True,
        capture_output=True,
    )


def build_ansible(root: Path, targets: int) -> None:
    """An inventory, a play and an ansible.cfg keeping ansible's state inside ``root``."""
    root.mkdir()
    hosts = [
        f"host{i:03d} ansible_connection=local ansible_python_interpreter={sys.executable}"
        for i in range(targets)
    ]
    (root / "hosts.ini").write_text("[fleet]\n" + "\n".join(hosts) + "\n")
    play = [
        {
            "hosts": "fleet",
            "gather_facts": False,
            "tasks": [{"name": "true", "ansible.builtin.command": "/bin/true"}],
        }
    ]
    (root / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (root / "ansible.cfg").write_text(
        "[defaults]\n"
        "forks = 50\n"
        "retry_files_enabled = false\n"
        f"local_tmp = {root / 'tmp'}\n"
        f"remote_tmp = {root / 'tmp'}\n"
    )


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    targets = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    with tempfile.TemporaryDirectory() as folder:
        ours, theirs = Path(folder) / "ops", Path(folder) / "ansible"
        build_runbook(ours, targets)
        build_ansible(theirs, targets)
        runbook_env = {**os.environ, "RUNBOOK_USER": "bench"}
        ansible_env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(theirs / "ansible.cfg"),
            "ANSIBLE_HOME": str(theirs / "home"),
            "ANSIBLE_NOCOLOR": "1",
        }
        mine, other = [], []
        for _ in range(rounds):
            mine.append(
                timed([str(BIN / "runbook"), "playbook", "run", "fanout"], ours, runbook_env)
            )
            other.append(
                timed(
                    [str(BIN / "ansible-playbook"), "-i", "hosts.ini", "-f", "50", "play.yml"],
                    theirs,
                    ansible_env,
                )
            )
    ansible = statistics.median(other)
    runbook = statistics.median(mine)
    print(
        f"rounds: {rounds} ({targets} local targets, /bin/true, 50 at a time, whole processes, "
        f"on {os.cpu_count()} cores)"
    )
    for label, median, times in (
        ("ansible-playbook", ansible, other),
        ("runbook playbook run", runbook, mine),
    ):
        print(f"{label:<21} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    print(f"ratio runbook / ansible: {runbook / ansible:.3f}")
    print("target: ratio < 1.00")


if __name__ == "__main__":
    main()
