"""Predict facial expressions for image files, folders (recursive) or globs with a checkpoint.

    python tools/predict.py runs/quickstart/seed0/official/checkpoints/best.pt faces/ photo.jpg --out preds.csv --json

Each image is turned into its granular-ball graph with the checkpoint's own GBR parameters and
into a tensor with its eval transform, as in evaluation. Prints a table (file, top class,
probability) and writes every class probability to a CSV (and JSON with --json). Unreadable
files get a row with an error and the rest still run. --detect-faces runs the face step
(fer_graph.faces: dlib detection, 5-landmark alignment, the checkpoint's framing) first and
records, per row, whether a face was found, how many, its box, landmarks and roll angle; an
image without a face is a row saying so (or, with --whole-image-if-no-face, predicted whole).
Exit status: 0 all predicted, 1 error (one line), 2 bad arguments, 3 some files failed.
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="checkpoint .pt written by experiments/run.py")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or globs")
    parser.add_argument("--out", default="predictions.csv", help="CSV of all class probabilities")
    parser.add_argument("--json", action="store_true", help="also write the results as JSON (OUT with .json)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto (CUDA when present)")
    add_face_arguments(parser)
    parser.add_argument("--all-faces", action="store_true", help="with --detect-faces: one row per face found")
    parser.add_argument("--show", type=int, default=40, help="table rows printed (all rows go to the CSV)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    check_face_arguments(parser, args, "all_faces")
    return args


def _table(predictions, class_names, show: int) -> Table:
    table = Table(title="predictions")
    table.add_column("file", overflow="fold", ratio=3)
    table.add_column("class", no_wrap=True)
    table.add_column("probability", justify="right", no_wrap=True)
    table.add_column("note / error", overflow="fold", ratio=2)
    # Every failure is listed; successful rows only up to `show`.
    shown = [row for i, row in enumerate(predictions) if i < show or row.error]
    for row in shown:
        if row.error:
            table.add_row(row.path, "[red]error", "", f"[red]{row.error}")
        else:
            table.add_row(row.path, class_names[row.top], f"{row.probabilities[row.top]:.3f}", row.note or "")
    if len(predictions) > len(shown):
        table.add_row(f"... {len(predictions) - len(shown)} more rows in the CSV", "", "", "")
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = make_console()
    errors = make_console(stderr=True)
    from fer_graph.faces import FaceModelError
    from fer_graph.inference.face_cli import face_step_from_args
    from fer_graph.inference.loading import CheckpointError, load_model
    from fer_graph.inference.predict import Predictor, expand_inputs, write_csv, write_json

    try:
        loaded = load_model(args.checkpoint, device=args.device)
    except (FileNotFoundError, CheckpointError, ValueError, KeyError) as err:
        errors.print(f"error: {err}", highlight=False, markup=False)
        return 1
    try:
        faces = face_step_from_args(loaded.config, args, select="all" if args.all_faces else None)
    except (FaceModelError, ValueError) as err:
        errors.print(f"error: {err}", highlight=False, markup=False)
        return 1
    entries = expand_inputs(args.inputs)
    total = sum(err is None for _, err in entries)
    predictor = Predictor(loaded, faces)
    with Progress(TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=errors, disable=args.no_progress or not total, transient=True) as progress:
        task = progress.add_task("predict", total=total)
        results = predictor.predict_entries(entries, args.batch_size,
                                            on_batch=lambda n: progress.advance(task, n))
    console.print(_table(results, loaded.class_names, args.show))
    out = write_csv(results, loaded.class_names, args.out)
    written = [out]
    if args.json:
        written.append(write_json(results, loaded.class_names, Path(args.out).with_suffix(".json")))
    failed = sum(r.error is not None for r in results)
    seconds = predictor.timings.total
    speed = f", {predictor.timings.images / seconds:.0f} images/s" if seconds > 0 else ""
    console.print(f"{len(results) - failed} predicted, {failed} failed on {loaded.device}{speed}; "
                  f"wrote {', '.join(map(str, written))}", highlight=False)
    return EXIT_FAILURES if failed else 0


if __name__ == "__main__":
    sys.exit(main())
