"""Draw a face's granular-ball graph over the face as a PNG (the paper's Figure 1b).

    python tools/draw_graph.py face.jpg graph.png --feature mean
    python tools/draw_graph.py --store graphs/fer2013.h5 --id test/happy/PrivateTest_10077120.jpg graph.png

From an image the graph is built now (GBR parameters as options); from a store the stored
graph is drawn over the sample's image, found under the store's dataset root (or --root).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from fer_graph.data.readers import DatasetLayoutError, ImageReadError, discover, load_image
from fer_graph.data.store import GraphStore
from fer_graph.granular.graph import EDGE_RULES, FEATURE_NAMES, GBRParams
from fer_graph.viz.graph_overlay import save_graph_overlay


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = GBRParams()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="[IMAGE] OUT",
                        help="input image and output PNG, or only the PNG with --store")
    parser.add_argument("--store", help="graph store (HDF5) to draw a stored graph from")
    parser.add_argument("--id", dest="sample_id", help="sample id in the store")
    parser.add_argument("--root", help="dataset root for --store (default: the one it was built from)")
    parser.add_argument("--feature", default="mean", choices=FEATURE_NAMES)
    parser.add_argument("--cmap", default="viridis")
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--purity", type=float, default=defaults.purity)
    parser.add_argument("--tau", type=float, default=defaults.tau)
    parser.add_argument("--v-max", type=float, default=defaults.v_max)
    parser.add_argument("--edge-rule", default=defaults.edge_rule, choices=EDGE_RULES)
    parser.add_argument("--max-nodes", type=int, default=defaults.max_nodes)
    args = parser.parse_args(argv)
    expected = 1 if args.store else 2
    if len(args.paths) != expected:
        parser.error("give OUT with --store and --id, otherwise IMAGE OUT")
    if args.store and not args.sample_id:
        parser.error("--store needs --id")
    return args


def _stored(args: argparse.Namespace):
    with GraphStore(args.store) as store:
        graph = store.get(args.sample_id)
        root, layout = args.root or store.root, store.layout
    if layout == "fer_csv":
        index = discover(root, layout)
        sample = next(s for s in index.samples if s.id == args.sample_id)
        return index.load(sample), graph, f"{args.sample_id} ({Path(root).name})"
    return load_image(Path(root) / args.sample_id), graph, args.sample_id


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    try:
        if args.store:
            image, graph, name = _stored(args)
        else:
            from fer_graph.granular.build import build_graph

            params = GBRParams(purity=args.purity, tau=args.tau, v_max=args.v_max,
                               image_size=args.image_size, edge_rule=args.edge_rule,
                               max_nodes=args.max_nodes)
            image = load_image(args.paths[0])
            graph, name = build_graph(image, params), Path(args.paths[0]).name
    except (ImageReadError, DatasetLayoutError, KeyError, FileNotFoundError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)  # one line, never wrapped
        return 1
    out = save_graph_overlay(image, graph, args.paths[-1], feature=args.feature, cmap=args.cmap,
                             title=f"{name}: {graph.num_nodes} nodes, {graph.num_edges} edges")
    console.print(f"wrote {out}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
