"""Tools tocsin has no reader for, judged by the verbs of their command line: the verbs
that delete, that read and that change. gcloud and az are read by their verbs too.
"""

from __future__ import annotations

import re

from tocsin.runbooks.risk.sql import SQL_ALL
from tocsin.runbooks.risk.verdict import TextReader, Verdict, change, destroy, read

DELETE_VERBS = frozenset(
    "purge wipe destroy zap erase reinit drop delete del remove rm truncate flush format "
    "uninstall terminate nuke obliterate shred".split()
)
READ_VERBS = frozenset(
    "status list ls show describe get info health df tree logs log top version history stat "
    "stats check inspect query ping quorum_status lag diff whoami view cat search find print "
    "dump detail details summary events metrics ps images --describe --list --version "
    "--help --status".split()
)
CHANGE_VERBS = frozenset(
    "set create update apply start stop restart rollback scale run exec reweight edit patch "
    "add enable disable reset reload kill move migrate failover switchover resume pause cordon "
    "drain import upload push install upgrade replace rotate renew write put post assign "
    "attach detach mount unmount promote demote restore recover repair fix sync trigger send "
    "approve cancel retry requeue replay rerun activate deactivate evict taint label annotate "
    "expose rename set-quota reweight-by-utilization out in up down mark deploy release "
    "--execute --alter --force --reset-offsets --delete --apply".split()
)


def unknown_tool(cmd: str, args: list[str], sql: TextReader) -> Verdict:
    """A tool tocsin has no reader for: judged by the verbs of its command line. Delete-like
    verbs are destructive; only read-like verbs with no state-changing word are read. SQL given
    with ``-c`` / ``--command`` / ``-e`` / ``--execute`` is read by ``sql``."""
    lowered = [a.lower() for a in args]
    flags = {a.split("=", 1)[0] for a in lowered if a.startswith("-")}
    if (
        "--yes-i-really-mean-it" in flags
        or {"--reset-offsets", "--execute"} <= flags
        or ("/resetbase" in lowered)
    ):
        return destroy(f"{cmd} {' '.join(args[:2])} cannot be undone")
    for option in ("-c", "--command", "-e", "--execute"):
        if option in args and args.index(option) + 1 < len(args):
            body = args[args.index(option) + 1]
            first = body.strip().split(maxsplit=1)[0].upper() if body.strip() else ""
            if first in SQL_ALL:
                return sql(body)
    positional = [a for a in lowered if not a.startswith("-")][:4]
    if "--delete" in flags or any(
        re.fullmatch(
            r"(delete|del|remove|rm|purge|drop|destroy|wipe|erase|zap|force[_-]reset|truncate|"
            r"flush|uninstall|terminate|nuke|shred)([_-]\w+)?",
            p,
        )
        for p in positional
    ):
        return destroy(f"{cmd} {' '.join(positional[:2]) or '--delete'} deletes")
    if any(p in DELETE_VERBS for p in positional) or (
        "--force" in flags and "reinit" in positional
    ):
        return destroy(f"{cmd} {' '.join(positional[:2])} deletes")
    words = set(positional) | flags
    if words & READ_VERBS and not words & CHANGE_VERBS:
        return read(f"{cmd} {' '.join(positional[:2] or sorted(flags)[:1])} observes")
    return change(f"{cmd} is not known to be read-only")
