"""The monitor as parents run it: home-day streams of one side, the model's window scores on them, the
stream rules chosen on validation streams, and events counted on test streams.

Validation streams (validation clips, validation room tone) choose the rules; test streams (test clips,
test room tone) report them; no clip or noise recording is on both. Window scores come from the SDK's
own :class:`infantcry_sdk.CryStream` (its ``on_window`` callback), which scores exactly the windows
``predict`` scores; the reported events come from a fresh ``CryStream`` fed 100 ms chunks with the
rules written into the model, so the figures are the product's. YAMNet's zero-shot cry score gets
the same treatment (rules calibrated on the same validation streams, replayed on the test streams).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from export.constants import SAMPLE_RATE
from export.data.context import DataContext
from export.data.noise import noise_for_side
from export.evaluation.home_day import HomeDayConfig, HomeStream, build_stream, run_monitor
from export.evaluation.stream_rules import LabelledStream, StreamScore, calibrate, evaluate_rules, rules_dict
from infantcry_sdk.stream import StreamOptions

#: Negative sources that get a stream each (those present in the catalog).
STREAM_SOURCES = ("esc50", "speech", "urbansound8k", "extra")


def side_streams(ctx: DataContext, data_root: Path, side: str, config: HomeDayConfig) -> list[HomeStream]:
    """One home-day stream per negative source, from ``side``'s clips and ``side``'s room tone only."""
    clips = [c for c in ctx.side(side) if c.is_cry is not None]
    cries = ctx.waves([c for c in clips if c.is_cry])
    room = [n.samples for n in noise_for_side(data_root, side)] or [np.full(SAMPLE_RATE, 1e-4, dtype=np.float32)]
    streams = []
    for i, source in enumerate(STREAM_SOURCES):
        negatives = [c for c in clips if not c.is_cry and c.source == source]
        if negatives and cries:
            streams.append(build_stream(f"{side}:{source}", ctx.waves(negatives), cries, room, config,
                                        seed=config.seed * 1000 + i + (0 if side == "val" else 500),
                                        negative_ids=[c.clip_id for c in negatives]))
    return streams


def model_context_seconds(clf) -> float:
    """How much audio after a window the model's stream waits for before scoring it
    (``clf``: a loaded :class:`infantcry_sdk.CryClassifier`)."""
    return clf.grid.context_after / SAMPLE_RATE


def sdk_scorer(clf) -> Callable[[np.ndarray], np.ndarray]:
    """The window scorer of the loaded ``clf`` (:func:`sdk_window_scores`), as the calibration and
    the held-out check take it."""
    return functools.partial(sdk_window_scores, clf)


def sdk_window_scores(clf, audio: np.ndarray) -> np.ndarray:
    """Every window's cry probability, from the SDK's stream of the loaded ``clf`` (large chunks:
    chunking does not change them)."""
    stream = clf.stream(SAMPLE_RATE)
    probs: list[float] = []
    stream.on_window = lambda w: probs.append(w.cry_probability)
    step = 60 * SAMPLE_RATE
    for pos in range(0, audio.size, step):
        stream.push(audio[pos:pos + step])
    stream.flush()
    return np.asarray(probs)


def labelled(streams: Sequence[HomeStream], score: Callable[[np.ndarray], np.ndarray]) -> list[LabelledStream]:
    return [LabelledStream(s.name, score(s.audio), tuple(s.bouts), s.hours) for s in streams]


@dataclass(frozen=True)
class Calibrated:
    """Rules chosen on validation streams, and how they did there."""

    rules: StreamOptions
    met_budget: bool
    validation: dict

    def to_dict(self) -> dict:
        return {"rules": rules_dict(self.rules), "met_false_alarm_budget": self.met_budget, "validation": self.validation}


def home_day_config(export_config, seed: int) -> HomeDayConfig:
    """The home-day streams of ``export_config`` (an ``ExportConfig``) drawn from ``seed``: one
    definition for the validation streams the rules are chosen on and the test streams they are
    judged on."""
    return HomeDayConfig(minutes_per_source=export_config.stream_minutes_per_source, seed=seed)


def validation_streams(
    score: Callable[[np.ndarray], np.ndarray], ctx: DataContext, data_root: Path, export_config, seed: int
) -> list[LabelledStream]:
    """The validation home-day streams that ``seed`` draws, scored by the window scorer ``score``."""
    return labelled(side_streams(ctx, data_root, "val", home_day_config(export_config, seed)), score)


def choose_rules(streams: Sequence[LabelledStream], export_config, context_s: float = 0.0,
                 long_bout_slack: int | None = None) -> Calibrated:
    """The monitor rules for the false-alarm budget of ``export_config`` (an ``ExportConfig``) on
    ``streams``, by its ``stream_long_bout_slack`` unless ``long_bout_slack`` is given."""
    e = export_config
    slack = e.stream_long_bout_slack if long_bout_slack is None else long_bout_slack
    rules, scored, met = calibrate(streams, e.window_seconds, e.hop_seconds, max_false_alarms_per_hour=e.max_false_alarms_per_hour,
                                   context_s=context_s, long_bout_slack=slack)
    return Calibrated(rules, met, scored.summary())


def calibration_seeds(export_config, seed: int) -> list[int]:
    """The draws of validation streams the rules are chosen on: ``seed`` and the next
    ``stream_calibration_draws - 1``."""
    return [seed + i for i in range(export_config.stream_calibration_draws)]


def calibrate_scorer(
    score: Callable[[np.ndarray], np.ndarray], ctx: DataContext, data_root: Path, export_config, seed: int,
    context_s: float = 0.0,
) -> Calibrated:
    """The monitor rules chosen for the window scorer ``score`` on the validation home-day streams of
    :func:`calibration_seeds` pooled (:func:`choose_rules`): the one calibration for the student
    (:func:`calibrate_model`) and for a baseline such as YAMNet."""
    streams = [s for d in calibration_seeds(export_config, seed)
               for s in validation_streams(score, ctx, data_root, export_config, d)]
    return choose_rules(streams, export_config, context_s)


def calibrate_model(clf, ctx: DataContext, data_root: Path, export_config, seed: int) -> Calibrated:
    """The monitor rules chosen for the loaded ``clf`` (:func:`calibrate_scorer`): what the export
    stage writes into the model (with the run's seed), and what :mod:`export.evaluation.stream_draws`
    repeats over other draws."""
    return calibrate_scorer(sdk_scorer(clf), ctx, data_root, export_config, seed,
                            model_context_seconds(clf))


def monitor_report(clf, streams: Sequence[HomeStream], chunk_ms: float = 100.0) -> dict[str, dict]:
    """Per stream and pooled: event recall, delays and false alarms of the model's own CryStream
    (``clf``: a loaded :class:`infantcry_sdk.CryClassifier`). Each stream also lists its false alarms
    with the negative clips that the window opening each one heard."""
    window_s = clf.grid.window / SAMPLE_RATE
    out: dict[str, dict] = {}
    scores = []
    for s in streams:
        sc = run_monitor(s, lambda: clf.stream(SAMPLE_RATE), chunk_ms)
        scores.append(sc)
        out[s.name] = {**sc.summary(), "false_alarms_heard": false_alarms_heard(s, sc, window_s)}
    out["all"] = StreamScore.pooled(scores).summary()
    return out


def false_alarms_heard(stream: HomeStream, score: StreamScore, window_s: float) -> list[dict]:
    """Each false alarm's start and the negative clips under the window that opened it."""
    return [{"start_s": round(t, 2), "clips": stream.clips_between(t, t + window_s)} for t in score.false_alarm_starts_s]


def replay_report(
    streams: Sequence[LabelledStream], rules: StreamOptions, window_s: float, hop_s: float, context_s: float = 0.0
) -> dict[str, dict]:
    """The same table from replayed window scores (for a scorer that has no CryStream, e.g. YAMNet)."""
    out = {s.name: evaluate_rules([s], rules, window_s, hop_s, context_s).summary() for s in streams}
    out["all"] = evaluate_rules(streams, rules, window_s, hop_s, context_s).summary()
    return out


def yamnet_window_scores(extractor, audio: np.ndarray) -> np.ndarray:
    """YAMNet's zero-shot cry score per 1.92 s window (every 0.96 s): the max over its two 0.96 s
    patches (``extractor`` with a 96-frame patch hop)."""
    step = 320 * 15360  # 320 patches (5.1 min) at a time, on the patch grid
    patch = np.concatenate([np.asarray(f.cry_scores, dtype=np.float64)
                            for f in extractor.extract([audio[i:i + step] for i in range(0, audio.size, step)])])
    if patch.size < 2:
        return patch
    return np.maximum(patch[:-1], patch[1:])
