"""Train the student, with or without knowledge distillation from the teacher's cached logits.

Loss per batch (``alpha`` mixes, ``T`` softens; Hinton et al.'s T^2 keeps the soft gradients on the
hard ones' scale)::

    hard = BCE(cry_logit, is_cry; pos_weight, w) + w_cause * CE(cause_logits, cause; class weights)
    soft = T^2 * BCE(cry_logit / T, sigmoid(teacher_cry' / T); w)
         + w_cause * T^2 * KL(softmax(teacher_cause / T) || softmax(cause_logits / T))
    loss = (1 - alpha) * hard + alpha * soft        (distill=True)
    loss = hard                                     (distill=False: the comparison student)

``w`` is ``hard_negative_weight`` on the baby-like negatives and 1 elsewhere (no weights when it is 1).
``teacher_cry'`` is the teacher's cry logit, held at most at ``negative_target_cap`` on a labelled
negative where that is set (:func:`capped_teacher_cry`).
The cause CE only sees clips with a cause label; the cause KL sees every cry clip the teacher
scored, labelled or not, which is where distillation adds information (the uncurated cries). The
cry term sees every clip the teacher scored.

Training draws a crop of ``clip_seconds`` from each clip (shorter clips are used whole and masked in
the padded batch, see :class:`export.models.student.CryStudent`). With window-level teacher scores the
crop is one of the teacher's windows, drawn at random, and its soft target is the teacher's score of
that very window (negatives included: distillation on all audio, not one score per clip); with
clip-level scores it is a random crop under the clip's score. With ``context_crops`` the crop also
holds the clip's audio before (and after) the window that the student's score of it depends on, and
the student pools only the window's own frames (:class:`CropGeometry`): the input the window is
scored on in a stream. It then applies the augmenter (the
teacher heard the clean window: the student learns to give the same answer in a noisy room; with
``consistent_teacher`` the teacher scores the augmented window instead, see :func:`rescore_augmented`), and
keeps the weights of the epoch with the best validation score (early stopping on ``patience``).
Everything is seeded. CPU-sized: a few minutes for ~4k clips on 2 cores with the defaults.
"""
from __future__ import annotations

import functools
import inspect
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Collection, Mapping, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from export.audio.augment import random_crop
from export.constants import HOP_SAMPLES, SAMPLE_RATE, WINDOW_SAMPLES
from export.models.student import CryStudent, StudentConfig
from export.models.teacher import class_weights
from export.training.fit import EpochLog, FitHistory, FitSettings, fit
from infantcry_sdk.windows import WindowGrid

#: One training or evaluation record: (clip_id, waveform float32 16 kHz, is_cry 0/1, cause index or -1).
Item = tuple[str, np.ndarray, int, int]
#: clip_id -> the teacher's (cry logit, cause logits [K]) for the whole clip, or per window
#: (cry logits [W], cause logits [W, K]) for windows starting every ``window_hop_seconds``.
TeacherLogits = Mapping[str, tuple[float | np.ndarray, Sequence[float] | np.ndarray]]
#: (model, validation items) -> score, higher is better.
ValScore = Callable[[CryStudent, Sequence[Item]], float]
#: What the student's kept epoch can be chosen on (``DistillConfig.select_on``).
SELECT_ON = ("clips", "streams")
#: Waveforms (one scored window each) -> the teacher's (cry logits [B], cause logits [B, K]) on them.
TeacherScorer = Callable[[Sequence[np.ndarray]], tuple[np.ndarray, np.ndarray]]


