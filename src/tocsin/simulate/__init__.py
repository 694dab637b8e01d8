"""``tocsin simulate``: a scenario run through the real pipeline on a virtual clock.

A scenario is a configuration, a start time and timed events. The simulation takes alerts in
as the Alertmanager API does, lets the real engine flush groups, trigger incidents, escalate,
miss deadlines and deliver the outbox with the real retry policy, on a ``VirtualClock`` over an
in-memory SQLite database, and reads the timeline back. Nothing leaves the process: every
channel is replaced by one that records the message and answers as the scenario says (success
by default), so retries, dead letters and fallback channels run exactly as in production. An
hour of escalation takes well under a second, which is also how the tests use it. See
docs/simulate.md.

The package follows a simulation from file to screen:
- ``scenario.py``: the file read and validated (the format is in its docstring), its
  configuration loaded and checked against it;
- ``channels.py``: the simulated channels, and ``Sent``, one delivery attempt they received;
- ``results.py``: the timeline (``Entry``), the summary per incident and the ``Result``;
- ``run.py``: the runner that plays the scenario through the engine (``run``, ``simulate_file``);
- ``output.py``: the timeline as JSON lines or a table, the summary, the report.

This module is its public face: the CLI (``cli/simulation.py``) and the tests import from here.
"""

from tocsin.simulate.channels import Sent
from tocsin.simulate.output import json_lines, report, summary, timeline_table
from tocsin.simulate.results import EXTRA_KINDS, Entry, IncidentSummary, Result
from tocsin.simulate.run import SimulationError, run, simulate_file
from tocsin.simulate.scenario import (
    ChannelFailure,
    Event,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_config,
)

__all__ = [
    "EXTRA_KINDS",
    "ChannelFailure",
    "Entry",
    "Event",
    "IncidentSummary",
    "Result",
    "Scenario",
    "ScenarioError",
    "Sent",
    "SimulationError",
    "json_lines",
    "load_scenario",
    "parse_scenario",
    "report",
    "run",
    "scenario_config",
    "simulate_file",
    "summary",
    "timeline_table",
]
