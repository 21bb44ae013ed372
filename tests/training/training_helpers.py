"""Paths shared by the training tests."""

from pathlib import Path

TINY = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "tiny.yaml"
