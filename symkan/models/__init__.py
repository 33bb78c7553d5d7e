"""Reference deep models built from symkan's KAN layers."""
from .kat import VisionTransformer, build_kat, build_vit, kat_from_vit

__all__ = ["VisionTransformer", "build_kat", "build_vit", "kat_from_vit"]
