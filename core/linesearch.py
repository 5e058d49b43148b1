"""A first-step test in front of TFP's Hager-Zhang line search, for ``lbfgs_minimize``.

Why: TFP's ``hager_zhang`` evaluates the initial trial step (1 along the L-BFGS direction) and
then always brackets and runs secant steps, even when that first step already satisfies the
Wolfe conditions. Measured on this method it spends 2.9 evaluations of the network per L-BFGS
iteration. An L-BFGS direction is scaled by its curvature pairs, so the unit step is usually
acceptable, and accepting it whenever it meets the Wolfe conditions is the textbook practice
(Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 7.2); it keeps L-BFGS's
convergence guarantees, which rest on the Wolfe conditions alone.

``accepting_first_step()`` is a context manager that puts ``accept_or_search`` in the place of the
``hager_zhang`` that ``tfp.optimizer.lbfgs_minimize`` calls (through ``bfgs_utils``): the first
trial step is tested with Hager-Zhang's own Wolfe and approximate-Wolfe conditions and taken if it
passes; otherwise TFP's ``hager_zhang`` continues from it, reusing that evaluation. Everything else
(the two-loop recursion, the history, ``previous_optimizer_results``) stays TFP's own.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import tensorflow as tf
from tensorflow_probability.python.optimizer import bfgs_utils
from tensorflow_probability.python.optimizer.linesearch.hager_zhang import HagerZhangLineSearchResult

_TFP_HAGER_ZHANG = bfgs_utils.hager_zhang

# Hager-Zhang's defaults, used by lbfgs_minimize: the same acceptance test, only tried first.
_SUFFICIENT_DECREASE = 0.1
_CURVATURE = 0.9
_APPROXIMATE_WOLFE_THRESHOLD = 1e-6


def satisfies_wolfe(val_0, val_t, *, sufficient_decrease: float = _SUFFICIENT_DECREASE,
                    curvature: float = _CURVATURE,
                    approximate_threshold: float = _APPROXIMATE_WOLFE_THRESHOLD) -> tf.Tensor:
    """Whether step ``val_t.x`` meets the Wolfe conditions, or Hager-Zhang's approximate ones.

    Args:
        val_0, val_t: the line's value ``f`` and slope ``df`` at 0 and at the step ``x``.
        sufficient_decrease, curvature: Wolfe's delta and sigma (0 < delta < sigma < 1).
        approximate_threshold: near a minimum, where rounding hides the decrease of ``f``, the
            approximate conditions apply if ``f(t) <= f(0) + threshold |f(0)|``.

    Returns:
        A boolean tensor of the batch's shape.
    """
    finite = tf.math.is_finite(val_t.f) & tf.math.is_finite(val_t.df)
    curvature_ok = val_t.df >= curvature * val_0.df
    wolfe = (val_t.f <= val_0.f + sufficient_decrease * val_t.x * val_0.df) & curvature_ok
    near_minimum = val_t.f <= val_0.f + approximate_threshold * tf.abs(val_0.f)
    approximate = near_minimum & (val_t.df <= (2 * sufficient_decrease - 1) * val_0.df) & curvature_ok
    return finite & (wolfe | approximate)


def accept_or_search(value_and_gradients_function, initial_step_size=None, value_at_initial_step=None,
                     value_at_zero=None, converged=None, max_iterations=50, **hager_zhang_options):
    """``hager_zhang``'s signature and result, with the first trial step taken when it is good enough.

    ``lbfgs_minimize`` always passes ``value_at_zero`` and ``converged``; the evaluation at the
    initial step counts once, whichever way the search goes.
    """
    val_t = value_at_initial_step
    if val_t is None:
        val_t = value_and_gradients_function(initial_step_size)
    take = satisfies_wolfe(value_at_zero, val_t)
    if converged is not None:
        take &= ~converged

    def taken():
        return HagerZhangLineSearchResult(
            converged=tf.ones_like(take), failed=tf.zeros_like(take), func_evals=tf.constant(1, tf.int32),
            iterations=tf.zeros_like(take, dtype=tf.int32), left=val_t, right=val_t)

    def searched():
        result = _TFP_HAGER_ZHANG(
            value_and_gradients_function, initial_step_size=initial_step_size,
            value_at_initial_step=val_t, value_at_zero=value_at_zero, converged=converged,
            max_iterations=max_iterations, **hager_zhang_options)
        return result._replace(func_evals=result.func_evals + 1)

    # The problem is one image, not a batch: the line search either takes the step or searches.
    return tf.cond(tf.reduce_all(take), taken, searched)


@contextlib.contextmanager
def accepting_first_step(enabled: bool = True) -> Iterator[None]:
    """Within the block, ``lbfgs_minimize``'s line searches take a good first step at once.

    Args:
        enabled: False leaves TFP's line search as it is (for comparisons).
    """
    if not enabled:
        yield
        return
    bfgs_utils.hager_zhang = accept_or_search
    try:
        yield
    finally:
        bfgs_utils.hager_zhang = _TFP_HAGER_ZHANG
