"""The student network (export/student.py) and its training loop (export/distill.py).

Random-initialised tiny students and short synthetic audio: every test runs in well under a second
or two. The batch-norm statistics are set from a few clips first (as training would) so that the
networks do not collapse to a constant output.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from export.training.distill import (
    DistillConfig,
    distillation_loss,
    hard_negative_weights,
    loss_weights,
    pad_batch,
    predict,
    predict_windows,
    train_student,
)
from export.audio.frontend import SAMPLE_RATE
from export.models.student import (
    MAX_PARAMETERS,
    CryStudent,
    StudentConfig,
    count_parameters,
    fused_for_export,
    load_student,
    save_student,
)

torch.set_num_threads(1)


def tones(n: int, seconds: float, seed: int = 0) -> list[np.ndarray]:
    """Varied test audio: a tone of random pitch and level in noise of random level."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return [
        (rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * rng.uniform(200, 3000) * t)
         + rng.uniform(0.001, 0.05) * rng.standard_normal(t.size)).astype(np.float32)
        for _ in range(n)
    ]


def settled_student(config: StudentConfig, seed: int = 0) -> CryStudent:
    """A random student whose batch norms hold statistics of real-ish audio, in eval mode."""
    torch.manual_seed(seed)
    model = CryStudent(config)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calls below
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(np.stack(tones(8, 1.0, seed))))
    return model.eval()


@pytest.mark.parametrize("pooling", ["statistic", "attention"])
def test_default_student_within_parameter_budget(pooling: str) -> None:
    n = count_parameters(CryStudent(StudentConfig(pooling=pooling)))
    assert 50_000 < n <= MAX_PARAMETERS == 250_000


@pytest.mark.parametrize("seconds", [0.5, 1.0, 7.3, 60.0])
def test_forward_shapes_any_length(seconds: float) -> None:
    model = CryStudent(StudentConfig.tiny(n_causes=3)).eval()
    batch = 2 if seconds < 60 else 1
    x = torch.randn(batch, int(seconds * SAMPLE_RATE)) * 0.1
    with torch.no_grad():
        cry, causes = model(x)
    assert cry.shape == (batch,) and causes.shape == (batch, 3)
    assert torch.isfinite(cry).all() and torch.isfinite(causes).all()


def test_default_student_forward_at_contract_extremes() -> None:
    model = CryStudent().eval()
    with torch.no_grad():
        for n in (int(0.5 * SAMPLE_RATE), 60 * SAMPLE_RATE):
            cry, causes = model(torch.randn(1, n) * 0.1)
            assert cry.shape == (1,) and causes.shape == (1, 5)


@pytest.mark.parametrize("pooling", ["statistic", "attention"])
def test_padded_batch_equals_each_clip_alone(pooling: str) -> None:
    model = settled_student(StudentConfig.tiny(pooling=pooling))
    for m in model.modules():  # non-trivial affine batch norms make the check sharper
        if isinstance(m, torch.nn.BatchNorm2d):
            m.bias.data.uniform_(-0.5, 0.5)
    clips = [w[:n] for w, n in zip(tones(4, 2.0, seed=1), (8000, 12345, 20000, 32000))]
    x, lengths = pad_batch(clips)
    x[0, 8000:] = 0.7  # loud garbage in the padding must not leak into clip 0
    with torch.no_grad():
        cry, causes = model(x, lengths)
        for i, clip in enumerate(clips):
            c1, z1 = model(torch.from_numpy(clip)[None])
            assert torch.allclose(c1[0], cry[i], atol=1e-5)
            assert torch.allclose(z1[0], causes[i], atol=1e-5)


def test_lengths_of_full_clips_change_nothing() -> None:
    model = settled_student(StudentConfig.tiny())
    x = torch.from_numpy(np.stack(tones(3, 1.0, seed=2)))
    with torch.no_grad():
        a = model(x)
        b = model(x, torch.full((3,), x.shape[1]))
    assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)


