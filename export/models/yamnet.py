"""YAMNet in torch, with its weights read once from ``yamnet.tflite`` and cached as a state dict.

YAMNet is MobileNetV1 over 96 x 64 log-mel patches: a 3x3 convolution, 13 depthwise-separable
blocks, global average pooling to a 1024-d embedding and a 521-way sigmoid classifier (AudioSet).
The only weights available here are the int8 ones inside ``yamnet.tflite``; this module walks that
graph (ops in order, through its DEQUANTIZE nodes), dequantizes every weight with its own
per-channel scale and zero point, and loads them into an ordinary float torch model that can be
fine-tuned. Batch norm is already folded into the convolution biases in the tflite graph, so the
torch model has convolutions with biases and ReLUs, nothing else (no dropout, no batch norm: train
and eval modes compute the same thing).

TensorFlow's "SAME" padding is reproduced exactly: for a stride-2 3x3 convolution on an even size
TF pads 0 before and 1 after (bottom/right), which torch's symmetric ``padding=1`` would get wrong.

Parity with the TFLite interpreter is tested (``tests/test_yamnet.py``): TFLite runs the pointwise
convolutions and the classifier as hybrid kernels (activations quantized to int8 on the fly), so the
scores agree closely but not exactly.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from infantcry_sdk.integrity import file_sha256

from export.audio.frontend import (
    NUM_MEL_BANDS,
    PATCH_FRAMES,
    PATCH_HOP_FRAMES,
    LogMelFrontend,
    frames_to_patches,
    lengths_to_mask,
    num_patches,
)
from export.files import replacing
from export.training.distributed import is_writer

NUM_CLASSES = 521
EMBEDDING_DIM = 1024
#: AudioSet classes of YAMNet's class map (``yamnet_class_map.csv``) that mean crying.
BABY_CRY = 20  # "Baby cry, infant cry"
CRYING_SOBBING = 19  # "Crying, sobbing"
CRY_CLASSES = (BABY_CRY, CRYING_SOBBING)
CRY_CLASS_NAMES = {BABY_CRY: "Baby cry, infant cry", CRYING_SOBBING: "Crying, sobbing"}
#: AudioSet classes whose scores the teacher may read beside the embeddings: the cries, and the
#: baby-like sounds YAMNet was shown and our data barely holds (baby laughter, giggle, babbling, child
#: speech, children playing), with laughter and speech as their adult counterparts.
CONTEXT_CLASSES = (BABY_CRY, CRYING_SOBBING, 14, 15, 4, 1, 66, 13, 0)
CONTEXT_CLASS_NAMES = (
    "Baby cry, infant cry", "Crying, sobbing", "Baby laughter", "Giggle", "Babbling",
    "Child speech, kid speaking", "Children playing", "Laughter", "Speech",
)

#: (kind, stride, output channels) of YAMNet's 14 layers (yamnet.py's _YAMNET_LAYER_DEFS).
LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv", 2, 32),
    ("separable", 1, 64),
    ("separable", 2, 128),
    ("separable", 1, 128),
    ("separable", 2, 256),
    ("separable", 1, 256),
    ("separable", 2, 512),
    *(("separable", 1, 512),) * 5,
    ("separable", 2, 1024),
    ("separable", 1, 1024),
)
NUM_BLOCKS = len(LAYERS)
CACHE_NAME = "yamnet_torch.pt"
_CACHE_FORMAT = 1


class YAMNetError(RuntimeError):
    """The tflite file is missing, unreadable or not the YAMNet graph this module knows."""


# ------------------------------------------------------------------------------------------------
# Modules
# ------------------------------------------------------------------------------------------------
class TFSamePad2d(nn.Module):
    """TensorFlow's "SAME" padding for a square kernel: ``total = max((ceil(n/s) - 1) s + k - n, 0)``,
    ``total // 2`` before and the rest after (asymmetric when ``total`` is odd)."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _pads(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        return nn.functional.pad(x, (left, right, top, bottom))


