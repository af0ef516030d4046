"""Stage ``teacher``: the YAMNet teacher, its baselines, the pooling ablation, weak labels and grouped CV.

The teacher is trained once on the training side, its threshold and abstention level are chosen on
the validation side, and it is measured once on the test side. The baselines and the pooling ablation
are trained the same way on the same cached features, so every row of the report is comparable.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from export.audio.home_augment import baby_like_stand_in, training_augmenter
from export.constants import YAMNET_TFLITE
from export.data.catalog import TAG_LABELS, Clip, background_clips
from export.data.context import DataContext
from export.evaluation import metrics
from export.evaluation.evaluate import (
    EvalSet,
    Scores,
    choose_cause_min_confidence,
    choose_detection_threshold,
    evaluate,
    recall_vs_snr,
    selection_score,
)
from export.evaluation.report import write_full_report
from export.models.teacher import (
    ClipFeatures,
    TeacherConfig,
    TeacherHead,
    TrainItem,
    parameter_counts,
    predict,
    save_teacher,
    score_waves,
)
from export.models.yamnet import load_yamnet
from export.pipeline import Run
from export.training.features import FeatureExtractor, extract_cached
from export.training.head import train_head


@dataclass
class TeacherResult:
    teacher: Path  # teacher.pt
    logits: Path  # teacher_logits.npz: the distillation targets
    report: Path  # teacher_report.json
    detection_f1: float
    cause_balanced_accuracy: float


def _items(ctx: DataContext, clips: Sequence[Clip], feats: dict[str, ClipFeatures], use_uncurated: bool,
           hard_negative_weight: float = 1.0) -> list[TrainItem]:
    index = {lab: i for i, lab in enumerate(ctx.labels)}
    tags = {t: i for i, t in enumerate(TAG_LABELS)}
    return [
        TrainItem(
            clip_id=c.clip_id, feats=feats[c.clip_id], is_cry=-1 if c.is_cry is None else int(c.is_cry),
            cause=index.get(c.cause, -1) if c.cause else -1, tag=tags.get(c.tag, -1) if c.tag else -1, group=c.group,
            weight=hard_negative_weight if c.hard_negative else 1.0,
        )
        for c in clips if c.is_cry is not None or use_uncurated
    ]


def _frozen_view(items: Sequence[TrainItem]) -> list[TrainItem]:
    """The same items reading the frozen backbone's embeddings (for the baselines and ablation)."""
    return [
        replace(it, feats=replace(it.feats, features=it.feats.embeddings)) for it in items
    ]


def _scores(out) -> Scores:
    return Scores(out.clip_ids, out.cry_probability, out.cause_probabilities)


def _val_score(ev: EvalSet, labels: Sequence[str]):
    """Early stopping and model selection on validation: :func:`export.evaluation.evaluate.selection_score`."""

    def score(out, _items) -> float:
        s = _scores(out)
        d, c = s.select(ev.det_ids), s.select(ev.cause_ids)
        return selection_score(ev.det_y, d.cry_probability, ev.cause_y, c.cause_probabilities, labels)

    return score


def brief(section: dict) -> dict:
    """The few numbers a table row needs, in the report's nested shape."""
    d, c = section["detection"], section.get("cause") or {}
    return {
        "detection": {k: d[k] for k in ("f1", "recall", "fpr", "auc")},
        "cause": {k: c.get(k) for k in ("balanced_accuracy", "macro_f1", "accuracy")},
    }


@dataclass
class TrainedHead:
    head: TeacherHead
    config: TeacherConfig
    threshold: float
    cause_min_confidence: float
    test: dict
    epochs: list
    best_epoch: int
    val_score: float = float("-inf")
    val_scores: Scores | None = None  # what the threshold was chosen on
    test_scores: Scores | None = None  # what ``test`` was measured on


