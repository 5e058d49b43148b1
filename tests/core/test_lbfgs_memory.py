"""The lean L-BFGS history: TFP's own iterates, bit for bit, with one copy of the history."""

import contextlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from core.lbfgs_memory import empty_queue, lean_history, queue_push

N = 3000


def _value_and_gradient(x):
    """A smooth, not quadratic, objective: L-BFGS needs several pairs and line searches on it."""
    rng = np.random.default_rng(0)
    weights = tf.constant(rng.uniform(0.5, 2.0, size=N).astype(np.float32))
    target = tf.constant(rng.normal(size=N).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.reduce_sum(weights * (x - target) ** 2 + 0.1 * tf.sin(3.0 * x))
    return value, tape.gradient(value, x)


def _run(lean: bool, compiled: bool):
    def minimize(start):
        first = tfp.optimizer.lbfgs_minimize(_value_and_gradient, start, max_iterations=12, num_correction_pairs=4)
        return tfp.optimizer.lbfgs_minimize(_value_and_gradient, None, previous_optimizer_results=first,
                                            max_iterations=20, num_correction_pairs=4)

    with lean_history() if lean else contextlib.nullcontext():
        return (tf.function(minimize) if compiled else minimize)(tf.zeros(N))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_iterates_are_tfps_to_the_bit(compiled):
    ours, theirs = _run(True, compiled), _run(False, compiled)
    assert int(ours.num_iterations) == int(theirs.num_iterations) == 20
    np.testing.assert_array_equal(ours.position.numpy(), theirs.position.numpy())
    np.testing.assert_array_equal(np.stack(ours.position_deltas), theirs.position_deltas.numpy())
    np.testing.assert_array_equal(np.stack(ours.gradient_deltas), theirs.gradient_deltas.numpy())


def test_an_empty_history_is_one_shared_row():
    queue = empty_queue(5, tf.ones(7))
    assert len(queue) == 5 and all(row is queue[0] for row in queue)
    assert float(tf.reduce_sum(tf.abs(queue[0]))) == 0.0


def test_a_push_keeps_the_rows_it_keeps_and_copies_nothing():
    rows = tuple(tf.fill([4], float(i)) for i in range(3))
    new = tf.fill([4], 9.0)
    pushed = queue_push(rows, tf.constant(True), new)
    assert pushed[0] is rows[1] and pushed[1] is rows[2] and pushed[2] is new
    assert queue_push(rows, tf.constant(False), new) == rows


def test_batches_are_refused():
    with pytest.raises(ValueError, match="one problem at a time"):
        queue_push((tf.zeros([2, 4]),), tf.constant([True, False]), tf.zeros([2, 4]))