class ConvBlock(nn.Sequential):
    """Layer 1: 3x3 convolution (batch norm folded into the bias) + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__(TFSamePad2d(3, stride), nn.Conv2d(cin, cout, 3, stride), nn.ReLU())


class SeparableBlock(nn.Module):
    """Layers 2-14: 3x3 depthwise + ReLU, then 1x1 pointwise + ReLU (batch norm folded)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.pad = TFSamePad2d(3, stride)
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.depthwise(self.pad(x)))
        return torch.relu(self.pointwise(x))


class _Stem(nn.Module):
    """Patches ``[N, 96, 64]`` -> activations after the first blocks ``[N, C, H, W]``."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.blocks(patches.unsqueeze(1))


class _Tail(nn.Module):
    """Activations ``[N, C, H, W]`` -> the last blocks -> global average pool -> ``[N, 1024]``."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, activations: torch.Tensor) -> torch.Tensor:
        return self.blocks(activations).mean(dim=(2, 3))


class YAMNet(nn.Module):
    """forward(patches ``[N, 96, 64]`` log-mel) -> (scores ``[N, 521]`` sigmoid, embeddings ``[N, 1024]``)."""

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = 1
        for kind, stride, cout in LAYERS:
            blocks.append(ConvBlock(cin, cout, stride) if kind == "conv" else SeparableBlock(cin, cout, stride))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(EMBEDDING_DIM, NUM_CLASSES)
        self.frontend = LogMelFrontend()
        self.class_names: list[str] | None = None

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """Patches ``[N, 96, 64]`` -> embeddings ``[N, 1024]`` (YAMNet's global-average-pooled features)."""
        _check_patches(patches)
        x = patches.unsqueeze(1)
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3))

    def classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Embeddings ``[..., 1024]`` -> AudioSet scores ``[..., 521]`` (sigmoid probabilities)."""
        return torch.sigmoid(self.classifier(embeddings))

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.embed(patches)
        return self.classify(embeddings), embeddings

    def split(self, n_trainable_blocks: int) -> tuple[nn.Module, nn.Module]:
        """``(frozen, trainable)`` for fine-tuning the last ``n_trainable_blocks`` of the 14 blocks.

        ``frozen(patches [N, 96, 64]) -> activations [N, C, H, W]`` and
        ``trainable(activations) -> embeddings [N, 1024]``; ``trainable(frozen(p)) == embed(p)``.
        Both share this model's parameters (no copy). The frozen part's parameters get
        ``requires_grad=False`` and the trainable part's ``True``, so an optimizer over
        ``trainable.parameters()`` fine-tunes exactly those blocks. The classifier belongs to neither.
        ``n_trainable_blocks=0``: the trainable part is only the pooling (cache the embeddings);
        ``14``: the frozen part is only the reshape.
        """
        if isinstance(n_trainable_blocks, bool) or not isinstance(n_trainable_blocks, int) or not 0 <= n_trainable_blocks <= NUM_BLOCKS:
            raise ValueError(f"n_trainable_blocks must be an int in 0..{NUM_BLOCKS}, got {n_trainable_blocks!r}.")
        cut = NUM_BLOCKS - n_trainable_blocks
        frozen, trainable = _Stem(list(self.blocks[:cut])), _Tail(list(self.blocks[cut:]))
        frozen.requires_grad_(False)
        trainable.requires_grad_(True)
        return frozen, trainable

    def embed_waveform(
        self, waveform: torch.Tensor, lengths: torch.Tensor | None = None, hop_frames: int = PATCH_HOP_FRAMES
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms ``[B, N]`` (16 kHz, zero-padded to a common length) -> (embeddings ``[B, P, 1024]``, mask ``[B, P]``).

        ``lengths`` ``[B]``: each clip's true number of samples (default: all ``N``). Patches follow
        :func:`export.audio.frontend.num_patches`; a clip's frames past its own end are treated exactly as
        if the clip were alone (see ``LogMelFrontend``), and ``mask`` is False on patches that
        belong to padding only, so a batch gives each clip the embeddings it would get alone.
        """
        if waveform.dim() != 2:
            raise ValueError(f"embed_waveform takes [B, N] waveforms, got shape {tuple(waveform.shape)}.")
        b = waveform.shape[0]
        if lengths is None:
            lengths = torch.full((b,), waveform.shape[1], dtype=torch.int64, device=waveform.device)
        lengths = torch.as_tensor(lengths, dtype=torch.int64, device=waveform.device)
        if lengths.shape != (b,) or bool((lengths < 0).any()) or bool((lengths > waveform.shape[1]).any()):
            raise ValueError(f"lengths must be [B] ints in 0..{waveform.shape[1]}, got {lengths.tolist()}.")
        patches = frames_to_patches(self.frontend(waveform, lengths), PATCH_FRAMES, hop_frames)  # [B, P, 96, 64]
        p = patches.shape[1]
        embeddings = self.embed(patches.reshape(b * p, PATCH_FRAMES, NUM_MEL_BANDS)).reshape(b, p, EMBEDDING_DIM)
        return embeddings, lengths_to_mask(num_patches(lengths, hop_frames), p)


