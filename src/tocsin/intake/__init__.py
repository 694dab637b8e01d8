"""Intake's durable half: batches that the API has parsed, validated and routed are stored and
committed together (``commit``), by a thread (``writer``) or a process of their own
(``process``, over ``wire``), the writers taking turns at the database (``turn``). Stage two of
the data path (intake → **store** → mute → route/group → incident); it hands the flush at
intake to the engine through a callable the server wires in, and imports neither engine/
nor api/."""