@dataclass
class TeacherSides:
    """The teacher's items on each side, the evaluation sets, and how heads are trained and measured."""

    ctx: DataContext
    train: list[TrainItem]
    val: list[TrainItem]
    test: list[TrainItem]
    ev_val: EvalSet
    ev_test: EvalSet
    n_boot: int
    seed: int
    threads: int
    tail: object = None  # the backbone blocks a fine-tuned head trains (a copy per head)
    feats: dict = field(default_factory=dict, repr=False)  # clip id -> cached features (weak labels score uncurated clips)

    def frozen(self) -> "TeacherSides":
        return replace(self, train=_frozen_view(self.train), val=_frozen_view(self.val),
                       test=_frozen_view(self.test), tail=None)

    def make_head(self, config: TeacherConfig, tail=None):
        labels = len(self.ctx.labels)
        return lambda: TeacherHead(1024, labels, config, copy.deepcopy(tail) if tail is not None else None)

    def fit(self, config: TeacherConfig, train: list[TrainItem] | None = None) -> TrainedHead:
        """Train on ``train`` (default: the training side), choose thresholds on validation, measure on test."""
        train = self.train if train is None else train
        labels = self.ctx.labels
        tail = self.tail if config.fine_tune_blocks > 0 else None
        head, hist = train_head(self.make_head(config, tail), train, self.val, config, _val_score(self.ev_val, labels),
                                seed=self.seed, threads=self.threads)
        val_out = predict(head, self.val, config)
        val_s, test_s = _scores(val_out), _scores(predict(head, self.test, config))
        thr = choose_detection_threshold(self.ev_val, val_s)
        conf = choose_cause_min_confidence(self.ev_val, val_s)
        vs = _val_score(self.ev_val, labels)(val_out, self.val)
        test = evaluate(self.ev_test, test_s, thr, labels, self.n_boot, self.seed)
        return TrainedHead(head, config, thr, conf, test, hist.epochs, hist.best_epoch, vs, val_s, test_s)


def _copies(clips: Sequence[Clip], waves: Sequence[np.ndarray], copies: int, tag: str, make, rng) -> tuple[list[Clip], list[np.ndarray]]:
    """``copies`` transformed copies of each clip (``make(wave, rng)``), with ids ``<id>#<tag><k>``."""
    out_c, out_w = [], []
    for k in range(copies):
        for c, w in zip(clips, waves):
            out_c.append(replace(c, clip_id=f"{c.clip_id}#{tag}{k}"))
            out_w.append(make(w, rng))
    return out_c, out_w


@dataclass
class _Extra:
    """Training-only clips made from the training side: home-augmented copies and baby-like stand-ins."""

    augmented: list[Clip]
    stand_ins: list[Clip]


def _features(run: Run, ctx: DataContext, extractor: FeatureExtractor) -> tuple[dict[str, ClipFeatures], _Extra]:
    """Backbone features of every clip, of home-augmented copies of the training cries and negatives
    and of the baby-like stand-ins, each set cached once."""
    tc, seed = run.config.teacher, run.config.seed
    everything = ctx.side("test") + ctx.side("dev")
    feats = extract_cached(extractor, [c.clip_id for c in everything], ctx.waves(everything), run.cache_dir, "clips")
    train_c = [c for c in ctx.side("train") if c.is_cry is not None]
    aug, rng = training_augmenter(ctx, run.data_root, seed, run.config.augment), np.random.default_rng(seed)
    cries, negatives = [c for c in train_c if c.is_cry], [c for c in train_c if not c.is_cry]
    aug_c, aug_w = _copies(cries, ctx.waves(cries), tc.augment_copies, "aug", aug, rng)
    neg_c, neg_w = _copies(negatives, ctx.waves(negatives), tc.negative_augment_copies, "aug", aug, rng)
    baby_like = [c for c in negatives if c.hard_negative and c.category in ("laughing", "children_playing") or
                 (c.hard_negative and c.source == "speech")] if tc.baby_like_stand_ins else []
    stand_c, stand_w = _copies(baby_like, ctx.waves(baby_like), 1, "babylike", baby_like_stand_in, rng)
    extra = _Extra(aug_c + neg_c, stand_c)
    feats.update(extract_cached(extractor, [c.clip_id for c in extra.augmented], aug_w + neg_w, run.cache_dir,
                                f"homeaug-s{seed}-{aug.fingerprint()}"))
    feats.update(extract_cached(extractor, [c.clip_id for c in stand_c], stand_w, run.cache_dir, f"babylike-s{seed}"))
    return feats, extra


