"""A study's comparison: every run's metrics (JSON), mean/std per arm and paired differences
against a baseline (markdown), and arms as bars with seeds as dots (PNG); and its plan, what is
left to run, as a terminal table."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fer_graph.models.devices import describe_machine, native_bf16_here
from fer_graph.training.metrics import summarize
from fer_graph.training.plots import plot_arm_comparison

# Metric name in the study JSON -> where it sits in a run.json (accuracies as fractions).
METRICS = {
    "val_accuracy": ("best_val", "val_accuracy"),
    "test_accuracy": ("test", "accuracy"),
    "test_uf1": ("test", "uf1"),
    "test_uar": ("test", "uar"),
    "graph_shuffle_changed": ("test", "graph_shuffle_changed"),
    "graph_shuffle_test_accuracy": ("test", "graph_shuffle_accuracy"),
    "weight_std": ("test", "weight_std"),
}
TITLES = {
    "val_accuracy": "val acc", "test_accuracy": "test acc", "test_uf1": "test UF1", "test_uar": "test UAR",
    "graph_shuffle_changed": "changed by graph shuffle", "graph_shuffle_test_accuracy": "acc, graphs shuffled",
    "weight_std": "W std",
}
PERCENT = {k for k in METRICS if k != "weight_std"}


def run_metrics(run: dict) -> dict:
    """The study metrics one run.json has (the graph figures only for graph models)."""
    return {name: run[section][key] for name, (section, key) in METRICS.items() if key in run[section]}


def study_json(study: str, dataset: str, budget: str, baseline: str, arms: dict[str, dict]) -> dict:
    """Every run of every arm with its provenance and metrics, plus the summaries built from them."""
    runs = []
    for arm, entry in arms.items():
        k_fold = len({r["fold"] for r in entry["runs"]}) > 1
        for run in entry["runs"]:
            row = {"arm": arm, "seed": run["seed"]}
            if k_fold:
                row["fold"] = run["fold"]
            row.update(config=entry["config"], config_sha256=run["config_sha256"], commit=run["commit"],
                       epochs=run["epochs"], train_minutes=run["train_minutes"], metrics=run_metrics(run))
            if "machine" in run:  # runs made before machines were recorded have none
                row["machine"] = run["machine"]
            if "machines" in run:  # trained on several machines (resumed elsewhere)
                row["machines"] = run["machines"]
            runs.append(row)
    return {"study": study, "dataset": dataset, "budget": budget, "baseline": baseline, "runs": runs,
            "summary": summarise(runs, baseline)}


def summarise(runs: list[dict], baseline: str) -> dict:
    """Per arm: mean/std of each metric; per non-baseline arm: paired differences by (seed, fold)."""
    arms = list(dict.fromkeys(r["arm"] for r in runs))
    by_arm = {a: [r for r in runs if r["arm"] == a] for a in arms}
    out = {}
    for arm, rows in by_arm.items():
        metrics = [m for m in METRICS if all(m in r["metrics"] for r in rows)]
        out[arm] = {"n": len(rows), "epochs": sorted({r["epochs"] for r in rows}),
                    "train_minutes": summarize([r["train_minutes"] for r in rows]),
                    "metrics": {m: summarize([r["metrics"][m] for r in rows]) for m in metrics}}
        if arm != baseline and baseline in by_arm:
            out[arm]["paired"] = paired_differences(rows, by_arm[baseline])
    return out


def paired_differences(rows: list[dict], base_rows: list[dict]) -> dict:
    """arm - baseline for each metric both have, over the (seed, fold) pairs both finished."""
    base = {(r["seed"], r.get("fold")): r for r in base_rows}
    pairs = [(r, base[(r["seed"], r.get("fold"))]) for r in rows if (r["seed"], r.get("fold")) in base]
    if not pairs:
        return {}
    shared = [m for m in METRICS if all(m in a["metrics"] and m in b["metrics"] for a, b in pairs)]
    out = {"pairs": [{"seed": a["seed"], **({"fold": a["fold"]} if "fold" in a else {})} for a, _ in pairs]}
    for metric in shared:
        out[metric] = summarize([a["metrics"][metric] - b["metrics"][metric] for a, b in pairs])
    if any("fold" in a for a, _ in pairs):
        out["test_accuracy_by_fold"] = fold_differences(pairs)
    a_acc = summarize([a["metrics"]["test_accuracy"] for a, _ in pairs])
    b_acc = summarize([b["metrics"]["test_accuracy"] for _, b in pairs])
    pooled = math.sqrt((a_acc["std"] ** 2 + b_acc["std"] ** 2) / 2)
    out["test_accuracy_gap_in_pooled_sd"] = (a_acc["mean"] - b_acc["mean"]) / pooled if pooled > 0 else None
    return out


def fold_differences(pairs: list[tuple[dict, dict]]) -> dict:
    """Test-accuracy difference per fold, averaged over seeds, then mean/std over folds.

    Every seed of a k-fold study sees the same folds, so its (seed, fold) pairs are not
    independent: the fold (a disjoint set of subjects) is the unit a spread should count.
    """
    by_fold: dict[str, list[float]] = {}
    for a, b in pairs:
        by_fold.setdefault(a["fold"], []).append(a["metrics"]["test_accuracy"] - b["metrics"]["test_accuracy"])
    means = [sum(v) / len(v) for v in by_fold.values()]
    return {"folds": list(by_fold), **summarize(means), "ahead": sum(m > 0 for m in means),
            "behind": sum(m < 0 for m in means)}


def _fmt(metric: str, stats: dict) -> str:
    scale, digits = (100, 2) if metric in PERCENT else (1, 4)
    if stats["n"] < 2:
        return f"{stats['mean'] * scale:.{digits}f}"
    return f"{stats['mean'] * scale:.{digits}f} ± {stats['std'] * scale:.{digits}f}"


def study_markdown(data: dict) -> str:
    """Two tables: arms (mean ± std over runs) and paired differences against the baseline."""
    summary, baseline = data["summary"], data["baseline"]
    metrics = [m for m in METRICS if any(m in s["metrics"] for s in summary.values())]
    lines = [f"# {data['study']} ({data['dataset']}, {data['budget']} budget)", "",
             "Mean ± sample std over runs (percent, except W std); test evaluated once per run, "
             "the checkpoint selected on validation.", "",
             "| arm | runs | epochs | train min | " + " | ".join(TITLES[m] for m in metrics) + " |",
             "|---|" + "---:|" * (3 + len(metrics))]
    for arm, s in summary.items():
        cells = [_fmt(m, s["metrics"][m]) if m in s["metrics"] else "" for m in metrics]
        lines.append(f"| {arm} | {s['n']} | {', '.join(map(str, s['epochs']))} | "
                     f"{s['train_minutes']['mean']:.1f} | " + " | ".join(cells) + " |")
    paired = {a: s["paired"] for a, s in summary.items() if s.get("paired")}
    if paired:
        lines += ["", f"Paired differences against `{baseline}` (arm - baseline, same seed and fold; "
                  "percentage points): per pair, then mean ± std; gap = difference of means over the "
                  "pooled std of the two arms.", "",
                  "| arm | pairs | test acc per pair | test acc | val acc | test UF1 | gap (pooled sd) |",
                  "|---|---:|---|---:|---:|---:|---:|"]
        for arm, p in paired.items():
            per_pair = ", ".join(f"{v * 100:+.2f}" for v in p["test_accuracy"]["values"])
            gap = p["test_accuracy_gap_in_pooled_sd"]
            lines.append(
                f"| {arm} | {len(p['pairs'])} | {per_pair} | {_fmt_diff(p['test_accuracy'])} | "
                f"{_fmt_diff(p['val_accuracy'])} | {_fmt_diff(p['test_uf1'])} | "
                f"{'' if gap is None else f'{gap:+.2f}'} |")
    by_fold = {a: p["test_accuracy_by_fold"] for a, p in paired.items() if "test_accuracy_by_fold" in p}
    if by_fold:
        lines += ["", "Per fold: every seed sees the same folds, so the pairs above are not independent; "
                  "each fold's test-accuracy difference is averaged over seeds, then mean ± std over folds.", "",
                  "| arm | folds | test acc per fold | mean over folds | folds ahead / behind |",
                  "|---|---:|---|---:|---:|"]
        for arm, f in by_fold.items():
            per_fold = ", ".join(f"{v * 100:+.2f}" for v in f["values"])
            lines.append(f"| {arm} | {f['n']} | {per_fold} | {_fmt_diff(f)} | {f['ahead']} / {f['behind']} |")
    return "\n".join(lines + _machine_lines(data["runs"])) + "\n"


def _machine_lines(runs: list[dict]) -> list[str]:
    """Which machine made which runs: minutes compare only within one, bits reproduce only on one kind."""
    if not any("machine" in row for row in runs):
        return []
    made_on: dict[str, list[dict]] = {}
    for row in runs:
        name = (describe_segments(row["machines"]) if "machines" in row
                else describe_machine(row["machine"]) if "machine" in row
                else "not recorded (runs made before run.json named its machine)")
        made_on.setdefault(name, []).append(row)
    lines = ["", "Machines (train minutes compare only within one; numbers reproduce bit for bit on the "
             "CPU kind that made them):", ""]
    return lines + [f"- {name}: {seeds_by_arm(rows)}" for name, rows in made_on.items()]


def describe_segments(machines: list[dict]) -> str:
    """The machines of a run resumed elsewhere, each with the epochs it trained from."""
    parts = [f"from epoch {m['from_epoch']} on {describe_machine(m)}" for m in machines]
    if machines[0]["from_epoch"] != 1:
        parts.insert(0, f"epochs 1-{machines[0]['from_epoch'] - 1} on a machine not recorded")
    return "trained " + ", then ".join(parts)


def seeds_by_arm(rows: list[dict]) -> str:
    """The (arm, seed) pairs of study rows as text: ``a seeds 0, 1; b seeds 2``."""
    held: dict[str, set[int]] = {}
    for row in rows:
        held.setdefault(row["arm"], set()).add(row["seed"])
    return "; ".join(f"{arm} seeds {', '.join(map(str, sorted(seeds)))}" for arm, seeds in held.items())


def _fmt_diff(stats: dict) -> str:
    if stats["n"] < 2:
        return f"{stats['mean'] * 100:+.2f}"
    return f"{stats['mean'] * 100:+.2f} ± {stats['std'] * 100:.2f}"


def write_study_report(data: dict, out_dir: str | Path) -> dict[str, Path]:
    """`<study>.json`, `<study>.md` and `<study>.png` (test accuracy per arm) in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{data['study']}.{ext}" for ext in ("json", "md", "png")}
    paths["json"].write_text(json.dumps(data, indent=2))
    paths["md"].write_text(study_markdown(data))
    values = {arm: [r["metrics"]["test_accuracy"] for r in data["runs"] if r["arm"] == arm]
              for arm in data["summary"]}
    plot_arm_comparison(values, paths["png"], ylabel="test accuracy",
                        title=f"{data['study']}: test accuracy per arm (bar: mean, dots: runs)",
                        baseline=data["baseline"])
    return paths


