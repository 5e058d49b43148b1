"""The optimisers: L-BFGS in chunks, failure handling, Adam, compiled traces."""

import numpy as np
import tensorflow as tf

from core.optimize import ADAM_PRESETS, minimize_adam, minimize_lbfgs
from tests.conftest import tiny_problem as _tiny_problem


def _quadratic(target):
    """A loss whose minimum is ``target``: the L-BFGS textbook case."""
    target = tf.constant(target)

    def loss_function(image):
        total = tf.reduce_sum(tf.square(image - target) * tf.constant([1.0, 4.0, 9.0]))
        zero = tf.constant(0.0)
        return {"total": total, "content": total, "style": zero, "tv": zero, "range": zero}

    return loss_function


def test_lbfgs_finds_minimum_of_quadratic():
    target = np.random.default_rng(0).uniform(0.2, 0.8, size=(1, 4, 5, 3)).astype(np.float32)
    result = minimize_lbfgs(_quadratic(target), tf.fill((1, 4, 5, 3), 0.5), iterations=30)
    np.testing.assert_allclose(result.image.numpy(), target, atol=1e-4)


def test_chunks_end_where_one_run_ends(tiny):
    loss_function, start = _tiny_problem(tiny)
    whole = minimize_lbfgs(loss_function, start, iterations=12, chunk_iterations=12)
    chunked = minimize_lbfgs(loss_function, start, iterations=12, chunk_iterations=3)
    assert len(chunked.history) == 4 and len(whole.history) == 1
    assert chunked.iterations == whole.iterations == 12
    assert chunked.evaluations == whole.evaluations
    np.testing.assert_array_equal(chunked.image.numpy(), whole.image.numpy())


def test_resume_from_state_equals_uninterrupted(tiny):
    loss_function, start = _tiny_problem(tiny)
    whole = minimize_lbfgs(loss_function, start, iterations=10, chunk_iterations=5)
    first = minimize_lbfgs(loss_function, start, iterations=5, chunk_iterations=5)
    second = minimize_lbfgs(loss_function, start, iterations=10, chunk_iterations=5, state=first.state)
    np.testing.assert_array_equal(second.image.numpy(), whole.image.numpy())
    # Reports say which evaluations the earlier run did, so that a rate counts this run's only.
    assert [p.evaluations_before for p in first.history] == [0]
    assert [p.evaluations_before for p in second.history] == [first.evaluations]


def test_resume_with_another_history_length_takes_that_length(tiny):
    """A render resumed where the planner allows fewer (or more) correction pairs: before the
    history fills, the resumed run is exactly the run that had that many pairs all along."""
    loss_function, start = _tiny_problem(tiny)
    first = minimize_lbfgs(loss_function, start, iterations=2, chunk_iterations=2, correction_pairs=6)
    for pairs in (3, 8):
        resumed = minimize_lbfgs(loss_function, start, iterations=5, chunk_iterations=3,
                                 correction_pairs=pairs, state=first.state)
        alone = minimize_lbfgs(loss_function, start, iterations=5, chunk_iterations=3, correction_pairs=pairs)
        assert len(resumed.state.results.position_deltas) == pairs
        np.testing.assert_array_equal(resumed.image.numpy(), alone.image.numpy())
    # After the history has filled, the newest pairs are kept and the run goes on downhill.
    full = minimize_lbfgs(loss_function, start, iterations=8, chunk_iterations=8, correction_pairs=6)
    shorter = minimize_lbfgs(loss_function, start, iterations=12, chunk_iterations=4, correction_pairs=3,
                             state=full.state)
    assert len(shorter.state.results.position_deltas) == 3
    assert shorter.terms.total < full.terms.total


def test_render_lowers_the_loss_and_reports_each_chunk(tiny):
    loss_function, start = _tiny_problem(tiny)
    seen = []
    result = minimize_lbfgs(loss_function, start, iterations=20, chunk_iterations=5, callback=seen.append)
    assert [p.iteration for p in seen] == [5, 10, 15, 20]
    initial = float(loss_function(start).total)
    assert result.terms.total < 0.5 * initial
    assert seen[-1].evaluations >= 20
    assert 0.0 <= float(tf.reduce_min(result.image)) and float(tf.reduce_max(result.image)) <= 1.0


