"""Model information: the value type, its Hugging Face card, and the cached service that merges them."""

from llamaburn.modelinfo.info import ModelInfo
from llamaburn.modelinfo.service import CACHE_TTL, ModelInfoService

__all__ = ["CACHE_TTL", "ModelInfo", "ModelInfoService"]
