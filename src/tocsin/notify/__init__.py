"""notify: the last stage of the data path, where an incident becomes messages to people.

- ``notify.message``: ``Message``, what one channel must tell about one incident, and its JSON
  form for the outbox (pure);
- ``notify.retry``: ``Outcome`` of a delivery attempt and the one retry policy (pure);
- ``notify.channels``: Slack, email, webhook, PagerDuty and console channels (network I/O).

The pure names are re-exported here; the channels are imported from ``notify.channels``, so
that code which only builds messages or plans retries does not load the network clients.
"""

from tocsin.notify.message import KINDS, STATUSES, Message, from_json, to_json
from tocsin.notify.retry import Outcome, Policy, next_step, policy_from

__all__ = [
    "KINDS",
    "STATUSES",
    "Message",
    "Outcome",
    "Policy",
    "from_json",
    "next_step",
    "policy_from",
    "to_json",
]
