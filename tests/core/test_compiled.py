"""L-BFGS chunks as one compiled program: TFP's iterates, exact resume, one trace for a ladder."""

import numpy as np
import pytest
import tensorflow as tf

from core.objective import LossSpec, compute_targets, make_extractor, whole_image_objective
from core.optimize import minimize_lbfgs
from tests.conftest import noise_image, smooth_image


def _objective(tiny, height, width, spec=LossSpec()):
    extractor = make_extractor(tiny, spec)
    content = tf.constant(smooth_image(height, width, 1))
    targets = compute_targets(extractor, spec, content, [tf.constant(noise_image(40, 40, 2))])
    return whole_image_objective(extractor, spec, targets), content


def test_compiled_chunks_follow_the_eager_loop(tiny):
    objective, start = _objective(tiny, 32, 48)
    eager = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=4)
    objective, start = _objective(tiny, 32, 48)
    compiled = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=4, compiled=True)
    assert compiled.iterations == eager.iterations == 12
    assert compiled.terms.total == pytest.approx(eager.terms.total, rel=1e-3)
    np.testing.assert_allclose(compiled.image.numpy(), eager.image.numpy(), atol=2e-3)


def test_compiled_chunks_end_where_one_compiled_run_ends_and_resume_exactly(tiny):
    objective, start = _objective(tiny, 32, 48)
    whole = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=12, compiled=True)
    chunked = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=3, compiled=True)
    np.testing.assert_array_equal(whole.image.numpy(), chunked.image.numpy())
    first = minimize_lbfgs(objective, start, iterations=5, chunk_iterations=5, compiled=True)
    resumed = minimize_lbfgs(objective, start, iterations=12, chunk_iterations=7, compiled=True, state=first.state)
    np.testing.assert_array_equal(resumed.image.numpy(), whole.image.numpy())


def test_one_trace_serves_every_rung_and_reports_cost_no_second_pass(tiny):
    """Two sizes, the same network and specification: the program is traced once. The terms of
    each report are those of the image evaluated last, read from the program, not a new pass."""
    from core.compiled import chunk_program

    runs = []
    for height, width in ((32, 48), (64, 96)):
        objective, start = _objective(tiny, height, width, LossSpec(style_weight=7.0))
        runs.append((objective, minimize_lbfgs(objective, start, iterations=6, chunk_iterations=3, compiled=True)))
    options = dict(num_correction_pairs=10, tolerance=0.0, x_tolerance=0.0, f_relative_tolerance=0.0)
    program = chunk_program(runs[0][0].parts, correction_pairs=10, options=options, accept_first_step=True,
                            jit_compile=False)
    assert program.traces == 1
    for objective, result in runs:
        assert objective.traces == 1  # its own function: only the start's evaluation, never a terms pass
        fresh = objective.loss_function(result.state.results.position.numpy().reshape(result.image.shape))
        assert result.terms.total == pytest.approx(float(fresh.total), rel=1e-5)
