"""Risk of a runbook command: read (only observes), change (changes state, can be undone) or
destructive (loses data or cannot be undone).

The rule that matters most: what is not recognized as read-only is at least ``change``.
Unknown is never safe. A block takes the highest risk of the commands in it. Two passes:
a scan of the whole (comment-free) text for destructive signatures, which also finds them
inside quoted strings (``sh -c "rm -rf …"``), and a per-command reading of shell, SQL and
PowerShell that recognizes read-only commands.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from tocsin.runbooks.commands import looks_like_promql, split_prompts, unprompt
from tocsin.runbooks.model import RISK_ORDER, Risk


@dataclass(frozen=True)
class Verdict:
    risk: Risk
    reason: str

    def __or__(self, other: Verdict) -> Verdict:
        return other if RISK_ORDER[other.risk] > RISK_ORDER[self.risk] else self


READ = Verdict("read", "only observes")


def _read(reason: str) -> Verdict:
    return Verdict("read", reason)


def _change(reason: str) -> Verdict:
    return Verdict("change", reason)


def _destroy(reason: str) -> Verdict:
    return Verdict("destructive", reason)


_I = re.IGNORECASE
_DESTRUCTIVE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![\w-])rm\s+(-[^\s]*\s+)*-[a-zA-Z]*[rRf]", _I), "rm -r/-f deletes files"),
    (re.compile(r"\bprune\b[^\n;|]*(--volumes|\s-v\b)"), "prune --volumes deletes volumes"),
    (re.compile(r"\bvolume\s+(rm|prune)\b"), "removes volumes"),
    (re.compile(r"\bdown\b[^\n;|]*(\s-v\b|--volumes)"), "compose down -v deletes volumes"),
    (
        re.compile(
            r"\bDROP\s+(TABLE|DATABASE|SCHEMA|INDEX|VIEW|USER|ROLE|MATERIALIZED|SEQUENCE|"
            r"FUNCTION|TRIGGER|TYPE|EXTENSION|OWNED|TABLESPACE|COLUMN|CONSTRAINT|PUBLICATION|"
            r"SUBSCRIPTION)\b",
            _I,
        ),
        "SQL DROP",
    ),
    (re.compile(r"\bDELETE\s+FROM\b", _I), "SQL DELETE"),
    (re.compile(r"\bTRUNCATE\b", _I), "truncates data"),
    (re.compile(r"\bpg_terminate_backend\s*\(", _I), "pg_terminate_backend kills sessions"),
    (re.compile(r"\b(drop_chunks|pg_drop_replication_slot|lo_unlink)\s*\(", _I), "drops data"),
    (re.compile(r"\b(dropdb|dropuser)\b"), "drops a database or role"),
    (re.compile(r"\bpg_restore\b[^\n;|]*(--clean|\s-c\b)"), "pg_restore --clean drops objects"),
    (re.compile(r"\bFLUSH(DB|ALL)\b", _I), "Redis FLUSHDB/FLUSHALL"),
    (
        re.compile(r"\bredis-cli\b[^\n;|]*?\s(DEL|UNLINK|HDEL|SREM|ZREM|XTRIM)\b", _I),
        "deletes Redis keys",
    ),
    (re.compile(r"^\s*(DEL|UNLINK|FLUSHDB|FLUSHALL)\s", re.M), "deletes Redis keys"),
    (
        re.compile(r"\b(kill|pkill|killall)\s+(-9|-KILL|-SIGKILL|-s\s+(9|KILL|SIGKILL))\b"),
        "kill -9 loses in-flight work",
    ),
    (re.compile(r"\bfind\b[^\n;|]*\s-delete\b"), "find -delete"),
    (re.compile(r"\bfind\b[^\n;|]*-exec\s+(rm|shred)\b"), "find -exec rm"),
    (re.compile(r"\bRemove-[A-Z]\w+", _I), "PowerShell Remove-* deletes"),
    (re.compile(r"\bClear-(Content|RecycleBin|EventLog|Disk)\b", _I), "PowerShell Clear-*"),
    (re.compile(r"\bStop-Process\b[^\n;|]*-Force\b", _I), "Stop-Process -Force"),
    (re.compile(r"\b(Format-Volume|Clear-Disk)\b", _I), "formats a disk"),
    (re.compile(r"-j\s+(DROP|REJECT)\b"), "firewall DROP rule"),
    (re.compile(r"\b(iptables|ip6tables)\b[^\n;|]*\s(-F|--flush)\b"), "flushes firewall rules"),
    (re.compile(r"\bufw\s+(deny|reject)\b"), "firewall deny rule"),
    (re.compile(r"\bnft\s+(flush|delete)\b"), "nft flush/delete"),
    (re.compile(r"New-NetFirewallRule\b[^\n]*-Action\s+Block", _I), "firewall block rule"),
    (re.compile(r"(?<![\w-])(mkfs(\.\w+)?|wipefs|shred|sfdisk)\b"), "wipes a disk"),
    (re.compile(r"(?<![\w-])dd\s+[^\n;|]*\bof="), "dd overwrites"),
    (re.compile(r"\bgit\s+reset\s+--hard\b"), "git reset --hard"),
    (re.compile(r"\bgit\s+clean\s+-\w*f"), "git clean -f"),
    (re.compile(r"\bgit\s+push\b[^\n;|]*(--force|\s-f\b)"), "git push --force"),
    (re.compile(r"\bkubectl\b[^\n;|]*?\s(delete)\s"), "kubectl delete"),
    (re.compile(r"\bhelm\s+(uninstall|delete|del)\b"), "helm uninstall"),
    (re.compile(r"\bjournalctl\b[^\n;|]*--vacuum"), "deletes journal logs"),
    (re.compile(r"\baws\s+s3\s+(rm|rb)\b"), "deletes S3 objects"),
    (re.compile(r"\baws\s+\S+\s+(delete|terminate)-"), "AWS delete/terminate"),
    (re.compile(r"(-X|--request)\s*['\"]?DELETE\b"), "HTTP DELETE"),
    (re.compile(r"-Method\s+['\"]?Delete\b", _I), "HTTP DELETE"),
    (re.compile(r"\b(shutil\.rmtree|os\.(remove|unlink|rmdir))\b"), "deletes files"),
]


def scan_destructive(text: str) -> Verdict | None:
    for pattern, reason in _DESTRUCTIVE:
        if pattern.search(text):
            return _destroy(reason)
    return None


# --------------------------------------------------------------------------- comments


def strip_hash_comments(code: str) -> str:
    """Drop ``# …`` comments (shell, PowerShell, YAML, Python) outside quotes."""
    out = []
    for line in code.splitlines():
        quote = ""
        cut = len(line)
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif (
                ch == "#"
                and (i == 0 or line[i - 1] in " \t;|&(")
                and not (i + 1 < len(line) and line[i + 1] == "{")
            ):
                cut = i
                break
        out.append(line[:cut].rstrip())
    return "\n".join(out)


