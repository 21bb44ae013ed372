"""Train and evaluate one experiment YAML, or run its Ray Tune search.

Usage:
    python experiments/run.py experiments/configs/quickstart.yaml [section.key=value ...] [--address ADDR]

Without a `search:` section: check the dataset, build or reuse the graphs, train every seed x
fold, select on validation, evaluate the test split once, write results under
`<experiment.output_dir>/<experiment.name>/`. With one: run Ray Tune and write the best config
as a runnable YAML. Exit codes: 0 done, 2 config error, 3 training diverged.
"""

from __future__ import annotations

import argparse
import os
import sys

# Before ray is imported anywhere: no auth token written under the home folder.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from fer_graph.terminal import make_console  # noqa: E402
from fer_graph.training.cli import STOPPING_ERRORS, report_stop  # noqa: E402
from fer_graph.training.config import load_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="experiment YAML")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=3e-4 train.epochs=5")
    parser.add_argument("--address", default=None, help="existing Ray cluster (graph building and search)")
    args = parser.parse_args(argv)
    console = make_console()
    try:
        config = load_config(args.config, args.overrides)
        if args.address:
            config["graphs"]["address"] = args.address
        if "search" in config:
            from fer_graph.training.search import run_search

            run_search(config, console, address=args.address)
        else:
            from fer_graph.training.experiment import run_experiment

            run_experiment(config, console)
    except STOPPING_ERRORS as err:
        return report_stop(err, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