def print_plan(rows: list[dict], console: Console, native_bf16: bool | None = None) -> None:
    """A study's plan (study.study_plan) as a table, then the estimated minutes in all.

    Arms left to train in bf16 get a warning where this CPU (``native_bf16``; None: read from
    this machine) has no native bf16: their logged pace does not hold here.
    """
    table = Table(title="what is left (minutes at each arm's logged pace, training and validation)")
    for column in ("arm", "seed", "folds finished", "epochs done", "epochs left", "minutes left"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for row in rows:
        table.add_row(row["arm"], str(row["seed"]), f"{row['finished']} / {row['folds'] or '?'}",
                      str(row["epochs_done"]), _or_unknown(row["epochs_left"], "{}"),
                      _or_unknown(row["minutes_left"], "{:.0f}"))
    console.print(table)
    unknown = sum(row["minutes_left"] is None for row in rows)
    total = sum(row["minutes_left"] or 0 for row in rows)
    console.print(f"about {total:.0f} minutes left"
                  + (f", not counting {unknown} (config, seed) pairs of unknown pace" if unknown else ""))
    bf16_arms = sorted({row["arm"] for row in rows if row["amp"] == "bf16" and row["epochs_left"] != 0})
    if bf16_arms and (native_bf16_here() if native_bf16 is None else native_bf16) is False:
        console.print(f"{', '.join(bf16_arms)}: train.amp bf16, and this CPU has no native bf16 (AVX512-BF16 "
                      "or AMX): their convolutions and matrix products run in fp32 here, so a pace logged "
                      "on a CPU with native bf16 does not hold (a fervgg_base step: 0.32 s on an AVX-512 "
                      "EPYC, about 1.0 s on an AVX2 one)", style="bold yellow")


def _or_unknown(value, form: str) -> str:
    return "?" if value is None else form.format(value)