def strip_sql_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return "\n".join(re.sub(r"--(?!\w).*$|^\s*--.*$", "", ln) for ln in sql.splitlines())


# --------------------------------------------------------------------------- shell

_READ_COMMANDS = frozenset(
    """
    ls ll cat head tail less more grep egrep fgrep zgrep rg ag awk gawk sort uniq wc cut tr
    jq yq echo printf date sleep true false test [ ps top htop atop free df du uptime vmstat
    iostat mpstat pidstat sar netstat ss lsof ping ping6 traceroute tracepath mtr dig
    nslookup host whois whoami id hostname uname env printenv which type whereis stat file
    tree realpath readlink basename dirname md5sum sha256sum sha1sum cksum diff cmp column
    nl fold tac rev seq yes base64 hexdump xxd od strings dmesg lscpu lsblk lsmem lspci
    lsusb blkid findmnt mount nproc getent last lastlog w who watch time openssl nc telnet
    curlie http pg_isready promtool py-spy nvidia-smi numastat slabtop perf strace ltrace
    tcpdump iftop nload ethtool arp route nmap sqlite3 kubectx kubens stern k9s free ulimit
    sysctl journalctl dmidecode smartctl mdadm iotop zcat bzcat xzcat gunzip-c timedatectl
    resolvectl cd pwd alias history read exit return wait jobs
    """.split()
)
_SHELL_KEYWORDS = frozenset(
    """
    if then else elif fi do done while until case esac { } ! select
    """.split()
)