def test_objective_is_traced_once_across_chunks(tiny, monkeypatch):
    import core.optimize as optimize

    runners = []
    original = optimize._LBfgsRunner

    def recording(*args, **kwargs):
        runners.append(original(*args, **kwargs))
        return runners[-1]

    monkeypatch.setattr(optimize, "_LBfgsRunner", recording)
    loss_function, start = _tiny_problem(tiny)
    minimize_lbfgs(loss_function, start, iterations=12, chunk_iterations=2)
    # Value and gradient traced once; each chunk's terms are those of its last evaluation, so the
    # terms function is never traced: 6 chunks, one trace.
    assert runners[0].traces == 1


def test_tolerance_stops_early_when_asked(tiny):
    loss_function, start = _tiny_problem(tiny)
    result = minimize_lbfgs(loss_function, start, iterations=500, chunk_iterations=50, tolerance=0.05)
    assert result.stopped == "converged"
    assert result.iterations < 500


def test_non_finite_loss_is_reported_and_last_good_image_kept():
    target = np.full((1, 4, 4, 3), 0.7, np.float32)
    quadratic = _quadratic(target)

    def poisoned(image):
        terms = quadratic(image)
        # Finite until the image comes close to the minimum, then NaN: a blow-up mid-run.
        bad = tf.reduce_max(tf.abs(image - target)) < 0.05
        return {**terms, "total": tf.where(bad, tf.constant(np.nan), terms["total"])}  # a mapping is a loss's result too

    seen = []
    result = minimize_lbfgs(poisoned, tf.fill((1, 4, 4, 3), 0.0), iterations=40, chunk_iterations=1,
                            callback=seen.append)
    assert any("failed" in p.message and "restarting" in p.message for p in seen)
    assert np.all(np.isfinite(result.image.numpy()))
    assert np.isfinite(result.terms.total)


def test_a_loss_that_fails_everywhere_but_the_start_ends_the_run():
    start = tf.fill((1, 4, 4, 3), 0.5)

    def cliff(image):
        moved = tf.reduce_max(tf.abs(image - start)) > 0
        total = tf.where(moved, tf.constant(np.nan), tf.reduce_sum(image))
        return {"total": total, "content": total, "style": total, "tv": total, "range": total}

    result = minimize_lbfgs(cliff, start, iterations=10, chunk_iterations=2)
    assert result.stopped.startswith("failed")
    np.testing.assert_array_equal(result.image.numpy(), start.numpy())


def test_adam_lowers_the_loss_and_stays_in_range(tiny):
    loss_function, start = _tiny_problem(tiny)
    result = minimize_adam(loss_function, start, iterations=20, chunk_iterations=10,
                           settings=ADAM_PRESETS["seed-report"])
    assert result.terms.total < float(loss_function(start).total)
    assert len(result.history) == 2
    image = result.image.numpy()
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_adam_resume_equals_uninterrupted(tiny):
    loss_function, start = _tiny_problem(tiny)
    whole = minimize_adam(loss_function, start, iterations=8, chunk_iterations=4)
    first = minimize_adam(loss_function, start, iterations=4, chunk_iterations=4)
    second = minimize_adam(loss_function, start, iterations=8, chunk_iterations=4, state=first.state)
    np.testing.assert_allclose(second.image.numpy(), whole.image.numpy(), atol=1e-6)
    assert [p.evaluations_before for p in first.history] == [0]
    assert [p.evaluations_before for p in second.history] == [first.evaluations]


