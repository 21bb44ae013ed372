"""Experiments: YAML config, trainer, metrics, checkpoints, Ray Tune search (see docs/architecture.md).

Entry points: `config.load_config`, `experiment.run_experiment`, `search.run_search`; the
command line is `experiments/run.py`.
"""