def _split_commands(code: str) -> list[tuple[list[str], list[str]]]:
    """Shell text to simple commands: (words, redirect targets). Splits at ; & && || | newlines,
    parentheses and ``$(…)``; keeps quoted strings whole."""
    lexer = shlex.shlex(code, posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.commenters = ""
    lexer.wordchars += "${}:@%+,[]!^#"
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to plain words per line
        tokens = []
        for line in code.splitlines():
            tokens.extend(re.findall(r"[^\s;|&()<>]+|[;|&()<>]+", line))
            tokens.append("\n")
    commands: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    redirects: list[str] = []
    expect_target = False
    for tok in tokens:
        if expect_target:
            redirects.append(tok)
            expect_target = False
            continue
        if tok and set(tok) <= set("<>&") and ">" in tok:
            if tok.endswith("&"):
                continue  # 2>&1: the next word is a descriptor, not a file
            expect_target = True
            continue
        if tok and (set(tok) <= set(";&|()\n<") or tok == "$"):
            if words or redirects:
                commands.append((words, redirects))
            words, redirects = [], []
            continue
        words.append(tok)
    if words or redirects:
        commands.append((words, redirects))
    return commands


def _strip_options(args: list[str], with_value: set[str]) -> list[str]:
    """Positional arguments, skipping options (and the values of options that take one)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-") and arg != "-":
            if arg in with_value:
                skip = True
            continue
        out.append(arg)
    return out


def _after_double_dash(args: list[str]) -> list[str] | None:
    return args[args.index("--") + 1 :] if "--" in args else None


def _docker(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"-H", "--host", "--context", "-c", "--config", "-l"})
    if not pos:
        return _read("docker client info")
    sub = pos[0]
    if sub == "compose":
        return _compose(args[args.index("compose") + 1 :])
    if (
        sub in ("container", "image", "network", "volume", "system", "node", "service")
        and len(pos) > 1
    ):
        verb = pos[1]
        if verb in ("ls", "list", "inspect", "logs", "ps", "df", "info", "events", "top", "stats"):
            return _read(f"docker {sub} {verb} observes")
        if sub == "container" and verb == "exec":
            return _exec_inner(args[args.index("exec") + 1 :], "docker exec")
        if sub == "system" and verb == "prune":
            return _change("docker system prune removes unused objects")
        return _change(f"docker {sub} {verb} changes state")
    if sub in (
        "ps",
        "logs",
        "inspect",
        "stats",
        "top",
        "images",
        "version",
        "info",
        "events",
        "port",
        "diff",
        "history",
        "search",
    ):
        return _read(f"docker {sub} observes")
    if sub == "exec":
        return _exec_inner(args[args.index("exec") + 1 :], "docker exec")
    return _change(f"docker {sub} changes state")


_EXEC_OPTS_WITH_VALUE = frozenset(
    """
    -u --user -e --env -w --workdir --env-file --index -T --detach-keys
    """.split()
)


def _exec_inner(args: list[str], what: str) -> Verdict:
    """``docker exec [opts] CONTAINER CMD…`` / ``compose exec [opts] SERVICE CMD…``."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        opt = rest.pop(0)
        if opt in _EXEC_OPTS_WITH_VALUE and opt != "-T" and rest:
            rest.pop(0)
    if len(rest) < 2:
        return _read(f"{what} opens a session")
    return _simple(rest[1:], [])


def _compose(args: list[str]) -> Verdict:
    pos = _strip_options(
        args,
        {"-f", "--file", "-p", "--project-name", "--env-file", "--profile", "--project-directory"},
    )
    if not pos:
        return _read("compose info")
    sub = pos[0]
    if sub in ("ps", "logs", "config", "top", "images", "ls", "version", "events", "port"):
        return _read(f"compose {sub} observes")
    if sub == "exec":
        return _exec_inner(args[args.index("exec") + 1 :], "compose exec")
    return _change(f"compose {sub} changes state")


_KUBECTL_READ = frozenset(
    """
    get describe logs top explain api-resources api-versions cluster-info version events
    diff wait port-forward proxy auth can-i
    """.split()
)


def _kubectl(args: list[str]) -> Verdict:
    pos = _strip_options(
        args,
        {
            "-n",
            "--namespace",
            "--context",
            "--kubeconfig",
            "-l",
            "--selector",
            "-o",
            "--output",
            "-c",
            "--container",
            "--tail",
            "--since",
            "--sort-by",
            "-f",
            "--filename",
            "--cluster",
            "--user",
            "-p",
            "--field-selector",
            "--type",
        },
    )
    if not pos:
        return _read("kubectl help")
    sub = pos[0]
    if sub == "exec":
        inner = _after_double_dash(args)
        return _simple(inner, []) if inner else _read("kubectl exec opens a session")
    if sub in _KUBECTL_READ:
        return _read(f"kubectl {sub} observes")
    if sub == "rollout" and len(pos) > 1 and pos[1] in ("status", "history"):
        return _read(f"kubectl rollout {pos[1]} observes")
    if sub == "config" and len(pos) > 1 and pos[1] in ("view", "get-contexts", "current-context"):
        return _read("kubectl config view")
    return _change(f"kubectl {sub} changes the cluster")


def _git(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"-C", "-c"})
    sub = pos[0] if pos else ""
    if sub in (
        "log",
        "status",
        "show",
        "diff",
        "rev-parse",
        "describe",
        "blame",
        "ls-files",
        "grep",
        "reflog",
        "shortlog",
        "remote",
        "fetch",
        "",
    ):
        return _read(f"git {sub} observes")
    if sub == "branch" and not any(a in ("-d", "-D", "-m", "-M") for a in args):
        return _read("git branch lists")
    return _change(f"git {sub} changes the work tree")


def _systemctl(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"-H", "--host", "-M", "-t", "--type", "--state", "-n"})
    sub = pos[0] if pos else "list-units"
    if sub in (
        "status",
        "is-active",
        "is-enabled",
        "is-failed",
        "list-units",
        "list-timers",
        "show",
        "cat",
        "list-unit-files",
        "list-dependencies",
    ):
        return _read(f"systemctl {sub} observes")
    return _change(f"systemctl {sub} changes services")


def _service(args: list[str]) -> Verdict:
    if len(args) >= 2 and args[1] in ("status",):
        return _read("service status")
    return _change("service changes services")


_REDIS_READ = frozenset(
    """
    PING INFO GET MGET KEYS SCAN TTL PTTL EXISTS TYPE STRLEN LLEN LRANGE LINDEX HGET HGETALL
    HLEN HKEYS HMGET SCARD SMEMBERS SISMEMBER ZCARD ZRANGE ZSCORE ZCOUNT DBSIZE MEMORY
    SLOWLOG LATENCY ROLE TIME XLEN XINFO XRANGE OBJECT MONITOR CLUSTER LASTSAVE COMMAND ECHO
    HEXISTS GETRANGE DUMP
    """.split()
)


