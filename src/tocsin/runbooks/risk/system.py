"""Readers of the tools that look after the host: kernel settings, disks, network, firewall,
processes and certificates. Most of them only read unless given a flag or verb that writes
(``writes_with``).
"""

from __future__ import annotations

from tocsin.runbooks.risk.verdict import Reader, Verdict, change, read
from tocsin.runbooks.risk.words import strip_options


def writes_with(
    name: str,
    flags: tuple[str, ...] = (),
    verbs: tuple[str, ...] = (),
    any_positional: bool = False,
) -> Reader:
    """A tool that only reads unless given one of ``flags`` (prefixes), one of ``verbs`` as
    its first word, or (``any_positional``) any argument at all."""

    def handler(args: list[str]) -> Verdict:
        positional = [a for a in args if not a.startswith("-")]
        if (
            any(a.startswith(f) for a in args for f in flags)
            or (positional and positional[0] in verbs)
            or (any_positional and positional)
        ):
            return change(f"{name} with these arguments changes the system")
        return read(f"{name} observes")

    return handler


sysctl = writes_with("sysctl", ("-w", "--write", "-p", "--load", "--system"))
hostname = writes_with("hostname", ("-F", "--file", "-b"), any_positional=True)
date = writes_with("date", ("-s", "--set"))
timedatectl = writes_with(
    "timedatectl", verbs=("set-time", "set-timezone", "set-ntp", "set-local-rtc")
)
route = writes_with("route", verbs=("add", "del", "delete", "flush"))
ethtool = writes_with(
    "ethtool", tuple("-s -K -A -C -G -L -E -f --change --features -r --reset -W".split())
)
nvidia_smi = writes_with(
    "nvidia-smi",
    tuple("-r --gpu-reset -pm -pl -c -e -ac -rac -mig --persistence-mode".split()),
)
mount = writes_with("mount", ("-o", "-a", "--bind", "--move", "-t"), any_positional=True)
mdadm = writes_with(
    "mdadm",
    tuple(
        "--create --assemble --manage --grow --fail --remove --add --stop -C -A -S -f -r -a".split()
    ),
)
resolvectl = writes_with(
    "resolvectl", verbs=("flush-caches", "reset-statistics", "dns", "domain", "revert")
)
tcpdump = writes_with("tcpdump", ("-w",))


def kill(args: list[str]) -> Verdict:
    return change("stops a process")


def iptables(args: list[str]) -> Verdict:
    if any(a in ("-L", "--list", "-S", "--list-rules", "-nL", "-nvL", "-vnL") for a in args):
        return read("lists firewall rules")
    return change("changes firewall rules")


def ufw(args: list[str]) -> Verdict:
    if args and args[0] in ("status", "show", "app"):
        return read("ufw status")
    return change("changes firewall rules")


def ip(args: list[str]) -> Verdict:
    pos = strip_options(args, {"-f", "-family"})
    if len(pos) <= 1 or pos[1] in ("show", "list", "ls", "get") or pos[0] == "-s":
        return read("ip shows interfaces")
    return change("ip changes networking")


def openssl(args: list[str]) -> Verdict:
    if args and args[0] in ("genrsa", "req", "ca") and "-noout" not in args:
        return change("openssl writes keys")
    return read("openssl inspects certificates")
