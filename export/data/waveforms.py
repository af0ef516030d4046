"""Clips as float32 mono 16 kHz arrays, decoded once, through the runtime's own decoder."""
from __future__ import annotations

import hashlib
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import numpy as np

from infantcry_sdk import audio as sdk_audio

from export.constants import SAMPLE_RATE
from export.data.catalog import Clip
from export.data.paths import DataError
from export.files import replacing
from export.training.distributed import is_writer


def _cache_name(clip: Clip) -> str:
    st = clip.path.stat()
    key = f"{clip.clip_id}|{st.st_size}|{st.st_mtime_ns}|{SAMPLE_RATE}|{sdk_audio.RESAMPLE_QUALITY}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", clip.clip_id)[-80:]
    return f"{stem}.{digest}.npy"


class WaveformStore:
    """Clips as float32 mono 16 kHz arrays, decoded once.

    Decoding is :func:`infantcry_sdk.audio.load` (the runtime's own decoder). Arrays are kept in
    memory and, with ``cache_dir``, written as one ``.npy`` per clip whose name carries the clip id,
    file size, mtime and the SDK's resampling recipe, so a changed file or recipe is decoded again
    and repeated runs skip decoding.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.sample_rate = sample_rate
        self._mem: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._mem)

    def get(self, clip: Clip) -> np.ndarray:
        """The clip's samples (float32 ``[n]``); the same array object on every call."""
        wave = self._mem.get(clip.clip_id)
        if wave is not None:
            return wave
        wave = self._load(clip)
        wave.setflags(write=False)  # shared between callers: copy before changing it
        with self._lock:
            return self._mem.setdefault(clip.clip_id, wave)

    def _load(self, clip: Clip) -> np.ndarray:
        if not clip.path.is_file():
            raise DataError(f"audio file of {clip.clip_id} is missing: {clip.path}")
        cached = None
        if self.cache_dir is not None:
            cached = self.cache_dir / _cache_name(clip)
            if cached.is_file():
                try:
                    return np.load(cached, allow_pickle=False)
                except (OSError, ValueError):
                    pass  # a torn write: decode again and overwrite
        wave = sdk_audio.load(clip.path, None, self.sample_rate)
        wave = np.ascontiguousarray(wave, dtype=np.float32)
        if cached is not None and is_writer():  # under torchrun rank 0 alone writes the cache
            with replacing(cached) as tmp, open(tmp, "wb") as f:
                np.save(f, wave, allow_pickle=False)
        return wave

    def load_many(self, clips: Iterable[Clip], workers: int | None = None) -> dict[str, np.ndarray]:
        """Load every clip (threads: libsndfile and soxr release the GIL); ``{clip_id: samples}``."""
        clips = list(clips)
        todo = [c for c in clips if c.clip_id not in self._mem]
        workers = workers or min(4, os.cpu_count() or 1)
        if todo:
            if workers <= 1:
                for c in todo:
                    self.get(c)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(self.get, todo))
        return {c.clip_id: self._mem[c.clip_id] for c in clips}
