"""The student: the model that ships. Waveform -> log-mel -> small CNN -> pooling -> two heads.

Why this shape: the teacher (YAMNet, ~3.7M parameters plus heads) is too large for the target (an int8
file <= 400 KB with its front-end), so a depthwise-separable CNN of < 250k parameters learns from it
by distillation (``export.training.distill``). The front-end is the same ``LogMelFrontend`` the teacher uses,
inside the graph, so one ONNX file maps raw audio to probabilities.

Two details keep the model honest about its input:

* the log-mel is normalised by the mean and standard deviation over all bands of the frames within
  about a second either side (``normalisation="local"``; a moving average, so a frame's
  normalised value does not depend on how far away the clip starts or ends): a gain change is
  (nearly) an additive constant in the log domain, so the network sees the same input whether the
  phone held the mic close or far. Because nothing in the network depends on the clip's extent
  beyond that second, one pass over a long clip gives every scoring window's embedding frames at
  once (:meth:`CryStudent.forward_windows`), instead of running the network on overlapping windows
  that see every second twice. ``normalisation="utterance"`` (over all frames of the input) is
  kept so checkpoints trained with it still load;
* padded training batches carry ``lengths``; every layer zeroes the padded frames before the next
  convolution (exactly what the convolution's own zero padding does for a clip alone), the
  normalisation and the pooling ignore them, so a clip scores the same alone or in a padded batch.
  Without ``lengths`` (the exported graph) every frame is real and no mask arithmetic is traced.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from export.audio.frontend import LogMelFrontend, lengths_to_mask, num_frames, num_patches_from_frames
from export.constants import HOP_SAMPLES, SAMPLE_RATE, WINDOW_SAMPLES
from export.models.pooling import POOLINGS, make_pooling

#: The student's hard limit on parameters; tested.
MAX_PARAMETERS = 250_000
NORMALISATIONS = ("utterance", "local")
#: Fields added after the first shipped student, with the values that student had: a checkpoint
#: saved before they existed loads as what it was.
LEGACY_DEFAULTS = {"frame_stride": 1, "normalisation": "utterance", "causal": False}
#: Kernel size (time and mel) of every convolution.
KERNEL = 3


@dataclass(frozen=True)
class StudentConfig:
    """Architecture knobs. ``blocks`` lists (out_channels, time_stride, mel_stride) per
    depthwise-separable block after a full 3x3 stem with ``stem_stride`` (time, mel). Defaults:
    170k parameters, one embedding frame per 120 ms: the widest student whose int8 ``.ort`` fits the
    400 KB size budget (``python -m export.modelfile.sizing``; docs/decisions.md, "The widest student
    whose .ort fits").

    ``frame_stride`` 3 with a stem that keeps time at full rate (``stem_stride`` (1, 2)): 30 ms
    log-mel frames (25 ms Hann windows, so 5 ms between two frames fall near both windows' tails),
    a third of the front-end's cost at 10 ms (the front-end was over half of the model's run time)
    and embedding frames every 120 ms. Measured on one core, fp32, 7 s clip: 2.26 ms at stride 2,
    1.57 ms at stride 3 (the first one-pass student used 2). ``normalisation`` "local" makes one
    pass over a long clip score all its windows (see the module docstring).

    ``frontend_dtype``: the shared front-end computes in float64 by default for exact parity with
    the numpy reference; the student runs it in float32 (at most ~1e-3 log-mel apart, in near-empty
    bands), which is ~2.5x faster in training and keeps float64 kernels out of the shipped graph.
    Training and export use the same setting, so the exported graph is the trained one."""

    n_causes: int = 5
    stem_channels: int = 32
    stem_stride: tuple[int, int] = (1, 2)
    blocks: tuple[tuple[int, int, int], ...] = (
        (48, 1, 2),
        (96, 2, 2),
        (96, 1, 1),
        (160, 2, 2),
        (160, 1, 1),
        (160, 1, 2),
        (160, 1, 1),
    )
    pooling: str = "statistic"  # or "attention" (the compared alternative); any of pooling.POOLINGS
    attention_heads: int = 4
    dropout: float = 0.2
    norm_eps: float = 1e-2  # added to the normalisation variance: silence is not amplified without bound
    frontend_dtype: str = "float32"  # or "float64" (the front-end's exact default)
    frame_stride: int = 3  # log-mel frames every 10 ms x frame_stride (see LogMelFrontend)
    normalisation: str = "local"  # or "utterance" (see the module docstring)
    norm_frames: int = 65  # "local" only: odd; 65 frames of 30 ms = the frame and 0.96 s either side
    # Causal in time: the local normalisation averages the norm_frames up to each frame, and every
    # convolution pads time on the left only, so a window's score needs no audio after the window and
    # a stream can score it as soon as it ends (the detection delay; see ``context_samples``).
    # On since 0.6.0, chosen on validation over three seeds (docs/decisions.md, "Causal student").
    causal: bool = True

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}")
        if self.n_causes < 1:
            raise ValueError("n_causes must be >= 1")
        if not self.blocks:
            raise ValueError("the student needs at least one block")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {self.normalisation!r}")
        if self.causal and self.normalisation != "local":
            raise ValueError("a causal student needs normalisation='local' (per-utterance statistics see the future)")
        if self.norm_frames < 1 or self.norm_frames % 2 == 0:
            raise ValueError(f"norm_frames must be a positive odd number, got {self.norm_frames}")
        if self.frontend_dtype not in ("float32", "float64"):
            raise ValueError(f"frontend_dtype must be 'float32' or 'float64', got {self.frontend_dtype!r}")
        # tuples survive a JSON round trip as lists; normalise them so configs compare equal
        object.__setattr__(self, "blocks", tuple(tuple(int(v) for v in b) for b in self.blocks))
        object.__setattr__(self, "stem_stride", tuple(int(v) for v in self.stem_stride))

    @classmethod
    def tiny(cls, n_causes: int = 5, pooling: str = "statistic") -> "StudentConfig":
        """A few-thousand-parameter student for tests and CI smoke runs (same code paths)."""
        return cls(n_causes=n_causes, stem_channels=8, blocks=((16, 2, 2), (16, 2, 2), (24, 1, 2)), pooling=pooling)

    @property
    def embed_dim(self) -> int:
        return self.blocks[-1][0]

    @property
    def time_strides(self) -> tuple[int, ...]:
        return (self.stem_stride[0],) + tuple(b[1] for b in self.blocks)

    @property
    def embedding_samples(self) -> int:
        """Samples per embedding frame (at 16 kHz), the time resolution of windows: 1920 (120 ms)."""
        n = HOP_SAMPLES * self.frame_stride
        for s in self.time_strides:
            n *= s
        return n

    def window_frames(self, seconds: float) -> int:
        """Embedding frames in ``seconds``; ValueError unless it is a whole number (windows must align)."""
        frames = seconds * SAMPLE_RATE / self.embedding_samples
        if frames < 1 or abs(frames - round(frames)) > 1e-6:
            step = self.embedding_samples / SAMPLE_RATE
            raise ValueError(f"{seconds} s is not a whole number of {step:g} s embedding frames")
        return int(round(frames))

    def context_samples(self) -> tuple[int, int]:
        """Samples of audio before a window's start and after its end that its score depends on,
        (left, right), at 16 kHz: the receptive field of the local normalisation and the convolutions.

        Walks the layers from the embedding frames down to the log-mel frames: a kernel-3 convolution
        whose input has one frame every ``r`` log-mel frames reaches ``r`` frames either side (two
        to the left and none to the right when causal). A log-mel frame starts every
        ``HOP_SAMPLES * frame_stride`` samples and spans the front-end's 25 ms window."""
        if self.normalisation != "local":
            raise ValueError("only a locally normalised student has a bounded context")
        reach_left = reach_right = 0  # in log-mel frames
        resolution = 1
        for stride in self.time_strides:  # input resolution of each layer, stem first
            reach_left += (KERNEL - 1 if self.causal else KERNEL // 2) * resolution
            reach_right += (0 if self.causal else KERNEL // 2) * resolution
            resolution *= stride
        reach_left += self.norm_frames - 1 if self.causal else self.norm_frames // 2
        reach_right += 0 if self.causal else self.norm_frames // 2
        frame_hop = HOP_SAMPLES * self.frame_stride
        # Embedding frame j is anchored on log-mel frame ``resolution * j``, where its audio starts;
        # a window of W frames ends where frame W would start. Its last frame sees log-mel frames up
        # to ``resolution * (W - 1) + reach_right``, each 25 ms long.
        right = max(0, (reach_right - resolution) * frame_hop + WINDOW_SAMPLES)
        return reach_left * frame_hop, right

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StudentConfig":
        """Rebuild a saved config; keys a checkpoint predates get the values it was trained with."""
        return cls(**{**LEGACY_DEFAULTS, **d})


class CausalConv2d(nn.Conv2d):
    """A convolution over (time, mel) whose time padding is all on the left: output frame ``t``
    sees input frames ``stride * t - (kernel - 1) .. stride * t``, never a later one. The mel axis is
    padded on both sides as usual. Same output length as the centred convolution (kernel 3,
    padding 1), so :func:`strided_length` holds for both. In the exported graph the onnxscript
    optimizer that ``export.modelfile.onnx_export`` runs folds this zero pad into the Conv's own
    asymmetric ``pads``; the causal normalisation's pads stay separate Pad nodes (3 in the graph)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: tuple[int, int], groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=(0, kernel // 2), groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (0, 0, self.kernel_size[0] - 1, 0)))


def _conv_bn_relu(cin: int, cout: int, stride: tuple[int, int], groups: int = 1, kernel: int = KERNEL,
                  causal: bool = False) -> nn.Sequential:
    if causal and kernel > 1:
        conv: nn.Conv2d = CausalConv2d(cin, cout, kernel, stride, groups=groups)
    else:
        conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SeparableBlock(nn.Module):
    """Depthwise 3x3 over (time, mel) then pointwise 1x1: MobileNet's block, ~9x cheaper than a full conv."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int], causal: bool = False) -> None:
        super().__init__()
        self.depthwise = _conv_bn_relu(cin, cin, stride, groups=cin, causal=causal)
        self.pointwise = _conv_bn_relu(cin, cout, (1, 1), kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def strided_length(length: torch.Tensor, stride: int) -> torch.Tensor:
    """Output frames of a kernel-3, padding-1 convolution with ``stride`` over ``length`` frames."""
    if stride == 1:
        return length
    return torch.div(length - 1, stride, rounding_mode="floor") + 1


class CryStudent(nn.Module):
    """forward(waveform [B, N] float32 16 kHz, lengths [B] samples or None) -> (cry_logit [B], cause_logits [B, K])."""

    def __init__(self, config: StudentConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StudentConfig()
        self.frontend = LogMelFrontend(getattr(torch, config.frontend_dtype), config.frame_stride)
        self.stem = _conv_bn_relu(1, config.stem_channels, config.stem_stride, causal=config.causal)
        layers, cin = [], config.stem_channels
        for cout, ts, ms in config.blocks:
            layers.append(SeparableBlock(cin, cout, (ts, ms), causal=config.causal))
            cin = cout
        self.blocks = nn.ModuleList(layers)
        self.pool = make_pooling(config.pooling, config.embed_dim, heads=config.attention_heads)
        self.trunk = nn.Sequential(nn.ReLU(), nn.Dropout(config.dropout))
        self.cry = nn.Linear(self.pool.out_dim, 1)
        self.cause = nn.Linear(self.pool.out_dim, config.n_causes)

    # -- lengths ---------------------------------------------------------------------------------
    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Log-mel frames of each clip, from its length in samples."""
        return num_frames(lengths.to(torch.long), self.config.frame_stride)

    def embedding_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frame embeddings of each clip (after every time stride), from its length in samples."""
        out = self.frame_lengths(lengths)
        for s in self.config.time_strides:
            out = strided_length(out, s)
        return out

    # -- pieces ----------------------------------------------------------------------------------
    def normalise(self, logmel: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Mean/variance normalisation over bands and frames (padding excluded): per utterance, or
        over the ``norm_frames`` frames centred on each frame (fewer at the ends)."""
        if self.config.normalisation == "local":
            return self._normalise_local(logmel, mask)
        eps = self.config.norm_eps
        if mask is None:
            mean = logmel.mean(dim=(1, 2), keepdim=True)
            var = (logmel - mean).pow(2).mean(dim=(1, 2), keepdim=True)
            return (logmel - mean) / torch.sqrt(var + eps)
        w = mask.unsqueeze(-1).to(logmel.dtype)
        count = (w.sum(dim=(1, 2), keepdim=True) * logmel.shape[2]).clamp_min(1.0)
        mean = (logmel * w).sum(dim=(1, 2), keepdim=True) / count
        var = ((logmel - mean).pow(2) * w).sum(dim=(1, 2), keepdim=True) / count
        return (logmel - mean) / torch.sqrt(var + eps) * w

    def _normalise_local(self, logmel: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Moving mean and variance over all bands of nearby frames (the ``k`` centred on each frame,
        or the ``k`` up to it when causal), as ratios of two sums so that clip ends and batch padding
        are both excluded (one code path with and without a mask)."""
        k = self.config.norm_frames
        weight = torch.ones_like(logmel[..., 0]) if mask is None else mask.to(logmel.dtype)  # [B, T]
        causal = self.config.causal

        def local_sum(v: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T]: (sums over the k frames) / k
            if causal:
                return F.avg_pool1d(F.pad(v.unsqueeze(1), (k - 1, 0)), k, stride=1).squeeze(1)
            return F.avg_pool1d(v.unsqueeze(1), k, stride=1, padding=k // 2, count_include_pad=True).squeeze(1)

        count = local_sum(weight).clamp_min(1.0 / k)
        mean = local_sum(logmel.mean(-1) * weight) / count
        square = local_sum(logmel.pow(2).mean(-1) * weight) / count
        var = (square - mean * mean).clamp_min(0.0)
        out = (logmel - mean.unsqueeze(-1)) / torch.sqrt(var + self.config.norm_eps).unsqueeze(-1)
        return out if mask is None else out * weight.unsqueeze(-1)

    def frame_embeddings(
        self, waveform: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """waveform [B, N] -> (frame embeddings [B, T', D], mask [B, T'] or None when all frames are real)."""
        logmel = self.frontend(waveform)  # [B, T, 64]
        flen = self.frame_lengths(lengths) if lengths is not None else None
        mask = lengths_to_mask(flen, logmel.shape[1]) if flen is not None else None
        x = self.normalise(logmel, mask).unsqueeze(1)  # [B, 1, T, 64]
        layers = [self.stem, *self.blocks]
        for layer, stride in zip(layers, self.config.time_strides):
            x = layer(x)
            if flen is not None:
                flen = strided_length(flen, stride)
                mask = lengths_to_mask(flen, x.shape[2])
                x = x * mask[:, None, :, None].to(x.dtype)
        return x.mean(dim=3).transpose(1, 2), mask  # pool over mel, keep time: [B, T', C]

    def _heads(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(self.pool(frames, mask))
        return self.cry(h).squeeze(-1), self.cause(h)

    def forward(
        self, waveform: torch.Tensor, lengths: torch.Tensor | None = None,
        first_frame: torch.Tensor | None = None, n_frames: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cry [B], causes [B, K])`` pooled over every real frame, or with ``first_frame`` and
        ``n_frames`` over embedding frames ``first_frame[i]`` to ``first_frame[i] + n_frames - 1`` of
        each clip (its real ones).

        Why the span: a window cut out alone gives its first frames a normalisation and convolutions
        that see nothing before it, while in a stream (and in one pass over a clip) they see the
        audio before it. Given that audio as well, a training window gets the input it is scored on
        (``DistillConfig.context_crops``). The span is an argument of ``forward`` so that it trains
        through ``DistributedDataParallel`` too."""
        frames, mask = self.frame_embeddings(waveform, lengths)
        if mask is None:
            mask = torch.ones_like(frames[..., 0], dtype=torch.bool)
        if first_frame is not None:
            index = torch.arange(frames.shape[1], device=frames.device)[None]
            real = mask.sum(dim=1)
            first = torch.minimum(first_frame.to(index.dtype), (real - 1).clamp_min(0))[:, None]  # never empty
            mask = mask & (index >= first) & (index < first + (n_frames or frames.shape[1]))
        return self._heads(frames, mask)

    def forward_windows(
        self, waveform: torch.Tensor, window_frames: int, hop_frames: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass over whole clips: ``(cry [B], causes [B, K], window cry [B, W], window causes [B, W, K])``.

        The first two pool every frame, as :meth:`forward`. Windows are ``window_frames`` embedding
        frames every ``hop_frames`` from the first, the last one partial when the hops do not land
        on the end (it holds more than ``window_frames - hop_frames`` real frames, pooled alone):
        ``W = 1 + ceil(max(T - window_frames, 0) / hop_frames)`` for ``T`` embedding frames. Needs
        ``normalisation="local"``: with per-utterance statistics a window's score would depend on
        the rest of the clip.
        """
        if self.config.normalisation != "local":
            raise ValueError("window outputs need normalisation='local' (per-utterance statistics span the clip)")
        frames, _ = self.frame_embeddings(waveform)
        batch, t, dim = frames.shape
        all_frames = torch.ones_like(frames[..., 0], dtype=torch.bool)
        cry, causes = self._heads(frames, all_frames)
        # Windows gathered by an index grid from frames padded by one window: a size-dependent pad,
        # unfold or slice makes torch.export guard on (and fix) the clip length.
        n = num_patches_from_frames(t, hop_frames, window_frames)
        index = torch.arange(n, device=frames.device)[:, None] * hop_frames + torch.arange(window_frames, device=frames.device)
        padded = torch.cat([frames, frames.new_zeros((batch, window_frames, dim))], dim=1)
        windows = padded[:, index]  # [B, W, window, D]
        real = (index < t)[None].expand(batch, -1, -1)
        # Windows of all clips as one batch: the linear layers then export as Gemm, as in the clip
        # path, and share their weights with it in a form the int8 quantizers handle.
        w_cry, w_causes = self._heads(windows.flatten(0, 1), real.flatten(0, 1))
        return cry, causes, w_cry.unflatten(0, (batch, n)), w_causes.unflatten(0, (batch, n))


def fused_for_export(model: CryStudent) -> CryStudent:
    """An eval-mode copy with every batch norm folded into the convolution before it.

    Same outputs (to float rounding), fewer graph nodes, and no ``batch_norm`` for ``torch.export``
    to guard on (it checks for empty inputs, which it cannot decide for the front-end's symbolic
    frame count).
    """
    fused = copy.deepcopy(model).eval()
    for seq in fused.modules():
        if isinstance(seq, nn.Sequential) and len(seq) == 3 and isinstance(seq[1], nn.BatchNorm2d):
            seq[0] = nn.utils.fusion.fuse_conv_bn_eval(seq[0], seq[1])
            seq[1] = nn.Identity()
    return fused


def save_student(model: CryStudent, path: str | Path) -> Path:
    """Checkpoint: the config (to rebuild the module) and the weights."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config.to_dict(), "state_dict": model.state_dict()}, path)
    return path


def load_student(path: str | Path) -> CryStudent:
    """Rebuild a :func:`save_student` checkpoint, in eval mode."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    model = CryStudent(StudentConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (the number the <= 250k budget is about)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