def _ablation(sides: TeacherSides, config: TeacherConfig, poolings: Sequence[str]) -> dict[str, TrainedHead]:
    """The teacher's recipe on frozen embeddings, one pooling at a time."""
    frozen, cfg = sides.frozen(), replace(config, fine_tune_blocks=0)
    return {p: frozen.fit(replace(cfg, pooling=p)) for p in poolings}


@dataclass
class _WeakRound:
    main: TrainedHead
    train: list[TrainItem]
    info: dict = field(default_factory=dict)


def _weak_labels(sides: TeacherSides, main: TrainedHead, config: TeacherConfig) -> _WeakRound:
    """Uncurated training-side uploads the teacher hears as crying become extra positives, their
    parent's tag a down-weighted cause label; kept only if the VALIDATION score improves."""
    out = _WeakRound(main, sides.train, {"weight": config.weak_label_weight})
    if config.weak_label_weight <= 0:
        return out
    ctx = sides.ctx
    index = {lab: i for i, lab in enumerate(ctx.labels)}
    unc = [c for c in ctx.side("train") if c.is_cry is None]
    unc_items = _items(ctx, unc, sides.feats, True)
    p = predict(main.head, unc_items, config).cry_probability if unc_items else np.zeros(0)
    weak = [replace(it, is_cry=1, cause=index.get(c.tag, -1), weight=config.weak_label_weight)
            for it, c, pi in zip(unc_items, unc, p) if pi >= main.threshold]
    weak_ids = {it.clip_id for it in weak}
    base = [it for it in sides.train if it.clip_id not in weak_ids]
    out.info.update({"candidates": len(unc_items), "accepted": len(weak),
                     "with_cause": sum(it.cause >= 0 for it in weak), "val_score_before": main.val_score})
    if weak:
        second = sides.fit(config, base + weak)
        out.info.update({"val_score_after": second.val_score, "kept": bool(second.val_score > main.val_score),
                         "test_without": brief(main.test), "test_with": brief(second.test)})
        if out.info["kept"]:
            out.main, out.train = second, base + weak
    return out


def _baselines(sides: TeacherSides, train: list[TrainItem], config: TeacherConfig) -> dict:
    """Majority class, YAMNet's zero-shot cry score and a linear probe, on the same test clips."""
    ctx, val, test, n = sides.ctx, sides.val, sides.test, len(sides.ctx.labels)
    majority = int(np.bincount([it.cause for it in train if it.cause >= 0], minlength=n).argmax())
    ids = [it.clip_id for it in test]
    onehot = np.tile(np.eye(n)[majority], (len(test), 1))
    base_major = evaluate(sides.ev_test, Scores(ids, np.ones(len(test)), onehot), 0.5, ctx.labels, sides.n_boot, sides.seed)
    zs = lambda items: np.array([float(it.feats.cry_scores.max()) for it in items])  # noqa: E731
    uniform = lambda k: np.full((k, n), 1 / n)  # noqa: E731
    zs_thr = choose_detection_threshold(sides.ev_val, Scores([it.clip_id for it in val], zs(val), uniform(len(val))))
    test_zs = Scores(ids, zs(test), uniform(len(test)))
    base_zero = {"detection": evaluate(sides.ev_test, test_zs, zs_thr, ctx.labels, sides.n_boot)["detection"], "cause": None,
                 "note": "max over patches of YAMNet's 'Baby cry, infant cry' and 'Crying, sobbing' scores; no cause output"}
    probe_cfg = replace(config, fine_tune_blocks=0, pooling="mean", hidden_dim=0, tag_loss_weight=0.0, dropout=0.0)
    probe = sides.frozen().fit(probe_cfg)
    return {
        "majority": {**base_major, "note": f"always '{ctx.labels[majority]}'; detection: always 'cry'"},
        "yamnet_zero_shot": base_zero,
        "yamnet_linear_probe": {**probe.test, "note": "mean-pooled frozen YAMNet embeddings, linear heads"},
    }


