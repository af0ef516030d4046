"""Run the frozen part of the backbone once per clip and keep what it produced.

Everything the teacher stage trains (the main head, the pooling ablation, grouped CV folds, the
linear-probe baseline) reads these features, so the expensive YAMNet pass happens once per clip,
not once per experiment. The cache is keyed by the clips, the patch hop and the split point, and
lives outside the run folder so a rerun skips it.

Under ``torchrun`` the pass is sharded: each rank extracts every ``world``-th clip, the ranks gather
the shares back into clip order, and rank 0 alone writes the cache (and exports the ONNX pass before
the other ranks open it).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from infantcry_sdk import audio as sdk_audio

from export.audio.frontend import LogMelFrontend, frames_to_patches, num_patches
from export.files import replacing
from export.models.teacher import ClipFeatures
from export.models.yamnet import CONTEXT_CLASSES, CRY_CLASSES, YAMNet
from export.training import distributed


class _BackbonePass(torch.nn.Module):
    """patches -> (features the head trains on, embeddings, YAMNet cry score, AudioSet context scores):
    one graph to export."""

    def __init__(self, yamnet: YAMNet, frozen: torch.nn.Module, tail: torch.nn.Module, trainable_blocks: int) -> None:
        super().__init__()
        self.frozen, self.tail, self.classifier = frozen, tail, yamnet.classifier
        self.trainable_blocks = trainable_blocks

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        acts = self.frozen(patches)
        emb = self.tail(acts)
        audioset = torch.sigmoid(self.classifier(emb))
        scores = audioset[:, list(CRY_CLASSES)].amax(dim=1)
        return (acts if self.trainable_blocks > 0 else emb), emb, scores, audioset[:, list(CONTEXT_CLASSES)]


@dataclass
class FeatureExtractor:
    """Waveforms -> per-patch features: frozen-block activations, embeddings and YAMNet cry scores.

    The backbone pass runs in onnxruntime (exported once from the torch port, cached beside the
    torch weights): torch's CPU depthwise convolutions were measured ~2.6x slower on this machine,
    and this pass is most of the teacher stage's time. ``use_onnxruntime=False`` runs it in torch.
    """

    yamnet: YAMNet
    hop_frames: int = 48
    trainable_blocks: int = 0
    batch_patches: int = 256
    cache_dir: Path | None = None
    use_onnxruntime: bool = True
    threads: int = 2

    def __post_init__(self) -> None:
        self.frontend = LogMelFrontend()
        self.yamnet.eval()
        self.frozen, self.tail = self.yamnet.split(self.trainable_blocks)
        self.backbone = _BackbonePass(self.yamnet, self.frozen, self.tail, self.trainable_blocks).eval()
        self._session = self._ort_session() if self.use_onnxruntime else None

    def _ort_session(self):
        import tempfile

        import onnxruntime as ort

        from infantcry_sdk.session import session_options

        folder = Path(self.cache_dir) if self.cache_dir is not None else Path(tempfile.mkdtemp(prefix="infantcry-yamnet-"))
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(b"".join(v.numpy().tobytes() for v in self.backbone.state_dict().values())).hexdigest()[:12]
        path = folder / f"yamnet_pass_ctx_k{self.trainable_blocks}_{digest}.onnx"
        if distributed.is_writer() and not path.is_file():
            self._export(path)
        if distributed.world() > 1:
            distributed.barrier()  # rank 0's file is complete
        if not path.is_file():  # no cache_dir: each rank's own temporary folder
            self._export(path)
        return ort.InferenceSession(str(path), session_options(self.threads), providers=["CPUExecutionProvider"])

    def _export(self, path: Path) -> None:
        with replacing(path) as tmp:
            torch.onnx.export(
                self.backbone, (torch.zeros(2, 96, 64),), str(tmp), input_names=["patches"],
                output_names=["features", "embeddings", "cry_scores", "context_scores"],
                dynamic_axes={name: {0: "n"} for name in ("patches", "features", "embeddings", "cry_scores", "context_scores")},
                opset_version=17, dynamo=False,
            )

    @torch.no_grad()
    def patches(self, wave: np.ndarray) -> torch.Tensor:
        """[P, 96, 64] log-mel patches of one clip (at least one; the tail is padded)."""
        logmel = self.frontend(torch.from_numpy(np.array(wave, dtype=np.float32))[None])
        return frames_to_patches(logmel, hop_frames=self.hop_frames)[0]

    @torch.no_grad()
    def _run(self, patches: torch.Tensor) -> tuple[np.ndarray, ...]:
        if self._session is not None:
            return tuple(self._session.run(None, {"patches": patches.numpy()}))
        return tuple(t.numpy() for t in self.backbone(patches))

    @torch.no_grad()
    def extract(self, waves: Sequence[np.ndarray]) -> list[ClipFeatures]:
        """Features of each waveform; patches of many clips share one batched backbone call."""
        out: list[ClipFeatures] = []
        buf: list[torch.Tensor] = []

        def run() -> None:
            if not buf:
                return
            feats, emb, scores, context = self._run(torch.cat(buf))
            start = 0
            for p in buf:
                n = len(p)
                out.append(
                    ClipFeatures(
                        features=feats[start : start + n].astype(np.float16),
                        embeddings=emb[start : start + n].astype(np.float16),
                        cry_scores=scores[start : start + n].astype(np.float32),
                        context_scores=context[start : start + n].astype(np.float16),
                    )
                )
                start += n
            buf.clear()

        for w in waves:
            buf.append(self.patches(w))
            if sum(len(b) for b in buf) >= self.batch_patches:
                run()
        run()
        return out


def load_teacher_pass(
    teacher_pt: Path, yamnet_tflite: Path, *, cache_dir: Path | None = None, threads: int = 2,
    use_onnxruntime: bool = True,
):
    """``teacher.pt`` (:func:`export.models.teacher.load_teacher`) with the backbone pass its config
    asks for: ``(extractor, saved teacher)``, what scores raw audio end to end
    (:func:`export.models.teacher.score_waves`)."""
    from export.models.teacher import load_teacher, teacher_config
    from export.models.yamnet import EMBEDDING_DIM, load_yamnet

    config = teacher_config(teacher_pt)
    extractor = FeatureExtractor(
        load_yamnet(yamnet_tflite, cache_dir=cache_dir), hop_frames=config.hop_frames,
        trainable_blocks=config.fine_tune_blocks, cache_dir=cache_dir, use_onnxruntime=use_onnxruntime, threads=threads,
    )
    tail = extractor.tail if config.fine_tune_blocks > 0 else None
    return extractor, load_teacher(teacher_pt, tail, EMBEDDING_DIM)


def cache_key(clip_ids: Iterable[str], extractor: FeatureExtractor, extra: str = "") -> str:
    h = hashlib.sha1()
    for c in clip_ids:
        h.update(c.encode())
        h.update(b"\0")
    # the decoder's resampling recipe changes the waveforms the features come from
    h.update(f"hop={extractor.hop_frames}|k={extractor.trainable_blocks}|context|{sdk_audio.RESAMPLE_QUALITY}|{extra}".encode())
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
    """``{clip_id: features}``, loaded from ``cache_dir`` when this exact set was extracted before
    (rank 0 looks and decides for every rank)."""
    path = None
    if cache_dir is not None:
        path = cache_dir / f"features-{tag}-{cache_key(clip_ids, extractor, tag)}.pt"
        if distributed.from_writer(path.is_file):
            data = torch.load(path, weights_only=False)
            return {k: ClipFeatures(**v) for k, v in data.items()}
    mine = distributed.shard(range(len(waves)))
    it = range(0, len(mine), chunk)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"backbone features ({tag})", leave=False)
    feats: list[ClipFeatures] = []
    for s in it:
        feats.extend(extractor.extract([waves[i] for i in mine[s : s + chunk]]))
    result = dict(zip(clip_ids, distributed.unshard(feats, len(waves))))
    if path is not None and distributed.is_writer():
        with replacing(path) as tmp:
            torch.save({k: vars(v) for k, v in result.items()}, tmp)
    return result