def test_normalisation_removes_gain() -> None:
    model = CryStudent(dataclasses.replace(StudentConfig.tiny(), causal=False))  # centred: mean 0 over the clip
    x = torch.from_numpy(np.stack(tones(2, 1.0, seed=3)))
    with torch.no_grad():
        ref = model.normalise(model.frontend(x), None)
        for gain in (0.25, 2.0):
            out = model.normalise(model.frontend(x * gain), None)
            assert (out - ref).abs().mean() < 0.02
        assert abs(float(ref.mean())) < 1e-4 and abs(float(ref.std()) - 1.0) < 0.01


def test_fused_copy_matches_and_leaves_original() -> None:
    model = settled_student(StudentConfig.tiny())
    fused = fused_for_export(model)
    x = torch.from_numpy(np.stack(tones(2, 1.0, seed=4)))
    with torch.no_grad():
        a, b = model(x), fused(x)
    assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_checkpoint_round_trip(tmp_path) -> None:
    model = settled_student(StudentConfig.tiny(n_causes=4, pooling="attention"))
    back = load_student(save_student(model, tmp_path / "s.pt"))
    assert back.config == model.config
    x = torch.from_numpy(np.stack(tones(2, 1.0, seed=5)))
    with torch.no_grad():
        assert torch.equal(model(x)[1], back(x)[1])


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        StudentConfig(pooling="median")
    with pytest.raises(ValueError):
        StudentConfig(n_causes=0)
    with pytest.raises(ValueError):
        DistillConfig(alpha=1.5)
    with pytest.raises(ValueError):
        DistillConfig(temperature=0)


# ------------------------------------------------------------------------------------------------
# distillation loss
# ------------------------------------------------------------------------------------------------
def _targets(b: int, k: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "is_cry": torch.tensor([1.0, 1.0, 0.0, 1.0])[:b],
        "cause": torch.tensor([0, -1, -1, 2])[:b],
        "teacher_cry": torch.randn(b, generator=g) * 3,
        "teacher_cause": torch.randn(b, k, generator=g) * 3,
        "has_teacher": torch.ones(b, dtype=torch.bool),
    }


def test_loss_alpha_zero_or_no_distill_is_the_hard_loss() -> None:
    targets = _targets(4, 3)
    cry, causes = torch.randn(4), torch.randn(4, 3)
    hard, _ = distillation_loss(cry, causes, targets, DistillConfig(), distill=False)
    zero_alpha, parts = distillation_loss(cry, causes, targets, DistillConfig(alpha=0.0), distill=True)
    assert torch.isclose(hard, zero_alpha)
    assert {"hard_cry", "hard_cause", "soft_cry", "soft_cause"} <= set(parts)


def test_soft_cause_term_vanishes_when_student_equals_teacher() -> None:
    targets = _targets(4, 3)
    _, parts = distillation_loss(targets["teacher_cry"], targets["teacher_cause"], targets,
                                 DistillConfig(alpha=1.0, temperature=4.0), distill=True)
    assert abs(parts["soft_cause"]) < 1e-5


