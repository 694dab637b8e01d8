"""Readers of the cloud CLIs: aws (service, then operation: ``describe-*`` reads,
``delete-*`` destroys) and gcloud / az (command groups, then a verb).
"""

from __future__ import annotations

from tocsin.runbooks.risk.verbs import CHANGE_VERBS, DELETE_VERBS, READ_VERBS
from tocsin.runbooks.risk.verdict import Reader, Verdict, change, destroy, read
from tocsin.runbooks.risk.words import strip_options


def aws(args: list[str]) -> Verdict:
    pos = strip_options(args, {"--profile", "--region", "--output", "--query", "--endpoint-url"})
    if len(pos) >= 2:
        service, op = pos[0], pos[1]
        if (service == "s3" and op in ("rm", "rb")) or op.startswith(
            ("delete-", "terminate-", "remove-", "deregister-", "purge-")
        ):
            return destroy(f"aws {service} {op} deletes")
        if (service == "s3" and op == "ls") or op.startswith(("describe-", "list-", "get-")):
            return read(f"aws {service} {op} observes")
        if service == "sts" and op == "get-caller-identity":
            return read("aws sts get-caller-identity")
    return change("aws call changes resources")


def cloud_cli(name: str) -> Reader:
    """gcloud / az: command groups, then a verb (``gcloud deploy rollouts list``)."""

    def handler(args: list[str]) -> Verdict:
        positional = [a for a in args if not a.startswith("-")]
        verbs = [
            p for p in positional if p in READ_VERBS | DELETE_VERBS | CHANGE_VERBS | {"rollback"}
        ]
        last = verbs[-1] if verbs else ""
        if last in DELETE_VERBS:
            return destroy(f"{name} {last} deletes")
        if last in ("list", "describe", "get", "show", "get-iam-policy", "read", "logs"):
            return read(f"{name} {last} observes")
        return change(f"{name} {last or 'call'} changes resources")

    return handler
