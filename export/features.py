"""Run the frozen part of the backbone once per clip and keep what it produced.

Everything the teacher stage trains (the main head, the pooling ablation, grouped CV folds, the
linear-probe baseline) reads these features, so the expensive YAMNet pass happens once per clip,
not once per experiment. The cache is keyed by the clips, the patch hop and the split point, and
lives outside the run folder so a rerun skips it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from .frontend import LogMelFrontend, frames_to_patches, num_patches
from .teacher import ClipFeatures
from .yamnet import CRY_CLASSES, YAMNet


@dataclass
class FeatureExtractor:
    """Waveforms -> per-patch features: frozen-block activations, embeddings and YAMNet cry scores."""

    yamnet: YAMNet
    hop_frames: int = 48
    trainable_blocks: int = 0
    batch_patches: int = 256

    def __post_init__(self) -> None:
        self.frontend = LogMelFrontend()
        self.yamnet.eval()
        self.frozen, self.tail = self.yamnet.split(self.trainable_blocks)

    @torch.no_grad()
    def patches(self, wave: np.ndarray) -> torch.Tensor:
        """[P, 96, 64] log-mel patches of one clip (at least one; the tail is padded)."""
        logmel = self.frontend(torch.from_numpy(np.array(wave, dtype=np.float32))[None])
        return frames_to_patches(logmel, hop_frames=self.hop_frames)[0]

    @torch.no_grad()
    def extract(self, waves: Sequence[np.ndarray]) -> list[ClipFeatures]:
        """Features of each waveform; patches of many clips share one batched backbone call."""
        per_clip = [self.patches(w) for w in waves]
        out: list[ClipFeatures] = []
        buf: list[torch.Tensor] = []
        owners: list[int] = []

        def run() -> None:
            if not buf:
                return
            x = torch.cat(buf)
            acts = self.frozen(x)
            emb = self.tail(acts)
            scores = self.yamnet.classify(emb)[:, list(CRY_CLASSES)].amax(dim=1)
            start = 0
            for i in owners:
                n = len(per_clip[i])
                feats = acts if self.trainable_blocks > 0 else emb
                out.append(
                    ClipFeatures(
                        features=feats[start : start + n].numpy().astype(np.float16),
                        embeddings=emb[start : start + n].numpy().astype(np.float16),
                        cry_scores=scores[start : start + n].numpy().astype(np.float32),
                    )
                )
                start += n
            buf.clear()
            owners.clear()

        for i, p in enumerate(per_clip):
            buf.append(p)
            owners.append(i)
            if sum(len(b) for b in buf) >= self.batch_patches:
                run()
        run()
        return out


def cache_key(clip_ids: Iterable[str], extractor: FeatureExtractor, extra: str = "") -> str:
    h = hashlib.sha1()
    for c in clip_ids:
        h.update(c.encode())
        h.update(b"\0")
    h.update(f"hop={extractor.hop_frames}|k={extractor.trainable_blocks}|{extra}".encode())
    return h.hexdigest()[:16]


def extract_cached(
    extractor: FeatureExtractor,
    clip_ids: Sequence[str],
    waves: Sequence[np.ndarray],
    cache_dir: Path | None,
    tag: str,
    chunk: int = 64,
    progress: bool = True,
) -> dict[str, ClipFeatures]:
    """``{clip_id: features}``, loaded from ``cache_dir`` when this exact set was extracted before."""
    path = None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_dir / f"features-{tag}-{cache_key(clip_ids, extractor, tag)}.pt"
        if path.is_file():
            data = torch.load(path, weights_only=False)
            return {k: ClipFeatures(**v) for k, v in data.items()}
    it = range(0, len(waves), chunk)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"backbone features ({tag})", leave=False)
    feats: list[ClipFeatures] = []
    for s in it:
        feats.extend(extractor.extract(waves[s : s + chunk]))
    result = dict(zip(clip_ids, feats))
    if path is not None:
        tmp = path.with_suffix(".tmp")
        torch.save({k: vars(v) for k, v in result.items()}, tmp)
        tmp.replace(path)
    return result