def _redis_cli(args: list[str]) -> Verdict:
    pos = _strip_options(
        args,
        {
            "-h",
            "-p",
            "-a",
            "-n",
            "-u",
            "-s",
            "--pattern",
            "--user",
            "--pass",
            "-i",
            "-r",
            "-d",
            "--count",
            "--memkeys-samples",
            "--tls",
            "--cacert",
            "--cert",
            "--key",
            "--sni",
            "-x",
        },
    )
    if not pos:
        return _read("redis-cli session or scan")
    cmd = pos[0].upper()
    sub = pos[1].upper() if len(pos) > 1 else ""
    if cmd in _REDIS_READ and not (cmd == "CLUSTER" and sub not in ("INFO", "NODES", "SLOTS")):
        return _read(f"Redis {cmd} observes")
    if cmd == "CONFIG" and sub == "GET":
        return _read("Redis CONFIG GET")
    if cmd == "CLIENT" and sub in ("LIST", "INFO", "GETNAME"):
        return _read("Redis CLIENT LIST")
    if cmd == "SENTINEL" and sub not in ("FAILOVER", "RESET", "REMOVE", "SET", "MONITOR"):
        return _read(f"Redis SENTINEL {sub.lower()} observes")
    return _change(f"Redis {cmd} changes data or configuration")


def _psql(args: list[str]) -> Verdict:
    for i, arg in enumerate(args):
        if arg in ("-c", "--command") and i + 1 < len(args):
            return classify_sql(args[i + 1])
        if arg.startswith("--command="):
            return classify_sql(arg.split("=", 1)[1])
        if arg in ("-f", "--file") or arg.startswith("--file="):
            return _change("psql runs a script file")
    return _read("psql opens a session")


def _curl(args: list[str]) -> Verdict:
    method = ""
    data = False
    for i, arg in enumerate(args):
        if arg in ("-X", "--request") and i + 1 < len(args):
            method = args[i + 1].upper()
        elif arg.startswith("-X") and len(arg) > 2:
            method = arg[2:].upper()
        elif arg in (
            "-d",
            "--data",
            "--data-raw",
            "--data-binary",
            "--data-urlencode",
            "-F",
            "--form",
            "--json",
            "-T",
            "--upload-file",
        ) or arg.startswith("--data"):
            data = True
    if "-G" in args or "--get" in args:
        data = False
    if not method:
        method = "POST" if data else "GET"
    if method in ("GET", "HEAD", "OPTIONS"):
        return _read(f"HTTP {method}")
    if method == "DELETE":
        return _destroy("HTTP DELETE")
    return _change(f"HTTP {method} changes state")


def _wget(args: list[str]) -> Verdict:
    if any(a in ("-O-", "-qO-", "-O", "--spider", "-q") for a in args) and (
        "-" in args or "-O-" in args or "-qO-" in args or "--spider" in args
    ):
        return _read("wget to stdout")
    if any(a.startswith("--post") or a == "--method" for a in args):
        return _change("HTTP POST")
    return _change("wget writes a file")


def _find(args: list[str]) -> Verdict:
    if "-delete" in args:
        return _destroy("find -delete")
    if "-exec" in args or "-execdir" in args or "-ok" in args:
        key = "-exec" if "-exec" in args else ("-execdir" if "-execdir" in args else "-ok")
        inner = args[args.index(key) + 1 :]
        inner = inner[: inner.index(";")] if ";" in inner else inner
        return _simple([a for a in inner if a not in ("{}", "+", "\\;")], [])
    return _read("find lists files")


def _sed(args: list[str]) -> Verdict:
    if any(
        a == "-i" or (a.startswith("-i") and not a.startswith("--")) or a.startswith("--in-place")
        for a in args
    ):
        return _change("sed -i edits files")
    return _read("sed filters text")


def _kill(args: list[str]) -> Verdict:
    return _change("stops a process")


def _iptables(args: list[str]) -> Verdict:
    if any(a in ("-L", "--list", "-S", "--list-rules", "-nL", "-nvL", "-vnL") for a in args):
        return _read("lists firewall rules")
    return _change("changes firewall rules")


def _ufw(args: list[str]) -> Verdict:
    if args and args[0] in ("status", "show", "app"):
        return _read("ufw status")
    return _change("changes firewall rules")


def _aws(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"--profile", "--region", "--output", "--query", "--endpoint-url"})
    if len(pos) >= 2:
        service, op = pos[0], pos[1]
        if (service == "s3" and op == "ls") or op.startswith(("describe-", "list-", "get-")):
            return _read(f"aws {service} {op} observes")
    return _change("aws call changes resources")


def _journalctl(args: list[str]) -> Verdict:
    if any(a.startswith("--rotate") or a.startswith("--flush") for a in args):
        return _change("journalctl --rotate")
    return _read("journalctl reads logs")


def _shell_c(args: list[str]) -> Verdict:
    if "-c" in args:
        idx = args.index("-c")
        if idx + 1 < len(args):
            return classify_shell(args[idx + 1])
    if not args:
        return _read("opens a shell")
    return _change("runs a script")


def _ssh(args: list[str]) -> Verdict:
    pos = _strip_options(
        args, {"-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-b", "-c", "-E", "-W"}
    )
    if len(pos) <= 1:
        return _read("opens a remote session")
    return classify_shell(" ".join(pos[1:]))