@dataclass
class DistillConfig:
    """Student training knobs; the defaults are the pipeline's (docs/decisions.md says why)."""

    alpha: float = 0.3  # weight of the distillation (soft) loss; 1 - alpha on the hard labels
    temperature: float = 2.0
    # 40 epochs of a one-cycle schedule, run to the end (patience 40): the kept epoch is the best
    # validation score after the annealing, not one cut off above half the peak learning rate
    # (docs/decisions.md, "A longer student schedule run to its end").
    epochs: int = 40
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    clip_seconds: float = 1.92  # crop length for training (the SDK's window); shorter clips are used whole
    window_hop_seconds: float = 0.96  # window-level teacher scores start every this many seconds
    cause_loss_weight: float = 1.0
    cry_pos_weight: float | None = None  # None: (negatives / positives) ** class_weight_power
    cause_class_weights: tuple[float, ...] | None = None  # None: inverse frequency ** class_weight_power
    class_weight_power: float = 0.5  # 1: full inverse frequency (cry 14:1, hungry:burping 44:1); 0.5 tempers both
    patience: int = 40  # epochs without a better validation score before stopping (= epochs: never stops early)
    grad_clip: float = 5.0
    eval_batch_size: int = 16
    augment_positives_only: bool = False  # True: the augmenter only touches cry clips
    # Loss weight of the baby-like negatives (laughter, children, child speech: ``hard_negatives`` of
    # train_student) in both cry terms, as the teacher weighs them (TeacherConfig.hard_negative_weight).
    # 1 (off): at 2, three seeds on validation caught more long bouts but had a longer mean median
    # delay, which the rule written before scoring did not allow (docs/decisions.md, "Hard negatives
    # weighted in the student's loss"); judged again over ten draws of validation streams on today's
    # recipe, three fresh seeds caught fewer long bouts, later ("... judged again over ten draws").
    hard_negative_weight: float = 1.0
    augment_fraction: float = 0.6  # share of training crops the augmenter touches; the rest stay as recorded
    cry_window_min_teacher: float | None = None  # cry clips train on windows the teacher scores >= this (None: any)
    ema_decay: float | None = None  # None: keep the best epoch's raw weights; else their moving average (fit.FitSettings)
    # Each training window comes with the clip's audio before (and after) it that the student's score
    # depends on (StudentConfig.context_samples), and only the window's own frames are pooled: the
    # input it gets in a stream and in one pass over a clip (CryStudent.forward). Off: on validation,
    # against the 0.6.0 recipe on the same machine, it lost long-bout recall and delay over three
    # seeds (docs/decisions.md, "Context crops").
    context_crops: bool = False
    # The soft target of an augmented crop is the teacher's score of that augmented crop (the teacher
    # rescored online), not of the clean window: teacher and student then answer the same input, so
    # the soft term stops asking the student to hear a cry the room has buried (Beyer et al. 2022,
    # "a good teacher is patient and consistent"). Needs ``train_student(teacher_scorer=...)``. On,
    # with ``consistent_cries`` off: adopted by the confirmatory release check on fresh seeds 3-5,
    # read over ten draws of validation streams (docs/decisions.md, "One draw of validation streams
    # decides little").
    consistent_teacher: bool = True
    # With consistent_teacher: False rescores only the augmented negatives, and an augmented cry keeps
    # the teacher's score of its clean window (the teacher's own recall falls to 0.39 at 0 dB SNR, so
    # rescored cries taught the student to wait: later detections on validation streams).
    consistent_cries: bool = False
    # Ceiling on the teacher's soft cry target for a labelled negative, as a probability (None: the
    # teacher's score as it stands). The teacher scores about 3 % of the training negatives' windows
    # (cats, sheep, door creaks among them) as crying; uncapped, the soft term teaches the student the
    # teacher's mistake on clips it was told are not cries (docs/decisions.md, "Cats: the teacher's
    # error, passed on"). A cap keeps the teacher's graded similarity below it and stops the
    # contradiction above it; cries keep their targets as scored. Off: at 0.5, three seeds caught
    # fewer long bouts on validation streams, later, and still called training cats a cry
    # (docs/decisions.md, "The teacher's cry target capped on labelled negatives").
    negative_target_cap: float | None = None
    # What the kept epoch is chosen on: "clips", the selection score on validation clips
    # (export.evaluation.evaluate.selection_score); "streams", the monitor's rules chosen on validation
    # home-day streams after each epoch, as the export stage chooses them (stages.student.epoch_score).
    # "clips": on three seeds the stream choice gained long bouts on its own selection draws and none
    # on ten other draws of the same clips, and started detections later (docs/decisions.md, "The
    # student's epoch chosen on validation streams").
    select_on: str = "clips"
    # Background SNR range (dB, active cry power over background power) of the cry crops the chain
    # mixes a background into; None: the chain's own range (HomeAugmentConfig.snr_db, -5 to 20 dB),
    # which negatives keep either way. Below 0 dB the background is louder than the cry, the teacher
    # itself hears a cry in under half of them, and a cry label on such a mix teaches the student to
    # call a loud cat or sheep a cry; the home-day streams judge cries at 0 to 20 dB.
    cry_snr_db: tuple[float, float] | None = None
    progress: bool = True  # tqdm bars

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.augment_fraction <= 1.0:
            raise ValueError(f"augment_fraction must lie in [0, 1], got {self.augment_fraction}")
        if self.cry_window_min_teacher is not None and not 0.0 < self.cry_window_min_teacher < 1.0:
            raise ValueError(f"cry_window_min_teacher must lie in (0, 1), got {self.cry_window_min_teacher}")
        if self.negative_target_cap is not None and not 0.0 < self.negative_target_cap < 1.0:
            raise ValueError(f"negative_target_cap must lie in (0, 1), got {self.negative_target_cap}")
        if self.select_on not in SELECT_ON:
            raise ValueError(f"select_on must be one of {SELECT_ON}, got {self.select_on!r}")
        if self.hard_negative_weight <= 0:
            raise ValueError(f"hard_negative_weight must be > 0, got {self.hard_negative_weight}")
        if self.epochs < 1 or self.batch_size < 1 or self.clip_seconds <= 0:
            raise ValueError("epochs, batch_size and clip_seconds must be positive")
        if self.cause_class_weights is not None:
            self.cause_class_weights = tuple(float(w) for w in self.cause_class_weights)
        if self.cry_snr_db is not None:
            self.cry_snr_db = _snr_range(self.cry_snr_db)

    def to_dict(self) -> dict:
        return asdict(self)


