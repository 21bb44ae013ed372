"""Inference on one's own images: checkpoint loading (``loading``), batched prediction
(``predict``), optional face cropping (``faces``) and component Grad-CAMs (``cam``)."""
