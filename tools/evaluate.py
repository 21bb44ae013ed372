"""Evaluate a trained model on another labelled dataset, on the classes the two share.

    python tools/evaluate.py runs/fer2013_cpu/seed0/official/checkpoints/best.pt ../shared/datasets/ckplus48 --split all

Classes meet through the canonical emotion vocabulary (FER-2013 ``angry`` = CK+ ``anger``); the
classes only one side has are listed, and faces of classes the model lacks are left out and
counted. Writes what run.py's test evaluation writes (predictions_<split>.csv, metrics_<split>.json,
confusion_<split>.png) plus evaluation.json (classes, counts, failures) into --out, and prints
accuracy, UF1, UAR and the per-class table. Files that cannot be read are reported rows.
For uncropped datasets (photos, scenes), --detect-faces runs predict.py's face step on each
image first (the checkpoint's framing); an image without a face is a failure row.
Exit status: 0 all evaluated, 1 error (one line), 2 bad arguments, 3 some files failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the checkpoint, never a hub

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from fer_graph.inference.face_cli import add_face_arguments, check_face_arguments  # noqa: E402
from fer_graph.terminal import make_console  # noqa: E402

EXIT_FAILURES = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from fer_graph.data.readers import LAYOUTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="checkpoint .pt written by experiments/run.py")
    parser.add_argument("root", help="the labelled dataset's folder, in any layout tools/build_graphs.py reads")
    parser.add_argument("--layout", default="auto", choices=("auto", *LAYOUTS))
    parser.add_argument("--layout-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a data.layout_options entry, e.g. frames=1 (repeatable)")
    parser.add_argument("--split", default="test", help="split to evaluate (test, val, train) or all")
    parser.add_argument("--out", default=None, help="output folder (default runs/evaluate/<dataset folder>)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (CUDA when present)")
    parser.add_argument("--no-progress", action="store_true")
    add_face_arguments(parser)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    check_face_arguments(parser, args)
    args.out = Path(args.out) if args.out else Path("runs") / "evaluate" / Path(args.root).resolve().name
    return args


def _per_class_table(metrics: dict, title: str) -> Table:
    table = Table(title=title)
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in metrics["per_class"]:
        table.add_row(row["name"], f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}",
                      str(row["support"]))
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console, errors = make_console(), make_console(stderr=True)
    from fer_graph.data.layouts import parse_layout_options
    from fer_graph.data.readers import DatasetLayoutError, discover
    from fer_graph.errors import ConfigError
    from fer_graph.faces import FaceModelError
    from fer_graph.inference.face_cli import describe_face_step, face_step_from_args
    from fer_graph.inference.evaluate import evaluate_dataset
    from fer_graph.inference.loading import CheckpointError, load_model
    from fer_graph.inference.predict import write_csv
    from fer_graph.training.report import write_split_outputs

    try:
        loaded = load_model(args.checkpoint, device=args.device)
        faces = face_step_from_args(loaded.config, args, select="largest")
        index = discover(args.root, args.layout, parse_layout_options(args.layout_option))
        total = sum(args.split == "all" or s.split == args.split for s in index.samples)
        with Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=errors, disable=args.no_progress, transient=True) as progress:
            task = progress.add_task("evaluate", total=total)
            result = evaluate_dataset(loaded, index, args.split, args.batch_size,
                                      on_batch=lambda n: progress.advance(task, n), faces=faces)
    except (FileNotFoundError, CheckpointError, DatasetLayoutError, ConfigError, FaceModelError, ValueError,
            KeyError) as err:
        errors.print(f"error: {err}", highlight=False, markup=False)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    console.print(f"{index.root} ({index.layout}), split {args.split}: shared classes {', '.join(result.shared)}",
                  highlight=False)
    console.print(f"model only: {', '.join(result.model_only) or 'none'}; dataset only: "
                  + (", ".join(f"{c} ({n} faces left out)" for c, n in result.dataset_only.items()) or "none"),
                  highlight=False)
    summary = {"checkpoint": str(Path(args.checkpoint).resolve()), "dataset": str(index.root),
               "layout": index.layout, "split": args.split, "shared_classes": result.shared,
               "model_only_classes": result.model_only, "dataset_only_faces": result.dataset_only,
               "evaluated": len(result.ids), "failed": len(result.failures),
               "face_step": describe_face_step(faces)}
    if result.ids:
        metrics = write_split_outputs(args.out, args.split, result.ids, result.labels, result.probabilities,
                                      result.shared)
        summary.update({k: metrics[k] for k in ("accuracy", "uf1", "uar")})
        console.print(_per_class_table(metrics, f"{len(result.ids)} faces: accuracy {metrics['accuracy']:.4f}  "
                                                f"UF1 {metrics['uf1']:.4f}  UAR {metrics['uar']:.4f}"))
    if result.failures:
        write_csv(result.failures, result.shared, args.out / f"failures_{args.split}.csv")
        table = Table(title=f"{len(result.failures)} file(s) not evaluated")
        table.add_column("file", overflow="fold")
        table.add_column("error", overflow="fold")
        for row in result.failures:
            table.add_row(row.path, row.error)
        console.print(table)
    (args.out / "evaluation.json").write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {args.out}", highlight=False)
    return EXIT_FAILURES if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
