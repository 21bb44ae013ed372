"""Build the granular-ball graph store (one HDF5 file) of a dataset with Ray tasks.

    python tools/build_graphs.py ../shared/datasets/fer2013 graphs/fer2013.h5 --workers 2

Exit status: 0 all built, 1 error (one line on stderr), 2 bad arguments, 3 built but some
images failed (listed in the summary and in the file's /failures table). Rerunning the same
command after an interruption resumes it.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from rich.console import Console  # noqa: E402

from fer_graph.data.build import DEFAULT_CHUNK_SIZE, build_graph_store, print_summary  # noqa: E402
from fer_graph.data.build_cluster import SHIP_IMAGES, ClusterSetupError  # noqa: E402
from fer_graph.data.layouts import parse_layout_options  # noqa: E402
from fer_graph.data.readers import LAYOUTS, DatasetLayoutError, discover  # noqa: E402
from fer_graph.errors import ConfigError  # noqa: E402
from fer_graph.granular.graph import EDGE_RULES, GBRParams  # noqa: E402

EXIT_FAILURES = 3


def _image_size(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = GBRParams()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="dataset folder (or FER CSV file)")
    parser.add_argument("out", help="output HDF5 file")
    parser.add_argument("--layout", default="auto", choices=("auto", *LAYOUTS))
    parser.add_argument("--layout-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a data.layout_options entry, e.g. frames=1 (repeatable)")
    parser.add_argument("--workers", type=int, default=None, help="chunks built at once (default: all CPUs)")
    parser.add_argument("--address", default=None, help="existing Ray cluster (default: local)")
    parser.add_argument("--ship-images", default="auto", choices=SHIP_IMAGES,
                        help="on a cluster, send image bytes with each task: where a node cannot read "
                             "the dataset's paths (auto), always, or never (stop naming the path)")
    parser.add_argument("--image-size", type=_image_size, default=defaults.image_size,
                        help="resize side before GBR, or 'none' to keep each image's size")
    parser.add_argument("--purity", type=float, default=defaults.purity)
    parser.add_argument("--tau", type=float, default=defaults.tau)
    parser.add_argument("--v-max", type=float, default=defaults.v_max)
    parser.add_argument("--edge-rule", default=defaults.edge_rule, choices=EDGE_RULES)
    parser.add_argument("--max-nodes", type=int, default=defaults.max_nodes)
    parser.add_argument("--reference-stop", action="store_true",
                        help="reproduce the reference's untested-step quirk")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--float32", action="store_true", help="store features as float32")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the summary stays)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    try:
        params = GBRParams(purity=args.purity, tau=args.tau, v_max=args.v_max,
                           image_size=args.image_size, edge_rule=args.edge_rule,
                           max_nodes=args.max_nodes, reference_stop=args.reference_stop)
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        index = discover(args.root, args.layout, parse_layout_options(args.layout_option))
    except (DatasetLayoutError, ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line, never wrapped
        return 1
    if index.left_out:
        console.print(f"{index.root} ({index.layout}): left out {index.left_out_summary()}", highlight=False)
    try:
        summary = build_graph_store(
            index, args.out, params, num_workers=args.workers, address=args.address,
            progress=not args.no_progress, chunk_size=args.chunk_size,
            feature_dtype="float32" if args.float32 else "float16", ship_images=args.ship_images,
        )
    except ClusterSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.no_progress:  # the bar is off, the summary table is still wanted
        print_summary(summary, console)
    if summary.failures:
        console.print(f"{len(summary.failures)} of {summary.num_samples} images failed", style="red")
        return EXIT_FAILURES
    return 0


if __name__ == "__main__":
    sys.exit(main())
