"""The shell reader: shell text split into simple commands, each read by the reader of its
tool (the table ``_READERS`` from a command's name to its reader), and SQL text, which runbooks
mix with shell (statements typed into the psql session a line opened, and the shell lines that
open it).

Shell and SQL text read each other, and readers of tools that run another command
(``docker exec``, ``kubectl exec``, ``find -exec``, ``strace``, ``psql -c``) read it with the
readers here; the table hands them those readers, so that the tool families import nothing
from this module.
"""

from __future__ import annotations

import re

from tocsin.runbooks.commands import looks_like_promql
from tocsin.runbooks.risk.cloud import aws, cloud_cli
from tocsin.runbooks.risk.containers import compose, docker
from tocsin.runbooks.risk.coreutils import awk, find, git, ltrace, sed, strace
from tocsin.runbooks.risk.databases import REDIS_READ, pg_tool, psql, redis_cli, sqlite3
from tocsin.runbooks.risk.http import curl, httpie, wget
from tocsin.runbooks.risk.kubernetes import helm, kubectl
from tocsin.runbooks.risk.services import amtool, journalctl, nginx, service, systemctl
from tocsin.runbooks.risk.sql import SQL_ALL, SQL_WORD, read_statement
from tocsin.runbooks.risk.system import (
    date,
    ethtool,
    hostname,
    ip,
    iptables,
    kill,
    mdadm,
    mount,
    nvidia_smi,
    openssl,
    resolvectl,
    route,
    sysctl,
    tcpdump,
    timedatectl,
    ufw,
)
from tocsin.runbooks.risk.verbs import unknown_tool
from tocsin.runbooks.risk.verdict import READ, Reader, Verdict, change, read
from tocsin.runbooks.risk.words import (
    PIPED,
    split_commands,
    strip_hash_comments,
    strip_options,
    strip_sql_comments,
    substitutions,
)

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
# Programs that run what they read on standard input: what is piped into them is a program
# tocsin cannot see, never read-only.
_STDIN_INTERPRETERS = frozenset(
    "sh bash zsh dash ksh fish python python3 perl ruby node php redis-cli psql mysql mongosh "
    "mongo nc ncat netcat socat telnet ssh kubectl docker sqlite3 osascript pwsh powershell "
    "cmd xargs".split()
)
_HARMLESS_DEVICES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/", "/dev/tty")


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


def simple(words: list[str], redirects: list[str]) -> Verdict:
    """One simple command (no pipes or separators)."""
    verdict = READ
    piped = PIPED in redirects
    for target in redirects:
        if target == PIPED or target.isdigit() or target.startswith(_HARMLESS_DEVICES):
            continue
        verdict |= change(f"writes {target}")
    if piped and words:
        first = next((w for w in words if not re.fullmatch(r"\w+=.*", w)), words[0])
        base = first.rsplit("/", 1)[-1]
        if base in ("sudo", "env", "nohup", "exec"):
            rest = [w for w in words[1:] if not w.startswith("-")]
            base = rest[0].rsplit("/", 1)[-1] if rest else base
        if base in _STDIN_INTERPRETERS and not (base == "xargs" and len(words) > 1):
            verdict |= change(f"{base} runs what is piped into it")
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
                return verdict | read(f"shell builtin {base}")
            if base == "source":
                return verdict | change("sources a script")
            i += 1
            continue
        break
    if i >= len(words):
        return verdict | read("variable assignment") if words else verdict
    cmd = words[i].rsplit("/", 1)[-1]
    args = words[i + 1 :]
    if cmd.isupper() and cmd in SQL_ALL:
        # a statement typed into the psql session the block opened above
        return verdict | classify_sql(" ".join(words[i:]))
    if cmd.isupper() and cmd in REDIS_READ:
        return verdict | read(f"Redis {cmd} observes")
    if cmd in _READERS:
        return verdict | _READERS[cmd](args)
    if cmd in _READ_COMMANDS:
        return verdict | read(f"{cmd} only observes")
    if looks_like_promql(" ".join(words[i:])):
        return verdict | read("PromQL query")
    return verdict | unknown_tool(cmd, args, classify_sql)


_ANGLE_PLACEHOLDER = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:/-]*)>")


def classify_shell(code: str) -> Verdict:
    text = strip_hash_comments(code).replace("\\\n", " ")
    text, substituted = substitutions(text)
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
                first.upper() in SQL_ALL
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
            or (first.isupper() and first in SQL_ALL)
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
            verdict |= read("PromQL query")
        else:
            shell_lines.append(line)
    if sql:
        verdict |= classify_sql("\n".join(sql))
    for words, redirects in split_commands("\n".join(shell_lines)):
        verdict |= simple(words, redirects)
    return verdict | inner


