"""Online monitoring: connectivity and embeddings computed window by window as spikes arrive."""

from .embedder import OnlineEmbedder, WindowResult

__all__ = ["OnlineEmbedder", "WindowResult"]
