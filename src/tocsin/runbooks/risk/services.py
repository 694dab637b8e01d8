"""Readers of the tools that run services and read their logs: systemctl, service,
journalctl, nginx's signals and Alertmanager's amtool.
"""

from __future__ import annotations

from tocsin.runbooks.risk.verdict import Verdict, change, read
from tocsin.runbooks.risk.words import strip_options

_SYSTEMCTL_READ = frozenset(
    """
    status is-active is-enabled is-failed list-units list-timers show cat list-unit-files
    list-dependencies
    """.split()
)


def systemctl(args: list[str]) -> Verdict:
    pos = strip_options(args, {"-H", "--host", "-M", "-t", "--type", "--state", "-n"})
    sub = pos[0] if pos else "list-units"
    if sub in _SYSTEMCTL_READ:
        return read(f"systemctl {sub} observes")
    return change(f"systemctl {sub} changes services")


def service(args: list[str]) -> Verdict:
    if len(args) >= 2 and args[1] in ("status",):
        return read("service status")
    return change("service changes services")


def journalctl(args: list[str]) -> Verdict:
    if any(a.startswith("--rotate") or a.startswith("--flush") for a in args):
        return change("journalctl --rotate")
    return read("journalctl reads logs")


def nginx(args: list[str]) -> Verdict:
    if "-t" in args or "-T" in args or "-v" in args or "-V" in args:
        return read("nginx config test")
    return change("nginx signal")


def amtool(args: list[str]) -> Verdict:
    pos = strip_options(args, {"--alertmanager.url", "-o", "--output"})
    if (
        pos[:2] in (["silence", "query"], ["alert", "query"])
        or pos[:1]
        in (
            ["check-config"],
            ["config"],
        )
        or (pos[:1] == ["alert"] and len(pos) == 1)
    ):
        return read("amtool query")
    if pos[:1] == ["silence"] and len(pos) == 1:
        return read("amtool silence query")
    return change("amtool changes silences or alerts")
