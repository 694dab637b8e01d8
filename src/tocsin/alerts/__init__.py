"""Alerts: the model, Alertmanager-identical fingerprints, label matchers, silences and
inhibition. Second stage of the data path (intake → store → **mute**); pure rules, no I/O."""
