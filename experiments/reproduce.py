"""Rerun one recorded (config, seed) of a study and compare its numbers with the record.

Usage:
    python experiments/reproduce.py docs/results/STUDY.json --arm ARM --seed S
        [--runs-dir runs/reproduce] [--set section.key=value ...] [--tolerance POINTS]

Loads the arm's committed config as the study resolved it, refuses when it no longer hashes as
recorded, trains it afresh under `--runs-dir` (an interrupted reproduction resumes) and prints
every recorded metric beside the rerun's. Give the `--set` overrides the study ran with, if any
change the hash (`train.progress` does not). Exit codes: 0 the numbers agree (within
`--tolerance` percentage points; 0 asks for the same bits), 2 config error, 3 training
diverged, 4 the numbers differ.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from fer_graph.terminal import make_console  # noqa: E402
from fer_graph.training.cli import STOPPING_ERRORS, report_stop  # noqa: E402

DIFFER = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study_json", help="a study's JSON, e.g. docs/results/fer2013_small.json")
    parser.add_argument("--arm", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--runs-dir", default="runs/reproduce", help="where the rerun trains")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override the study ran with, e.g. --set train.epochs=1")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="largest difference accepted, in percentage points (for W std, this over 100; epochs must match)")
    args = parser.parse_args(argv)
    console = make_console()
    from fer_graph.training.reproduce import print_comparison, reproduce_run

    try:
        lines = reproduce_run(args.study_json, args.arm, args.seed, args.runs_dir, args.overrides, console)
    except STOPPING_ERRORS as err:
        return report_stop(err, console)
    print_comparison(lines, console)
    differing = [line for line in lines if line["difference"] is None
                 or abs(line["difference"]) > (0 if line["metric"] == "epochs" else args.tolerance / 100)]
    if differing:
        names = ", ".join(sorted({line["metric"] for line in differing}))
        console.print(f"differs from the record: {names}", style="bold red")
        return DIFFER
    console.print(f"{args.arm} seed {args.seed} reproduces its recorded numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
