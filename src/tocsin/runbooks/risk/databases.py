"""Readers of the database clients: redis-cli, psql, the PostgreSQL tools (pg_dump,
pg_checksums, pg_ctl) and sqlite3. The statements given to psql and sqlite3 are read as SQL by
the reader the caller passes in as ``sql``.
"""

from __future__ import annotations

import re

from tocsin.runbooks.risk.verdict import Reader, TextReader, Verdict, change, read
from tocsin.runbooks.risk.words import strip_options

_REDIS_WRITE = frozenset(
    "SET SETEX SETNX MSET DEL UNLINK EXPIRE PEXPIRE PERSIST RENAME HSET HDEL LPUSH RPUSH LPOP "
    "RPOP SADD SREM ZADD ZREM INCR DECR INCRBY APPEND CONFIG FLUSHDB FLUSHALL SHUTDOWN SAVE "
    "BGSAVE BGREWRITEAOF REPLICAOF SLAVEOF FAILOVER DEBUG SCRIPT FUNCTION EVAL EVALSHA "
    "PUBLISH CLIENT XADD XDEL XTRIM MIGRATE MOVE RESTORE SWAPDB".split()
)
REDIS_READ = frozenset(
    """
    PING INFO GET MGET KEYS SCAN TTL PTTL EXISTS TYPE STRLEN LLEN LRANGE LINDEX HGET HGETALL
    HLEN HKEYS HMGET SCARD SMEMBERS SISMEMBER ZCARD ZRANGE ZSCORE ZCOUNT DBSIZE MEMORY
    SLOWLOG LATENCY ROLE TIME XLEN XINFO XRANGE OBJECT MONITOR CLUSTER LASTSAVE COMMAND ECHO
    HEXISTS GETRANGE DUMP
    """.split()
)
REDIS_ALL = REDIS_READ | _REDIS_WRITE

_REDIS_CLI_OPTS_WITH_VALUE = frozenset(
    """
    -h -p -a -n -u -s --pattern --user --pass -i -r -d --count --memkeys-samples --tls
    --cacert --cert --key --sni -x
    """.split()
)
_SENTINEL_WRITE = frozenset(
    "FAILOVER RESET REMOVE SET MONITOR CONFIG FLUSHCONFIG SIMULATE-FAILURE".split()
)


def redis_cli(args: list[str]) -> Verdict:
    pos = strip_options(args, _REDIS_CLI_OPTS_WITH_VALUE)
    if not pos:
        return read("redis-cli session or scan")
    cmd = pos[0].upper()
    sub = pos[1].upper() if len(pos) > 1 else ""
    if cmd == "SLOWLOG" and sub not in ("GET", "LEN", ""):
        return change("Redis SLOWLOG RESET")
    if cmd in REDIS_READ and not (cmd == "CLUSTER" and sub not in ("INFO", "NODES", "SLOTS")):
        return read(f"Redis {cmd} observes")
    if cmd == "CONFIG" and sub == "GET":
        return read("Redis CONFIG GET")
    if cmd == "CLIENT" and sub in ("LIST", "INFO", "GETNAME"):
        return read("Redis CLIENT LIST")
    if cmd == "SENTINEL" and sub not in _SENTINEL_WRITE:
        return read(f"Redis SENTINEL {sub.lower()} observes")
    return change(f"Redis {cmd} changes data or configuration")


def psql(args: list[str], sql: TextReader) -> Verdict:
    verdict = read("psql opens a session")
    for i, arg in enumerate(args):
        if arg.startswith("--command="):
            verdict |= sql(arg.split("=", 1)[1])
        elif arg == "--command" and i + 1 < len(args):
            verdict |= sql(args[i + 1])
        elif arg == "--file" or arg.startswith("--file="):
            verdict |= change("psql runs a script file")
        elif arg.startswith("-") and not arg.startswith("--"):
            flags = arg[1:]  # combined short options: -tAc "…"
            for k, ch in enumerate(flags):
                if ch in "cf":
                    value = flags[k + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
                    verdict |= sql(value) if ch == "c" else change("psql runs a file")
                    break
                if ch in "dUhpvPoLT":  # these take a value: the rest of the word is it
                    break
    return verdict


def pg_tool(name: str) -> Reader:
    def handler(args: list[str]) -> Verdict:
        if name == "pg_dump":
            return read("pg_dump reads the database")
        if name == "pg_checksums" and ("--check" in args or "-c" in args):
            return read("pg_checksums --check")
        if name == "pg_ctl" and args[:1] == ["status"]:
            return read("pg_ctl status")
        return change(f"{name} changes the database")

    return handler


def sqlite3(args: list[str], sql: TextReader) -> Verdict:
    statements = [a for a in args[1:] if not a.startswith("-")] if args else []
    verdict = read("sqlite3 opens a database")
    for statement in statements:
        if statement.startswith("."):
            if not re.match(r"\.(tables|schema|indexes|dump|show|help|mode|headers)\b", statement):
                verdict |= change(f"sqlite3 {statement.split()[0]}")
        else:
            verdict |= sql(statement)
    return verdict
