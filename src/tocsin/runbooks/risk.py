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

from tocsin.runbooks.commands import has_prompts, looks_like_promql, split_prompts, unprompt
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
    (
        re.compile(
            r"(?:^|[\s;&|(`'\"])(?:sudo\s+)?(?:/bin/|/usr/bin/)?rm\s+(?:-\S+\s+)*[^\s-]", re.M
        ),
        "rm deletes files",
    ),
    (re.compile(r"\bxargs\b[^\n;|]*\brm\b"), "xargs rm deletes files"),
    (
        re.compile(r"\bfind\b[^\n;|]*-(exec|execdir|ok)\s+(\S*/)?(rm|shred|unlink)\b"),
        "find -exec rm",
    ),
    (
        re.compile(
            r"\b(pkill|killall)\b[^\n;|]*(--signal[= ](9|KILL|SIGKILL)|-(9|KILL|SIGKILL)\b)"
        ),
        "kill -9 loses in-flight work",
    ),
    (
        re.compile(r"\bkill\s+(-n\s+9|-s\s*(9|KILL|SIGKILL)|--signal[= ](9|KILL))\b"),
        "kill -9 loses in-flight work",
    ),
    (re.compile(r"\b(docker|podman)\s+(container\s+)?kill\b"), "docker kill"),
    (re.compile(r"\btaskkill\b[^\n]*/F\b", re.I), "taskkill /F"),
    (re.compile(r"\bcrontab\s+(-\w*r)\b"), "crontab -r deletes the crontab"),
    (
        re.compile(
            r"\b(SHUTDOWN\s+NOSAVE|FUNCTION\s+FLUSH|CLUSTER\s+RESET|REPLICAOF|SLAVEOF)\b", re.I
        ),
        "Redis loses data",
    ),
    (
        re.compile(r"\b(DEL|UNLINK|FLUSHDB|FLUSHALL)\b[^|\n]*\|\s*(\S*/)?redis-cli\b", re.I),
        "deletes Redis keys",
    ),
    (re.compile(r"\bflush_all\b"), "memcached flush_all"),
    (
        re.compile(
            r"\b(lvremove|vgremove|pvremove|blkdiscard|mke2fs|mkswap|sgdisk|zpool\s+destroy|"
            r"zfs\s+destroy)\b"
        ),
        "destroys a volume",
    ),
    (re.compile(r">\s*/dev/(sd|hd|vd|xvd|nvme|mmcblk|dm-|mapper/|md)\w*"), "writes a raw disk"),
    (re.compile(r"\brsync\b[^\n;|]*--delete"), "rsync --delete"),
    (
        re.compile(
            r"\.(drop|dropDatabase|dropCollection|dropIndexes|deleteMany|deleteOne|remove)"
            r"\s*\("
        ),
        "deletes documents",
    ),
    (
        re.compile(r"\b(delete_queue|purge_queue|delete_vhost|force_reset|delete_user)\b"),
        "deletes broker state",
    ),
    (re.compile(r"\bALTER\s+TABLE\b[^;]*\bDROP\b", re.I), "SQL ALTER … DROP"),
    (re.compile(r"\b(RESET\s+MASTER|PURGE\s+(BINARY|MASTER)\s+LOGS)\b", re.I), "drops binlogs"),
    (
        re.compile(
            r"(?:^|[\s;&|(\"'])(format\s+[A-Z]:|rd\s+/s|rmdir\s+/s|del\s+/[sqf]|erase\s+/)",
            re.I | re.M,
        ),
        "Windows delete",
    ),
    (re.compile(r"\b(clc|wevtutil\s+cl)\b", re.I), "clears content or logs"),
    (re.compile(r"\[(System\.)?IO\.(File|Directory)\]::Delete", re.I), "deletes files"),
    (
        re.compile(r"\.(Delete|Kill)\s*\(|ForEach-Object\s+(Delete|Kill)\b", re.I),
        "deletes or kills",
    ),
    (re.compile(r"\bdmesg\s+-\w*[cC]"), "clears the kernel log"),
    (re.compile(r"\bss\b[^\n;|]*\s-\w*K"), "ss -K kills sockets"),
    (re.compile(r"\bmdadm\b[^\n;|]*--zero-superblock"), "wipes RAID metadata"),
    (re.compile(r"\bgit\b[^\n;|]*\breflog\s+expire\b"), "git reflog expire"),
    (re.compile(r"\bgit\b[^\n;|]*\bgc\b[^\n;|]*--prune"), "git gc --prune"),
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
        escaped = False
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
                continue
            if ch == "\\" and quote != "'":
                escaped = True
                continue
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


