"""Readers of the everyday tools of a shell: find, sed, awk, git, and strace / ltrace.
``find -exec``, strace and ltrace run another command: that command is read by the shell's
reader, which the caller passes in as ``inner``. Coreutils that only observe (``ls``,
``cat``, ``grep``) need no reader: the shell knows them by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tocsin.runbooks.risk.verdict import Reader, Verdict, change, destroy, read
from tocsin.runbooks.risk.words import strip_options


def find(args: list[str], inner: Reader) -> Verdict:
    if "-delete" in args:
        return destroy("find -delete")
    if "-exec" in args or "-execdir" in args or "-ok" in args:
        key = "-exec" if "-exec" in args else ("-execdir" if "-execdir" in args else "-ok")
        command = args[args.index(key) + 1 :]
        command = command[: command.index(";")] if ";" in command else command
        return inner([a for a in command if a not in ("{}", "+", "\\;")])
    return read("find lists files")


def sed(args: list[str]) -> Verdict:
    for arg in args:
        if arg.startswith("--in-place") or (
            arg.startswith("-") and not arg.startswith("--") and "i" in arg[1:]
        ):
            return change("sed -i edits files")
    return read("sed filters text")


def awk(args: list[str]) -> Verdict:
    program = " ".join(a for a in args if not a.startswith("-"))
    if re.search(r"\bsystem\s*\(|\|\s*\"|print[^;}]*>", program):
        return change("awk runs commands or writes files")
    return read("awk filters text")


_GIT_READ = frozenset(
    "log status show diff rev-parse describe blame ls-files grep reflog shortlog fetch".split()
)


def git(args: list[str]) -> Verdict:
    pos = strip_options(args, {"-C", "-c", "--git-dir", "--work-tree"})
    sub = pos[0] if pos else ""
    flags = [a for a in args if a.startswith("-")]
    if (
        (sub == "reset" and "--hard" in flags)
        or (sub == "clean" and any(not a.startswith("--") and "f" in a for a in flags))
        or (
            sub == "push" and any(a in ("-f", "--mirror") or a.startswith("--force") for a in flags)
        )
    ):
        return destroy(f"git {sub} loses work")
    if sub == "branch":
        listing = all(a in ("-a", "-r", "-v", "-vv", "--list", "--all", "--remotes") for a in flags)
        return (
            read("git branch lists")
            if listing and len(pos) == 1
            else change("git branch changes branches")
        )
    if sub == "remote":
        return (
            read("git remote lists")
            if len(pos) == 1 or pos[1] in ("show", "get-url")
            else change("git remote changes remotes")
        )
    if sub == "reflog" and len(pos) > 1 and pos[1] != "show":
        return change(f"git reflog {pos[1]}")
    if not sub or sub in _GIT_READ:
        return read(f"git {sub} observes")
    return change(f"git {sub} changes the work tree")


def wraps_command(name: str, opts_with_value: set[str]) -> Callable[[list[str], Reader], Verdict]:
    """strace / ltrace run the command they are given."""

    def handler(args: list[str], inner: Reader) -> Verdict:
        rest = list(args)
        while rest and rest[0].startswith("-"):
            opt = rest.pop(0)
            if opt in opts_with_value and rest:
                rest.pop(0)
        return inner(rest) if rest else read(f"{name} attaches")

    return handler


strace = wraps_command("strace", {"-p", "-o", "-e", "-s", "-u"})
ltrace = wraps_command("ltrace", {"-p", "-o", "-e", "-s", "-u"})
