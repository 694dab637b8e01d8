"""notify: the last stage of the data path, where an incident becomes messages to people.

- ``notify.message``: ``Message``, what one channel must tell about one incident, and its JSON
  form for the outbox (pure);
- ``notify.retry``: ``Outcome`` of a delivery attempt and the one retry policy (pure);
- ``notify.base``: the ``Channel`` contract (``send`` never raises; it returns an
  ``Outcome``), the settings a channel is built from, secrets; ``notify.templates``: a
  channel's templates over the defaults; ``notify.http``: the HTTP client and one POST;
- one module per channel: ``notify.slack``, ``notify.email``, ``notify.webhook``,
  ``notify.pagerduty``, ``notify.console`` (network I/O);
- ``notify.registry``: ``build_channel`` and ``BUILDERS``, the one list of channel types.

The pure names are re-exported here; the channels are imported from their modules, so that
code which only builds messages or plans retries does not load the network clients. Nothing
here imports ``config.py``: the settings are Protocols its models fit.
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
