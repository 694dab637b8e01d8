"""Readers of the container tools: docker (and podman, which takes the same commands) and
docker compose. ``exec`` runs a command inside a container: that command is read by the
shell's reader, which the caller passes in as ``inner``.
"""

from __future__ import annotations

from tocsin.runbooks.risk.verdict import Reader, Verdict, change, read
from tocsin.runbooks.risk.words import strip_options

_DOCKER_READ = frozenset(
    "ps logs inspect stats top images version info events port diff history search".split()
)
_COMPOSE_READ = frozenset("ps logs config top images ls version events port".split())


def docker(args: list[str], inner: Reader) -> Verdict:
    pos = strip_options(args, {"-H", "--host", "--context", "-c", "--config", "-l"})
    if not pos:
        return read("docker client info")
    sub = pos[0]
    if sub == "compose":
        return compose(args[args.index("compose") + 1 :], inner)
    if (
        sub in ("container", "image", "network", "volume", "system", "node", "service")
        and len(pos) > 1
    ):
        verb = pos[1]
        if verb in ("ls", "list", "inspect", "logs", "ps", "df", "info", "events", "top", "stats"):
            return read(f"docker {sub} {verb} observes")
        if sub == "container" and verb == "exec":
            return _exec(args[args.index("exec") + 1 :], "docker exec", inner)
        if sub == "system" and verb == "prune":
            return change("docker system prune removes unused objects")
        return change(f"docker {sub} {verb} changes state")
    if sub in _DOCKER_READ:
        return read(f"docker {sub} observes")
    if sub == "exec":
        return _exec(args[args.index("exec") + 1 :], "docker exec", inner)
    return change(f"docker {sub} changes state")


def compose(args: list[str], inner: Reader) -> Verdict:
    pos = strip_options(
        args,
        {"-f", "--file", "-p", "--project-name", "--env-file", "--profile", "--project-directory"},
    )
    if not pos:
        return read("compose info")
    sub = pos[0]
    if sub in _COMPOSE_READ:
        return read(f"compose {sub} observes")
    if sub == "exec":
        return _exec(args[args.index("exec") + 1 :], "compose exec", inner)
    return change(f"compose {sub} changes state")


_EXEC_OPTS_WITH_VALUE = frozenset(
    """
    -u --user -e --env -w --workdir --env-file --index -T --detach-keys
    """.split()
)


def _exec(args: list[str], what: str, inner: Reader) -> Verdict:
    """``docker exec [opts] CONTAINER CMD…`` / ``compose exec [opts] SERVICE CMD…``."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        opt = rest.pop(0)
        if opt in _EXEC_OPTS_WITH_VALUE and opt != "-T" and rest:
            rest.pop(0)
    if len(rest) < 2:
        return read(f"{what} opens a session")
    return inner(rest[1:])
