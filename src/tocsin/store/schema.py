"""Tables. Times are UTC seconds since the epoch (double precision): exact enough, portable
between SQLite and PostgreSQL, and cheap to compare in SQL."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

metadata = MetaData()

# Row ids are the databases' integer keys (PostgreSQL's integer is 32-bit): a larger number
# names no row, and must not reach the database as a parameter.
MAX_ROW_ID = 2**31 - 1

# Every firing episode of every alert, kept forever: the history Alertmanager does not keep.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(16), nullable=False),
    Column("labels", Text, nullable=False),  # JSON object
    Column("annotations", Text, nullable=False),  # JSON object
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("timeout", Boolean, nullable=False, default=False),
    Column("generator_url", Text, nullable=False, default=""),
    Column("source", String(32), nullable=False, default="api"),
    Index("ix_alerts_fingerprint", "fingerprint", "id"),
    Index("ix_alerts_ends_at", "ends_at"),
)


def current_episode(fingerprint: ColumnElement[str]) -> ScalarSelect[int]:
    """The id of ``fingerprint``'s latest episode, where an update lands (its row with the
    highest id): a seek down ``ix_alerts_fingerprint``, however long its history."""
    episodes = alerts.alias("episodes")
    return (
        select(func.max(episodes.c.id))
        .where(episodes.c.fingerprint == fingerprint)
        .scalar_subquery()
    )


# the same, as text for the intake's statements on the driver's cursor
LATEST_EPISODE_SQL = "(SELECT max(e.id) FROM alerts e WHERE e.fingerprint = {fp})"


silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", Text, nullable=False),  # JSON list of {name, value, isRegex, isEqual}
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_silences_ends_at", "ends_at"),
)

# A counter per kind of shared state that processes cache (0011): every write of a silence
# bumps ``silences`` in its transaction, so each process's index of the active silences
# (store/silence_cache.py) knows when it is stale, whichever process or replica wrote.
versions = Table(
    "versions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
)

# An alert group (route + group labels) is the incident record: opened by its first alert,
# resolved when all its alerts are.
incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_key", Text, nullable=False),
    Column("route_id", Text, nullable=False),
    Column("receiver", Text, nullable=False),
    Column("group_labels", Text, nullable=False),  # JSON object
    Column("status", String(16), nullable=False),  # pending|triggered|acknowledged|resolved
    Column("opened_at", Float, nullable=False),
    Column("first_alert_at", Float, nullable=False),
    Column("last_alert_at", Float, nullable=False),
    Column("resolved_at", Float, nullable=True),
    Column("last_flush_at", Float, nullable=True),
    Column("last_flush_digest", String(64), nullable=True),
    Column("group_wait_s", Float, nullable=False),
    Column("group_interval_s", Float, nullable=False),
    Column("repeat_interval_s", Float, nullable=False),
    # paging (0002): severity, acknowledgement, the escalation snapshot and its state
    Column("severity", String(64), nullable=True),
    Column("triggered_at", Float, nullable=True),
    Column("acknowledged_at", Float, nullable=True),
    Column("acknowledged_by", Text, nullable=True),
    Column("resolved_by", Text, nullable=True),
    Column("escalation", Text, nullable=True),  # JSON: policy snapshot, labels, state
    Column("channels", Text, nullable=True),  # JSON list: the route's channels
    # incident response (0003): the record people keep. The incident number is its id.
    Column("title", Text, nullable=True),
    Column("stage", String(16), nullable=True),  # investigating|identified|monitoring|resolved
    Column("assignee", Text, nullable=True),
    Column("commander", Text, nullable=True),
    Column("last_update_at", Float, nullable=True),  # the last status update sent
    Column("reopened_at", Float, nullable=True),
    # postmortems (0006): draft (None) | in-review | published
    Column("postmortem_status", String(16), nullable=True),
    # what a flush knows of all its alerts, kept up to date from those that changed (0008;
    # JSON, incidents/tally.py); None: the next flush reads them all
    Column("tally", Text, nullable=True),
    # alert storms (0009): the storm the incident was folded into (its lead carries it)
    Column("storm_id", Integer, nullable=True),
    Index("ix_incidents_open", "group_key", "status"),
    Index("ix_incidents_status", "status", "id"),
    # how many incidents a route triggered in a storm's window (engine/storm.py)
    Index("ix_incidents_route_triggered", "route_id", "triggered_at"),
    Index("ix_incidents_storm", "storm_id", "id"),
)

# Alert storms (0009): a route triggered more incidents in a window than its `storm:` allows;
# the rest are held in one digest, carried (paged, escalated, acknowledged) by its lead.
storms = Table(
    "storms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("route_id", Text, nullable=False),
    Column("route_name", Text, nullable=False),  # as the digest and /metrics name it
    Column("lead_id", Integer, nullable=False),  # the incident whose messages are the digest
    Column("started_at", Float, nullable=False),
    Column("window_s", Float, nullable=False),
    Column("last_held_at", Float, nullable=False),
    Column("held", Integer, nullable=False),  # incidents folded in, the lead included
    Column("last_update_at", Float, nullable=False),  # the digest last went out
    Column("told_held", Integer, nullable=False),  # what ``held`` was then
    Column("updates", Integer, nullable=False, default=0),
    Column("ended_at", Float, nullable=True),
    Index("ix_storms_route", "route_id", "id"),
)

incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    Column("fingerprint", String(16), primary_key=True),
    Column("added_at", Float, nullable=False),
    # what the timeline last said of the alert (0007): fired | resolved | silenced | inhibited,
    # and whether a flush ever sent it as firing (its end is then news). Kept here, not as one
    # timeline event per alert: a flush writes one event with counts (incidents/flush.py)
    Column("said", String(16), nullable=True),
    Column("sent", Boolean, nullable=False, server_default=false()),
    # (0008) joined, or changed state, since the last flush: the flush looks at it again; the
    # others it knows from the incident's tally (incidents/tally.py)
    Column("dirty", Boolean, nullable=False, server_default=false()),
    Index(
        "ix_incident_alerts_dirty",
        "incident_id",
        sqlite_where=text("dirty"),
        postgresql_where=text("dirty"),
    ),
)

# Work the engine must do at a time: group flushes now, escalation steps and deliveries later.
due_work = Table(
    "due_work",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("ref", Integer, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    # a delivery's lane (0010, oncall/throttle.priority): claimed smallest first, then by age
    Column("priority", Integer, nullable=False, server_default="0"),
    UniqueConstraint("kind", "ref", name="uq_due_work_kind_ref"),
    Index("ix_due_work_due", "due_at"),
    Index("ix_due_work_lane", "kind", "priority", "due_at"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Index("ix_timeline_incident", "incident_id", "id"),
    # reads of some kinds (the figures, status updates) cost those events, not the timeline's
    Index("ix_timeline_incident_kind", "incident_id", "kind", "id"),
)

# The outbox: a notification is written in the transaction that decides to send it, then
# delivered (at least once) by the engine.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("target", Text, nullable=False),  # user:alice, channel:slack-ops, …
    Column("kind", String(32), nullable=False),  # firing, resolved, escalation, …
    Column("message", Text, nullable=False),  # JSON (notify.message)
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # pending | sent | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("fallback_of", Integer, nullable=True),
    # a person's later notification (a rule "SMS after 2m", 0018): not sent before this time;
    # cancelled (status ``cancelled``) if the incident is acknowledged or resolved first
    Column("not_before", Float, nullable=True),
    Index("ix_notifications_incident", "incident_id", "id"),
)

# Each person's limit on each channel (0010): the token bucket that replicas share
# (oncall/throttle), and what it held back until a summary tells it.
contact_buckets = Table(
    "contact_buckets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("tokens", Float, nullable=False),
    Column("at", Float, nullable=False),
    Column("target", Text, nullable=False),  # what the summary is addressed to (user:alice)
    Column("recipient", Text, nullable=False),  # JSON: the person, as messages name them
    UniqueConstraint("person", "channel", name="uq_contact_buckets_person_channel"),
)

held_back = Table(
    "held_back",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bucket_id", Integer, ForeignKey("contact_buckets.id"), nullable=False),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("summary_id", Integer, nullable=True),  # the summary that told it (None: not yet)
    Index("ix_held_back_bucket", "bucket_id", "summary_id", "id"),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=False, default=""),
    Column("duration_ms", Float, nullable=False),
    Column("owner", String(64), nullable=False),
    Index("ix_attempts_notification", "notification_id", "id"),
)

# Schedule overrides: someone takes (or joins) a schedule for a while.
overrides = Table(
    "overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", Text, nullable=False),
    Column("user_name", Text, nullable=False),
    Column("replaces", Text, nullable=True),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Index("ix_overrides_schedule", "schedule", "ends_at"),
)

# Follow-ups from an incident's review: an owner, a due date, a status.
action_items = Table(
    "action_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("status", String(16), nullable=False),  # open | done | cancelled
    Column("created_at", Float, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("closed_at", Float, nullable=True),
    # post-incident duties (0006): report | postmortem | meeting (None: an item people added)
    Column("duty", String(16), nullable=True),
    Column("remind_at", Float, nullable=True),  # when its owner is reminded (None: done)
    Index("ix_action_items_incident", "incident_id", "id"),
    Index("ix_action_items_status", "status", "due_at"),
)

# Runbook commands run for an incident (0013, docs/execute.md): the text as run, who asked
# and approved, the runner and its target, when and how it ended, its output (capped).
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("step", Integer, nullable=False),  # the command's number in the incident's runbook
    Column("section", Text, nullable=False),  # the runbook section: "file.md: Title"
    Column("language", String(32), nullable=False),
    Column("risk", String(16), nullable=False),  # read | change | destructive
    Column("command", Text, nullable=False),  # the text as it runs
    Column("params", Text, nullable=False),  # JSON: SQL's bound parameters
    Column("labels", Text, nullable=False),  # JSON: the alert's labels (ssh's host label)
    Column("digest", String(64), nullable=False),  # what an approval approves
    Column("runner", Text, nullable=True),
    Column("target", Text, nullable=True),
    # awaiting | queued | running | finished | refused (runbooks/gate.py)
    Column("status", String(16), nullable=False),
    Column("automatic", Boolean, nullable=False),
    Column("reason", Text, nullable=False),  # what it waits for, or why it was refused
    Column("requested_by", Text, nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("approved_by", Text, nullable=True),
    Column("approved_at", Float, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("owner", String(64), nullable=True),  # the process running it
    Column("finished_at", Float, nullable=True),
    Column("result", String(16), nullable=True),  # ok | failed | timeout | error
    Column("exit_code", Integer, nullable=True),
    Column("output", Text, nullable=True),
    Column("truncated", Boolean, nullable=False, server_default=false()),
    Column("error", Text, nullable=True),
    Column("told", Boolean, nullable=False, server_default=false()),  # in a follow-up message
    Index("ix_runs_incident", "incident_id", "id"),
    Index("ix_runs_status", "status", "id"),
)

# Action links used (0014, issue 21): a link to acknowledge or resolve from a message acts
# once; its nonce is kept with who used it and when.
used_links = Table(
    "used_links",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("used_by", Text, nullable=False),
    Column("used_at", Float, nullable=False),
)

# Signed inbound requests seen (0015, issue 21): a request from Slack, an SMS gateway or
# PagerDuty is acted on once; the same one again (a replay) is refused. Kept a day.
inbound_seen = Table(
    "inbound_seen",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("seen_at", Float, nullable=False),
    Index("ix_inbound_seen_at", "seen_at"),
)

# A Slack app's message for an incident in one conversation (0016, issue 21): the first
# message posted there, which later ones edit in place (chat.update) and reply under (its
# thread). ``conversation`` is where tocsin posts (a configured channel, or a member ID for a
# direct message); ``slack_channel`` and ``ts`` are what Slack answered.
slack_messages = Table(
    "slack_messages",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    Column("channel", String(200), primary_key=True),  # the tocsin channel's name
    Column("conversation", String(200), primary_key=True),
    Column("slack_channel", String(64), nullable=False),
    Column("ts", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_slack_messages_ts", "slack_channel", "ts"),
)

# SMS and calls sent through a Twilio-shaped gateway (0017, issue 21): what the gateway
# answered (its SID), so that a reply, a key pressed on a call and a delivery status callback
# find the incident and the person; ``status`` is the gateway's latest word.
sms_sent = Table(
    "sms_sent",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("channel", Text, nullable=False),
    Column("kind", String(8), nullable=False),  # sms | voice
    Column("to_number", String(20), nullable=False),
    Column("user_name", Text, nullable=False),  # "" when the message was to no person
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_code", String(16), nullable=True),
    Column("sent_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_sms_sent_to_number", "to_number", "sent_at"),
)

# Maintenance windows (0019, issue 22): from ``starts_at`` until ``ends_at`` (null: until
# ended), an incident of the route of ``receiver`` or whose firing alerts all match
# ``matchers`` (a JSON list of Alertmanager matchers) pages nobody; with ``time_interval``
# (a configured name) only while that interval holds. Ending one sets ``ended_at``.
maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("matchers", Text, nullable=False),
    Column("receiver", Text, nullable=True),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=True),
    Column("time_interval", Text, nullable=True),
    Column("comment", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("ended_by", Text, nullable=True),
    Index("ix_maintenance_windows_ends", "ended_at", "ends_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),  # what the token is for
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # who acts with it: the name on the timeline (tokens of before 0005 keep their name)
    Column("user_name", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

# The console's passwords (0012): one per user, an argon2id hash (never the password), the
# role it signs in as, and a random stamp the session cookie names: setting or removing the
# password changes or drops it, which ends the sessions signed in with the one before.
user_passwords = Table(
    "user_passwords",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("stamp", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Failed password sign-ins per user name (0012), known or not, in a window that starts at the
# first failure: the throttle every process of the server shares.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_at", Float, nullable=False),
)

# PagerDuty-style events name their alert by dedup_key; this finds its labels again.
event_keys = Table(
    "event_keys",
    metadata,
    Column("dedup_key", String(255), primary_key=True),
    Column("labels", Text, nullable=False),  # JSON object
    Column("created_at", Float, nullable=False),
)

# Personal notification rules (0018, oncall/contacts.py): a person who set their own contact
# methods and rules has a profile; its methods and rules replace the configuration's.
contact_profiles = Table(
    "contact_profiles",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(200), nullable=False),
)

contact_methods = Table(
    "contact_methods",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(200), nullable=False),
    Column("name", String(40), nullable=False),
    Column("channel", Text, nullable=False),
    Column("address", Text, nullable=True),  # None: the user's own for the channel's type
    Column("position", Integer, nullable=False),
    Column("source", String(16), nullable=False),  # config | user
    Column("verified_at", Float, nullable=True),  # a user-added method: its code matched
    Column("created_at", Float, nullable=False),
    UniqueConstraint("user_name", "name", name="uq_contact_methods_user_name"),
)

notification_rules = Table(
    "notification_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("contact", String(40), nullable=False),
    Column("after_s", Float, nullable=False),
    Index("ix_notification_rules_user", "user_name", "position"),
)

# A verification code sent and not yet matched: its HMAC (never the code), expiry, wrong tries.
contact_codes = Table(
    "contact_codes",
    metadata,
    Column("user_name", String(200), primary_key=True),
    Column("method", String(40), primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("address", Text, nullable=True),  # the address the code was sent to
    Column("expires_at", Float, nullable=False),
    Column("tries", Integer, nullable=False),
    Column("sent_at", Float, nullable=False),
)

# Tests and codes sent to a person's methods (their limit per person and window).
contact_sends = Table(
    "contact_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # test | code
    Column("method", String(40), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_contact_sends_user", "user_name", "kind", "at"),
)

# Heartbeat monitors' state (0020, issue 22; alerts/heartbeat.py): one row per configured
# heartbeat, by name; its due work (kind ``heartbeat``) has the row's id as ref. ``since``:
# when it was first watched (the first deadline counts from it); while ``missed``, since when
# (``missed_at``) and the labels of the alert that fires (``labels``, JSON), so that the beat
# that resolves it ends the very alert that fired.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # ok | missed
    Column("since", Float, nullable=False),
    Column("last_beat", Float, nullable=True),
    Column("beats", Integer, nullable=False, default=0),
    Column("missed_at", Float, nullable=True),
    Column("labels", Text, nullable=True),
)