def _cross_validation(sides: TeacherSides, train: list[TrainItem], config: TeacherConfig, threshold: float) -> list[dict]:
    """Grouped folds over the development side: fixed epochs, F1 at the teacher's threshold."""
    ctx = sides.ctx
    # verified clips only (no weak labels: no leakage); made copies train with the fold of their original
    dev_items = {it.clip_id: it for it in train + sides.val
                 if "#" not in it.clip_id and ctx.by_id[it.clip_id].is_cry is not None}
    aug_of: dict[str, list[TrainItem]] = {}
    for it in train:
        if "#" in it.clip_id:
            aug_of.setdefault(it.clip_id.split("#")[0], []).append(it)
    tail = sides.tail if config.fine_tune_blocks > 0 else None
    cv = []
    for fold_train, fold_val in ctx.splits.folds:
        tr = [dev_items[i] for i in fold_train if i in dev_items] + [a for i in fold_train for a in aug_of.get(i, [])]
        va = [dev_items[i] for i in fold_val if i in dev_items]
        ev = ctx.eval_set([ctx.by_id[i] for i in fold_val])
        head, _ = train_head(sides.make_head(config, tail), tr, [], config, _val_score(ev, ctx.labels),
                             seed=sides.seed, threads=sides.threads, progress=False)
        cv.append(brief(evaluate(ev, _scores(predict(head, va, config)), threshold, ctx.labels, 0)))
    return cv


def _save_window_logits(run: Run, head: TeacherHead, config: TeacherConfig, items: Sequence[TrainItem]) -> Path:
    """The teacher on every 1.92 s window (two patches, one patch apart) of every clip: the student
    learns these soft scores window by window, negatives included, not one score per clip."""
    windows = [
        replace(it, clip_id=f"{it.clip_id}@{w}", feats=replace(
            it.feats, features=it.feats.features[w:w + 2], embeddings=it.feats.embeddings[w:w + 2],
            cry_scores=it.feats.cry_scores[w:w + 2], context_scores=it.feats.context_scores[w:w + 2]))
        for it in items if "#" not in it.clip_id for w in range(max(1, len(it.feats.features) - 1))
    ]
    out = predict(head, windows, config, batch_size=256)
    ids, index = zip(*(i.rsplit("@", 1) for i in out.clip_ids)) if windows else ((), ())
    path = run.path("teacher_windows.npz")
    np.savez(path, clip_ids=np.array(ids), window=np.array(index, dtype=np.int32),
             cry_logit=out.cry_logit.astype(np.float32), cause_logits=out.cause_logits.astype(np.float32))
    return path


def _save_logits(run: Run, head: TeacherHead, config: TeacherConfig, dev: list[TrainItem], test: list[TrainItem]) -> Path:
    """The teacher's outputs on every development and test clip: the distillation targets."""
    dev_out, test_out = predict(head, dev, config), predict(head, test, config)
    path = run.path("teacher_logits.npz")
    np.savez(
        path,
        clip_ids=np.array(dev_out.clip_ids + test_out.clip_ids),
        cry_logit=np.concatenate([dev_out.cry_logit, test_out.cry_logit]).astype(np.float32),
        cause_logits=np.concatenate([dev_out.cause_logits, test_out.cause_logits]).astype(np.float32),
    )
    return path


