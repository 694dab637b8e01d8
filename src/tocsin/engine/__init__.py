"""The engine: one due-work loop per process (``loop``), whose cycle (``loop.CYCLE``) hands
each kind of due work to its stage: ``flush``, ``trigger``, ``escalate``, ``deadline``,
``acknowledgement``, ``resolution``, ``reminders``, and ``deliver`` after the commit; messages
are written by ``messages``. ``paging.Pager`` is the stages behind one object, for the front
doors. Leases let several processes share the work."""