def _pg_tool(name: str) -> Callable[[list[str]], Verdict]:
    def handler(args: list[str]) -> Verdict:
        if name == "pg_dump":
            return _read("pg_dump reads the database")
        if name == "pg_checksums" and ("--check" in args or "-c" in args):
            return _read("pg_checksums --check")
        if name == "pg_ctl" and args[:1] == ["status"]:
            return _read("pg_ctl status")
        return _change(f"{name} changes the database")

    return handler


def _amtool(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"--alertmanager.url", "-o", "--output"})
    if (
        pos[:2] in (["silence", "query"], ["alert", "query"])
        or pos[:1]
        in (
            ["check-config"],
            ["config"],
        )
        or (pos[:1] == ["alert"] and len(pos) == 1)
    ):
        return _read("amtool query")
    if pos[:1] == ["silence"] and len(pos) == 1:
        return _read("amtool silence query")
    return _change("amtool changes silences or alerts")


def _helm(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"-n", "--namespace", "--kube-context", "-o", "--output"})
    if pos and pos[0] in (
        "list",
        "ls",
        "status",
        "get",
        "history",
        "show",
        "template",
        "search",
        "version",
        "lint",
    ):
        return _read(f"helm {pos[0]} observes")
    return _change("helm changes releases")


def _nginx(args: list[str]) -> Verdict:
    if "-t" in args or "-T" in args or "-v" in args or "-V" in args:
        return _read("nginx config test")
    return _change("nginx signal")


def _ip(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"-f", "-family"})
    if len(pos) <= 1 or pos[1] in ("show", "list", "ls", "get") or pos[0] == "-s":
        return _read("ip shows interfaces")
    return _change("ip changes networking")


def _openssl(args: list[str]) -> Verdict:
    if args and args[0] in ("genrsa", "req", "ca") and "-noout" not in args:
        return _change("openssl writes keys")
    return _read("openssl inspects certificates")


def _cloud_cli(name: str) -> Callable[[list[str]], Verdict]:
    """gcloud / az: command groups, then a verb (``gcloud deploy rollouts list``)."""

    def handler(args: list[str]) -> Verdict:
        positional = [a for a in args if not a.startswith("-")]
        verbs = [
            p for p in positional if p in _READ_VERBS | _DELETE_VERBS | _CHANGE_VERBS | {"rollback"}
        ]
        last = verbs[-1] if verbs else ""
        if last in _DELETE_VERBS:
            return _destroy(f"{name} {last} deletes")
        if last in ("list", "describe", "get", "show", "get-iam-policy", "read", "logs"):
            return _read(f"{name} {last} observes")
        return _change(f"{name} {last or 'call'} changes resources")

    return handler


_HANDLERS: dict[str, Callable[[list[str]], Verdict]] = {
    "gcloud": _cloud_cli("gcloud"),
    "az": _cloud_cli("az"),
    "docker": _docker,
    "podman": _docker,
    "docker-compose": _compose,
    "kubectl": _kubectl,
    "oc": _kubectl,
    "git": _git,
    "systemctl": _systemctl,
    "service": _service,
    "redis-cli": _redis_cli,
    "psql": _psql,
    "curl": _curl,
    "wget": _wget,
    "find": _find,
    "sed": _sed,
    "kill": _kill,
    "pkill": _kill,
    "killall": _kill,
    "iptables": _iptables,
    "ip6tables": _iptables,
    "ufw": _ufw,
    "aws": _aws,
    "journalctl": _journalctl,
    "bash": _shell_c,
    "sh": _shell_c,
    "zsh": _shell_c,
    "ssh": _ssh,
    "pg_dump": _pg_tool("pg_dump"),
    "pg_checksums": _pg_tool("pg_checksums"),
    "pg_ctl": _pg_tool("pg_ctl"),
    "amtool": _amtool,
    "helm": _helm,
    "nginx": _nginx,
    "ip": _ip,
    "openssl": _openssl,
}

_WRAPPERS_WITH_VALUE: dict[str, set[str]] = {
    "sudo": {"-u", "-g", "-C", "-p", "-U", "-h"},
    "nice": {"-n"},
    "ionice": {"-c", "-n", "-p"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "watch": {"-n", "--interval", "-d"},
    "xargs": {"-L", "-n", "-I", "-P", "-d", "-s", "-a", "-E"},
    "env": {"-u"},
    "nohup": set(),
    "time": set(),
    "exec": set(),
    "command": set(),
    "builtin": set(),
    "stdbuf": set(),
    "unbuffer": set(),
}


def _simple(words: list[str], redirects: list[str]) -> Verdict:
    """One simple command (no pipes or separators)."""
    verdict = READ
    for target in redirects:
        if not target.startswith("/dev/") and not target.isdigit():
            verdict |= _change(f"writes {target}")
    i = 0
    while i < len(words):
        word = words[i]
        base = word.rsplit("/", 1)[-1]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word, re.S):
            i += 1  # VAR=value prefix or plain assignment: harmless
            continue
        if base in _WRAPPERS_WITH_VALUE:
            i += 1
            with_value = _WRAPPERS_WITH_VALUE[base]
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in with_value else 1
            if base == "timeout" and i < len(words):
                i += 1  # the duration
            continue
        if base in _SHELL_KEYWORDS or base in (
            "for",
            "in",
            "local",
            "export",
            "declare",
            "readonly",
            "set",
            "unset",
            "shift",
            "source",
        ):
            if base in ("for", "select"):
                return verdict  # "for x in a b c": the loop header runs nothing
            if base in ("set", "unset", "shift", "local", "export", "declare", "readonly"):
                return verdict | _read(f"shell builtin {base}")
            if base == "source":
                return verdict | _change("sources a script")
            i += 1
            continue
        break
    if i >= len(words):
        return verdict | _read("variable assignment") if words else verdict
    cmd = words[i].rsplit("/", 1)[-1]
    args = words[i + 1 :]
    if cmd.isupper() and cmd in _SQL_ALL:
        # a statement typed into the psql session the block opened above
        return verdict | classify_sql(" ".join(words[i:]))
    if cmd.isupper() and cmd in _REDIS_READ:
        return verdict | _read(f"Redis {cmd} observes")
    if cmd in _HANDLERS:
        return verdict | _HANDLERS[cmd](args)
    if cmd in _READ_COMMANDS:
        return verdict | _read(f"{cmd} only observes")
    if looks_like_promql(" ".join(words[i:])):
        return verdict | _read("PromQL query")
    return verdict | _unknown_tool(cmd, args)


