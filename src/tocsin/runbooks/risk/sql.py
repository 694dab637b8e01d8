"""Risk of one SQL statement: SELECT and its kin read (unless they write INTO a table or call
a function that changes server state), DELETE / DROP / TRUNCATE destroy, the rest change.

SQL text with many statements, and shell lines among them, is split in ``shell.classify_sql``.
"""

from __future__ import annotations

import re

from tocsin.runbooks.risk.verdict import Verdict, change, destroy, read

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
SQL_ALL = _SQL_READ | _SQL_NEUTRAL | _SQL_DESTROY | _SQL_CHANGE
_SQL_CHANGE_FUNCS = re.compile(
    r"\b(pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|setval|nextval|compress_chunk|"
    r"decompress_chunk|pg_switch_wal|pg_create_restore_point|set_config|pg_stat_reset\w*|"
    r"pg_stat_statements_reset|pg_advisory_lock\w*|pg_create_\w+_replication_slot|"
    r"pg_promote|pg_wal_replay_(pause|resume)|dblink_exec|dblink|lo_import|lo_export|"
    r"pg_logical_slot_get_changes|pg_replication_slot_advance|run_maintenance\w*|"
    r"pg_create_physical_replication_slot|pg_notify|nextval|set_config)\s*\(",
    re.IGNORECASE,
)
SQL_WORD = re.compile(r"\s*\(?\s*([A-Za-z_\\][A-Za-z_!]*)")


def is_sql_statement(text: str) -> bool:
    """Inline code that is a whole SQL statement to run: an upper-case keyword and a closing
    ``;`` (``SELECT pg_drop_replication_slot('x');``), not a word in prose (``UPDATE``)."""
    words = text.split()
    return len(words) >= 2 and words[0] in SQL_ALL and text.rstrip().endswith(";")


def read_statement(stmt: str) -> Verdict:
    """One SQL statement (or psql meta-command), by its first keyword and what it calls."""
    first = SQL_WORD.match(stmt)
    keyword = first.group(1).upper() if first else ""
    if re.search(r"\\gexec\b", stmt):
        return change("psql \\gexec runs the statements a query builds")
    if keyword in _SQL_DESTROY:
        return destroy(f"SQL {keyword}")
    if keyword.startswith("\\"):
        if keyword in ("\\!", "\\I", "\\IR", "\\COPY", "\\O", "\\W"):
            return change(f"psql {keyword.lower()} runs or writes")
        return read("psql meta-command")
    if keyword in _SQL_READ:
        if keyword == "WITH" and re.search(r"\b(DELETE|TRUNCATE|DROP)\b", stmt, re.I):
            return destroy("SQL WITH … DELETE")
        if keyword == "WITH" and re.search(r"\b(INSERT|UPDATE|MERGE)\b", stmt, re.I):
            return change("SQL WITH … data-modifying")
        if re.search(r"\bINTO\s+(TEMP\w*\s+|UNLOGGED\s+)?[\w\"`]", stmt, re.I) and not re.search(
            r"\bINTO\s+STRICT\b", stmt, re.I
        ):
            return change("SELECT INTO creates a table")
        found = _SQL_CHANGE_FUNCS.search(stmt)
        if found:
            return change(f"{found.group(1)}() changes server state")
        if keyword == "EXPLAIN" and re.search(r"\bANALY[SZ]E\b", stmt, re.I):
            inner = re.sub(
                r"^\s*EXPLAIN\s*(\([^)]*\)|ANALY[SZ]E|VERBOSE|\s)*", "", stmt, flags=re.I
            )
            return read_statement(inner) if inner.strip() else read("EXPLAIN")
        return read(f"SQL {keyword}")
    if keyword == "START":
        if re.match(r"\s*START\s+TRANSACTION\b", stmt, re.I):
            return read("transaction control")
        return change("SQL START")
    if keyword in _SQL_NEUTRAL:
        return read("transaction control")
    if keyword == "KILL":
        return destroy("SQL KILL ends a session")
    if keyword in _SQL_CHANGE:
        return change(f"SQL {keyword}")
    return change(f"{keyword or 'statement'} is not known to be read-only")
