"""Monitor rules: the replay matches the SDK's event rule, scoring matches bouts, calibration keeps
to its false-alarm budget."""
from __future__ import annotations

import numpy as np
import pytest

from export.evaluation.stream_rules import (
    Bout, CalibrationGrid, LabelledStream, calibrate, evaluate_rules, event_spans, replay, rules_metadata,
    StreamScore, _choose, score_events, smoothed,
)
from infantcry_sdk import contract
from infantcry_sdk.events import EventDetector, EventRules, ScoreSmoother
from infantcry_sdk.stream import StreamOptions


def test_smoothing_is_a_trailing_mean() -> None:
    assert smoothed(np.array([1.0, 0.0, 1.0, 1.0]), 2).tolist() == [1.0, 0.5, 0.5, 1.0]
    assert smoothed(np.array([0.2, 0.4]), 1).tolist() == [0.2, 0.4]


@pytest.mark.parametrize("seed", range(6))
def test_replay_matches_the_sdk_event_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = np.clip(np.repeat(rng.random(60), rng.integers(1, 4, size=60)), 0, 1)
    k, on_n, off_n = 1 + seed % 3, 1 + seed % 2, 2 + seed % 2
    rules = StreamOptions(on_threshold=0.7, off_threshold=0.4, smoothing_windows=k, min_on_windows=on_n, min_off_windows=off_n)
    det = EventDetector(EventRules(0.7, 0.4, on_n, off_n), ["a", "b"], 16000)
    smoother = ScoreSmoother(k)
    hop, win = 100, 200
    sdk = []
    for w, p in enumerate(probs):
        sdk += det.update(w * hop, w * hop + win, smoother.update(float(p)), [0.5, 0.5])
    sdk += det.finish()
    ours = replay(probs, rules)
    assert [e.sample for e in sdk if e.kind == "start"] == [e.first * hop for e in ours]
    assert [e.sample for e in sdk if e.kind == "end"] == [e.last * hop + win for e in ours]


def test_events_are_matched_to_bouts() -> None:
    bouts = [Bout(10.0, 20.0), Bout(100.0, 102.0)]
    spans = [(11.0, 12.5, 19.0), (50.0, 51.0, 53.0)]  # one catch, one false alarm
    sc = score_events(spans, bouts, hours=0.5)
    assert (sc.detected, sc.long_detected, sc.long_bouts, sc.false_alarms) == (1, 1, 1, 1)
    assert sc.recall == 0.5 and sc.false_alarms_per_hour == 2.0 and sc.delays_s == (2.5,)
    assert sc.false_alarm_starts_s == (50.0,)
    pooled = StreamScore.pooled([sc, score_events([(5.0, 6.0, 7.0)], [], hours=0.5)])
    assert pooled.false_alarms == 2 and pooled.false_alarm_starts_s == (50.0, 5.0)
    assert event_spans(replay([0.0, 0.9, 0.9, 0.0, 0.0], StreamOptions(0.8, 0.5, 1, 1, 2)), 1.92, 0.96) == [
        (0.96, 0.96 + 1.92, 1.92 + 1.92)
    ]


def _synthetic_stream(seed: int, n: int = 4000) -> LabelledStream:
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(1, 12, size=n), 0, 1)  # quiet home
    p[rng.integers(0, n, size=6)] = 0.95  # isolated loud windows: false alarms for a one-window rule
    bouts = []
    for start in range(200, n - 40, 400):
        length = int(rng.integers(3, 30))
        p[start:start + length] = rng.uniform(0.6, 1.0, size=length)
        bouts.append(Bout(start * 0.96, (start + length) * 0.96 + 1.92))
    return LabelledStream(f"s{seed}", p, tuple(bouts), hours=n * 0.96 / 3600)