def _teacher_summary(run: Run, main: TrainedHead, weak: _WeakRound, params: int, n_aug: int) -> dict:
    tc = main.config
    best = max(main.epochs, key=lambda e: e.val_score).epoch if main.epochs else None
    auto = run.config.teacher.pooling == "auto"
    return {
        "backbone": "YAMNet (AudioSet), int8 weights dequantized from yamnet.tflite",
        "pooling": tc.pooling, "fine_tune_blocks": tc.fine_tune_blocks, "parameters": params, "fp32_bytes": 4 * params,
        "threshold": main.threshold, "cause_min_confidence": main.cause_min_confidence,
        "epochs_trained": len(main.epochs), "best_epoch": int(best) if best is not None else None,
        "train_items": len(weak.train), "augmented_copies": n_aug,
        "uncurated_used_for_tags": sum(it.is_cry == -1 for it in weak.train),
        "pooling_chosen_on": "validation selection score (export.evaluation.evaluate.selection_score)" if auto else "config",
        "weak_labels": weak.info,
    }


def _home_data_summary(context_info: dict, stand_in_info: dict, config: TeacherConfig) -> dict:
    return {
        "audioset_context": context_info, "baby_like_stand_ins": stand_in_info,
        "hard_negative_weight": config.hard_negative_weight,
        "augmentation": "export.audio.home_augment (room reverb, -5..20 dB backgrounds, -70..-40 dBFS noise floor, "
                        "8 kHz band, +-20 dB gain, EQ tilt, mild clipping), on cries and negatives",
    }


def teacher_sides(run: Run, ctx: DataContext, extractor: FeatureExtractor) -> tuple[TeacherSides, list[TrainItem], int]:
    """The teacher's sides, the baby-like stand-in items (not yet in training) and the augmented count."""
    cfg = run.config
    feats, extra = _features(run, ctx, extractor)
    use_uncurated = cfg.data.use_uncurated == "aux_tags"
    hard = cfg.teacher.hard_negative_weight
    val_c, test_c = ctx.side("val"), ctx.side("test")
    sides = TeacherSides(
        ctx, _items(ctx, ctx.side("train") + extra.augmented, feats, use_uncurated, hard),
        _items(ctx, val_c, feats, False), _items(ctx, test_c, feats, False), ctx.eval_set(val_c), ctx.eval_set(test_c),
        cfg.n_boot, cfg.seed, cfg.threads, extractor.tail if cfg.teacher.fine_tune_blocks > 0 else None, feats,
    )
    return sides, _items(ctx, extra.stand_ins, feats, False, hard), len(extra.augmented)


def _keep_if_better(base: TrainedHead, other: TrainedHead, what: str) -> tuple[TrainedHead, dict]:
    """``other`` if its VALIDATION score is higher, with the figures of both for the report."""
    kept = other.val_score > base.val_score
    return (other if kept else base), {
        "kept": bool(kept), "val_score_without": base.val_score, "val_score_with": other.val_score,
        "test_without": brief(base.test), "test_with": brief(other.test), "what": what,
    }


def _choose_teacher(sides: TeacherSides, config: TeacherConfig, poolings: Sequence[str]) -> tuple[TrainedHead, dict, dict]:
    """The pooling ablation, then whether the AudioSet context inputs help: with pooling "auto" the
    ablation's best VALIDATION score chooses (never test); the ablation's head is reused when nothing
    else differs."""
    heads = _ablation(sides, config, poolings)
    ablation = {p: {**brief(r.test), "val_score": r.val_score} for p, r in heads.items()}
    pooling = max(heads, key=lambda k: heads[k].val_score) if config.pooling == "auto" else config.pooling
    config = replace(config, pooling=pooling)
    main = heads[pooling] if config.fine_tune_blocks == 0 and pooling in heads else sides.fit(config)
    if not config.audioset_context:
        return main, ablation, {"kept": False, "what": "off in the config"}
    without = sides.fit(replace(config, audioset_context=False))
    chosen, info = _keep_if_better(without, main, "YAMNet AudioSet scores (cries, baby laughter, giggle, babbling, "
                                   "child speech, children playing, laughter, speech) as head inputs")
    return chosen, ablation, info


