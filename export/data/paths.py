"""The one data-root resolver: ``--data-root`` flag, then ``$INFANTCRY_DATA_ROOT``, then ``<repo>/../shared``.

The toolchain, the golden-vector generator and the benchmarks all find ``data/`` and ``models/``
through :func:`default_data_root` / :func:`resolve_data_root`, so one environment variable moves them
all. Torch-free: the benchmarks import it.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "INFANTCRY_DATA_ROOT"
REPO = Path(__file__).resolve().parents[2]

DONATEACRY_MANIFEST = Path("data/donateacry/manifest.csv")
ESC50_MANIFEST = Path("data/esc50/esc50.csv")
SPEECH_MANIFEST = Path("data/speech/manifest.csv")
SPEECH_SPEAKERS = Path("data/speech/speakers.csv")
URBANSOUND_MANIFEST = Path("data/urbansound8k/manifest.csv")
NOISE_MANIFEST = Path("data/noise/manifest.csv")
#: What every run needs; the other sources are used where present.
REQUIRED = (DONATEACRY_MANIFEST, DONATEACRY_MANIFEST.parent / "audio", ESC50_MANIFEST, ESC50_MANIFEST.parent / "audio")


class DataError(RuntimeError):
    """The data is missing, malformed, or a split does not match the catalog."""


def _choose(cli_value: str | os.PathLike | None) -> tuple[Path, str]:
    if cli_value:
        return Path(cli_value), "--data-root"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    return REPO.parent / "shared", "the default <repo>/../shared"


def default_data_root(cli_value: str | os.PathLike | None = None) -> Path:
    """Where the data root is (flag > environment > ../shared), whether or not it exists: for callers
    that degrade gracefully without it (the benchmarks fall back to synthetic audio)."""
    return _choose(cli_value)[0].expanduser().resolve()


def resolve_data_root(cli_value: str | os.PathLike | None = None) -> Path:
    """The data root, checked: the two required manifests (Donate-a-Cry, ESC-50) and their audio
    folders must exist. Raises :class:`DataError` naming every missing path and where the root came from."""
    root, origin = _choose(cli_value)
    root = root.expanduser().resolve()
    missing = [str(root / p) for p in REQUIRED if not (root / p).exists()]
    if missing:
        raise DataError(
            f"data root {root} (from {origin}) is incomplete; missing: {', '.join(missing)}. "
            f"Pass --data-root or set {ENV_VAR} to the folder holding data/donateacry and data/esc50 "
            "(the ../shared layout, see its README.md)."
        )
    return root
