"""Config loading: defaults, overrides, inheritance and the promised one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

from fer_graph.training.config import ConfigError, load_config, resolve_experiment_config
from fer_graph.training.config_files import dump_config, load_yaml


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture()
def synthetic_yaml(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "exp.yaml",
        {
            "experiment": {"name": "t", "output_dir": str(tmp_path / "out")},
            "data": {"dataset": "synthetic", "image_size": 48},
            "model": {"backbone": "resnet18", "img_size": 48},
        },
    )


def test_defaults_file_and_overrides_merge(synthetic_yaml: Path) -> None:
    cfg = load_config(synthetic_yaml, ["train.lr=3e-4", "train.epochs=2", "experiment.seeds=[1, 2]"])
    assert cfg["train"]["lr"] == pytest.approx(3e-4) and isinstance(cfg["train"]["lr"], float)
    assert cfg["train"]["epochs"] == 2
    assert cfg["experiment"]["seeds"] == [1, 2]
    assert cfg["model"]["backbone"] == "resnet18"
    assert cfg["loss"]["lambda_ba"] == 0.1  # default filled in
    assert Path(cfg["data"]["root"]).is_absolute()


def test_resolved_config_round_trips(synthetic_yaml: Path, tmp_path: Path) -> None:
    cfg = load_config(synthetic_yaml, ["train.grad_clip=1.0"])
    dump_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == cfg


def test_base_inheritance(synthetic_yaml: Path, tmp_path: Path) -> None:
    child = _write(tmp_path / "child.yaml", {"base": "exp.yaml", "train": {"batch_size": 4}})
    cfg = load_config(child)
    assert cfg["train"]["batch_size"] == 4
    assert cfg["model"]["backbone"] == "resnet18"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=0.1", r"^train\.lrr: unknown key"),
        ("bogus.x=1", r"^bogus: unknown key"),
        ("model.agm.enable=false", r"^model\.agm\.enable: unknown key"),
        ("train.epochs=ten", r"^train\.epochs: expected int, got str 'ten'"),
        ("train.lr=true", r"^train\.lr: expected int or float, got bool"),
        ("train.optimizer=rmsprop", r"^train\.optimizer: must be one of adam, adamw, sgd"),
        ("train.amp=fp8", r"^train\.amp: must be one of false, bf16, fp16"),
        ("graphs.edge_rule=near", r"^graphs: edge_rule must be one of"),
        ("model.in_chans=1", r"^model\.in_chans: 1 disagrees with data\.in_chans 3"),
        ("experiment.seeds=[]", r"^experiment\.seeds: expected a non-empty list"),
        ("train.batch_size=0", r"^train\.batch_size: must be > 0"),
        ("model.backbone=resnet9000",
         r"^model: backbone 'resnet9000' is not a timm model; close timm names: resnet200, .*resnet50"),
        ("model.backbone=fervgg_smal", r"^model: backbone 'fervgg_smal' is not a timm model; close timm names: fervgg_small"),
        ("data.max_missing=-1", r"^data\.max_missing: must be >= 0, got -1"),
        ("data.max_missing=0.5", r"^data\.max_missing: expected int, got float"),
        ("loss.target=votes", r"^loss\.target: must be one of hard, soft, pld, got 'votes'"),
        ("data.labels=plurality", r"^data\.labels: must be one of majority, got 'plurality'"),
    ],
)
def test_bad_values_give_one_line_naming_the_key(synthetic_yaml: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(synthetic_yaml, [override])
    assert "\n" not in str(info.value)


def test_layout_options_are_checked_against_the_named_layout(synthetic_yaml: Path) -> None:
    with pytest.raises(ConfigError, match=r"^data\.layout_options\.frames: not an option of layout sfew \(its options: none\)"):
        load_config(synthetic_yaml, ["data.layout=sfew", "data.layout_options={frames: 3}"])
    assert load_config(synthetic_yaml, ["data.layout=ckplus", "data.layout_options={frames: 1}"])["data"][
        "layout_options"] == {"frames": 1}


def test_missing_paths_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match=rf"^data\.root: path {missing} does not exist$"):
        resolve_experiment_config({"data": {"dataset": "folder", "root": str(missing)}})
    with pytest.raises(ConfigError, match=r"^model\.checkpoint_path: file .*weights\.pt does not exist$"):
        resolve_experiment_config({"data": {"dataset": "synthetic"}, "model": {"checkpoint_path": str(tmp_path / "weights.pt")}})
    with pytest.raises(ConfigError, match=r"config file .*absent\.yaml does not exist"):
        load_config(tmp_path / "absent.yaml")


def test_search_section_is_checked(synthetic_yaml: Path) -> None:
    good = ["search.space={train.lr: {type: loguniform, low: 1e-4, high: 1e-2}}", "search.num_samples=2"]
    cfg = load_config(synthetic_yaml, good)
    assert cfg["search"]["scheduler"]["type"] == "asha"
    with pytest.raises(ConfigError, match=r"^search\.space\.train\.nope: train\.nope is not a config key"):
        load_config(synthetic_yaml, ["search.space={train.nope: {type: choice, values: [1]}}"])
    with pytest.raises(ConfigError, match=r"^search\.scheduler\.grace_period: must be in \[1, 2\]"):
        load_config(synthetic_yaml, good + ["train.epochs=2", "search.scheduler.grace_period=3"])
    with pytest.raises(ConfigError, match=r"^search\.metric: must be a validation metric"):
        load_config(synthetic_yaml, good + ["search.metric=test_accuracy"])


def test_search_optimises_the_metric_checkpoints_are_selected_on(synthetic_yaml: Path) -> None:
    good = ["search.space={train.lr: {type: loguniform, low: 1e-4, high: 1e-2}}"]
    assert load_config(synthetic_yaml, good)["search"]["metric"] == "val_accuracy"
    assert load_config(synthetic_yaml, good + ["train.select_metric=val_uf1"])["search"]["metric"] == "val_uf1"
    with pytest.raises(ConfigError, match=r"^search\.metric: val_uar differs from train\.select_metric val_accuracy"):
        load_config(synthetic_yaml, good + ["search.metric=val_uar"])
    with pytest.raises(ConfigError, match=r"^search\.mode: val_accuracy is maximised, got 'min'"):
        load_config(synthetic_yaml, good + ["search.mode=min"])
    with pytest.raises(ConfigError, match=r"^train\.select_metric: must be one of val_accuracy, val_uf1, val_uar"):
        load_config(synthetic_yaml, ["train.select_metric=val_loss"])
    with pytest.raises(ConfigError, match=r"^train\.sampler: must be one of none, class_balanced"):
        load_config(synthetic_yaml, ["train.sampler=oversample"])
    with pytest.raises(ConfigError, match=r"^loss\.class_weights: must be one of none, balanced"):
        load_config(synthetic_yaml, ["loss.class_weights=inverse"])


def test_open_sections_are_checked_by_their_owner(synthetic_yaml: Path) -> None:
    with pytest.raises(ConfigError, match=r"^data\.augmentation\.flip: unknown key"):
        load_config(synthetic_yaml, ["data.augmentation.flip=0.5"])


CONFIG_DIR = Path(__file__).resolve().parents[2] / "experiments" / "configs"
PAPER = ("rafdb", "affectnet8", "fer2013", "ckplus", "sfew", "oulu_casia", "caer_s", "samm")


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("[!_]*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_validates(path: Path, tmp_path: Path) -> None:
    overrides = [f"experiment.output_dir={tmp_path}"]
    root = load_yaml(path).get("data", {}).get("root")
    if root is not None and not Path(root).exists():
        overrides.append(f"data.root={tmp_path}")  # a paper dataset not present on this machine
    cfg = load_config(path, overrides)
    assert cfg["experiment"]["name"] == path.stem


@pytest.mark.parametrize("name", PAPER)
def test_paper_configs_carry_the_paper_settings(name: str, tmp_path: Path) -> None:
    cfg = load_config(CONFIG_DIR / f"{name}.yaml", [f"data.root={tmp_path}"])
    model, train = cfg["model"], cfg["train"]
    assert (model["backbone"], model["img_size"], cfg["data"]["image_size"]) == (
        "swin_base_patch4_window7_224.ms_in1k", 224, 224)
    assert (model["embed_dim"], model["component_dim"], model["num_components"]) == (1024, 128, 9)
    # the equations as written: Eq. 6 without a temperature, Eqs. 3-4's N layers of width D_e, Eq. 9 per sample
    assert (model["rfn_temperature"], model["sren_layers"], model["sren_hidden"], model["sren_readout"]) == (
        1.0, 4, 1024, "mean")
    assert cfg["loss"]["ba_form"] == "per_sample"
    assert (train["optimizer"], train["lr"], train["weight_decay"]) == ("adam", 1e-4, 0.01)
    assert (train["epochs"], train["batch_size"], cfg["loss"]["lambda_ba"]) == (40, 16, 0.1)
    expected_graph_size = {"affectnet8": 224, "caer_s": 224}.get(name, 48)
    assert cfg["graphs"]["image_size"] == expected_graph_size


def test_table2_ablations_switch_the_named_modules(tmp_path: Path) -> None:
    rows = {  # (AGM, SRSN, L_BA) of Table 2
        "ablation_fer2013_plain": (False, False, False),
        "ablation_fer2013_srsn": (False, True, False),
        "ablation_fer2013_agm_srsn": (True, True, False),
        "ablation_fer2013_srsn_ba": (False, True, True),
        "fer2013": (True, True, True),
    }
    for name, switches in rows.items():
        cfg = load_config(CONFIG_DIR / f"{name}.yaml", [f"data.root={tmp_path}"])
        got = (cfg["model"]["agm"]["enabled"], cfg["model"]["srsn"], cfg["loss"]["bootstrap_alignment"])
        assert got == switches, name


def test_ferplus_and_fer2013_get_their_own_default_graph_store(tmp_path: Path) -> None:
    stores = set()
    for name, folder in (("fer2013_cpu", "fer2013"), ("ferplus_cpu", "ferplus")):
        (tmp_path / folder).mkdir()
        cfg = load_config(CONFIG_DIR / f"{name}.yaml", [f"data.root={tmp_path / folder}",
                                                       f"experiment.output_dir={tmp_path / 'runs'}"])
        assert cfg["graphs"]["store"] == str(tmp_path / "runs" / "graphs" / f"{folder}.h5")
        stores.add(cfg["graphs"]["store"])
    assert len(stores) == 2


def test_command_line_reports_config_errors_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from experiments.run import main

    assert main([str(CONFIG_DIR / "tiny.yaml"), "train.lrr=0.1"]) == 2
    assert main([str(CONFIG_DIR / "fer2013_cpu.yaml"), f"data.root={tmp_path / 'gone'}"]) == 2
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0].startswith("config error: train.lrr: unknown key")
    assert lines[-1] == f"config error: data.root: path {tmp_path / 'gone'} does not exist"
    assert main([str(CONFIG_DIR / "tiny.yaml"), "model.backbone=resnet9000"]) == 2
    line = capsys.readouterr().out.strip()
    assert line.startswith("config error: model: backbone 'resnet9000' is not a timm model; close timm names:")
    assert "\n" not in line


# The model section of a committed study config, as resolved before ModelConfig existed: keys,
# values and order (config.yaml is written unsorted) must stay, or recorded runs lose their hash.
PAPER_MODEL = {
    "name": "cs_gbsbf", "backbone": "fervgg_base", "pretrained": False, "checkpoint_path": None,
    "img_size": 48, "in_chans": 1, "num_classes": 7, "embed_dim": 512, "component_dim": 64,
    "num_components": 9, "vrsn_hidden": None, "node_features": 12, "sren_layers": 2,
    "sren_hidden": 64, "graph_backend": "auto",
    "agm": {"enabled": True, "mode": "global", "pairs": [[-1, -1]]}, "srsn": True,
    "rfn_temperature": None, "head_norm": True, "drop_rate": 0.1, "graph_head": "none",
    "graph_guidance_stage": None, "sren_conv": "gcn", "sren_residual": False,
    "sren_readout": "linear",
}


def test_study_model_config_resolves_as_recorded() -> None:
    model = load_config(REPO / "experiments/configs/studies/fer2013_proxy/paper.yaml")["model"]
    assert model == PAPER_MODEL and list(model) == list(PAPER_MODEL)
