"""Benchmark: ``tocsin simulate`` over long spans (a critical alert nobody acknowledges, the
example configuration), with idle flushes skipped and, for the shorter spans, stepped.

Prints per span the engine passes run, the idle flushes passed over, the timeline's length
and the seconds taken. Tests assert passes, never seconds; this is where the seconds are.

    .venv/bin/python bench/simulate.py [--days 1 7 30 90] [--stepped-up-to 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tocsin import simulate as sim

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "scenarios" / "nobody-acknowledges.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--days", type=int, nargs="*", default=[1, 7, 30, 90])
    parser.add_argument("--stepped-up-to", type=int, default=2, help="days; stepping is slow")
    args = parser.parse_args()
    text = SCENARIO.read_text().replace(
        "config: ../tocsin.yaml", f"config: {ROOT}/examples/tocsin.yaml"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for days in args.days:
            path = Path(tmp) / f"{days}d.yaml"
            path.write_text(text.replace("until: 2h45m", f"until: {days}d"))
            scenario = sim.load_scenario(path)
            config = sim.scenario_config(scenario)
            modes = [True] + ([False] if days <= args.stepped_up_to else [])
            for skip in modes:
                began = time.perf_counter()
                result = sim.run(scenario, config, skip_idle=skip)
                took = time.perf_counter() - began
                mode = "skipping" if skip else "stepping"
                print(
                    f"{days:3d} d  {mode}: {result.steps:6d} passes, {result.skipped:6d} idle "
                    f"flushes skipped, {len(result.entries):5d} timeline lines, {took:6.2f} s"
                )


if __name__ == "__main__":
    main()
