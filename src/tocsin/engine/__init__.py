"""The engine: one due-work loop per process (group flushes now; escalation steps, deadlines
and deliveries later), the clock, and leases so that several processes share the work."""
