"""Fixtures of the runner tests: runners built from real configuration models, and what
tells whether a process is still alive."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from tocsin.config.models import RunnerConfig

_RUNNER = TypeAdapter(RunnerConfig)


def runner_config(**fields: Any) -> Any:
    """A runner's configuration model, validated as ``tocsin.yaml`` would be."""
    return _RUNNER.validate_python({"name": "test", **fields})


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie that no one reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
