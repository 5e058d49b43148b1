"""The first-step test in front of TFP's Hager-Zhang line search."""

import collections

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_probability.python.optimizer import bfgs_utils
from tensorflow_probability.python.optimizer.linesearch.hager_zhang import hager_zhang

from core.linesearch import accept_or_search, accepting_first_step, satisfies_wolfe
from core.optimize import minimize_lbfgs
from tests.conftest import tiny_problem as _tiny_problem

Point = collections.namedtuple("Point", ["x", "f", "df"])


def _line(minimum):
    """``t -> (t - minimum)^2``: a line search's textbook case, starting at t = 0."""

    def value_and_slope(t):
        t = tf.convert_to_tensor(t, tf.float32)
        return Point(x=t, f=(t - minimum) ** 2, df=2.0 * (t - minimum))

    return value_and_slope


@pytest.mark.parametrize(
    "minimum, step, expected",
    [
        (1.0, 1.0, True),  # the exact minimiser
        (0.9, 1.0, True),  # a little past it: decrease and a small positive slope
        (0.3, 1.0, False),  # far past it: the value rose above f(0)
        (100.0, 1.0, False),  # far short of it: the slope is still almost f'(0)
    ],
)
def test_wolfe_conditions_on_a_parabola(minimum, step, expected):
    line = _line(minimum)
    assert bool(satisfies_wolfe(line(0.0), line(step))) is expected


def test_a_non_finite_step_is_never_taken():
    line = _line(1.0)
    bad = Point(x=tf.constant(1.0), f=tf.constant(np.nan), df=tf.constant(0.0))
    assert not bool(satisfies_wolfe(line(0.0), bad))


def test_a_good_first_step_costs_one_evaluation():
    line = _line(0.95)
    result = accept_or_search(line, initial_step_size=tf.constant(1.0), value_at_zero=line(0.0),
                              converged=tf.constant(False))
    assert bool(result.converged) and not bool(result.failed)
    assert int(result.func_evals) == 1 and float(result.left.x) == 1.0


def test_a_bad_first_step_is_searched_as_tfp_would():
    line = _line(0.3)
    ours = accept_or_search(line, initial_step_size=tf.constant(1.0), value_at_zero=line(0.0),
                            converged=tf.constant(False))
    theirs = hager_zhang(line, initial_step_size=tf.constant(1.0), value_at_zero=line(0.0),
                                     converged=tf.constant(False))
    assert bool(ours.converged)
    assert float(ours.left.x) == float(theirs.left.x)
    assert int(ours.func_evals) == int(theirs.func_evals)


def test_the_patch_is_undone_even_after_an_error():
    original = bfgs_utils.hager_zhang
    with pytest.raises(RuntimeError):
        with accepting_first_step():
            assert bfgs_utils.hager_zhang is accept_or_search
            raise RuntimeError("boom")
    assert bfgs_utils.hager_zhang is original
    with accepting_first_step(enabled=False):
        assert bfgs_utils.hager_zhang is original


def _loss_after(history, evaluations):
    """The loss of the last report made within ``evaluations`` evaluations."""
    return min(p.terms.total for p in history if p.evaluations <= evaluations)


def test_lbfgs_spends_about_one_evaluation_per_iteration_and_loses_nothing(tiny):
    loss_function, start = _tiny_problem(tiny)
    tfp_default = minimize_lbfgs(loss_function, start, iterations=20, chunk_iterations=2,
                                 accept_first_step=False)
    ours = minimize_lbfgs(loss_function, start, iterations=20, chunk_iterations=2)
    assert tfp_default.evaluations / tfp_default.iterations > 2.0
    assert ours.evaluations / ours.iterations <= 1.3
    budget = ours.evaluations
    assert _loss_after(ours.history, budget) <= _loss_after(tfp_default.history, budget)
