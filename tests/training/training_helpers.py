"""Paths and settings shared by the training tests."""

from pathlib import Path

TINY = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "tiny.yaml"


def study_overrides(shared_data: dict[str, str]) -> list[str]:
    """A study's overrides for the tiny arms: the shared synthetic data, three steps an epoch."""
    return [f"{k}={v}" for k, v in shared_data.items()] + ["train.max_steps_per_epoch=3"]