def _check_patches(patches: torch.Tensor) -> None:
    if patches.dim() != 3 or tuple(patches.shape[1:]) != (PATCH_FRAMES, NUM_MEL_BANDS):
        raise ValueError(f"YAMNet takes log-mel patches [N, {PATCH_FRAMES}, {NUM_MEL_BANDS}], got {tuple(patches.shape)}.")


# ------------------------------------------------------------------------------------------------
# tflite -> state dict
# ------------------------------------------------------------------------------------------------
@dataclass
class _TFLiteGraph:
    """The parts of a tflite graph this module reads: ops in execution order and constant tensors."""

    ops: list[dict]
    tensors: list[dict]
    get: object  # index -> numpy array

    @classmethod
    def open(cls, path: Path) -> "_TFLiteGraph":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise YAMNetError(
                "reading yamnet.tflite needs ai-edge-litert (pip install ai-edge-litert), or a cached "
                f"{CACHE_NAME} from an earlier run."
            ) from exc
        try:
            interp = Interpreter(model_path=str(path))
        except Exception as exc:  # the interpreter raises ValueError/RuntimeError for bad files
            raise YAMNetError(f"cannot read {path} as a tflite model: {exc}") from exc
        return cls(ops=interp._get_ops_details(), tensors=interp.get_tensor_details(), get=interp.get_tensor)

    def dequantized(self, index: int) -> np.ndarray:
        """Constant tensor ``index`` as float32: int8 weights times their per-channel scale."""
        producer = next((op for op in self.ops if index in list(op["outputs"]) and op["op_name"] == "DEQUANTIZE"), None)
        if producer is not None:  # a float weight computed at load time from an int8 one
            index = int(producer["inputs"][0])
        info = self.tensors[index]
        data = np.asarray(self.get(index))
        if data.dtype == np.float32:
            return data.copy()
        if data.dtype != np.int8:
            raise YAMNetError(f"unexpected weight type {data.dtype} for tensor {info['name']!r}")
        q = info["quantization_parameters"]
        scales, zeros = np.asarray(q["scales"], np.float64), np.asarray(q["zero_points"], np.float64)
        shape = [1] * data.ndim
        if scales.size > 1:
            shape[int(q["quantized_dimension"])] = scales.size
        return ((data.astype(np.float64) - zeros.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def state_dict_from_tflite(tflite_path: str | Path) -> dict[str, torch.Tensor]:
    """Read YAMNet's weights from ``yamnet.tflite`` into this module's state dict layout.

    Walks the graph's CONV_2D / DEPTHWISE_CONV_2D ops in execution order (layer 1, then depthwise
    and pointwise of layers 2-14) and the last FULLY_CONNECTED (the classifier), converting TFLite's
    layouts (conv ``[out, kh, kw, in]``, depthwise ``[1, kh, kw, C]``) to torch's ``[out, in, kh, kw]``.
    """
    graph = _TFLiteGraph.open(Path(tflite_path))
    convs = [op for op in graph.ops if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    fcs = [op for op in graph.ops if op["op_name"] == "FULLY_CONNECTED"]
    expected = ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * (NUM_BLOCKS - 1)
    if [op["op_name"] for op in convs] != expected or not fcs:
        raise YAMNetError(f"{tflite_path} is not the YAMNet graph: conv ops {[op['op_name'] for op in convs]}")

    def weight_bias(op: dict) -> tuple[np.ndarray, np.ndarray]:
        return graph.dequantized(int(op["inputs"][1])), graph.dequantized(int(op["inputs"][2]))

    model = YAMNet()
    state: dict[str, torch.Tensor] = {}
    w, b = weight_bias(convs[0])
    state["blocks.0.1.weight"], state["blocks.0.1.bias"] = torch.from_numpy(w.transpose(0, 3, 1, 2)), torch.from_numpy(b)
    for i in range(1, NUM_BLOCKS):
        dw_w, dw_b = weight_bias(convs[2 * i - 1])
        pw_w, pw_b = weight_bias(convs[2 * i])
        state[f"blocks.{i}.depthwise.weight"] = torch.from_numpy(dw_w.transpose(3, 0, 1, 2))
        state[f"blocks.{i}.depthwise.bias"] = torch.from_numpy(dw_b)
        state[f"blocks.{i}.pointwise.weight"] = torch.from_numpy(pw_w.transpose(0, 3, 1, 2))
        state[f"blocks.{i}.pointwise.bias"] = torch.from_numpy(pw_b)
    w, b = weight_bias(fcs[-1])
    state["classifier.weight"], state["classifier.bias"] = torch.from_numpy(w), torch.from_numpy(b)
    want = model.state_dict()
    bad = [k for k in want if k not in state or tuple(state[k].shape) != tuple(want[k].shape)]
    if bad or len(state) != len(want):
        raise YAMNetError(f"{tflite_path}: weights do not fit YAMNet at {bad[:3]} (shapes differ)")
    return {k: v.contiguous() for k, v in state.items()}


def read_class_names(csv_path: str | Path) -> list[str]:
    """``display_name`` of each class from ``yamnet_class_map.csv`` (``index, mid, display_name``)."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = [r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"]))]
    if len(names) != NUM_CLASSES:
        raise YAMNetError(f"{csv_path}: {len(names)} classes, expected {NUM_CLASSES}")
    for index, name in CRY_CLASS_NAMES.items():
        if names[index] != name:
            raise YAMNetError(f"{csv_path}: class {index} is {names[index]!r}, expected {name!r}")
    return names




def load_yamnet(tflite_path: str | Path, cache_dir: str | Path | None = None) -> YAMNet:
    """YAMNet with weights from ``tflite_path``, in eval mode.

    With ``cache_dir``, the dequantized state dict is stored there as ``yamnet_torch.pt`` (keyed by the
    tflite's SHA-256) and later calls load it instead of parsing the tflite again. The class names
    are read from ``yamnet_class_map.csv`` beside the tflite when it is there (``model.class_names``).
    """
    path = Path(tflite_path)
    if not path.is_file():
        raise YAMNetError(f"YAMNet weights not found: {path}. Expected ../shared/models/yamnet/yamnet.tflite.")
    digest = file_sha256(path)
    cache = Path(cache_dir) / CACHE_NAME if cache_dir is not None else None
    state = None
    if cache is not None and cache.is_file():
        saved = torch.load(cache, map_location="cpu", weights_only=True)
        if saved.get("format") == _CACHE_FORMAT and saved.get("source_sha256") == digest:
            state = saved["state_dict"]
    if state is None:
        state = state_dict_from_tflite(path)
        if cache is not None and is_writer():  # under torchrun rank 0 alone writes the cache
            with replacing(cache) as tmp:
                torch.save({"format": _CACHE_FORMAT, "source_sha256": digest, "state_dict": state}, tmp)
    model = YAMNet()
    model.load_state_dict(state)
    class_map = path.with_name("yamnet_class_map.csv")
    if class_map.is_file():
        model.class_names = read_class_names(class_map)
    return model.eval()
