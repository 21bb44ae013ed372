"""ModelConfig is the one list of model keys: defaults, model arguments and the docs table."""

from __future__ import annotations

import inspect
from pathlib import Path

from fer_graph.models.cs_gbsbf import CSGBSBF, VRENOnly
from fer_graph.models.factory import resolve_model_config
from fer_graph.models.schema import markdown_table, model_kwargs

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_docs_table_is_the_one_the_schema_generates() -> None:
    text = DOC.read_text()
    start, end = "<!-- model-keys:start -->\n", "<!-- model-keys:end -->"
    documented = text[text.index(start) + len(start): text.index(end)]
    assert documented == markdown_table(), (
        f"{DOC.name}'s model key table differs from ModelConfig; replace it with:\n{markdown_table()}"
    )


def test_model_kwargs_are_exactly_each_class_arguments() -> None:
    for name, model in (("cs_gbsbf", CSGBSBF), ("vren_only", VRENOnly)):
        expected = set(inspect.signature(model.__init__).parameters) - {"self"}
        assert set(model_kwargs(resolve_model_config({"name": name}))) == expected
