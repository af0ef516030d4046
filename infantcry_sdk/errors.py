"""The only exception types the public API raises for bad input or a bad model.

Every message says what was wrong and what to do, so an app can show it or log it as is.
"""
from __future__ import annotations


class InfantCryError(Exception):
    """Base class: catch this to handle every InfantCry failure in one place."""


class AudioError(InfantCryError, ValueError):
    """The audio cannot be scored: empty, too short, NaN/Inf, wrong dtype or shape, unreadable."""


class ModelError(InfantCryError, RuntimeError):
    """The model file is missing, not an InfantCry model, of an unknown schema, or tampered with."""
