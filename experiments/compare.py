"""Compare experiment configs over seeds: train what is missing, then write the comparison.

Usage:
    python experiments/compare.py A.yaml B.yaml ... --seeds 0 1 2 [--baseline A] [--study NAME]
        [--dataset fer2013] [--budget proxy] [--runs-dir runs/studies] [--out docs/results]
        [--set section.key=value ...] [--report-only] [--only-given] [--plan]

Each config is an arm named after its file. The runs an earlier `<out>/<study>.json` lists stay
in the report, read back from their run folders and never retrained, so one arm's missing seed
can run alone (`--only-given` reports only the configs and seeds given; deleting an arm's config
file drops it). Seeds run in the outer loop, so a stopped study holds whole seeds; a rerun reads
every (config, seed) that finished (same config hash) and resumes an interrupted one from its
last epoch. Writes `<out>/<study>.json` (every run's metrics, config hash and commit),
`<study>.md` (mean ± std per arm, paired differences against the baseline) and `<study>.png`,
and keeps each finished run's run.json, log.csv and test metrics under `<out>/runs/<study>/`
(to commit): a fresh clone reads them back instead of retraining. Exit codes: 0 done, 2 config
error, 3 training diverged.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from fer_graph.terminal import make_console  # noqa: E402
from fer_graph.training.cli import STOPPING_ERRORS, report_stop  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", help="experiment YAMLs, one per arm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--baseline", default=None,
                        help="arm the others are paired against (default: the earlier report's, else the first)")
    parser.add_argument("--study", default=None, help="study name (default: the first config's folder name)")
    parser.add_argument("--dataset", default="", help="dataset name recorded in the JSON")
    parser.add_argument("--budget", default="", help="budget recorded in the JSON, e.g. proxy or full")
    parser.add_argument("--runs-dir", default="runs/studies", help="where the study's run folders go")
    parser.add_argument("--out", default="docs/results", help="where the table, JSON and PNG go")
    parser.add_argument("--archive", default=None,
                        help="where finished runs' small files are kept in the repository (default: <out>/runs)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="override applied to every arm, e.g. --set train.epochs=1")
    parser.add_argument("--report-only", action="store_true", help="read finished runs, train nothing")
    parser.add_argument("--plan", action="store_true",
                        help="list what is left per (config, seed) and the minutes it should take; train nothing")
    parser.add_argument("--only-given", action="store_true",
                        help="report only the configs and seeds given, not the runs of an earlier report")
    args = parser.parse_args(argv)
    console = make_console()
    from fer_graph.training.study import (archive_runs, arm_name, check_arms, report_arms,
                                          restore_from_study_json, restore_runs, run_study, study_plan)
    from fer_graph.training.study_report import print_plan, study_json, write_study_report

    study = args.study or Path(args.configs[0]).resolve().parent.name
    archive = Path(args.archive or Path(args.out) / "runs")
    report = Path(args.out) / f"{study}.json"
    try:
        read, gone, earlier_baseline = report_arms(args.configs, args.seeds, report, args.only_given)
        baseline = args.baseline or (earlier_baseline if earlier_baseline in read else arm_name(args.configs[0]))
        check_arms([config for config, _ in read.values()], baseline)
        if gone:
            console.print(f"dropped from the report, their configs are gone: {', '.join(gone)}")
        given = {arm_name(p) for p in args.configs}
        earlier_only = [name for name in read if name not in given]
        if earlier_only:
            console.print(f"kept from {report}, not trained: {', '.join(earlier_only)} (--only-given drops them)")
        restored = restore_runs(archive, args.runs_dir, study)
        if restored:
            console.print(f"{restored} finished runs restored from {archive / study}")
        recovered = restore_from_study_json(report, args.runs_dir)
        if recovered:
            console.print(f"{recovered} finished runs restored from {report} (their run folders were not archived)")
        if args.plan:
            print_plan(study_plan(args.configs, args.seeds, args.runs_dir, study, args.overrides), console)
            return 0
        if not args.report_only:
            run_study(args.configs, args.seeds, args.runs_dir, study, args.overrides, console)
        arms = {name: run_study([config], seeds, args.runs_dir, study, args.overrides, console, train=False)[name]
                for name, (config, seeds) in read.items()}
    except STOPPING_ERRORS as err:
        return report_stop(err, console)
    arms = {name: entry for name, entry in arms.items() if entry["runs"]}
    if not arms:
        console.print("no finished runs to compare yet")
        return 0
    data = study_json(study, args.dataset, args.budget, baseline, arms)
    paths = write_study_report(data, args.out)
    archive_runs(args.runs_dir, study, archive)
    console.print(paths["md"].read_text(), markup=False, highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
