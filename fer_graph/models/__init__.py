"""CS-GBSBF model parts (VREN, SREN, AGM, RSN, RFN, CHN), the joint loss and create_model."""

from fer_graph.models import fervgg  # noqa: F401  (registers the fervgg_* timm backbones)
from fer_graph.models.factory import DEFAULT_CONFIG, create_model
from fer_graph.models.losses import CSGBSBFLoss, bootstrap_alignment_loss
from fer_graph.models.output import ModelOutput

__all__ = ["DEFAULT_CONFIG", "CSGBSBFLoss", "ModelOutput", "bootstrap_alignment_loss", "create_model"]
