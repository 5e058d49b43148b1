"""Optimisers over an image's pixels: TFP's L-BFGS run in chunks, and Adam.

Both run a rung's iterations in chunks of compiled steps and report after each chunk through a
callback (they never print). Both minimise ``scale * total`` where ``scale`` is fixed once from
the gradient at the start: the normalised losses give per-pixel gradients of order 1e-6, which
would make L-BFGS's first line search (initial step 1 along the raw gradient) spend many
evaluations growing its step, and would drown Adam's gradients under its epsilon.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.optimizer.lbfgs import LBfgsOptimizerResults

from core.choices import ADAM_PRESETS, AdamSettings
from core.compiled import chunk_program
from core.lbfgs_memory import lean_history
from core.linesearch import accepting_first_step
from core.objective import LossFunction, LossTerms, Objective, as_objective
from core.precondition import Preconditioner

# L-BFGS: the first step, along the raw gradient, moves pixels by about this much (RMS).
LBFGS_FIRST_STEP = 0.01
# Adam: the gradient is scaled to this RMS at the start, so that epsilon has its usual meaning.
ADAM_GRADIENT_RMS = 1.0
# L-BFGS's stop on progress (``stop_gain``) compares the loss every this many iterations.
STOP_WINDOW = 10


@dataclass(frozen=True)
class Progress:
    """Where an optimisation stands after a chunk.

    Attributes:
        iteration: iterations done so far in this run (cumulative over chunks and restarts).
        iterations: iterations asked for.
        evaluations: objective evaluations (value and gradient) so far.
        terms: the loss terms at the current image, as floats.
        seconds: wall time since the run started.
        image: the current image ``(1, H, W, 3)``, not yet clipped to [0, 1].
        message: something worth telling the user (a failed step, a restart), or "".
        state: the optimiser's state here (``LBfgsState`` or ``AdamState``): a checkpoint
            continues from it exactly.
        evaluations_before: of ``evaluations``, those a resumed run had done before this run
            began (so that a rate is this run's evaluations over ``seconds``).
    """

    iteration: int
    iterations: int
    evaluations: int
    terms: LossTerms
    seconds: float
    image: tf.Tensor = field(repr=False)
    message: str = ""
    state: OptimizerState | None = field(default=None, repr=False)
    evaluations_before: int = 0

    def without_tensors(self) -> Progress:
        """The same reading without its image and optimiser state, to keep in a history.

        A state holds L-BFGS's whole history (2 x pairs image-sized vectors): a history of
        chunks that kept theirs would hold a copy per chunk, gigabytes at a poster's size.
        """
        return replace(self, image=None, state=None)


Callback = Callable[[Progress], None]


@dataclass(frozen=True)
class OptimizeResult:
    """The outcome of a run.

    Attributes:
        image: the best image found ``(1, H, W, 3)``, clipped to [0, 1].
        terms: the loss terms at ``image``.
        iterations: iterations done.
        evaluations: objective evaluations done.
        stopped: why it stopped: "iterations", "converged" (``tolerance``), "levelled off"
            (``stop_gain``) or "failed: ...".
        history: the progress after each chunk.
        state: optimiser state to continue from (an ``LBfgsState`` or ``AdamState``).
    """

    image: tf.Tensor
    terms: LossTerms
    iterations: int
    evaluations: int
    stopped: str
    history: tuple[Progress, ...]
    state: OptimizerState | None = None


class LBfgsState(NamedTuple):
    """L-BFGS state to continue a run exactly: TFP's results plus the objective's scale."""

    results: LBfgsOptimizerResults
    scale: float
    iterations_before: int  # iterations done before the last restart of L-BFGS's history
    evaluations_before: int = 0  # evaluations spent by histories dropped at restarts
    window_loss: float = math.nan  # the (scaled) loss at the last multiple of STOP_WINDOW iterations


class AdamState(NamedTuple):
    """Adam state to continue a run exactly."""

    image: tf.Tensor
    m: tf.Tensor
    v: tf.Tensor
    step: int
    scale: float
    evaluations: int


OptimizerState = LBfgsState | AdamState


def _scale_to(gradient: tf.Tensor, target: float) -> float:
    """The factor that brings the gradient's RMS to ``target`` (1 for a zero or non-finite gradient)."""
    rms = float(tf.sqrt(tf.reduce_mean(tf.square(gradient))))
    return target / rms if rms > 0 and math.isfinite(rms) else 1.0


class _LBfgsRunner:
    """L-BFGS steps for one image shape around an objective's compiled value and gradient.

    TFP's loop runs eagerly (25 to 40 ms of Python per iteration on a 2-core CPU), or, with
    ``compiled`` and an objective that keeps its parts, as one compiled program per chunk
    (``core.compiled``), traced once for every rung of a ladder.
    """

    def __init__(self, objective: Objective, shape: list[int], scale: float | None,
                 correction_pairs: int, tolerance: float, accept_first_step: bool = True,
                 compiled: bool = False, preconditioner: Preconditioner | None = None) -> None:
        self.shape = shape
        self.objective = objective
        self.preconditioner = preconditioner  # L-BFGS's position is then c, the image A c
        self.accept_first_step = accept_first_step
        self._scale = tf.constant(1.0 if scale is None else scale, tf.float32)
        self._first: tuple | None = None  # choose_scale's evaluation, for start() to reuse
        self.options = dict(
            num_correction_pairs=correction_pairs,
            tolerance=0.0,  # no stopping on a small gradient: the normalised scale makes it meaningless
            x_tolerance=0.0,
            f_relative_tolerance=tolerance,
        )
        parts = getattr(objective, "parts", None)
        self.program = None if not (compiled and parts) else chunk_program(
            parts, correction_pairs=correction_pairs, options=self.options, accept_first_step=accept_first_step,
            jit_compile=getattr(objective, "jit_compile", False), filtered=preconditioner is not None)

    def terms(self, results: LBfgsOptimizerResults) -> LossTerms:
        """The terms at ``results``' position: those the compiled loop evaluated last when it is there."""
        kept = self.program.terms_at(results.position) if self.program is not None else None
        return kept if kept is not None else self.objective.terms(self.image_of(results))

    @property
    def traces(self) -> int:
        return self.objective.traces + (self.program.traces if self.program is not None else 0)

    def value_and_gradient(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """TFP's view of the objective: flat pixels ``(H W 3,)``, value and gradient scaled."""
        first, self._first = self._first, None
        if first is not None and bool(tf.reduce_all(first[0] == x)):
            value, gradient = first[1:]  # the start point, already evaluated by choose_scale
            return value * self._scale, tf.reshape(gradient, [-1]) * self._scale
        value, gradient = self.objective.value_and_gradient(self._image_at(x), scale=self._scale)
        return value, self._over_position(gradient)

    def _image_at(self, position: tf.Tensor) -> tf.Tensor:
        image = tf.reshape(position, self.shape)
        return image if self.preconditioner is None else self.preconditioner.to_image(image)

    def _over_position(self, gradient: tf.Tensor) -> tf.Tensor:
        """The gradient over the image as the gradient over L-BFGS's position, flat."""
        if self.preconditioner is not None:
            gradient = self.preconditioner.gradient(gradient)
        return tf.reshape(gradient, [-1])

    def position_of(self, image: tf.Tensor) -> tf.Tensor:
        """L-BFGS's flat position for ``image``."""
        flat = tf.reshape(image, [-1])
        return flat if self.preconditioner is None else self.preconditioner.from_image(flat)

    @property
    def scale(self) -> float:
        return float(self._scale.numpy())

    def choose_scale(self, x0: tf.Tensor) -> None:
        """Scales the objective so that a step along the gradient at position ``x0`` moves it by LBFGS_FIRST_STEP (RMS).

        The evaluation is kept for ``start(x0)``, which would otherwise repeat it: at a tiled
        poster rung one evaluation takes minutes.
        """
        value, gradient = self.objective.value_and_gradient(self._image_at(x0))
        gradient = self._over_position(gradient)
        self._scale = tf.constant(_scale_to(gradient, LBFGS_FIRST_STEP), tf.float32)
        self._first = (x0, value, gradient)

    def start(self, x0: tf.Tensor) -> LBfgsOptimizerResults:
        """The state at position ``x0`` (one evaluation), with an empty history."""
        with lean_history():
            return tfp.optimizer.lbfgs_minimize(
                self.value_and_gradient, initial_position=x0, max_iterations=0, **self.options)

    def advance(self, state: LBfgsOptimizerResults, max_iterations: int):
        """Continues ``state`` until it has done ``max_iterations`` iterations in all."""
        if self.program is not None:
            gain = None if self.preconditioner is None else self.preconditioner.gain
            return self.program.advance(state, max_iterations, shape=self.shape, scale=self._scale,
                                        targets=self.objective.parts.targets, gain=gain)
        with accepting_first_step(self.accept_first_step), lean_history():
            return tfp.optimizer.lbfgs_minimize(
                self.value_and_gradient, initial_position=None, previous_optimizer_results=state,
                max_iterations=max_iterations, **self.options)

    def image_of(self, results: LBfgsOptimizerResults) -> tf.Tensor:
        return self._image_at(results.position)


def resize_history(results: LBfgsOptimizerResults, correction_pairs: int) -> LBfgsOptimizerResults:
    """The same L-BFGS state with a history of ``correction_pairs`` pairs.

    TFP keeps the history it was given, whatever ``num_correction_pairs`` says, so a render
    resumed where the memory planner allows fewer pairs (a smaller GPU after a requeue) would
    carry the old history's memory. The history is a queue with the newest pair last and zero
    rows where none was stored yet (which the two-loop recursion skips): keeping the last rows,
    or putting zero rows in front, is the state an L-BFGS of that memory would hold.
    """
    held = len(results.position_deltas)
    if held == correction_pairs:
        return results

    def resized(queue: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, ...]:
        if held > correction_pairs:
            return tuple(queue[held - correction_pairs:])
        return (tf.zeros_like(queue[0]),) * (correction_pairs - held) + tuple(queue)

    return results._replace(position_deltas=resized(results.position_deltas),
                            gradient_deltas=resized(results.gradient_deltas))


def _healthy(results: LBfgsOptimizerResults) -> bool:
    return bool(np.isfinite(results.objective_value.numpy())) and bool(
        np.all(np.isfinite(results.position.numpy())))


def minimize_lbfgs(
    loss: LossFunction | Objective,
    initial_image: tf.Tensor,
    *,
    iterations: int,
    chunk_iterations: int = 10,
    correction_pairs: int = 10,
    tolerance: float = 0.0,
    callback: Callback | None = None,
    state: LBfgsState | None = None,
    accept_first_step: bool = True,
    compiled: bool = False,
    stop_gain: float = 0.0,
    preconditioner: Preconditioner | None = None,
) -> OptimizeResult:
    """Minimises the loss over the image's pixels with ``tfp.optimizer.lbfgs_minimize``.

    The run is split into chunks of ``chunk_iterations`` iterations; each chunk continues from
    the last through ``previous_optimizer_results``, so the L-BFGS history is carried exactly and
    n chunks of k iterations end where one run of n k iterations would.

    A line search that fails, or a value that is not finite, is reported through the callback;
    L-BFGS then restarts its history once from the last good image, and the run ends if that
    fails too. The last good image is kept.

    Args:
        loss: an ``Objective`` (whole or tiled), or ``image (1, H, W, 3) -> terms`` with a
            ``total`` to minimise, which is evaluated whole.
        initial_image: ``(1, H, W, 3)`` float32.
        iterations: L-BFGS iterations to run in all (including those in ``state``).
        chunk_iterations: iterations between reports.
        correction_pairs: L-BFGS history length; memory is 2 x pairs x pixels x 3 floats.
        tolerance: stop early when an iteration lowers the loss by less than this fraction;
            0 (the default) runs every iteration.
        callback: called after each chunk with a ``Progress``.
        state: continue from a previous run's ``OptimizeResult.state`` instead of the image.
        accept_first_step: take L-BFGS's unit step whenever it meets the Wolfe conditions
            (``core.linesearch``); False runs TFP's line search unchanged, at about three
            evaluations per iteration instead of one.
        compiled: run each chunk as one compiled program (``core.compiled``) when the
            objective keeps its parts (``core.objective.whole_image_objective``); its trace is
            shared by every rung, and pays where Python's dispatch outweighs it (a GPU, many
            small iterations).
        stop_gain: stop ("levelled off") when ``STOP_WINDOW`` iterations, counted from the
            start, lowered the loss by less than this fraction; 0 runs every iteration. The
            decision reads only losses at multiples of the window (chunks end there), and the
            state carries the last one, so a resumed run stops where the uninterrupted one does.
        preconditioner: run L-BFGS over c, the image being ``preconditioner.to_image(c)``
            (``core.precondition``); ``state`` must come from a run with the same one.

    Returns:
        An ``OptimizeResult`` whose ``state`` continues the run.
    """
    if chunk_iterations < 1:
        raise ValueError(f"chunk_iterations must be 1 or more, not {chunk_iterations}")  # else it never advances
    shape = list(initial_image.shape)
    objective = as_objective(loss)
    clock = time.perf_counter()
    if state is None:
        runner = _LBfgsRunner(objective, shape, None, correction_pairs, tolerance, accept_first_step, compiled,
                              preconditioner)
        x0 = runner.position_of(initial_image)
        runner.choose_scale(x0)
        results = runner.start(x0)
        before = 0
    else:
        runner = _LBfgsRunner(objective, shape, state.scale, correction_pairs, tolerance,
                               accept_first_step, compiled, preconditioner)
        results, before = resize_history(state.results, correction_pairs), state.iterations_before
    good = results
    history: list[Progress] = []
    stopped, restarted = "iterations", False
    # Evaluations spent by histories dropped at a restart.
    extra_evaluations = 0 if state is None else state.evaluations_before
    # When this run began, and the evaluations a resumed run had done by then.
    start = (clock, 0 if state is None else extra_evaluations + int(results.num_objective_evaluations))
    window_loss = float(results.objective_value) if state is None else state.window_loss
    while before + int(results.num_iterations) < iterations:
        done = before + int(results.num_iterations)
        end = min(done + chunk_iterations, iterations)
        if stop_gain > 0:  # a chunk ends at each window's end, where the rule looks
            end = min(end, (done // STOP_WINDOW + 1) * STOP_WINDOW)
        results = runner.advance(results, end - before)
        message = ""
        if not _healthy(results) or bool(results.failed):
            message = f"L-BFGS step failed at iteration {before + int(results.num_iterations)}"
            if restarted:  # a fresh history failed before any good chunk: give up
                stopped = "failed: " + message
                last = _report(history, callback, _progress(runner, good, before, iterations, extra_evaluations,
                                                            start, message + "; kept the last good image",
                                                            window_loss))
                break
            before += int(good.num_iterations)
            extra_evaluations += int(results.num_objective_evaluations)
            results, restarted = runner.start(good.position), True
            good = results  # the same image, with an empty history and no iterations of its own
            message += "; restarting its history from the last good image"
        elif bool(results.converged):
            good, stopped = results, "converged"
            break
        else:
            good, restarted = results, False
            done = before + int(results.num_iterations)
            if stop_gain > 0 and done % STOP_WINDOW == 0:
                loss = float(results.objective_value)
                if math.isfinite(window_loss) and window_loss - loss < stop_gain * abs(window_loss):
                    stopped = "levelled off"
                    message = f"levelled off: the last {STOP_WINDOW} iterations gained less than {stop_gain:.2%}"
                window_loss = loss
        last = _report(history, callback, _progress(runner, good, before, iterations, extra_evaluations, start,
                                                    message, window_loss))
        if stopped == "levelled off":
            break
    if stopped == "converged":
        last = _report(history, callback, _progress(runner, good, before, iterations, extra_evaluations, start,
                                                    "converged", window_loss))
    image = tf.clip_by_value(runner.image_of(good), 0.0, 1.0)
    if not history:
        last = _progress(runner, good, before, iterations, extra_evaluations, start, "", window_loss)
    return OptimizeResult(
        image=image,
        terms=last.terms,
        iterations=last.iteration,
        evaluations=last.evaluations,
        stopped=stopped,
        history=tuple(history),
        state=LBfgsState(good, runner.scale, before, extra_evaluations, window_loss),
    )


def _report(history: list[Progress], callback: Callback | None, progress: Progress) -> Progress:
    """Hands ``progress`` to the callback and keeps it in ``history`` without its tensors."""
    if callback is not None:
        callback(progress)
    history.append(progress.without_tensors())
    return progress


def _progress(runner: _LBfgsRunner, results, before: int, iterations: int, extra_evaluations: int,
              start: tuple[float, int], message: str, window_loss: float = math.nan) -> Progress:
    """``start``: when this run began, and the evaluations done by then (a resumed run's)."""
    image = runner.image_of(results)
    return Progress(
        iteration=before + int(results.num_iterations),
        iterations=iterations,
        evaluations=extra_evaluations + int(results.num_objective_evaluations),
        terms=runner.terms(results).as_floats(),
        seconds=time.perf_counter() - start[0],
        image=image,
        message=message,
        state=LBfgsState(results, runner.scale, before, extra_evaluations, window_loss),
        evaluations_before=start[1],
    )


def minimize_adam(
    loss: LossFunction | Objective,
    initial_image: tf.Tensor,
    *,
    iterations: int,
    settings: AdamSettings = ADAM_PRESETS["seed-report"],
    chunk_iterations: int = 10,
    callback: Callback | None = None,
    state: AdamState | None = None,
) -> OptimizeResult:
    """Minimises the loss with Adam, projecting pixels back into [0, 1] after every step.

    Projection suits Adam (it keeps no curvature pairs for the projection to invalidate), so
    Adam needs no range penalty; the penalty is simply 0 inside [0, 1].

    Args:
        loss: an ``Objective`` (whole or tiled), or ``image (1, H, W, 3) -> terms`` with a
            ``total`` to minimise, which is evaluated whole.
        initial_image: ``(1, H, W, 3)`` float32.
        iterations: steps to run in all (including those in ``state``).
        settings: learning rate, betas and epsilon (see ``ADAM_PRESETS``).
        chunk_iterations: steps between reports.
        callback: called after each chunk with a ``Progress``.
        state: continue from a previous run's ``OptimizeResult.state``.

    Returns:
        An ``OptimizeResult`` whose ``state`` continues the run.
    """
    if chunk_iterations < 1:
        raise ValueError(f"chunk_iterations must be 1 or more, not {chunk_iterations}")
    objective = as_objective(loss)
    clock = time.perf_counter()
    if state is None:
        image = tf.clip_by_value(initial_image, 0.0, 1.0)
        scale = _scale_to(objective.value_and_gradient(image)[1], ADAM_GRADIENT_RMS)
        state = AdamState(image, tf.zeros_like(image), tf.zeros_like(image), 0, scale, 0)
    update = _make_adam_update(state.scale, settings)
    history: list[Progress] = []
    image, m, v, done = state.image, state.m, state.v, state.step
    while done < iterations:
        for _ in range(min(chunk_iterations, iterations - done)):
            gradient = objective.value_and_gradient(image)[1]
            done += 1
            image, m, v = update(image, m, v, gradient, tf.constant(done, tf.float32))
        evaluations = state.evaluations + done - state.step
        _report(history, callback, Progress(done, iterations, evaluations, objective.terms(image).as_floats(),
                                            time.perf_counter() - clock, image,
                                            state=AdamState(image, m, v, done, state.scale, evaluations),
                                            evaluations_before=state.evaluations))
    terms = history[-1].terms if history else objective.terms(image).as_floats()
    final = AdamState(image, m, v, done, state.scale, state.evaluations + done - state.step)
    return OptimizeResult(image, terms, done, final.evaluations, "iterations", tuple(history), final)


def _make_adam_update(scale: float, settings: AdamSettings):
    """A compiled Adam step: ``(image, m, v, gradient, step number t) -> (image, m, v)``."""
    lr, b1, b2, eps = settings.learning_rate, settings.beta_1, settings.beta_2, settings.epsilon

    @tf.function(autograph=False)  # see WholeImageObjective: no files left in $TMPDIR
    def update(image, m, v, gradient, t):
        gradient = gradient * scale
        m = b1 * m + (1.0 - b1) * gradient
        v = b2 * v + (1.0 - b2) * tf.square(gradient)
        m_hat, v_hat = m / (1.0 - b1**t), v / (1.0 - b2**t)
        return tf.clip_by_value(image - lr * m_hat / (tf.sqrt(v_hat) + eps), 0.0, 1.0), m, v

    return update


def state_to_arrays(state: LBfgsState | AdamState) -> dict[str, np.ndarray]:
    """An optimiser state as named NumPy arrays, to be written into a checkpoint.

    ``state_from_arrays`` inverts it exactly: a run continued from the restored state ends
    where the uninterrupted run would. L-BFGS's history goes row by row
    (``lbfgs.position_deltas.0`` ...), each row an array of its own, so that writing a
    checkpoint never stacks the whole history into one more copy.
    """
    if isinstance(state, LBfgsState):
        arrays = {}
        for name, value in state.results._asdict().items():
            if name in _HISTORY_FIELDS:
                arrays.update({f"lbfgs.{name}.{i}": np.asarray(row) for i, row in enumerate(value)})
            else:
                arrays[f"lbfgs.{name}"] = np.asarray(value)
        arrays.update({"kind": np.asarray("lbfgs"), "scale": np.asarray(state.scale),
                       "iterations_before": np.asarray(state.iterations_before),
                       "evaluations_before": np.asarray(state.evaluations_before),
                       "window_loss": np.asarray(state.window_loss)})
        return arrays
    return {"kind": np.asarray("adam"), "image": np.asarray(state.image), "m": np.asarray(state.m),
            "v": np.asarray(state.v), "step": np.asarray(state.step), "scale": np.asarray(state.scale),
            "evaluations": np.asarray(state.evaluations)}


_HISTORY_FIELDS = ("position_deltas", "gradient_deltas")


def _history_rows(arrays: dict[str, np.ndarray], name: str) -> tuple[tf.Tensor, ...]:
    """A history field's rows: one array per row, or (as checkpoints before 2026-12-04 hold it) one stacked array."""
    if f"lbfgs.{name}" in arrays:
        return tuple(tf.constant(row) for row in arrays[f"lbfgs.{name}"])
    count = sum(1 for key in arrays if key.startswith(f"lbfgs.{name}."))
    if count == 0:
        raise KeyError(f"lbfgs.{name}")
    return tuple(tf.constant(arrays[f"lbfgs.{name}.{i}"]) for i in range(count))


def state_from_arrays(arrays: dict[str, np.ndarray]) -> LBfgsState | AdamState:
    """The optimiser state that ``state_to_arrays`` wrote.

    Raises:
        KeyError or ValueError: for arrays that are not such a state.
    """
    kind = str(arrays["kind"])
    if kind == "lbfgs":
        results = LBfgsOptimizerResults(
            **{name: _history_rows(arrays, name) if name in _HISTORY_FIELDS else tf.constant(arrays[f"lbfgs.{name}"])
               for name in LBfgsOptimizerResults._fields})
        window = float(arrays["window_loss"]) if "window_loss" in arrays else math.nan  # older checkpoints
        return LBfgsState(results, float(arrays["scale"]), int(arrays["iterations_before"]),
                          int(arrays["evaluations_before"]), window)
    if kind == "adam":
        return AdamState(tf.constant(arrays["image"]), tf.constant(arrays["m"]), tf.constant(arrays["v"]),
                         int(arrays["step"]), float(arrays["scale"]), int(arrays["evaluations"]))
    raise ValueError(f"unknown optimiser state {kind!r}")