def _stand_ins(sides: TeacherSides, main: TrainedHead, stand_ins: list[TrainItem]) -> tuple[TeacherSides, TrainedHead, dict]:
    """Train again with the baby-like stand-ins; keep them only if VALIDATION improves."""
    if not stand_ins:
        return sides, main, {"kept": False, "what": "no stand-ins made", "n": 0}
    with_them = replace(sides, train=sides.train + stand_ins)
    other = with_them.fit(main.config)
    chosen, info = _keep_if_better(main, other, "training-side laughter, children playing and child speech pitch-shifted "
                                   "up 3-7 semitones, as negatives")
    info["n"] = len(stand_ins)
    return (with_them if info["kept"] else sides), chosen, info


def run(run: Run, ctx: DataContext) -> TeacherResult:
    t0 = time.time()
    cfg = run.config
    yamnet = load_yamnet(run.data_root / YAMNET_TFLITE, cache_dir=run.cache_dir)
    tc = cfg.teacher
    extractor = FeatureExtractor(yamnet, hop_frames=tc.hop_frames, trainable_blocks=tc.fine_tune_blocks,
                                 cache_dir=run.cache_dir, threads=cfg.threads)
    sides, stand_in_items, n_aug = teacher_sides(run, ctx, extractor)
    main, ablation, context_info = _choose_teacher(sides, tc, cfg.pooling_ablation)
    sides, main, stand_in_info = _stand_ins(sides, main, stand_in_items)
    weak = _weak_labels(sides, main, main.config)
    main, tc = weak.main, weak.main.config
    test_c = ctx.side("test")
    main.test["detection"]["recall_vs_snr"] = recall_vs_snr(  # test cries into test-side backgrounds
        lambda waves: score_waves(extractor, main.head, tc, waves).cry_probability,
        ctx.waves([c for c in test_c if c.is_cry]),
        ctx.waves(background_clips(ctx.clips, [c.clip_id for c in test_c])), main.threshold, seed=cfg.seed,
    )
    cv = _cross_validation(sides, weak.train, tc, main.threshold) if cfg.cross_validation else []
    logits_path = _save_logits(run, main.head, tc, weak.train + sides.val, sides.test)
    windows_path = _save_window_logits(run, main.head, tc, weak.train + sides.val)
    params = parameter_counts(yamnet, main.head, sides.tail if tc.fine_tune_blocks > 0 else None)["total"]
    teacher_path = save_teacher(run.path("teacher.pt"), main.head, tc, ctx.labels, main.threshold, main.cause_min_confidence)
    section = {
        "teacher": _teacher_summary(run, main, weak, params, n_aug),
        "home_data": _home_data_summary(context_info, stand_in_info, tc),
        "detection": main.test["detection"], "cause": main.test["cause"],
        "baselines": _baselines(sides, weak.train, tc), "pooling_ablation": ablation,
        "cv": {"n_folds": len(cv), **(metrics.summarize_folds(cv) if cv else {}), "folds": cv,
               "note": "grouped folds over the development side; fixed epochs; F1 at the teacher's threshold"},
        "thresholds": {"detection_threshold": main.threshold, "cause_min_confidence": main.cause_min_confidence,
                       "chosen_on": "validation side of the development split"},
    }
    report_path = run.write_json("teacher_report.json", section)
    run.record("teacher", [teacher_path, logits_path, windows_path, report_path], time.time() - t0,
               {"detection_f1": main.test["detection"]["f1"], "cause_balanced_accuracy": main.test["cause"]["balanced_accuracy"]})
    write_full_report(run)  # the teacher's report stands on its own
    return TeacherResult(teacher_path, logits_path, report_path, float(main.test["detection"]["f1"]),
                         float(main.test["cause"]["balanced_accuracy"] or 0.0))
