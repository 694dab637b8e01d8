"""The first pass over a command block: signatures of destructive commands, searched in the
whole (comment-free) text, so that they are found even inside quoted strings
(``sh -c "rm -rf …"``) and in tools tocsin has no reader for.
"""

from __future__ import annotations

import re

from tocsin.runbooks.risk.verdict import Verdict, destroy

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
            return destroy(reason)
    return None