def test_calibration_meets_the_budget_and_catches_bouts() -> None:
    streams = [_synthetic_stream(0), _synthetic_stream(1)]
    grid = CalibrationGrid(smoothing_windows=(1, 2), min_on_windows=(1, 2), min_off_windows=(2,), off_ratios=(0.7,), n_thresholds=20)
    rules, score, met = calibrate(streams, 1.92, 0.96, max_false_alarms_per_hour=0.5, grid=grid)
    assert met and score.false_alarms_per_hour <= 0.5
    assert score.recall >= 0.9
    assert evaluate_rules(streams, rules, 1.92, 0.96) == score
    meta = rules_metadata(rules)
    assert set(meta) == {
        contract.KEY_STREAM_ON_THRESHOLD, contract.KEY_STREAM_OFF_THRESHOLD, contract.KEY_STREAM_SMOOTHING_WINDOWS,
        contract.KEY_STREAM_MIN_ON_WINDOWS, contract.KEY_STREAM_MIN_OFF_WINDOWS,
    }
    assert float(meta[contract.KEY_STREAM_OFF_THRESHOLD]) <= float(meta[contract.KEY_STREAM_ON_THRESHOLD])


def test_an_event_running_before_the_cry_detects_nothing() -> None:
    """A monitor stuck 'on' from the start neither catches later bouts nor hides its false alarm."""
    bouts = [Bout(100.0, 130.0), Bout(300.0, 320.0)]
    sc = score_events([(5.0, 8.0, 400.0)], bouts, hours=0.2)
    assert sc.detected == 0 and sc.false_alarms == 1
    sc = score_events([(99.0, 101.0, 120.0)], bouts, hours=0.2)  # one window early: a catch
    assert sc.detected == 1 and sc.false_alarms == 0


def _score(long_detected: int, detected: int, false_alarms: int, delays: tuple[float, ...]) -> StreamScore:
    return StreamScore(bouts=10, detected=detected, long_bouts=5, long_detected=long_detected,
                       false_alarms=false_alarms, hours=2.0, delays_s=delays)


def test_a_long_bout_slack_trades_one_bout_for_the_shortest_delay() -> None:
    """Slack 0: most long bouts, then bouts, then delay; slack 1: the shortest delay among the rules
    within one long bout of the most; over the budget: the fewest false alarms."""
    rules = [StreamOptions(t, t / 2, 2, 1, 2) for t in (0.9, 0.8, 0.7, 0.6)]
    scored = [(rules[0], _score(5, 8, 1, (6.0,))), (rules[1], _score(4, 9, 0, (3.0,))),
              (rules[2], _score(3, 9, 0, (1.0,))), (rules[3], _score(5, 10, 3, (0.5,)))]
    assert _choose(scored, 0.5, 0) == (rules[0], scored[0][1], True)
    assert _choose(scored, 0.5, 1)[0] == rules[1]  # 3.0 s beats 6.0 s; 1.0 s is two bouts short
    assert _choose(scored, 0.5, 2)[0] == rules[2]
    assert _choose([scored[3]], 0.5, 1) == (rules[3], scored[3][1], False)


def test_the_rules_pool_the_configured_draws_of_validation_streams() -> None:
    from export.config import ExportConfig
    from export.evaluation.monitor import calibration_seeds

    assert calibration_seeds(ExportConfig(), 7) == [7]
    assert calibration_seeds(ExportConfig(stream_calibration_draws=3), 7) == [7, 8, 9]
    with pytest.raises(ValueError, match="stream_calibration_draws"):
        ExportConfig(stream_calibration_draws=0)
    with pytest.raises(ValueError, match="long_bout_slack"):
        calibrate([], 1.92, 0.96, long_bout_slack=-1)


def test_choice_value_orders_scores_as_the_calibration_chooses() -> None:
    """Early stopping on streams ranks epochs by calibrate's order: within the budget long bouts, then
    bouts, then the shorter delay; outside it always lower, fewer false alarms first."""
    from export.evaluation.stream_rules import choice_value

    scored = [(StreamOptions(t, t / 2, 1, 1, 2), sc) for t, sc in zip(
        (0.9, 0.8, 0.7, 0.6, 0.5),
        (_score(5, 8, 0, (6.0,)), _score(4, 10, 0, (0.1,)), _score(5, 9, 0, (9.0,)), _score(5, 9, 0, (2.0,)),
         _score(3, 3, 0, ())),
    )]
    values = [choice_value(sc, True) for _, sc in scored]
    assert _choose(scored, 0.5, 0)[0] == scored[int(np.argmax(values))][0]
    assert values[3] > values[2] > values[0] > values[1] > values[4]  # long, then bouts, then delay
    outside = [choice_value(_score(5, 10, fa, (1.0,)), False) for fa in (1, 2)]
    assert min(values) > 0 > outside[0] > outside[1]
    assert choice_value(_score(0, 0, 0, ()), True) >= 0
