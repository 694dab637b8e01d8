"""Risk of a runbook command: read (only observes), change (changes state, can be undone) or
destructive (loses data or cannot be undone).

The rule that matters most: what is not recognized as read-only is at least ``change``.
Unknown is never safe. A block takes the highest risk of the commands in it.

The package, from the bottom up: ``verdict`` (the risk classes), ``words`` (comments and word
splitting), ``signatures`` (the scan for destructive signatures), one reader per tool family
(``coreutils``, ``system``, ``services``, ``containers``, ``kubernetes``, ``databases``,
``cloud``, ``http``, ``verbs`` for tools with no reader), ``sql`` (one statement), ``shell``
(shell and SQL text, and the table from a command's name to its reader), ``powershell``, and
``block``, the entry point.
"""

from tocsin.runbooks.risk.block import classify
from tocsin.runbooks.risk.shell import is_command_word
from tocsin.runbooks.risk.sql import is_sql_statement
from tocsin.runbooks.risk.verdict import Verdict

__all__ = ["Verdict", "classify", "is_command_word", "is_sql_statement"]
