"""On call: schedules, rotations, overrides, escalation policies and severity deadlines (pure)."""