def test_distillation_pulls_the_student_towards_the_teacher() -> None:
    """A few optimiser steps on the distillation loss alone cut the KL to the teacher's causes."""
    torch.manual_seed(0)
    tiny = StudentConfig.tiny(n_causes=3)
    model = CryStudent(StudentConfig(**{**tiny.to_dict(), "dropout": 0.0}))
    x = torch.from_numpy(np.stack(tones(4, 0.5, seed=6)))
    targets = _targets(4, 3, seed=1)
    config = DistillConfig(alpha=1.0, temperature=2.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def kl() -> float:  # in training mode (batch statistics), as the optimiser sees the model
        with torch.no_grad():
            _, z = model(x)
        mask = targets["is_cry"] > 0
        p_t = torch.softmax(targets["teacher_cause"][mask], -1)
        return float(torch.nn.functional.kl_div(torch.log_softmax(z[mask], -1), p_t, reduction="batchmean"))

    model.train()
    before = kl()
    for _ in range(15):
        cry, z = model(x)
        loss, _ = distillation_loss(cry, z, targets, config, distill=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = kl()
    assert after < 0.3 * before


def test_hard_negative_weight_scales_only_the_hard_negatives_cry_terms() -> None:
    """A clip weighted 2 in both cry terms counts as that clip twice; weight 1 adds no weight tensor."""
    items = [("cry", np.zeros(8), 1, 0), ("laugh", np.zeros(8), 0, -1), ("dog", np.zeros(8), 0, -1), ("c2", np.zeros(8), 1, 2)]
    assert hard_negative_weights(items, {"laugh", "cry"}, 2.0) == {"laugh": 2.0}  # a cry is never a hard negative
    assert hard_negative_weights(items, {"laugh"}, 1.0) == {}
    targets = _targets(4, 3)
    cry, causes = torch.randn(4), torch.randn(4, 3)
    config = DistillConfig(alpha=0.5)
    plain, plain_parts = distillation_loss(cry, causes, targets, config, distill=True)
    weighted = {**targets, "cry_weight": torch.tensor([1.0, 1.0, 2.0, 1.0])}
    _, parts = distillation_loss(cry, causes, weighted, config, distill=True)
    # the same batch with the third clip repeated, as mean BCE over five clips scaled back to four
    rep = [0, 1, 2, 2, 3]
    repeated = {k: v[rep] for k, v in targets.items()}
    _, rep_parts = distillation_loss(cry[rep], causes[rep], repeated, config, distill=True)
    for term in ("hard_cry", "soft_cry"):
        assert parts[term] == pytest.approx(rep_parts[term] * 5 / 4, rel=1e-5)
        assert parts[term] != pytest.approx(plain_parts[term])
    assert parts["soft_cause"] == pytest.approx(plain_parts["soft_cause"])  # the cause terms are unweighted
    with pytest.raises(ValueError, match="hard_negative_weight"):
        DistillConfig(hard_negative_weight=0.0)


def test_negative_target_cap_holds_only_the_negatives_soft_cry_target() -> None:
    """With a cap the loss is the uncapped loss on targets whose negatives' teacher cry logit is
    clamped to the cap's logit; the cries and the cause terms are untouched."""
    targets = _targets(4, 3)
    targets["teacher_cry"] = torch.tensor([4.0, -3.0, 5.0, 2.0])  # the negative (third) scored a cry
    cry, causes = torch.randn(4), torch.randn(4, 3)
    capped, parts = distillation_loss(cry, causes, targets, DistillConfig(negative_target_cap=0.5), distill=True)
    by_hand = {**targets, "teacher_cry": torch.tensor([4.0, -3.0, 0.0, 2.0])}
    expected, expected_parts = distillation_loss(cry, causes, by_hand, DistillConfig(), distill=True)
    _, uncapped_parts = distillation_loss(cry, causes, targets, DistillConfig(), distill=True)
    assert torch.isclose(capped, expected)
    assert parts["soft_cry"] != pytest.approx(uncapped_parts["soft_cry"])
    assert parts["soft_cause"] == pytest.approx(uncapped_parts["soft_cause"])
    below = {**targets, "teacher_cry": torch.tensor([4.0, -3.0, -2.0, 2.0])}  # under the cap: as scored
    _, below_parts = distillation_loss(cry, causes, below, DistillConfig(negative_target_cap=0.5), distill=True)
    _, below_plain = distillation_loss(cry, causes, below, DistillConfig(), distill=True)
    assert below_parts["soft_cry"] == pytest.approx(below_plain["soft_cry"])
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="negative_target_cap"):
            DistillConfig(negative_target_cap=bad)


def test_loss_weights_follow_class_frequencies() -> None:
    items = [("a", np.zeros(8), 1, 0)] * 8 + [("b", np.zeros(8), 1, 1)] * 2 + [("c", np.zeros(8), 0, -1)] * 30
    pw, cw = loss_weights(items, 3, DistillConfig(class_weight_power=1.0))
    assert float(pw) == pytest.approx(30 / 10)
    assert float(cw[1]) == pytest.approx(4 * float(cw[0]))  # 4x rarer
    assert float(cw[2]) == 0.0  # absent class
    _, cw_half = loss_weights(items, 3, DistillConfig(class_weight_power=0.5))
    assert float(cw_half[1]) == pytest.approx(2 * float(cw_half[0]))


# ------------------------------------------------------------------------------------------------
# the training loop
# ------------------------------------------------------------------------------------------------
def _toy_items(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    items = []
    for i, wave in enumerate(tones(n, 1.0, seed)):
        is_cry = i % 2
        items.append((f"clip{seed}_{i}", wave[: int(rng.integers(8000, 16000))], is_cry, (i // 2) % 3 if is_cry else -1))
    return items


def _toy_teacher(items, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {cid: (float(rng.normal() + 3 * (2 * y - 1)), rng.normal(size=3)) for cid, _, y, _ in items}


def test_train_student_runs_seeded_and_keeps_the_best_epoch() -> None:
    train, val = _toy_items(12, seed=0), _toy_items(6, seed=1)
    teacher = _toy_teacher(train)
    config = DistillConfig(epochs=2, batch_size=6, clip_seconds=0.6, progress=False, lr=1e-2, augment_fraction=1.0,
                           consistent_teacher=False)  # the cached targets (the consistent teacher: below)
    before = torch.get_num_threads()
    calls: list[int] = []

    def augment(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(w.size)
        return w * np.float32(rng.uniform(0.5, 1.0))

    kwargs = dict(config=config, student_config=StudentConfig.tiny(n_causes=3), augmenter=augment, threads=2)
    m1, h1 = train_student(train, val, teacher, **kwargs)
    m2, h2 = train_student(train, val, teacher, **kwargs)
    assert torch.get_num_threads() == before
    assert not m1.training
    assert len(h1.epochs) == 2 and h1.distill and 0 <= h1.best_epoch < 2
    assert h1.best_score == max(e.val_score for e in h1.epochs)
    assert {"soft_cry", "soft_cause"} <= set(h1.epochs[0].parts)
    assert max(calls) <= int(0.6 * SAMPLE_RATE) and len(calls) == 2 * 2 * len(train)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)  # same seed, same model
    cry, causes = predict(m1, [it[1] for it in val])
    assert cry.shape == (6,) and causes.shape == (6, 3)
    assert np.allclose(causes.sum(1), 1.0, atol=1e-5)


def test_predict_windows_aggregates_as_the_sdk_does() -> None:
    """Max window cry probability and mean window cause probabilities, each clip alone or batched
    with clips of its length: the validation score sees the number a shipped threshold is applied to."""
    config = StudentConfig.tiny(n_causes=3)
    model = settled_student(config)
    clips = tones(3, 2.4, seed=3) + tones(2, 1.2, seed=4)
    cry, causes = predict_windows(model, clips, 0.96, 0.48)
    wf, hf = config.window_frames(0.96), config.window_frames(0.48)
    for i, clip in enumerate(clips):
        with torch.no_grad():
            _, _, w_cry, w_causes = model.forward_windows(torch.from_numpy(clip)[None], wf, hf)
        assert w_cry.shape[1] > 1
        assert cry[i] == pytest.approx(float(torch.sigmoid(w_cry).max()), abs=1e-6)
        assert np.allclose(causes[i], torch.softmax(w_causes[0], -1).mean(0).numpy(), atol=1e-6)


def test_train_without_distillation_needs_no_teacher_and_uses_the_score_function() -> None:
    train, val = _toy_items(8, seed=2), _toy_items(4, seed=3)
    scores = iter([0.1, 0.5, 0.2])
    config = DistillConfig(epochs=3, batch_size=4, clip_seconds=0.6, progress=False, patience=5)
    model, hist = train_student(train, val, None, config, distill=False,
                                student_config=StudentConfig.tiny(n_causes=3),
                                val_score=lambda m, items: next(scores))
    assert not hist.distill and hist.best_epoch == 1 and hist.best_score == 0.5
    assert "soft_cry" not in hist.epochs[0].parts


def test_early_stopping_after_patience() -> None:
    train, val = _toy_items(4, seed=4), _toy_items(2, seed=5)
    config = DistillConfig(epochs=10, batch_size=4, clip_seconds=0.6, progress=False, patience=1)
    _, hist = train_student(train, val, None, config, distill=False,
                            student_config=StudentConfig.tiny(n_causes=3), val_score=lambda m, items: 0.0)
    assert len(hist.epochs) == 2 and hist.best_epoch == 0


def test_train_student_rejects_bad_input() -> None:
    train, val = _toy_items(4, seed=6), _toy_items(2, seed=7)
    config = DistillConfig(epochs=1, progress=False)
    tiny = StudentConfig.tiny(n_causes=3)
    with pytest.raises(ValueError, match="teacher"):
        train_student(train, val, None, config, distill=True, student_config=tiny)
    with pytest.raises(ValueError, match="no training clip has teacher logits"):
        train_student(train, val, {"other": (0.0, np.zeros(3))}, config, student_config=tiny)
    bad = [("x", train[0][1], 1, 7)]
    with pytest.raises(ValueError, match="cause"):
        train_student(bad, val, None, config, distill=False, student_config=tiny)


def test_local_normalisation_is_local_and_gain_free() -> None:
    """A frame's normalised value depends only on frames within norm_frames // 2 of it (so one pass
    over a long clip gives each window what it would get alone, away from its edges), and adding a
    constant to the log-mel (a gain change) changes nothing. The centred variant; the causal one below."""
    model = CryStudent(dataclasses.replace(StudentConfig.tiny(), causal=False))
    k = model.config.norm_frames
    logmel = torch.randn(1, 300, 64)
    base = model.normalise(logmel, None)
    changed = logmel.clone()
    changed[:, :10] += 5.0
    out = model.normalise(changed, None)
    assert torch.equal(out[:, 10 + k // 2 :], base[:, 10 + k // 2 :])
    assert not torch.allclose(out[:, : 10 + k // 2], base[:, : 10 + k // 2])
    assert torch.allclose(model.normalise(logmel + 3.0, None), base, atol=1e-5)


def test_causal_normalisation_uses_past_frames_only() -> None:
    model = CryStudent(dataclasses.replace(StudentConfig.tiny(), causal=True))
    k = model.config.norm_frames
    logmel = torch.randn(1, 300, 64)
    base = model.normalise(logmel, None)
    changed = logmel.clone()
    changed[:, 100:110] += 5.0
    out = model.normalise(changed, None)
    assert torch.equal(out[:, :100], base[:, :100])  # nothing before the change moves
    assert torch.equal(out[:, 110 + k - 1 :], base[:, 110 + k - 1 :])  # and nothing k frames after it
    assert not torch.allclose(out[:, 100 : 110 + k - 1], base[:, 100 : 110 + k - 1])
    with pytest.raises(ValueError, match="causal"):
        StudentConfig(causal=True, normalisation="utterance")


@pytest.mark.parametrize("causal", [False, True])
def test_context_samples_is_the_window_outputs_receptive_field(causal: bool) -> None:
    """The audio a window's score has a gradient from spans exactly ``context_samples`` around it
    (give or take the zero first sample of the front-end's Hann window); a causal student's stops at
    the window's end."""
    config = StudentConfig(causal=causal, dropout=0.0)
    torch.manual_seed(0)
    model = CryStudent(config).eval()
    hop = 8 * config.embedding_samples
    x = (0.1 * torch.randn(1, 14 * SAMPLE_RATE)).requires_grad_(True)
    k = 5
    model.forward_windows(x, 16, 8)[2][0, k].backward()
    reached = (x.grad[0] != 0).nonzero().flatten()
    start, end = k * hop, k * hop + 16 * config.embedding_samples
    before, after = config.context_samples()
    assert start - int(reached.min()) in (before, before - 1)
    assert int(reached.max()) + 1 - end <= after
    assert int(reached.max()) + 1 - end > after - config.embedding_samples
    assert (after == 0) == causal


def test_old_checkpoints_load_as_they_were_trained(tmp_path) -> None:
    """Checkpoints saved before frame_stride and local normalisation existed keep their settings."""
    old = {k: v for k, v in StudentConfig.tiny().to_dict().items() if k not in ("frame_stride", "normalisation", "causal")}
    config = StudentConfig.from_dict(old)
    assert config.frame_stride == 1 and config.normalisation == "utterance" and not config.causal
    assert StudentConfig.from_dict(StudentConfig().to_dict()) == StudentConfig()


def test_cry_clips_train_on_the_windows_the_teacher_hears_crying() -> None:
    """With ``cry_window_min_teacher`` a cry clip's crops come from its crying windows (its best one
    when none reaches the bar); negatives and the unset option keep drawing any window."""
    from export.training.distill import _window_choice

    rng = np.random.default_rng(0)
    logits = np.array([-6.0, 3.0, -1.0, 2.0])  # sigmoid: 0.002, 0.95, 0.27, 0.88
    picked = {_window_choice(logits, 1, 0.5, rng) for _ in range(200)}
    assert picked == {1, 3}
    assert {_window_choice(logits, 0, 0.5, rng) for _ in range(200)} == {0, 1, 2, 3}
    assert {_window_choice(logits, 1, None, rng) for _ in range(200)} == {0, 1, 2, 3}
    assert {_window_choice(np.array([-5.0, -2.0, -4.0]), 1, 0.5, rng) for _ in range(20)} == {1}
    with pytest.raises(ValueError, match="cry_window_min_teacher"):
        DistillConfig(cry_window_min_teacher=1.0)
    with pytest.raises(ValueError, match="augment_fraction"):
        DistillConfig(augment_fraction=1.5)


def test_augment_fraction_leaves_that_share_of_crops_as_recorded() -> None:
    train, val = _toy_items(12, seed=0), _toy_items(6, seed=1)
    calls: list[int] = []

    def augment(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(w.size)
        return w

    for fraction, expected in ((0.0, 0), (1.0, 2 * len(train))):
        calls.clear()
        config = DistillConfig(epochs=2, batch_size=6, clip_seconds=0.6, progress=False, augment_fraction=fraction,
                               consistent_teacher=False)
        train_student(train, val, _toy_teacher(train), config, student_config=StudentConfig.tiny(n_causes=3), augmenter=augment)
        assert len(calls) == expected


@pytest.mark.parametrize("causal", [False, True])
def test_context_crops_train_a_window_on_the_input_it_is_scored_on(causal: bool) -> None:
    """With ``context_crops`` a training crop is a teacher window plus the clip's audio around it that
    the student's score depends on, and the student's output on that crop (pooled over the window's
    own frames) is the window's score in one pass over the whole clip: what the SDK and a stream get."""
    from export.training.distill import CropGeometry, _crop

    config = StudentConfig(causal=causal)
    model = settled_student(config)
    wave = tones(1, 9.0, seed=3)[0]
    with torch.no_grad():
        _, _, windows, _ = model.forward_windows(torch.from_numpy(wave)[None], 16, 8)
    n = windows.shape[1]
    geometry = CropGeometry.for_student(DistillConfig(context_crops=True), config)
    before, after = config.context_samples()
    assert before <= geometry.before < before + geometry.frame and after <= geometry.after < after + geometry.frame
    assert CropGeometry.for_student(DistillConfig(context_crops=False), config).has_context is False
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        scores = (rng.standard_normal(n), rng.standard_normal((n, 5)))
        crop, target, offset = _crop(wave, geometry, scores, rng)
        w = int(np.flatnonzero(scores[0] == target[0])[0])
        seen.add(w)
        assert offset == min(w * geometry.hop, geometry.before)
        with torch.no_grad():
            cry, _ = model(torch.from_numpy(crop)[None], torch.tensor([crop.size]),
                           torch.tensor([offset // geometry.frame]), geometry.window_frames())
        assert float(cry[0]) == pytest.approx(float(windows[0, w]), rel=1e-4, abs=1e-4)
    assert len(seen) > n // 2
    # without window scores: a random window on the embedding-frame grid, with its context
    crop, target, offset = _crop(wave, geometry, None, rng)
    assert target is None and offset % geometry.frame == 0 and crop.size <= geometry.before + geometry.window + geometry.after


def test_train_student_with_context_crops_runs() -> None:
    train, val = _toy_items(10, seed=0), _toy_items(4, seed=1)
    config = DistillConfig(epochs=1, batch_size=5, clip_seconds=0.48, window_hop_seconds=0.24, progress=False,
                           consistent_teacher=False,
                           context_crops=True)
    model, history = train_student(train, val, _toy_teacher(train), config, student_config=StudentConfig.tiny(n_causes=3))
    assert len(history.epochs) == 1 and history.config["context_crops"] is True
    assert np.isfinite(history.epochs[0].train_loss)


def test_without_context_crops_a_crop_is_the_teacher_window_alone() -> None:
    """``context_crops=False`` is the 0.6.0 recipe: the crop is exactly the teacher's window (or a
    random crop under a clip score), with no audio around it, and the generator draws the same
    numbers as before (one window choice, or one crop position)."""
    from export.audio.augment import random_crop
    from export.training.distill import CropGeometry, _crop

    geometry = CropGeometry.for_student(DistillConfig(context_crops=False, consistent_teacher=False), StudentConfig())
    wave = tones(1, 6.0, seed=2)[0]
    n = 5
    scores = (np.linspace(-1.0, 1.0, n), np.zeros((n, 5)))
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    crop, target, offset = _crop(wave, geometry, scores, a)
    w = int(b.integers(n))
    assert offset == 0 and target[0] == scores[0][w]
    assert np.array_equal(crop, wave[w * geometry.hop : w * geometry.hop + geometry.window])
    crop, target, offset = _crop(wave, geometry, None, a)
    assert offset == 0 and target is None and np.array_equal(crop, random_crop(wave, geometry.window, b))


def test_consistent_teacher_rescores_the_augmented_crops_alone() -> None:
    """``rescore_augmented``: an augmented crop's target becomes the teacher's score of its window as
    heard (``teacher_views``); a crop left as recorded keeps its cached target and a clip the teacher
    never scored keeps none."""
    from export.training.distill import TrainingBatch, rescore_augmented

    waves = [np.arange(100, dtype=np.float32) + 1000 * i for i in range(4)]
    views = [w[10:40] for w in waves]
    cached = [(0.5, np.zeros(3)), (0.6, np.zeros(3)), None, (0.8, np.zeros(3))]
    batch = TrainingBatch(waves, cached, [0, 20, 0, 10], [True, False, True, True], views)
    heard: list[np.ndarray] = []

    def scorer(windows):
        heard.extend(windows)
        return np.array([float(w[0]) for w in windows]), np.ones((len(windows), 3))

    targets = rescore_augmented(batch, scorer)
    assert [w[0] for w in heard] == [10.0, 3010.0] and all(w.size == 30 for w in heard)
    assert targets[0][0] == 10.0 and targets[3][0] == 3010.0 and np.allclose(targets[3][1], 1.0)
    assert targets[1] is cached[1] and targets[2] is None
    assert batch.targets == cached  # the batch itself is left as drawn


def test_train_student_with_a_consistent_teacher_asks_the_teacher_about_every_augmented_crop() -> None:
    train, val = _toy_items(12, seed=0), _toy_items(6, seed=1)
    config = DistillConfig(epochs=2, batch_size=6, clip_seconds=0.6, progress=False, augment_fraction=1.0,
                           consistent_teacher=True, consistent_cries=True)
    augment = lambda w, rng: w * np.float32(rng.uniform(0.5, 1.0))  # noqa: E731
    asked: list[int] = []

    def scorer(windows):
        asked.extend(w.size for w in windows)
        return np.full(len(windows), 2.0), np.zeros((len(windows), 3))

    tiny = StudentConfig.tiny(n_causes=3)
    _, history = train_student(train, val, _toy_teacher(train), config, student_config=tiny, augmenter=augment,
                               teacher_scorer=scorer)
    assert len(asked) == 2 * len(train) and max(asked) <= int(0.6 * SAMPLE_RATE) + 240  # clip scores: no tail
    assert history.config["consistent_teacher"] is True and np.isfinite(history.epochs[-1].train_loss)
    asked.clear()  # on negatives only: half of the toy clips
    train_student(train, val, _toy_teacher(train), dataclasses.replace(config, consistent_cries=False),
                  student_config=tiny, augmenter=augment, teacher_scorer=scorer)
    assert len(asked) == 2 * sum(1 for it in train if not it[2])
    asked.clear()  # the plain student has no teacher to ask
    train_student(train, val, None, config, student_config=tiny, augmenter=augment, distill=False, teacher_scorer=scorer)
    assert asked == []
    with pytest.raises(ValueError, match="teacher_scorer"):
        train_student(train, val, _toy_teacher(train), config, student_config=tiny, augmenter=augment)


def test_a_consistent_teacher_on_negatives_only_leaves_the_cries_cached_scores() -> None:
    from export.training.distill import TrainingBatch, rescore_augmented

    waves = [np.full(50, float(i), dtype=np.float32) for i in range(3)]
    cached = [(0.5, np.zeros(3)), (0.6, np.zeros(3)), (0.7, np.zeros(3))]
    batch = TrainingBatch(waves, cached, [0, 0, 0], [True, True, False], waves)
    scorer = lambda ws: (np.array([float(w[0]) + 10 for w in ws]), np.zeros((len(ws), 3)))  # noqa: E731
    targets = rescore_augmented(batch, scorer, negatives_only=True, is_cry=[1, 0, 0])
    assert targets[0] is cached[0] and targets[1][0] == 11.0 and targets[2] is cached[2]
    assert rescore_augmented(batch, scorer)[0][0] == 10.0  # both augmented crops by default
    with pytest.raises(ValueError, match="is_cry"):
        rescore_augmented(batch, scorer, negatives_only=True)


def test_a_consistent_teacher_hears_the_window_with_the_frames_its_front_end_needs_after_it() -> None:
    """The teacher's cached window scores came from whole clips, whose 1.92 s windows span 192 full
    log-mel frames; 1.92 s alone gives 190, padded with silence, which moved validation cry logits by
    0.35 in the mean. So a consistent teacher hears 240 samples more (augmented with the window), while
    the student's crop is the window alone, as without a consistent teacher."""
    from export.training.distill import CropGeometry, _training_batch

    student = StudentConfig()
    plain = CropGeometry.for_student(DistillConfig(consistent_teacher=False), student)
    geometry = CropGeometry.for_student(DistillConfig(consistent_teacher=True), student)
    assert plain.teacher_tail == 0 and geometry.teacher_tail == 240 and geometry.window == 30720
    assert CropGeometry.for_student(DistillConfig(consistent_teacher=True), student, distill=False) == plain
    wave = tones(1, 4.0, seed=5)[0]
    scores = (np.zeros(3), np.zeros((3, 5)))
    items = [("a", wave, 1, 0)]
    double = lambda w, rng: w * np.float32(2.0)  # noqa: E731
    for g in (plain, geometry):
        batch = _training_batch(items, g, np.random.default_rng(1), double, False, {"a": scores})
        start = [w * g.hop for w in range(3) if np.array_equal(batch.waves[0], 2 * wave[w * g.hop : w * g.hop + g.window])]
        assert len(start) == 1, "the student's crop is one teacher window, augmented"
        assert np.array_equal(batch.teacher_views[0], 2 * wave[start[0] : start[0] + g.window + g.teacher_tail])


def test_cry_crops_take_their_own_snr_range_and_negatives_keep_the_chains() -> None:
    """``cry_snr_db`` reaches the augmenter for cry crops only, and a chain that cannot take it is refused
    before training rather than at the first cry."""
    from export.training.distill import CropGeometry, _cry_augmenter, _training_batch

    calls = []

    def chain(w, rng, snr_db=None):
        calls.append(snr_db)
        return w

    cry_chain = _cry_augmenter(chain, DistillConfig(cry_snr_db=[0, 20]).cry_snr_db)
    geometry = CropGeometry.for_student(DistillConfig(consistent_teacher=False), StudentConfig())
    waves = tones(2, 2.0, seed=2)
    _training_batch([("c", waves[0], 1, 0), ("n", waves[1], 0, 0)], geometry, np.random.default_rng(0),
                    chain, False, None, cry_augmenter=cry_chain)
    assert calls == [(0.0, 20.0), None]
    assert _cry_augmenter(chain, None) is None
    with pytest.raises(ValueError, match="snr_db"):
        _cry_augmenter(lambda w, rng: w, (0.0, 20.0))
    for bad in ([20, 0], [0, float("nan")], [0, 5, 10]):
        with pytest.raises(ValueError, match="cry_snr_db"):
            DistillConfig(cry_snr_db=bad)