_ANGLE_PLACEHOLDER = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:-]*)>")


def _substitutions(text: str) -> tuple[str, list[str]]:
    """``$(…)`` and backtick substitutions: the text with each replaced by a plain word, and
    the commands inside them (nested ones included)."""
    inner: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$(", i) and not text.startswith("$((", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            body = text[i + 2 : j - 1]
            nested, more = _substitutions(body)
            inner.append(nested)
            inner.extend(more)
            out.append("SUBST")
            i = j
        elif text[i] == "`":
            j = text.find("`", i + 1)
            if j == -1:
                out.append(text[i:])
                break
            inner.append(text[i + 1 : j])
            out.append("SUBST")
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out), inner


_DELETE_VERBS = frozenset(
    "purge wipe destroy zap erase reinit drop delete del remove rm truncate flush format "
    "uninstall terminate nuke obliterate shred".split()
)
_READ_VERBS = frozenset(
    "status list ls show describe get info health df tree logs log top version history stat "
    "stats check inspect query ping quorum_status lag diff whoami view cat search find print "
    "dump detail details summary events metrics ps images --describe --list --version "
    "--help --status".split()
)
_CHANGE_VERBS = frozenset(
    "set create update apply start stop restart rollback scale run exec reweight edit patch "
    "add enable disable reset reload kill move migrate failover switchover resume pause cordon "
    "drain import upload push install upgrade replace rotate renew write put post assign "
    "attach detach mount unmount promote demote restore recover repair fix sync trigger send "
    "approve cancel retry requeue replay rerun activate deactivate evict taint label annotate "
    "expose rename set-quota reweight-by-utilization out in up down mark deploy release "
    "--execute --alter --force --reset-offsets --delete --apply".split()
)


def _unknown_tool(cmd: str, args: list[str]) -> Verdict:
    """A tool tocsin has no reader for: judged by the verbs of its command line. Delete-like
    verbs are destructive; only read-like verbs with no state-changing word are read."""
    lowered = [a.lower() for a in args]
    flags = {a.split("=", 1)[0] for a in lowered if a.startswith("-")}
    if (
        "--yes-i-really-mean-it" in flags
        or {"--reset-offsets", "--execute"} <= flags
        or ("/resetbase" in lowered)
    ):
        return _destroy(f"{cmd} {' '.join(args[:2])} cannot be undone")
    for option in ("-c", "--command", "-e", "--execute"):
        if option in args and args.index(option) + 1 < len(args):
            body = args[args.index(option) + 1]
            first = body.strip().split(maxsplit=1)[0].upper() if body.strip() else ""
            if first in _SQL_ALL:
                return classify_sql(body)
    positional = [a for a in lowered if not a.startswith("-")][:4]
    if any(p in _DELETE_VERBS for p in positional) or (
        "--force" in flags and "reinit" in positional
    ):
        return _destroy(f"{cmd} {' '.join(positional[:2])} deletes")
    words = set(positional) | flags
    if words & _READ_VERBS and not words & _CHANGE_VERBS:
        return _read(f"{cmd} {' '.join(positional[:2] or sorted(flags)[:1])} observes")
    return _change(f"{cmd} is not known to be read-only")


def classify_shell(code: str) -> Verdict:
    text = strip_hash_comments(code).replace("\\\n", " ")
    text, substituted = _substitutions(text)
    inner = READ
    for body in substituted:
        inner |= classify_shell(body)
    # "<pod-name>" is a placeholder to fill in, not a redirection
    text = _ANGLE_PLACEHOLDER.sub(lambda m: "PLACEHOLDER_" + m.group(1).replace("-", "_"), text)
    verdict = READ
    shell_lines = []
    sql: list[str] = []
    for line in text.splitlines():
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        if sql or (first.isupper() and first in _SQL_ALL):
            # SQL typed into the psql session a previous line opened
            sql.append(line)
            if line.rstrip().endswith(";"):
                verdict |= classify_sql("\n".join(sql))
                sql = []
        elif looks_like_promql(line):
            verdict |= _read("PromQL query")
        else:
            shell_lines.append(line)
    if sql:
        verdict |= classify_sql("\n".join(sql))
    for words, redirects in _split_commands("\n".join(shell_lines)):
        verdict |= _simple(words, redirects)
    return verdict | inner


# --------------------------------------------------------------------------- SQL

_SQL_READ = {"SELECT", "WITH", "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "VALUES", "TABLE"}
_SQL_NEUTRAL = {"BEGIN", "COMMIT", "ROLLBACK", "START", "END", "ABORT", "SAVEPOINT", "RELEASE"}
_SQL_DESTROY = {"DELETE", "DROP", "TRUNCATE"}
_SQL_CHANGE = frozenset(
    """
    UPDATE INSERT ALTER CREATE GRANT REVOKE VACUUM ANALYZE REINDEX CLUSTER SET RESET COPY
    CALL DO REFRESH LOCK NOTIFY LISTEN COMMENT SECURITY IMPORT MERGE REPLACE LOAD KILL
    OPTIMIZE CHECKPOINT DISCARD PREPARE EXECUTE DEALLOCATE UPSERT RENAME USE FLUSH PURGE
    """.split()
)
_SQL_ALL = _SQL_READ | _SQL_NEUTRAL | _SQL_DESTROY | _SQL_CHANGE
_SQL_CHANGE_FUNCS = re.compile(
    r"\b(pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|setval|nextval|compress_chunk|"
    r"decompress_chunk|pg_switch_wal|pg_create_restore_point|set_config|pg_stat_reset\w*|"
    r"pg_stat_statements_reset|pg_advisory_lock\w*|pg_create_\w+_replication_slot|"
    r"pg_promote|pg_wal_replay_(pause|resume)|dblink_exec|lo_import|lo_export)\s*\(",
    re.IGNORECASE,
)
_SQL_WORD = re.compile(r"\s*\(?\s*([A-Za-z_\\][A-Za-z_!]*)")


def _sql_statement(stmt: str) -> Verdict:
    first = _SQL_WORD.match(stmt)
    keyword = first.group(1).upper() if first else ""
    if keyword in _SQL_DESTROY:
        return _destroy(f"SQL {keyword}")
    if keyword.startswith("\\"):
        if keyword in ("\\!", "\\I", "\\IR", "\\COPY", "\\O", "\\W"):
            return _change(f"psql {keyword.lower()} runs or writes")
        return _read("psql meta-command")
    if keyword in _SQL_READ:
        if re.search(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", stmt, re.I) and keyword == "WITH":
            return _change("SQL WITH … data-modifying")
        if (
            re.search(r"\bINTO\s+\w", stmt, re.I)
            and keyword == "SELECT"
            and not re.search(r"\bINTO\s+STRICT\b", stmt, re.I)
        ):
            return _change("SELECT INTO creates a table")
        found = _SQL_CHANGE_FUNCS.search(stmt)
        if found:
            return _change(f"{found.group(1)}() changes server state")
        if keyword == "EXPLAIN" and re.search(r"\bANALY[SZ]E\b", stmt, re.I):
            return _sql_statement(
                re.sub(r"^\s*EXPLAIN\s*(\([^)]*\)|ANALY[SZ]E|VERBOSE|\s)*", "", stmt, flags=re.I)
            )
        return _read(f"SQL {keyword}")
    if keyword in _SQL_NEUTRAL:
        return _read("transaction control")
    if keyword in _SQL_CHANGE:
        return _change(f"SQL {keyword}")
    return _change(f"{keyword or 'statement'} is not known to be read-only")


def classify_sql(sql: str) -> Verdict:
    """SQL, possibly mixed with the shell lines that open the session (``docker exec -it
    postgres psql …`` followed by statements): statements split at ``;``, shell lines read
    as shell."""
    text = strip_sql_comments(sql)
    verdict = READ
    statement: list[str] = []
    for line in [*text.splitlines(), ";"]:
        if not statement and line.strip() and not line.strip().startswith(";"):
            first = _SQL_WORD.match(line)
            word = first.group(1).upper() if first else ""
            known = _SQL_READ | _SQL_NEUTRAL | _SQL_DESTROY | _SQL_CHANGE
            if word not in known and not word.startswith("\\"):
                verdict |= classify_shell(line)
                continue
            if word.startswith("\\"):
                verdict |= _sql_statement(line)
                continue
        parts = line.split(";")
        for part in parts[:-1]:
            statement.append(part)
            joined = " ".join(statement).strip()
            if joined:
                verdict |= _sql_statement(joined)
            statement = []
        if parts[-1].strip():
            statement.append(parts[-1])
    return verdict


# --------------------------------------------------------------------------- PowerShell

_PS_READ_VERBS = frozenset(
    """
    Get Select Where Sort Measure Format Test ConvertFrom ConvertTo Compare Group Find
    Resolve Search Show Trace Wait Read Import Join Split ForEach Foreach Write Out Tee Use
    Debug Receive Enter Exit Push Pop
    """.split()
)
_PS_ALIASES_READ = frozenset(
    """
    ls dir gci cat gc type ps gps select where sort echo write % ? foreach measure fl ft gm
    sls cd sl pwd gl cls history h irm iwr
    """.split()
)


def _top_level_statements(text: str) -> list[str]:
    """PowerShell statements and pipeline stages outside braces, parentheses and quotes: the
    places where an external command can start (``@{Name='x'; Expression={…}}`` holds none)."""
    out: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in "\n;|":
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return out


def classify_powershell(code: str) -> Verdict:
    text = re.sub(r"<#.*?#>", " ", code, flags=re.S)
    text = strip_hash_comments(text).replace("`\n", " ")
    verdict = READ
    for match in re.finditer(r"\b([A-Z][A-Za-z]+)-([A-Z][A-Za-z]+)\b", text):
        verb, noun = match.group(1), match.group(2)
        if (verb == "Out" and noun == "File") or (verb == "Tee" and noun == "Object"):
            verdict |= _change(f"{verb}-{noun} writes a file")
        elif verb == "Invoke" and noun in ("WebRequest", "RestMethod"):
            rest = text[match.end() : text.find("\n", match.end())]
            method = re.search(r"-Method\s+['\"]?(\w+)", rest, re.I)
            name = method.group(1).upper() if method else "GET"
            verdict |= _read("HTTP GET") if name in ("GET", "HEAD") else _change(f"HTTP {name}")
        elif (
            verb == "Import"
            and noun
            not in (
                "Module",
                "Csv",
                "Clixml",
                "LocalizedData",
                "PowerShellDataFile",
            )
        ) or verb not in _PS_READ_VERBS:
            verdict |= _change(f"{verb}-{noun} changes state")
    for segment in _top_level_statements(text):
        words = segment.strip().split()
        if not words:
            continue
        head = words[0]
        if re.fullmatch(r"[A-Z][A-Za-z]+-[A-Z][A-Za-z]+", head) or head[0] in "$[@\"'-0123456789.":
            continue  # cmdlets were read above; the rest are expressions and arguments
        if head.lower() in _PS_ALIASES_READ or head in (
            "if",
            "else",
            "elseif",
            "foreach",
            "for",
            "while",
            "return",
            "param",
        ):
            continue
        if head.lower() in ("rm", "del", "erase", "rd", "rmdir", "ri"):
            verdict |= _destroy(f"{head} deletes files")
            continue
        verdict |= classify_shell(segment)
    return verdict


# --------------------------------------------------------------------------- entry point


def classify(code: str, language: str) -> Verdict:
    """Risk of one command block. The highest risk of anything in it wins."""
    full = code
    if language in ("bash", "powershell", ""):
        full = unprompt(code)
        commands, output = split_prompts(code)
        # what looks like output but starts with a command is read as a command
        commands += [ln for ln in output if ln.split() and is_command_word(*ln.split()[:2])]
        code = "\n".join(commands)
    if language == "sql":
        body = strip_sql_comments(full)
    elif language in ("bash", "powershell", "python", "yaml", ""):
        body = strip_hash_comments(full)
    else:
        body = full
    destructive = scan_destructive(body)
    if destructive is not None:
        return destructive
    if not body.strip():
        return _read("only comments")
    if language == "promql":
        return _read("PromQL query")
    if language == "sql":
        return classify_sql(code)
    if language == "powershell":
        return classify_powershell(code)
    if language in ("bash", ""):
        return classify_shell(code)
    if language == "yaml":
        return _change("configuration to apply")
    if language == "json":
        return _change("payload to send")
    return _change(f"{language} code is not known to be read-only")


_KNOWN_CHANGE_COMMANDS = frozenset(
    """
    python python3 pip pip3 pipx uv poetry npm npx yarn pnpm node go java make pytest
    terraform ansible ansible-playbook certbot rsync scp cp mv chmod chown chgrp mkdir touch
    ln tar gzip gunzip zip unzip bzip2 xz tee reboot shutdown halt apt apt-get yum dnf brew
    supervisorctl pm2 uvicorn gunicorn celery rm rmdir truncate dd mkfs resize2fs growpart
    xfs_growfs pg_basebackup pg_restore pgbench vacuumdb reindexdb mysql mysqladmin mongosh
    mongo etcdctl consul vault nomad gcloud az kubeadm crictl ctr flux argocd istioctl
    linkerd velero logrotate crontab useradd usermod passwd swapoff swapon sysctl modprobe
    umount mount fsck
    """.split()
)
# Words that start English phrases as often as commands: an inline code span starting with
# one is a command only when an option follows ("`top -bn1`", not "`free memory`").
_AMBIGUOUS_WORDS = frozenset(
    """
    type time test read w last host file yes true false [ alias history exit return wait
    jobs more less top id who seq rev column route free date make cd
    """.split()
)


def is_command_word(word: str, next_word: str = "-") -> bool:
    """Whether an inline code span starting with this word is a command to run."""
    word = word.lstrip("(&.")
    base = word.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if re.fullmatch(r"[A-Z][A-Za-z]+-[A-Z][A-Za-z]+", word) or base.lower().endswith(".exe"):
        return True
    if base in _AMBIGUOUS_WORDS and not next_word.startswith("-"):
        return False
    return (
        base in _READ_COMMANDS
        or base in _HANDLERS
        or base in _KNOWN_CHANGE_COMMANDS
        or base in _WRAPPERS_WITH_VALUE
    )
