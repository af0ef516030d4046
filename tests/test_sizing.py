"""export/modelfile/sizing.py: an architecture's file sizes, measured on an untrained student."""
from __future__ import annotations

import dataclasses
import json

import pytest

from export.models.student import CryStudent, StudentConfig
from export.modelfile.sizing import BUNDLED_MODEL, main, measure, untrained_student, with_widths

SMALL = (8, (8, 16, 16, 24, 24, 32, 32))


def test_with_widths_keeps_the_strides_and_checks_the_block_count():
    config = with_widths(SMALL[0], SMALL[1])
    assert config.stem_channels == 8
    assert [b[0] for b in config.blocks] == list(SMALL[1])
    assert [b[1:] for b in config.blocks] == [b[1:] for b in StudentConfig().blocks]
    with pytest.raises(ValueError, match="7 blocks"):
        with_widths(8, [8, 16])


def test_untrained_student_has_no_zero_or_default_tensor():
    model = untrained_student(with_widths(*SMALL))
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            assert tensor.abs().min() > 0, name
            if "running_var" in name:
                assert not bool((tensor == 1).all()), name


@pytest.mark.slow
def test_sizes_do_not_depend_on_the_weights(capsys):
    """The premise of the module: two different random students of one architecture give files of
    the same size (the CLI's seed 0 against seed 1), and the parameter count is the model's own."""
    assert BUNDLED_MODEL.is_file()
    assert main([",".join(str(w) for w in (SMALL[0], *SMALL[1]))]) == 0
    printed = json.loads(capsys.readouterr().out.strip())
    config = with_widths(*SMALL)
    other = dataclasses.asdict(measure(config, seed=1))
    assert printed == {**other, "block_channels": list(other["block_channels"])}
    assert printed["parameters"] == sum(p.numel() for p in CryStudent(config).parameters())
    assert 0 < printed["int8_onnx_bytes"] < printed["ort_bytes"]


def test_cli_rejects_a_width_that_is_not_an_integer(capsys):
    with pytest.raises(SystemExit):
        main(["8,x"])
    assert "not a comma-separated list of integers" in capsys.readouterr().err


@pytest.mark.slow
def test_default_architecture_fits_the_size_budget():
    """A default that cannot ship fails here, before anyone trains it (the wider student's .ort was
    447,952 B against 400,000 after a 45-minute check; docs/decisions.md)."""
    from benchmarks.budgets import load_budgets

    limit = load_budgets()["size"]["max_int8_file_bytes"]
    sizes = measure(StudentConfig())
    assert sizes.int8_onnx_bytes <= limit and sizes.ort_bytes <= limit, sizes