def _strip_between(text: str, start: str, end: str) -> str:
    """Remove every ``start … end`` span, in linear time."""
    out: list[str] = []
    i = 0
    while True:
        j = text.find(start, i)
        if j == -1:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find(end, j + len(start))
        if k == -1:
            return "".join(out)
        out.append(" ")
        i = k + len(end)


def strip_sql_comments(sql: str) -> str:
    sql = _strip_between(sql, "/*", "*/")
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


_PIPED = "\x00piped"
# Programs that run what they read on standard input: what is piped into them is a program
# tocsin cannot see, never read-only.
_STDIN_INTERPRETERS = frozenset(
    "sh bash zsh dash ksh fish python python3 perl ruby node php redis-cli psql mysql mongosh "
    "mongo nc ncat netcat socat telnet ssh kubectl docker sqlite3 osascript pwsh powershell "
    "cmd xargs".split()
)
_HARMLESS_DEVICES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/", "/dev/tty")


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
        if tok and set(tok) <= set("<>&|") and ">" in tok:
            if tok.endswith("&") and tok != ">&":
                continue  # 2>&1: the next word is a descriptor, not a file
            expect_target = True
            continue
        if tok and (set(tok) <= set(";&|()\n<") or tok == "$"):
            if words or redirects:
                commands.append((words, redirects))
            words, redirects = [], []
            if tok in ("|", "|&"):
                redirects.append(_PIPED)  # the next command reads this one's output
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
    if sub == "auth":
        if len(pos) > 1 and pos[1] in ("can-i", "whoami"):
            return _read("kubectl auth can-i")
        return _change("kubectl auth changes RBAC")
    if sub in _KUBECTL_READ:
        return _read(f"kubectl {sub} observes")
    if sub == "rollout" and len(pos) > 1 and pos[1] in ("status", "history"):
        return _read(f"kubectl rollout {pos[1]} observes")
    if sub == "config" and len(pos) > 1 and pos[1] in ("view", "get-contexts", "current-context"):
        return _read("kubectl config view")
    return _change(f"kubectl {sub} changes the cluster")


def _git(args: list[str]) -> Verdict:
    pos = _strip_options(args, {"-C", "-c", "--git-dir", "--work-tree"})
    sub = pos[0] if pos else ""
    flags = [a for a in args if a.startswith("-")]
    if (
        (sub == "reset" and "--hard" in flags)
        or (sub == "clean" and any(not a.startswith("--") and "f" in a for a in flags))
        or (
            sub == "push" and any(a in ("-f", "--mirror") or a.startswith("--force") for a in flags)
        )
    ):
        return _destroy(f"git {sub} loses work")
    if sub == "branch":
        listing = all(a in ("-a", "-r", "-v", "-vv", "--list", "--all", "--remotes") for a in flags)
        return (
            _read("git branch lists")
            if listing and len(pos) == 1
            else _change("git branch changes branches")
        )
    if sub == "remote":
        return (
            _read("git remote lists")
            if len(pos) == 1 or pos[1] in ("show", "get-url")
            else _change("git remote changes remotes")
        )
    if sub == "reflog" and len(pos) > 1 and pos[1] != "show":
        return _change(f"git reflog {pos[1]}")
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
        "fetch",
        "",
    ):
        return _read(f"git {sub} observes")
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


_REDIS_WRITE = frozenset(
    "SET SETEX SETNX MSET DEL UNLINK EXPIRE PEXPIRE PERSIST RENAME HSET HDEL LPUSH RPUSH LPOP "
    "RPOP SADD SREM ZADD ZREM INCR DECR INCRBY APPEND CONFIG FLUSHDB FLUSHALL SHUTDOWN SAVE "
    "BGSAVE BGREWRITEAOF REPLICAOF SLAVEOF FAILOVER DEBUG SCRIPT FUNCTION EVAL EVALSHA "
    "PUBLISH CLIENT XADD XDEL XTRIM MIGRATE MOVE RESTORE SWAPDB".split()
)
_REDIS_READ = frozenset(
    """
    PING INFO GET MGET KEYS SCAN TTL PTTL EXISTS TYPE STRLEN LLEN LRANGE LINDEX HGET HGETALL
    HLEN HKEYS HMGET SCARD SMEMBERS SISMEMBER ZCARD ZRANGE ZSCORE ZCOUNT DBSIZE MEMORY
    SLOWLOG LATENCY ROLE TIME XLEN XINFO XRANGE OBJECT MONITOR CLUSTER LASTSAVE COMMAND ECHO
    HEXISTS GETRANGE DUMP
    """.split()
)