def classify_sql(sql: str) -> Verdict:
    """SQL, possibly mixed with the shell lines that open the session (``docker exec -it
    postgres psql …`` followed by statements): statements split at ``;``, shell lines read
    as shell."""
    text = strip_sql_comments(sql)
    verdict = READ
    statement: list[str] = []
    for line in [*text.splitlines(), ";"]:
        if statement and line.strip() and not line.strip().startswith(";"):
            first = SQL_WORD.match(line)
            word = first.group(1) if first else ""
            if (
                word
                and word.upper() not in SQL_ALL
                and is_command_word(word, "-")
                and (word.islower() or "/" in word)
            ):
                verdict |= read_statement(" ".join(statement))  # the statement ended there
                statement = []
        if not statement and line.strip() and not line.strip().startswith(";"):
            first = SQL_WORD.match(line)
            word = first.group(1).upper() if first else ""
            if word not in SQL_ALL and not word.startswith("\\"):
                verdict |= classify_shell(line)
                continue
            if word.startswith("\\"):
                verdict |= read_statement(line)
                continue
        parts = line.split(";")
        for part in parts[:-1]:
            statement.append(part)
            joined = " ".join(statement).strip()
            if joined:
                verdict |= read_statement(joined)
            statement = []
        if parts[-1].strip():
            statement.append(parts[-1])
    return verdict


def _shell_c(args: list[str]) -> Verdict:
    if "-c" in args:
        idx = args.index("-c")
        if idx + 1 < len(args):
            return classify_shell(args[idx + 1])
    if not args:
        return read("opens a shell")
    return change("runs a script")


def _ssh(args: list[str]) -> Verdict:
    pos = strip_options(
        args, {"-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-b", "-c", "-E", "-W"}
    )
    if len(pos) <= 1:
        return read("opens a remote session")
    return classify_shell(" ".join(pos[1:]))


def _inner(words: list[str]) -> Verdict:
    """A command another command runs (``docker exec``, ``find -exec``, ``strace``)."""
    return simple(words, [])


_READERS: dict[str, Reader] = {
    # the shell itself
    "bash": _shell_c,
    "sh": _shell_c,
    "zsh": _shell_c,
    "ssh": _ssh,
    # coreutils and other everyday tools
    "find": lambda args: find(args, _inner),
    "sed": sed,
    "awk": awk,
    "gawk": awk,
    "git": git,
    "strace": lambda args: strace(args, _inner),
    "ltrace": lambda args: ltrace(args, _inner),
    # the host
    "sysctl": sysctl,
    "hostname": hostname,
    "date": date,
    "timedatectl": timedatectl,
    "route": route,
    "ethtool": ethtool,
    "nvidia-smi": nvidia_smi,
    "mount": mount,
    "mdadm": mdadm,
    "resolvectl": resolvectl,
    "tcpdump": tcpdump,
    "kill": kill,
    "pkill": kill,
    "killall": kill,
    "iptables": iptables,
    "ip6tables": iptables,
    "ufw": ufw,
    "ip": ip,
    "openssl": openssl,
    # services and their logs
    "systemctl": systemctl,
    "service": service,
    "journalctl": journalctl,
    "nginx": nginx,
    "amtool": amtool,
    # containers and Kubernetes
    "docker": lambda args: docker(args, _inner),
    "podman": lambda args: docker(args, _inner),
    "docker-compose": lambda args: compose(args, _inner),
    "kubectl": lambda args: kubectl(args, _inner),
    "oc": lambda args: kubectl(args, _inner),
    "helm": helm,
    # databases
    "redis-cli": redis_cli,
    "psql": lambda args: psql(args, classify_sql),
    "sqlite3": lambda args: sqlite3(args, classify_sql),
    "pg_dump": pg_tool("pg_dump"),
    "pg_checksums": pg_tool("pg_checksums"),
    "pg_ctl": pg_tool("pg_ctl"),
    # cloud CLIs
    "aws": aws,
    "gcloud": cloud_cli("gcloud"),
    "az": cloud_cli("az"),
    # HTTP
    "curl": curl,
    "curlie": curl,
    "wget": wget,
    "http": httpie,
    "https": httpie,
}


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
        or base in _READERS
        or base in _KNOWN_CHANGE_COMMANDS
        or base in _WRAPPERS_WITH_VALUE
    )