def _snr_range(value) -> tuple[float, float]:
    """``value`` as a (low, high) pair of finite dB figures with low < high (JSON gives a list)."""
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or not np.all(np.isfinite(pair)) or pair[0] >= pair[1]:
        raise ValueError(f"cry_snr_db must be two finite dB figures, low < high, got {value!r}")
    return pair


@dataclass
class TrainHistory:
    distill: bool
    config: dict
    student_config: dict
    epochs: list[EpochLog] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    seconds: float = 0.0
    cry_pos_weight: float = 1.0
    cause_class_weights: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, fitted: FitHistory, distill: bool, config: DistillConfig, student_config: StudentConfig,
           pos_weight: float, cause_weights: Sequence[float]) -> "TrainHistory":
        """The student's history: ``fit``'s epochs and best epoch with the settings that made them."""
        return cls(distill=distill, config=config.to_dict(), student_config=student_config.to_dict(),
                   epochs=fitted.epochs, best_epoch=fitted.best_epoch, best_score=fitted.best_score,
                   seconds=fitted.seconds, cry_pos_weight=float(pos_weight),
                   cause_class_weights=[float(w) for w in cause_weights])

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# batches
# ------------------------------------------------------------------------------------------------
def pad_batch(waves: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad 1-D float32 waveforms into ``[B, N_max]`` with their ``lengths`` ``[B]``."""
    lengths = [int(np.asarray(w).size) for w in waves]
    out = np.zeros((len(waves), max(lengths)), dtype=np.float32)
    for i, w in enumerate(waves):
        out[i, : lengths[i]] = w
    return torch.from_numpy(out), torch.tensor(lengths, dtype=torch.long)


def _window_choice(window_cry: np.ndarray, is_cry: int, min_teacher: float | None, rng: np.random.Generator) -> int:
    """Which of a clip's windows to train on: any, or for a cry clip with ``min_teacher`` set, one the
    teacher scores as crying (probability >= ``min_teacher``; its best window when none is).

    Why: a cry clip's hard label is 1 on every crop, also on the pauses and handling noise between
    cries, and under the class weight that teaches the student to call quiet rooms and voices a cry."""
    if is_cry and min_teacher is not None:
        crying = np.flatnonzero(window_cry >= np.log(min_teacher / (1.0 - min_teacher)))
        return int(crying[rng.integers(crying.size)]) if crying.size else int(np.argmax(window_cry))
    return int(rng.integers(len(window_cry)))


@dataclass(frozen=True)
class CropGeometry:
    """Samples of a training crop: the ``window`` scored, the ``hop`` between the teacher's windows,
    and the audio ``before`` and ``after`` the window that comes with it (the student's receptive
    field in whole embedding frames of ``frame`` samples; both 0 without ``context_crops``).
    ``teacher_tail``: the audio after the window that a consistent teacher hears with it, so that its
    front-end fills its last patch with real frames as it did for the cached scores (0 otherwise)."""

    window: int
    hop: int
    before: int = 0
    after: int = 0
    frame: int = 1
    teacher_tail: int = 0

    @classmethod
    def for_student(cls, config: "DistillConfig", student: StudentConfig, distill: bool = True) -> "CropGeometry":
        """The crops ``config`` draws for ``student``; a student trained without the teacher
        (``distill=False``) gets no ``teacher_tail``, so the teacher's settings do not change its crops."""
        window = int(round(config.clip_seconds * SAMPLE_RATE))
        hop = int(round(config.window_hop_seconds * SAMPLE_RATE))
        frame = student.embedding_samples
        tail = WINDOW_SAMPLES - HOP_SAMPLES if distill and config.consistent_teacher else 0  # 1.92 s -> 192 whole frames
        if not config.context_crops or student.normalisation != "local":
            return cls(window, hop, frame=frame, teacher_tail=tail)
        before, after = student.context_samples()
        whole = lambda n: -(-n // frame) * frame  # noqa: E731 - up to whole embedding frames
        return cls(window, hop, whole(before), whole(after), frame, tail)

    @property
    def has_context(self) -> bool:
        return self.before > 0 or self.after > 0

    def window_frames(self) -> int:
        return -(-self.window // self.frame)


def _crop(
    wave: np.ndarray, geometry: CropGeometry, scores, rng: np.random.Generator, is_cry: int = 0,
    min_teacher: float | None = None,
) -> tuple[np.ndarray, object, int]:
    """A training crop, the teacher's target for it and where its window starts in it (samples).

    The window is one of the teacher's windows when ``scores`` are per window
    (:func:`_window_choice`), else a random one under the clip's score (or no score); the crop adds
    the clip's audio up to ``geometry.before`` samples before it and ``geometry.after`` (or the
    ``teacher_tail``, the longer) after it."""
    if scores is not None and np.ndim(scores[0]) == 1:
        w = _window_choice(np.asarray(scores[0]), is_cry, min_teacher, rng)
        start, target = w * geometry.hop, (float(scores[0][w]), np.asarray(scores[1][w]))
    elif not geometry.has_context:
        return (random_crop(wave, geometry.window, rng) if wave.size > geometry.window else wave), scores, 0
    else:
        starts = max(wave.size - geometry.window, 0) // geometry.frame + 1  # window starts on embedding frames
        start, target = int(rng.integers(starts)) * geometry.frame, scores
    lo = max(0, start - geometry.before)
    return wave[lo : start + geometry.window + max(geometry.after, geometry.teacher_tail)], target, start - lo


@dataclass
class TrainingBatch:
    """Crops (augmented where drawn), the teacher target of each (None where the teacher did not score
    the clip), where each crop's window starts (samples), which crops went through the augmenter, and
    each window as a consistent teacher hears it (with the ``teacher_tail`` after it, augmented alike)."""

    waves: list[np.ndarray]
    targets: list
    offsets: list[int]
    augmented: list[bool]
    teacher_views: list[np.ndarray]


def _training_batch(
    items: Sequence[Item], geometry: CropGeometry, rng: np.random.Generator, augmenter: Callable | None,
    positives_only: bool, teacher: TeacherLogits | None, fraction: float = 1.0, min_teacher: float | None = None,
    cry_augmenter: Callable | None = None,
) -> TrainingBatch:
    """One batch's crops and targets, drawn in item order from ``rng``. ``cry_augmenter`` (default
    ``augmenter``) augments the cry crops."""
    batch = TrainingBatch([], [], [], [], [])
    for clip_id, wave, is_cry, _ in items:
        scores = teacher.get(clip_id) if teacher else None
        w, target, offset = _crop(np.asarray(wave, dtype=np.float32), geometry, scores, rng, is_cry, min_teacher)
        augment = augmenter is not None and (is_cry or not positives_only) and (fraction >= 1.0 or rng.random() < fraction)
        if augment:
            chain = cry_augmenter if is_cry and cry_augmenter is not None else augmenter
            w = np.asarray(chain(w, rng), dtype=np.float32)
        batch.teacher_views.append(w[offset : offset + geometry.window + geometry.teacher_tail])
        w = w[: offset + geometry.window + geometry.after]  # the teacher's tail is not the student's input
        batch.waves.append(w)
        batch.targets.append(target)
        batch.offsets.append(offset)
        batch.augmented.append(augment)
    return batch


def rescore_augmented(batch: TrainingBatch, scorer: TeacherScorer, negatives_only: bool = False,
                      is_cry: Sequence[int] = ()) -> list:
    """The batch's targets with each augmented crop's replaced by the teacher's score of the window the
    student is trained on, as augmented (``consistent_teacher``, ``batch.teacher_views``: the window
    with the audio after it that the teacher's front-end needs); with ``negatives_only`` only the
    crops whose ``is_cry`` is 0. Other crops keep their cached score (of the same audio, where left as
    recorded), and clips the teacher never scored keep no target."""
    if negatives_only and len(is_cry) != len(batch.waves):
        raise ValueError("negatives_only needs every crop's is_cry")
    rescore = [i for i, (aug, t) in enumerate(zip(batch.augmented, batch.targets))
               if aug and t is not None and not (negatives_only and is_cry[i])]
    targets = list(batch.targets)
    if not rescore:
        return targets
    cry, causes = scorer([batch.teacher_views[i] for i in rescore])
    for j, i in enumerate(rescore):
        targets[i] = (float(cry[j]), np.asarray(causes[j], dtype=np.float32))
    return targets


def _targets(items: Sequence[Item], teacher: Sequence | TeacherLogits | None, n_causes: int,
             cry_weights: Mapping[str, float] | None = None) -> dict[str, torch.Tensor]:
    """Hard labels and soft targets; ``teacher`` is one (cry, causes) or None per item (from
    :func:`_training_batch`), or a clip-level mapping. ``cry_weights``: clip id -> weight of its cry
    terms (1 where absent); with none given the targets hold no weights and the loss is unweighted."""
    b = len(items)
    t_cry = torch.zeros(b)
    t_cause = torch.zeros(b, n_causes)
    has_t = torch.zeros(b, dtype=torch.bool)
    if teacher is not None:
        per_item = teacher if isinstance(teacher, Sequence) else [teacher.get(it[0]) for it in items]
        for i, got in enumerate(per_item):
            if got is not None:
                t_cry[i] = float(got[0])
                t_cause[i] = torch.as_tensor(np.asarray(got[1], dtype=np.float32))
                has_t[i] = True
    out = {
        "is_cry": torch.tensor([float(it[2]) for it in items]),
        "cause": torch.tensor([int(it[3]) for it in items], dtype=torch.long),
        "teacher_cry": t_cry,
        "teacher_cause": t_cause,
        "has_teacher": has_t,
    }
    if cry_weights:
        out["cry_weight"] = torch.tensor([float(cry_weights.get(it[0], 1.0)) for it in items])
    return out


# ------------------------------------------------------------------------------------------------
# loss
# ------------------------------------------------------------------------------------------------
def capped_teacher_cry(teacher_cry: torch.Tensor, is_cry: torch.Tensor, cap: float | None) -> torch.Tensor:
    """The teacher's cry logits with each labelled negative's held at most at ``cap``'s logit
    (``DistillConfig.negative_target_cap``; None: unchanged)."""
    if cap is None:
        return teacher_cry
    ceiling = math.log(cap / (1.0 - cap))
    return torch.where(is_cry < 0.5, teacher_cry.clamp(max=ceiling), teacher_cry)


def distillation_loss(
    cry_logit: torch.Tensor,
    cause_logits: torch.Tensor,
    targets: Mapping[str, torch.Tensor],
    config: DistillConfig,
    *,
    distill: bool,
    pos_weight: torch.Tensor | None = None,
    cause_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss (module docstring) and its parts as floats, for logging."""
    is_cry, cause = targets["is_cry"], targets["cause"]
    weight = targets.get("cry_weight")  # None: every clip weighs 1 (no weight tensor, the same numbers)
    zero = cry_logit.sum() * 0.0
    hard_cry = F.binary_cross_entropy_with_logits(cry_logit, is_cry, weight=weight, pos_weight=pos_weight)
    labelled = cause >= 0
    hard_cause = (
        F.cross_entropy(cause_logits[labelled], cause[labelled], weight=cause_weights) if labelled.any() else zero
    )
    hard = hard_cry + config.cause_loss_weight * hard_cause
    parts = {"hard_cry": float(hard_cry.detach()), "hard_cause": float(hard_cause.detach())}
    if not distill:
        return hard, parts
    t = config.temperature
    has_t = targets["has_teacher"]
    teacher_cry = capped_teacher_cry(targets["teacher_cry"], is_cry, config.negative_target_cap)
    soft_cry = zero
    if has_t.any():
        soft_cry = F.binary_cross_entropy_with_logits(
            cry_logit[has_t] / t, torch.sigmoid(teacher_cry[has_t] / t),
            weight=None if weight is None else weight[has_t],
        ) * (t * t)
    kd_mask = has_t & (is_cry > 0.5)
    soft_cause = zero
    if kd_mask.any():
        log_p_student = F.log_softmax(cause_logits[kd_mask] / t, dim=-1)
        p_teacher = F.softmax(targets["teacher_cause"][kd_mask] / t, dim=-1)
        soft_cause = F.kl_div(log_p_student, p_teacher, reduction="batchmean") * (t * t)
    soft = soft_cry + config.cause_loss_weight * soft_cause
    parts.update(soft_cry=float(soft_cry.detach()), soft_cause=float(soft_cause.detach()))
    return (1.0 - config.alpha) * hard + config.alpha * soft, parts


def hard_negative_weights(items: Sequence[Item], hard_negatives: Collection[str], weight: float) -> dict[str, float]:
    """clip id -> ``weight`` for the training items listed in ``hard_negatives`` that are not cries;
    empty when ``weight`` is 1, so the default loss carries no weight tensor at all."""
    hard = set(hard_negatives)
    if weight == 1.0 or not hard:
        return {}
    return {it[0]: float(weight) for it in items if it[0] in hard and not it[2]}


def loss_weights(items: Sequence[Item], n_causes: int, config: DistillConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(cry pos_weight [1], cause class weights [K]) from the training items and the config."""
    pos = sum(1 for it in items if it[2])
    neg = len(items) - pos
    if config.cry_pos_weight is not None:
        pw = float(config.cry_pos_weight)
    else:
        pw = (neg / pos) ** config.class_weight_power if pos and neg else 1.0
    if config.cause_class_weights is not None:
        if len(config.cause_class_weights) != n_causes:
            raise ValueError(f"{len(config.cause_class_weights)} cause class weights for {n_causes} causes")
        cw = torch.tensor(config.cause_class_weights, dtype=torch.float32)
    else:
        cw = class_weights([it[3] for it in items], n_causes) ** config.class_weight_power
        present = cw > 0
        if present.any():
            cw = cw / cw[present].mean()
    return torch.tensor([pw], dtype=torch.float32), cw


# ------------------------------------------------------------------------------------------------
# inference and validation
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict_logits(
    model: CryStudent, waveforms: Sequence[np.ndarray], batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-clip logits ``(cry [N], causes [N, K])``: clips batched by length, padding masked."""
    model.eval()
    n = len(waveforms)
    k = model.config.n_causes
    cry, causes = np.zeros(n, dtype=np.float32), np.zeros((n, k), dtype=np.float32)
    order = np.argsort([np.asarray(w).size for w in waveforms], kind="stable")
    for s in range(0, n, batch_size):
        idx = order[s : s + batch_size]
        x, lengths = pad_batch([np.asarray(waveforms[i], dtype=np.float32) for i in idx])
        c, z = model(x, lengths)
        cry[idx], causes[idx] = c.numpy(), z.numpy()
    return cry, causes


def predict(model: CryStudent, waveforms: Sequence[np.ndarray], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Whole-clip probabilities ``(cry_probability [N], cause_probabilities [N, K])``, as the exported graph gives."""
    cry, causes = predict_logits(model, waveforms, batch_size)
    z = causes - causes.max(axis=1, keepdims=True)
    p = np.exp(z)
    return 1.0 / (1.0 + np.exp(-cry)), p / p.sum(axis=1, keepdims=True)


@torch.no_grad()
def predict_windows(
    model: CryStudent, waveforms: Sequence[np.ndarray], window_seconds: float, hop_seconds: float, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Clip probabilities aggregated over windows: ``(max window cry probability [N], mean window
    cause probabilities [N, K])``. The cry score is the SDK's (the max), the number a threshold
    chosen on validation is applied to; the SDK averages causes over the windows at or above that
    threshold, which does not exist yet while training, so here every window counts. Early stopping
    on the max selects the epoch that ships best, where the clip-pooled
    output of :func:`predict` scores a long negative by its average and hides its loudest window.
    Clips of the same length are batched (no padding: every frame is real)."""
    model.eval()
    wf, hf = model.config.window_frames(window_seconds), model.config.window_frames(hop_seconds)
    n, k = len(waveforms), model.config.n_causes
    cry, causes = np.zeros(n, dtype=np.float32), np.zeros((n, k), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(waveforms):
        by_length.setdefault(int(np.asarray(w).size), []).append(i)
    for idx_all in by_length.values():
        for s in range(0, len(idx_all), batch_size):
            idx = idx_all[s : s + batch_size]
            x = torch.from_numpy(np.stack([np.asarray(waveforms[i], dtype=np.float32) for i in idx]))
            _, _, w_cry, w_causes = model.forward_windows(x, wf, hf)
            cry[idx] = torch.sigmoid(w_cry).amax(dim=1).numpy()
            causes[idx] = torch.softmax(w_causes, dim=-1).mean(dim=1).numpy()
    return cry, causes


def student_grid(config: StudentConfig, window_seconds: float, hop_seconds: float) -> WindowGrid:
    """The SDK's window grid (:class:`infantcry_sdk.windows.WindowGrid`) for a student with these
    windows: its receptive field in whole hops, as the SDK rounds the exported file's. The last
    window's tail is left at one sample (the SDK measures it on the exported graph); only the count
    of windows at a recording's very end can differ."""
    return WindowGrid.with_receptive_field(round(window_seconds * SAMPLE_RATE), round(hop_seconds * SAMPLE_RATE),
                                           1, *config.context_samples())


@torch.no_grad()
def stream_window_scores(
    model: CryStudent, audio: np.ndarray, window_seconds: float, hop_seconds: float, max_samples: int = 60 * SAMPLE_RATE
) -> np.ndarray:
    """Every window's cry probability over a long recording (a home-day stream), scored in segments
    that carry their context as the SDK scores them (:meth:`WindowGrid.segments`): the torch
    student's view of what the monitor sees, with no export in between."""
    model.eval()
    grid = student_grid(model.config, window_seconds, hop_seconds)
    wf, hf = model.config.window_frames(window_seconds), model.config.window_frames(hop_seconds)
    out = np.zeros(grid.count(audio.size), dtype=np.float32)
    for first, stop, lo, hi in grid.segments(audio.size, max_samples):
        x = torch.from_numpy(np.ascontiguousarray(audio[lo:hi], dtype=np.float32))[None]
        w_cry = torch.sigmoid(model.forward_windows(x, wf, hf)[2][0]).numpy()
        got = w_cry[first - lo // grid.hop:][: stop - first]
        out[first : first + got.size] = got
    return out


def validation_loss_score(pos_weight: torch.Tensor, cause_weights: torch.Tensor, batch_size: int = 16) -> ValScore:
    """The default validation score: minus the hard-label loss on whole validation clips."""

    def score(model: CryStudent, items: Sequence[Item]) -> float:
        cry, causes = predict_logits(model, [it[1] for it in items], batch_size)
        targets = _targets(items, None, model.config.n_causes)
        cfg = DistillConfig(alpha=0.0, progress=False)
        loss, _ = distillation_loss(
            torch.from_numpy(cry), torch.from_numpy(causes), targets, cfg,
            distill=False, pos_weight=pos_weight, cause_weights=cause_weights,
        )
        return -float(loss)

    return score


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
def _check_items(items: Sequence[Item], n_causes: int, name: str) -> None:
    if not items:
        raise ValueError(f"{name} is empty")
    for clip_id, wave, is_cry, cause in items:
        if int(is_cry) not in (0, 1):
            raise ValueError(f"{name}: clip {clip_id!r} has is_cry={is_cry}, want 0 or 1")
        if not -1 <= int(cause) < n_causes:
            raise ValueError(f"{name}: clip {clip_id!r} has cause {cause}, want -1..{n_causes - 1}")
        if np.asarray(wave).ndim != 1 or np.asarray(wave).size == 0:
            raise ValueError(f"{name}: clip {clip_id!r} needs a non-empty 1-D waveform")


def _check_training_input(train_set, val_set, teacher_outputs, distill: bool, n_causes: int,
                          consistent: bool = False, teacher_scorer: TeacherScorer | None = None) -> None:
    _check_items(train_set, n_causes, "train_set")
    _check_items(val_set, n_causes, "val_set")
    if distill and not teacher_outputs:
        raise ValueError("distill=True needs the teacher's cached logits")
    missing = sum(1 for it in train_set if teacher_outputs is not None and it[0] not in teacher_outputs)
    if distill and missing == len(train_set):
        raise ValueError("no training clip has teacher logits: check the clip ids")
    if consistent and teacher_scorer is None:
        raise ValueError("consistent_teacher needs a teacher_scorer (the teacher on raw audio)")


def train_student(
    train_set: Sequence[Item],
    val_set: Sequence[Item],
    teacher_outputs: TeacherLogits | None,
    config: DistillConfig,
    *,
    distill: bool = True,
    augmenter: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    student_config: StudentConfig | None = None,
    val_score: ValScore | None = None,
    seed: int = 0,
    threads: int | None = None,
    hard_negatives: Collection[str] = (),
    teacher_scorer: TeacherScorer | None = None,
) -> tuple[CryStudent, TrainHistory]:
    """Train a :class:`CryStudent` through :func:`export.training.fit.fit`; returns the
    best-validation model (eval mode) and its history. ``teacher_outputs`` may be ``None`` only with
    ``distill=False``. ``augmenter(wave, rng)`` is called on each training crop (e.g.
    :class:`export.audio.augment.Augmenter`, built on training-side backgrounds only);
    ``config.cry_snr_db`` needs one that takes ``snr_db`` (a home chain). ``val_score(model,
    val_set)``: higher is better; default minus the hard loss.
    ``hard_negatives``: the clip ids whose cry terms weigh ``config.hard_negative_weight``.
    ``teacher_scorer``: the teacher on raw windows, required by ``config.consistent_teacher``.
    """
    student_config = student_config or StudentConfig()
    k = student_config.n_causes
    consistent = distill and config.consistent_teacher
    _check_training_input(train_set, val_set, teacher_outputs, distill, k, consistent, teacher_scorer)
    pos_weight, cause_weights = loss_weights(train_set, k, config)
    score_fn = val_score or validation_loss_score(pos_weight, cause_weights, config.eval_batch_size)
    steps = math.ceil(len(train_set) / config.batch_size)
    geometry = CropGeometry.for_student(config, student_config, distill)
    window_frames = geometry.window_frames()
    teacher = teacher_outputs if distill else None
    cry_weights = hard_negative_weights(train_set, hard_negatives, config.hard_negative_weight)
    cry_augmenter = _cry_augmenter(augmenter, config.cry_snr_db)

    def batches(rng: np.random.Generator):
        order = rng.permutation(len(train_set))
        for step in range(steps):
            batch = [train_set[i] for i in order[step * config.batch_size : (step + 1) * config.batch_size]]
            drawn = _training_batch(batch, geometry, rng, augmenter, config.augment_positives_only,
                                    teacher, config.augment_fraction, config.cry_window_min_teacher, cry_augmenter)
            soft = (rescore_augmented(drawn, teacher_scorer, not config.consistent_cries, [it[2] for it in batch])
                    if consistent else drawn.targets)
            x, lengths = pad_batch(drawn.waves)
            first_frame = torch.tensor(drawn.offsets, dtype=torch.long) // geometry.frame
            yield x, lengths, first_frame, _targets(batch, soft if teacher is not None else None, k, cry_weights)

    def loss(model: CryStudent, batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, lengths, first_frame, targets = batch
        cry_logit, cause_logits = model(x, lengths, first_frame, window_frames)
        return distillation_loss(cry_logit, cause_logits, targets, config, distill=distill,
                                 pos_weight=pos_weight, cause_weights=cause_weights)

    settings = FitSettings(config.epochs, config.patience, config.grad_clip, seed, threads, config.progress,
                           "distilled student" if distill else "student", config.ema_decay)
    model, fitted = fit(lambda: CryStudent(student_config), one_cycle_adamw(config, steps), batches, loss,
                        lambda m: score_fn(m, val_set), settings)
    return model, TrainHistory.of(fitted, distill, config, student_config, pos_weight, cause_weights)


def _cry_augmenter(augmenter: Callable | None, snr_db: tuple[float, float] | None) -> Callable | None:
    """The chain for cry crops: ``augmenter`` with its background SNR range replaced by ``snr_db``
    (``DistillConfig.cry_snr_db``), or None (the cry crops use ``augmenter`` as it is)."""
    if snr_db is None or augmenter is None:
        return None
    if "snr_db" not in inspect.signature(augmenter).parameters:
        raise ValueError(f"cry_snr_db needs an augmenter that takes snr_db (HomeAugmenter), not {augmenter!r}")
    return functools.partial(augmenter, snr_db=snr_db)


def one_cycle_adamw(config: DistillConfig, steps_per_epoch: int):
    """``fit``'s optimizer factory for the student: AdamW under a one-cycle learning rate stepped
    every batch over all ``config.epochs`` (15 % warm-up). The schedule spans every epoch whether or
    not early stopping ends the run first, which is why patience shorter than the schedule keeps
    weights that were never annealed (docs/decisions.md, "A longer student schedule")."""

    def make(model: torch.nn.Module):
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        total = config.epochs * steps_per_epoch
        return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.15)

    return make


__all__ = [
    "CropGeometry",
    "DistillConfig",
    "EpochLog",
    "Item",
    "TeacherScorer",
    "TrainHistory",
    "TrainingBatch",
    "distillation_loss",
    "hard_negative_weights",
    "loss_weights",
    "pad_batch",
    "predict",
    "predict_logits",
    "predict_windows",
    "rescore_augmented",
    "train_student",
    "validation_loss_score",
]