_REDIS_ALL = _REDIS_READ | _REDIS_WRITE


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
    if cmd == "SLOWLOG" and sub not in ("GET", "LEN", ""):
        return _change("Redis SLOWLOG RESET")
    if cmd in _REDIS_READ and not (cmd == "CLUSTER" and sub not in ("INFO", "NODES", "SLOTS")):
        return _read(f"Redis {cmd} observes")
    if cmd == "CONFIG" and sub == "GET":
        return _read("Redis CONFIG GET")
    if cmd == "CLIENT" and sub in ("LIST", "INFO", "GETNAME"):
        return _read("Redis CLIENT LIST")
    if cmd == "SENTINEL" and sub not in (
        "FAILOVER",
        "RESET",
        "REMOVE",
        "SET",
        "MONITOR",
        "CONFIG",
        "FLUSHCONFIG",
        "SIMULATE-FAILURE",
    ):
        return _read(f"Redis SENTINEL {sub.lower()} observes")
    return _change(f"Redis {cmd} changes data or configuration")


def _psql(args: list[str]) -> Verdict:
    verdict = _read("psql opens a session")
    for i, arg in enumerate(args):
        if arg.startswith("--command="):
            verdict |= classify_sql(arg.split("=", 1)[1])
        elif arg == "--command" and i + 1 < len(args):
            verdict |= classify_sql(args[i + 1])
        elif arg == "--file" or arg.startswith("--file="):
            verdict |= _change("psql runs a script file")
        elif arg.startswith("-") and not arg.startswith("--"):
            flags = arg[1:]  # combined short options: -tAc "…"
            for k, ch in enumerate(flags):
                if ch in "cf":
                    value = flags[k + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
                    verdict |= classify_sql(value) if ch == "c" else _change("psql runs a file")
                    break
                if ch in "dUhpvPoLT":  # these take a value: the rest of the word is it
                    break
    return verdict


def _curl(args: list[str]) -> Verdict:
    method = ""
    data = False
    for i, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            flags = arg[1:]  # combined short options: -sXDELETE, -d'{…}'
            for k, ch in enumerate(flags):
                if ch == "X":
                    method = (flags[k + 1 :] or (args[i + 1] if i + 1 < len(args) else "")).upper()
                    break
                if ch in "dFT":
                    data = True
                    break
                if ch == "G":
                    data = False
            continue
        if arg in ("-X", "--request") and i + 1 < len(args):
            method = args[i + 1].upper()
        elif arg.startswith("--request="):
            method = arg.split("=", 1)[1].upper()
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
        ) or arg.startswith(("--data", "--json", "--form", "--upload-file")):
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
    if any(a.startswith(("--post", "--method", "--body")) for a in args):
        return _change("HTTP request with a body")
    to_stdout = any(a in ("-O-", "-qO-", "--spider") for a in args) or (
        "-O" in args and args.index("-O") + 1 < len(args) and args[args.index("-O") + 1] == "-"
    )
    return _read("wget to stdout") if to_stdout else _change("wget writes a file")


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
    for arg in args:
        if arg.startswith("--in-place") or (
            arg.startswith("-") and not arg.startswith("--") and "i" in arg[1:]
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
        if (service == "s3" and op in ("rm", "rb")) or op.startswith(
            ("delete-", "terminate-", "remove-", "deregister-", "purge-")
        ):
            return _destroy(f"aws {service} {op} deletes")
        if (service == "s3" and op == "ls") or op.startswith(("describe-", "list-", "get-")):
            return _read(f"aws {service} {op} observes")
        if service == "sts" and op == "get-caller-identity":
            return _read("aws sts get-caller-identity")
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
    if pos and pos[0] in ("uninstall", "delete", "del", "un"):
        return _destroy("helm uninstall")
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


def _writes_with(
    name: str,
    flags: tuple[str, ...] = (),
    verbs: tuple[str, ...] = (),
    any_positional: bool = False,
) -> Callable[[list[str]], Verdict]:
    """A tool that only reads unless given one of ``flags`` (prefixes), one of ``verbs`` as
    its first word, or (``any_positional``) any argument at all."""

    def handler(args: list[str]) -> Verdict:
        positional = [a for a in args if not a.startswith("-")]
        if (
            any(a.startswith(f) for a in args for f in flags)
            or (positional and positional[0] in verbs)
            or (any_positional and positional)
        ):
            return _change(f"{name} with these arguments changes the system")
        return _read(f"{name} observes")

    return handler


def _wraps_command(name: str, opts_with_value: set[str]) -> Callable[[list[str]], Verdict]:
    """strace / ltrace run the command they are given."""

    def handler(args: list[str]) -> Verdict:
        rest = list(args)
        while rest and rest[0].startswith("-"):
            opt = rest.pop(0)
            if opt in opts_with_value and rest:
                rest.pop(0)
        return _simple(rest, []) if rest else _read(f"{name} attaches")

    return handler


def _awk(args: list[str]) -> Verdict:
    program = " ".join(a for a in args if not a.startswith("-"))
    if re.search(r"\bsystem\s*\(|\|\s*\"|print[^;}]*>", program):
        return _change("awk runs commands or writes files")
    return _read("awk filters text")


def _sqlite3(args: list[str]) -> Verdict:
    statements = [a for a in args[1:] if not a.startswith("-")] if args else []
    verdict = _read("sqlite3 opens a database")
    for statement in statements:
        if statement.startswith("."):
            if not re.match(r"\.(tables|schema|indexes|dump|show|help|mode|headers)\b", statement):
                verdict |= _change(f"sqlite3 {statement.split()[0]}")
        else:
            verdict |= classify_sql(statement)
    return verdict


def _httpie(args: list[str]) -> Verdict:
    positional = [a for a in args if not a.startswith("-")]
    method = positional[0].upper() if positional and positional[0].isalpha() else ""
    if not method:
        has_data = any("=" in a for a in positional[1:])
        method = "POST" if has_data else "GET"
    return _curl(["-X", method])


_HANDLERS: dict[str, Callable[[list[str]], Verdict]] = {
    "sysctl": _writes_with("sysctl", ("-w", "--write", "-p", "--load", "--system")),
    "hostname": _writes_with("hostname", ("-F", "--file", "-b"), any_positional=True),
    "date": _writes_with("date", ("-s", "--set")),
    "timedatectl": _writes_with(
        "timedatectl", verbs=("set-time", "set-timezone", "set-ntp", "set-local-rtc")
    ),
    "route": _writes_with("route", verbs=("add", "del", "delete", "flush")),
    "ethtool": _writes_with(
        "ethtool",
        (
            "-s",
            "-K",
            "-A",
            "-C",
            "-G",
            "-L",
            "-E",
            "-f",
            "--change",
            "--features",
            "-r",
            "--reset",
            "-W",
        ),
    ),
    "nvidia-smi": _writes_with(
        "nvidia-smi",
        (
            "-r",
            "--gpu-reset",
            "-pm",
            "-pl",
            "-c",
            "-e",
            "-ac",
            "-rac",
            "-mig",
            "--persistence-mode",
        ),
    ),
    "mount": _writes_with("mount", ("-o", "-a", "--bind", "--move", "-t"), any_positional=True),
    "mdadm": _writes_with(
        "mdadm",
        (
            "--create",
            "--assemble",
            "--manage",
            "--grow",
            "--fail",
            "--remove",
            "--add",
            "--stop",
            "-C",
            "-A",
            "-S",
            "-f",
            "-r",
            "-a",
        ),
    ),
    "resolvectl": _writes_with(
        "resolvectl", verbs=("flush-caches", "reset-statistics", "dns", "domain", "revert")
    ),
    "tcpdump": _writes_with("tcpdump", ("-w",)),
    "strace": _wraps_command("strace", {"-p", "-o", "-e", "-s", "-u"}),
    "ltrace": _wraps_command("ltrace", {"-p", "-o", "-e", "-s", "-u"}),
    "awk": _awk,
    "gawk": _awk,
    "sqlite3": _sqlite3,
    "http": _httpie,
    "https": _httpie,
    "curlie": _curl,
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
    piped = _PIPED in redirects
    for target in redirects:
        if target == _PIPED or target.isdigit() or target.startswith(_HARMLESS_DEVICES):
            continue
        verdict |= _change(f"writes {target}")
    if piped and words:
        first = next((w for w in words if not re.fullmatch(r"\w+=.*", w)), words[0])
        base = first.rsplit("/", 1)[-1]
        if base in ("sudo", "env", "nohup", "exec"):
            rest = [w for w in words[1:] if not w.startswith("-")]
            base = rest[0].rsplit("/", 1)[-1] if rest else base
        if base in _STDIN_INTERPRETERS and not (base == "xargs" and len(words) > 1):
            verdict |= _change(f"{base} runs what is piped into it")
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
            if base == "for":
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


def _substitutions(text: str, depth: int = 0) -> tuple[str, list[str]]:
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
            if depth > 8:
                raise _TooComplex("substitutions nested too deeply")
            nested, more = _substitutions(body, depth + 1)
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


class _TooComplex(ValueError):
    """A command too convoluted to read: never taken as safe."""


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
    if "--delete" in flags or any(
        re.fullmatch(
            r"(delete|del|remove|rm|purge|drop|destroy|wipe|erase|zap|force[_-]reset|truncate|"
            r"flush|uninstall|terminate|nuke|shred)([_-]\w+)?",
            p,
        )
        for p in positional
    ):
        return _destroy(f"{cmd} {' '.join(positional[:2]) or '--delete'} deletes")
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
        if sql or (
            (
                first.upper() in _SQL_ALL
                and (first.isupper() or line.rstrip().endswith(";"))
                and first.lower()
                not in (
                    "set",
                    "select",
                    "reset",
                    "do",
                    "call",
                    "use",
                    "lock",
                    "kill",
                    "show",
                    "start",
                    "end",
                )
            )
            or (first.isupper() and first in _SQL_ALL)
            or (
                first.lower() == "select"
                and re.search(r"\bfrom\b|\w\(", line, re.I)
                and line.rstrip().endswith(";")
            )
        ):
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
    r"pg_promote|pg_wal_replay_(pause|resume)|dblink_exec|dblink|lo_import|lo_export|"
    r"pg_logical_slot_get_changes|pg_replication_slot_advance|run_maintenance\w*|"
    r"pg_create_physical_replication_slot|pg_notify|nextval|set_config)\s*\(",
    re.IGNORECASE,
)
_SQL_WORD = re.compile(r"\s*\(?\s*([A-Za-z_\\][A-Za-z_!]*)")


def _sql_statement(stmt: str) -> Verdict:
    first = _SQL_WORD.match(stmt)
    keyword = first.group(1).upper() if first else ""
    if re.search(r"\\gexec\b", stmt):
        return _change("psql \\gexec runs the statements a query builds")
    if keyword in _SQL_DESTROY:
        return _destroy(f"SQL {keyword}")
    if keyword.startswith("\\"):
        if keyword in ("\\!", "\\I", "\\IR", "\\COPY", "\\O", "\\W"):
            return _change(f"psql {keyword.lower()} runs or writes")
        return _read("psql meta-command")
    if keyword in _SQL_READ:
        if keyword == "WITH" and re.search(r"\b(DELETE|TRUNCATE|DROP)\b", stmt, re.I):
            return _destroy("SQL WITH … DELETE")
        if keyword == "WITH" and re.search(r"\b(INSERT|UPDATE|MERGE)\b", stmt, re.I):
            return _change("SQL WITH … data-modifying")
        if re.search(r"\bINTO\s+(TEMP\w*\s+|UNLOGGED\s+)?[\w\"`]", stmt, re.I) and not re.search(
            r"\bINTO\s+STRICT\b", stmt, re.I
        ):
            return _change("SELECT INTO creates a table")
        found = _SQL_CHANGE_FUNCS.search(stmt)
        if found:
            return _change(f"{found.group(1)}() changes server state")
        if keyword == "EXPLAIN" and re.search(r"\bANALY[SZ]E\b", stmt, re.I):
            inner = re.sub(
                r"^\s*EXPLAIN\s*(\([^)]*\)|ANALY[SZ]E|VERBOSE|\s)*", "", stmt, flags=re.I
            )
            return _sql_statement(inner) if inner.strip() else _read("EXPLAIN")
        return _read(f"SQL {keyword}")
    if keyword == "START":
        if re.match(r"\s*START\s+TRANSACTION\b", stmt, re.I):
            return _read("transaction control")
        return _change("SQL START")
    if keyword in _SQL_NEUTRAL:
        return _read("transaction control")
    if keyword == "KILL":
        return _destroy("SQL KILL ends a session")
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
        if statement and line.strip() and not line.strip().startswith(";"):
            first = _SQL_WORD.match(line)
            word = first.group(1) if first else ""
            if (
                word
                and word.upper() not in _SQL_ALL
                and is_command_word(word, "-")
                and (word.islower() or "/" in word)
            ):
                verdict |= _sql_statement(" ".join(statement))  # the statement ended there
                statement = []
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
    text = _strip_between(code, "<#", "#>")
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
    if re.search(
        r"\b(irm|iwr|curl|wget|Invoke-RestMethod|Invoke-WebRequest)\b[^\n]*"
        r"-Method[:\s]+['\"]?(Post|Put|Patch)\b",
        text,
        re.I,
    ):
        verdict |= _change("HTTP request that changes state")
    if re.search(r"\b(Invoke-RestMethod|Invoke-WebRequest|irm|iwr)\b[^\n]*\s@\w", text, re.I):
        verdict |= _change("HTTP request with splatted parameters")
    if re.search(
        r"\.(Stop|Start|Restart|Set\w*|Update\w*|Create\w*|Add\w*|Save|Write\w*|"
        r"Move\w*|Copy\w*|Reset\w*)\s*\(",
        text,
    ):
        verdict |= _change("a method call that changes state")
    if re.search(r"(?<![<>=-])>{1,2}\s*(?!\$null\b)['\"]?[\w.:\\/$]", text):
        verdict |= _change("writes a file")
    for segment in _top_level_statements(text):
        words = segment.strip().split()
        if not words:
            continue
        head = words[0]
        if head.startswith((".\\", "./", "&")) or head.lower().endswith(
            (".ps1", ".bat", ".cmd", ".exe")
        ):
            verdict |= _change(f"runs {head}")
            continue
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


def _starts_like_command(line: str) -> bool:
    """An unprompted line in a block with prompts: output, unless it starts like a command
    (a known command, a path, an assignment, SQL or Redis typed into a session, or a root
    prompt ``# cmd``)."""
    text = line.strip()
    if text.startswith("# "):
        text = text[2:].strip()
    words = text.split()
    if not words:
        return False
    first = words[0]
    if first.startswith(("./", "/", "~/", "../")) or re.match(r"[A-Za-z_]\w*=", first):
        return True
    if first.upper() in _SQL_ALL or first.upper() in _REDIS_ALL:
        return first.isupper() or text.rstrip().endswith(";")
    return is_command_word(first, words[1] if len(words) > 1 else "-")


MAX_CODE = 64 * 1024
MAX_LINE = 4096


def classify(code: str, language: str) -> Verdict:
    """Risk of one command block. The highest risk of anything in it wins; a block too large
    or convoluted to read is taken as destructive (unknown is never safe)."""
    if len(code) > MAX_CODE or any(len(line) > MAX_LINE for line in code.splitlines()):
        return _destroy("too large to read safely")
    try:
        return _classify(code, language)
    except (_TooComplex, RecursionError):
        return _destroy("too convoluted to read safely")


def _classify(code: str, language: str) -> Verdict:
    full = code
    if language in ("bash", "powershell", ""):
        full = unprompt(code)
        commands, output = split_prompts(code)
        if has_prompts(code):
            # with prompts, "# systemctl restart x" is a root prompt, not a comment
            commands = [
                ln.lstrip().removeprefix("# ")
                if ln.lstrip().startswith("# ") and _starts_like_command(ln)
                else ln
                for ln in commands
            ]
        # what looks like output but starts like a command is read as a command
        commands += [ln.lstrip("# ") for ln in output if _starts_like_command(ln)]
        code = "\n".join(commands)
    if language == "sql":
        body = strip_sql_comments(full)
    elif language in ("bash", "powershell", "python", "yaml", ""):
        body = strip_hash_comments(full)
    else:
        body = full
    body = re.sub(r"[\\`]\r?\n\s*", " ", body)  # continuation lines are one command
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
