"""TFP's L-BFGS with the memory of its history only: the same arithmetic, fewer image-sized copies.

Why: at a poster's size one image-sized vector is most of a gigabyte (9600x7200x3 floats:
829 MB), and ``tfp.optimizer.lbfgs_minimize`` holds far more of them than its state does. Its
two-loop recursion (``lbfgs._get_search_direction``) multiplies the whole history at once for
the curvature products and runs ``tf.scan``, which stacks every intermediate direction: three
more history-sized tensors (3 x pairs vectors) at every iteration. Its queue update
(``lbfgs._queue_push``) builds the shifted queue and then selects between it and the old one with
``tf.where``: a third copy of each queue. Measured on a 4096x3072 image with 10 pairs (one
vector is 151 MB), TFP's loop peaked at 78 vectors where its state holds 22.

``lean_history()`` is a context manager that puts the two functions below in TFP's place while
it is open, as ``core.linesearch`` does for the line search. They compute the same numbers in
the same order (each pair's products are reduced row by row, which gives the same bits as
TFP's reduction over the stacked rows), keeping one direction and one product at a time.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import tensorflow as tf
from tensorflow_probability.python.internal import prefer_static as ps
from tensorflow_probability.python.optimizer import lbfgs

_TFP_SEARCH_DIRECTION = lbfgs._get_search_direction
_TFP_QUEUE_PUSH = lbfgs._queue_push
_TFP_EMPTY_QUEUE = lbfgs._make_empty_queue_for


def empty_queue(pairs: int, element: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """``lbfgs._make_empty_queue_for``: a history of ``pairs`` zero rows, as a tuple of rows.

    Every row is the same zero vector, so an empty history costs one vector, not ``pairs``.
    """
    return (tf.zeros_like(element),) * pairs


def queue_push(queue: tuple[tf.Tensor, ...], should_update: tf.Tensor, new_vecs: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """``lbfgs._queue_push`` on a tuple of rows: drop the oldest, append the newest; nothing is copied."""
    if should_update.shape.rank != 0:
        raise ValueError("core.lbfgs_memory optimises one problem at a time, not a batch")
    return tf.cond(should_update, lambda: (*queue[1:], new_vecs), lambda: tuple(queue))


def search_direction(state) -> tf.Tensor:
    """``lbfgs._get_search_direction``: the two-loop recursion over a tuple of rows, one pair at a time.

    Rows of the history that hold no pair yet are zeros; as in TFP, they leave the direction
    unchanged (``divide_no_nan`` makes their factors 0), so the recursion runs over every row.
    """
    position_deltas, gradient_deltas = state.position_deltas, state.gradient_deltas
    pairs = len(position_deltas)
    num_elements = ps.minimum(state.num_iterations, pairs)

    def two_loop():
        inv_rhos = [tf.reduce_sum(g * p, axis=-1) for p, g in zip(position_deltas, gradient_deltas)]
        alphas = [None] * pairs
        q_direction = state.objective_gradient
        for i in reversed(range(pairs)):
            alphas[i] = tf.math.divide_no_nan(tf.reduce_sum(position_deltas[i] * q_direction, axis=-1), inv_rhos[i])
            q_direction = q_direction - alphas[i][..., tf.newaxis] * gradient_deltas[i]
        gamma = inv_rhos[-1] / tf.reduce_sum(gradient_deltas[-1] * gradient_deltas[-1], axis=-1)
        r_direction = gamma[..., tf.newaxis] * q_direction
        for i in range(pairs):
            beta = tf.math.divide_no_nan(tf.reduce_sum(gradient_deltas[i] * r_direction, axis=-1), inv_rhos[i])
            r_direction = r_direction + (alphas[i] - beta)[..., tf.newaxis] * position_deltas[i]
        return -r_direction

    return ps.cond(ps.equal(num_elements, 0), lambda: -state.objective_gradient, two_loop)


@contextlib.contextmanager
def lean_history() -> Iterator[None]:
    """Within the block, ``lbfgs_minimize`` keeps its history as tuples of rows (see the module)."""
    lbfgs._get_search_direction, lbfgs._queue_push, lbfgs._make_empty_queue_for = (
        search_direction, queue_push, empty_queue)
    try:
        yield
    finally:
        lbfgs._get_search_direction, lbfgs._queue_push, lbfgs._make_empty_queue_for = (
            _TFP_SEARCH_DIRECTION, _TFP_QUEUE_PUSH, _TFP_EMPTY_QUEUE)
