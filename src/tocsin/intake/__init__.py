"""The intake's durable half: batches the API has parsed, validated and routed
(``api/intake.py``, ``api/alertmanager.py``, ``alerts/payloads.py``, ``routing/group.py``) are
stored and committed together (``commit``), by a thread (``writer``) or by a process of their
own (``process``, over ``wire``), the writers taking turns at the database (``turn``). The
store stage of the data path (intake → **store** → mute → route/group → incident), through
``store/repo.py``. The flush at intake, the engine's, comes in as a callable the server wires
in (``intake.commit.AfterStore``, ``intake.process.Flush``): intake/ imports neither engine/
nor api/."""