def test_the_start_point_is_evaluated_once(tiny):
    """Choosing the scale and starting L-BFGS share one evaluation: every evaluation is counted."""
    from core.objective import WholeImageObjective

    loss_function, start = _tiny_problem(tiny)
    objective = WholeImageObjective(loss_function)
    calls = []
    original = objective.value_and_gradient

    def counting(image, **options):
        calls.append(1)
        return original(image, **options)

    objective.value_and_gradient = counting
    result = minimize_lbfgs(objective, start, iterations=4, chunk_iterations=2)
    assert len(calls) == result.evaluations


def test_the_history_of_chunks_keeps_no_tensors(tiny):
    """Each chunk's state holds L-BFGS's whole history: a run keeps only the last, in ``state``."""
    loss_function, start = _tiny_problem(tiny)
    seen = []
    result = minimize_lbfgs(loss_function, start, iterations=6, chunk_iterations=2, callback=seen.append)
    assert all(p.state is not None and p.image is not None for p in seen)  # the callback sees them whole
    assert all(p.state is None and p.image is None for p in result.history)
    assert [p.terms for p in result.history] == [p.terms for p in seen]
    assert result.state is not None


def test_a_checkpoint_holds_the_history_row_by_row_and_reads_the_stacked_form(tiny):
    from core.optimize import state_from_arrays, state_to_arrays

    loss_function, start = _tiny_problem(tiny)
    first = minimize_lbfgs(loss_function, start, iterations=3, chunk_iterations=3, correction_pairs=4)
    arrays = state_to_arrays(first.state)
    assert "lbfgs.position_deltas" not in arrays and "lbfgs.position_deltas.3" in arrays
    stacked = {k: v for k, v in arrays.items() if not k.startswith(("lbfgs.position_deltas.", "lbfgs.gradient_deltas."))}
    for name in ("position_deltas", "gradient_deltas"):  # as checkpoints before 2026-12-04 hold it
        stacked[f"lbfgs.{name}"] = np.stack([arrays[f"lbfgs.{name}.{i}"] for i in range(4)])
    runs = [minimize_lbfgs(loss_function, start, iterations=6, chunk_iterations=3, correction_pairs=4,
                           state=state_from_arrays(saved)) for saved in (arrays, stacked)]
    alone = minimize_lbfgs(loss_function, start, iterations=6, chunk_iterations=3, correction_pairs=4)
    for run in runs:
        np.testing.assert_array_equal(run.image.numpy(), alone.image.numpy())


def test_a_rung_stops_where_ten_iterations_gain_too_little_and_a_resume_stops_there_too(tiny):
    """The stop on progress reads the loss every 10 iterations; the state carries the last reading,
    so a run cut at any chunk and resumed stops at the same iteration, on the same picture."""
    from core.optimize import STOP_WINDOW

    loss_function, start = _tiny_problem(tiny)
    full = minimize_lbfgs(loss_function, start, iterations=200, chunk_iterations=10)
    losses = {p.iteration: p.terms.total for p in full.history}
    gains = {i: (losses[i - STOP_WINDOW] - losses[i]) / losses[i - STOP_WINDOW]
             for i in losses if i - STOP_WINDOW in losses}
    ordered = sorted(gains.values())
    gain = (ordered[len(ordered) // 2] + ordered[len(ordered) // 2 + 1]) / 2  # between two readings: no tie
    stopped = minimize_lbfgs(loss_function, start, iterations=200, chunk_iterations=10, stop_gain=gain)
    assert stopped.stopped == "levelled off" and stopped.iterations % STOP_WINDOW == 0
    expected = min(i for i, g in gains.items() if g < gain)
    assert stopped.iterations == expected
    assert "levelled off" in stopped.history[-1].message
    for cut in (3, 17):  # chunks of 3 end off the window: the rule still reads every 10th iteration
        first = minimize_lbfgs(loss_function, start, iterations=cut, chunk_iterations=3, stop_gain=gain)
        resumed = minimize_lbfgs(loss_function, start, iterations=200, chunk_iterations=3, stop_gain=gain,
                                 state=first.state)
        assert resumed.iterations == stopped.iterations and resumed.stopped == "levelled off"
        np.testing.assert_array_equal(resumed.image.numpy(), stopped.image.numpy())
