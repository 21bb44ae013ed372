"""Pictures of what the model sees: granular-ball overlays and component attention maps.

    python tools/visualize.py graph face.jpg graph.png --feature mean
    python tools/visualize.py components CHECKPOINT face.jpg components.png
    python tools/visualize.py faces photo.jpg group.jpg --out faces.png --all-faces

``graph`` draws the face's granular-ball graph over it (paper Figure 1b), with the GBR
parameters of --checkpoint when given, else the defaults. ``components`` draws, for each
component k, the Grad-CAM of C_k^v over the image and the attribution of C_k^s on the graph's
nodes, plus the fusion weights W (paper Figure 6). ``faces`` draws the face step's boxes and
5 landmarks on each photo beside the aligned crops the model is given (with --checkpoint,
that checkpoint's framing and image size). Training curves and confusion matrices are
written into every run folder by experiments/run.py (curves.png, confusion_test.png).
Exit status: 0 done, 1 error (one line), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the checkpoint, never a hub

from rich.console import Console  # noqa: E402

from fer_graph.faces.params import DETECTORS  # noqa: E402
from fer_graph.granular.graph import FEATURE_NAMES  # noqa: E402

# Side of the crop that --detect-faces hands on without a checkpoint: the graph is built at
# the GBR size anyway, and 96 px keeps the picture legible.
FACE_SIZE = 96


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    graph = sub.add_parser("graph", help="granular-ball graph over the face (Figure 1b)")
    graph.add_argument("image")
    graph.add_argument("out", help="output PNG")
    graph.add_argument("--feature", default="mean", choices=FEATURE_NAMES)
    graph.add_argument("--checkpoint", help="use this checkpoint's GBR parameters")
    graph.add_argument("--detect-faces", action="store_true", help="crop the largest face first")
    graph.add_argument("--dpi", type=int, default=200)
    comp = sub.add_parser("components", help="component CAMs, node attributions and W (Figure 6)")
    comp.add_argument("checkpoint")
    comp.add_argument("image")
    comp.add_argument("out", help="output PNG")
    comp.add_argument("--target", help="class name or index to explain (default: the predicted class)")
    comp.add_argument("--detect-faces", action="store_true", help="crop the largest face first")
    comp.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto")
    comp.add_argument("--dpi", type=int, default=100)
    faces = sub.add_parser("faces", help="detected boxes, 5 landmarks and the aligned crops")
    faces.add_argument("images", nargs="+", metavar="IMAGE")
    faces.add_argument("--out", default="faces.png", help="output PNG")
    faces.add_argument("--checkpoint", help="use this checkpoint's face framing and image size")
    faces.add_argument("--all-faces", action="store_true", help="every face found, not only the largest")
    faces.add_argument("--face-detector", choices=DETECTORS, default=None)
    faces.add_argument("--size", type=int, default=FACE_SIZE, help=f"crop side without --checkpoint ({FACE_SIZE})")
    faces.add_argument("--dpi", type=int, default=120)
    return parser.parse_args(argv)


def _image(args: argparse.Namespace, console: Console, config: dict | None = None):
    from fer_graph.data.readers import load_image

    image = load_image(args.image)
    if args.detect_faces:
        from fer_graph.faces import FaceParams, FaceStep
        from fer_graph.inference.faces import face_step_for

        step = face_step_for(config) if config else FaceStep(FaceParams(size=FACE_SIZE))
        face = step.run(image)[0]
        console.print(f"{args.image}: {face.record.note}", highlight=False)
        if face.image is None:
            raise ValueError(f"{args.image}: no face found")
        image = face.image
    return image


def _faces(args: argparse.Namespace, console: Console) -> Path:
    from dataclasses import replace

    from fer_graph.data.readers import load_image
    from fer_graph.faces import FaceParams, FaceStep
    from fer_graph.inference.faces import face_params_for
    from fer_graph.viz.faces import save_faces

    if args.checkpoint:
        from fer_graph.inference.loading import load_model

        params = face_params_for(load_model(args.checkpoint).config)
    else:
        params = FaceParams(size=args.size)
    changes = {"select": "all"} if args.all_faces else {}
    if args.face_detector:
        changes["detector"] = args.face_detector
    step = FaceStep(replace(params, **changes))
    images = [load_image(path) for path in args.images]
    results = [step.run(image) for image in images]
    for path, faces in zip(args.images, results):
        console.print(f"{path}: " + "; ".join(f.record.note for f in faces), highlight=False)
    return save_faces(args.out, images, results, [Path(p).name for p in args.images], dpi=args.dpi)


def _graph(args: argparse.Namespace, console: Console) -> Path:
    from fer_graph.granular.build import build_graph
    from fer_graph.granular.graph import GBRParams
    from fer_graph.viz.graph_overlay import save_graph_overlay

    params, config = GBRParams(), None
    if args.checkpoint:
        from fer_graph.inference.loading import load_model

        loaded = load_model(args.checkpoint)
        params, config = loaded.graph_params or params, loaded.config
    image = _image(args, console, config)
    graph = build_graph(image, params)
    name = Path(args.image).name
    return save_graph_overlay(image, graph, args.out, feature=args.feature, dpi=args.dpi,
                              title=f"{name}: {graph.num_nodes} nodes, {graph.num_edges} edges")


def _target(text: str | None, class_names: list[str]) -> int | None:
    if text is None:
        return None
    if text in class_names:
        return class_names.index(text)
    if text.isdigit() and int(text) < len(class_names):
        return int(text)
    raise ValueError(f"--target {text!r} is neither a class ({', '.join(class_names)}) nor an index")


def _components(args: argparse.Namespace, console: Console) -> Path:
    from fer_graph.inference.cam import component_maps
    from fer_graph.inference.loading import load_model
    from fer_graph.viz.components import caption, save_components

    loaded = load_model(args.checkpoint, device=args.device)
    target = _target(args.target, loaded.class_names)
    image = _image(args, console, loaded.config)
    maps = component_maps(loaded, image, target)
    title = f"{Path(args.image).name}: {caption(loaded.class_names, maps.probabilities, maps.target)}"
    return save_components(args.out, image, maps.visual_upsampled, maps.weights, maps.graph, maps.nodes,
                           title=title, dpi=args.dpi)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    from fer_graph.data.readers import ImageReadError
    from fer_graph.faces import FaceModelError
    from fer_graph.inference.loading import CheckpointError

    try:
        out = {"graph": _graph, "components": _components, "faces": _faces}[args.command](args, console)
    except (ImageReadError, CheckpointError, FileNotFoundError, ValueError, FaceModelError) as err:
        console.print(f"error: {err}", highlight=False, markup=False)
        return 1
    console.print(f"wrote {out}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
