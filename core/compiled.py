"""A chunk of L-BFGS iterations as one compiled TensorFlow program, traced once for a whole ladder.

Why: run eagerly, ``tfp.optimizer.lbfgs_minimize`` dispatches every operation of its loop and
line search from Python, 25 to 40 ms per iteration on a 2-core CPU: more than the network's own
time on a small rung, and 30 times the network's time per evaluation on a GPU. Here a chunk is
one ``tf.function`` call: TFP's loop, its line search (with ``core.linesearch``'s first-step
test) and the objective run inside one graph.

The program takes the image's shape and the rung's targets as arguments, so a ladder's rungs
(and a batch's jobs) share one trace per network and loss specification: tracing it costs a few
seconds once, not per rung. The objective inside may be compiled with XLA, per image shape.

The terms of the image evaluated last are kept in variables, so a chunk's report reads them
instead of paying another forward pass (as ``core.objective.LastTerms`` does for the eager loop).
"""

from __future__ import annotations

import weakref
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.optimizer.lbfgs import LBfgsOptimizerResults

from core.lbfgs_memory import lean_history
from core.linesearch import accepting_first_step
from core.objective import LossParts, LossTerms, Targets, make_loss_function
from core.precondition import apply_gain


class ChunkProgram:
    """One network, loss specification and L-BFGS setting, compiled; see the module docstring.

    Attributes:
        traces: how many times the program was traced (1 for a whole ladder).
    """

    def __init__(self, parts: LossParts, *, options: dict, accept_first_step: bool, jit_compile: bool,
                 filtered: bool = False) -> None:
        self.traces = 0
        self._filtered = filtered  # L-BFGS's position is c and the image A c (``core.precondition``)
        self._spec, self._extractor = parts.spec, parts.extractor
        self._names = [name for name, _ in parts.spec.style_layers]
        self._options, self._accept = options, accept_first_step
        self._last_x = tf.Variable(tf.zeros([0]), shape=tf.TensorShape([None]), trainable=False)
        self._last_terms = tf.Variable(tf.zeros([len(LossTerms._fields)]), trainable=False)
        # Without XLA the evaluation is traced into the loop's own graph; with it, it is a function
        # of its own, which XLA compiles for each image shape.
        self._evaluate = (tf.function(self._value_and_gradient, jit_compile=True, autograph=False,
                                      reduce_retracing=True) if jit_compile else self._value_and_gradient)
        self._program = None

    def _value_and_gradient(self, image: tf.Tensor, content: tf.Tensor, grams: tuple[tf.Tensor, ...]):
        targets = Targets(content=content, grams=dict(zip(self._names, grams)))
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = make_loss_function(self._extractor, self._spec, targets)(image)
        return terms.total, tape.gradient(terms.total, image), tf.stack(list(terms))

    def _chunk(self, state, max_iterations, shape, scale, content, grams, gain):
        self.traces += 1  # runs only while tracing

        def value_and_gradient(x):
            image = apply_gain(x, gain, shape) if self._filtered else x
            total, gradient, terms = self._evaluate(tf.reshape(image, shape), content, grams)
            self._last_x.assign(x)
            self._last_terms.assign(terms)
            if self._filtered:
                gradient = apply_gain(gradient, gain, shape)
            return total * scale, tf.reshape(gradient, [-1]) * scale

        return tfp.optimizer.lbfgs_minimize(value_and_gradient, initial_position=None,
                                            previous_optimizer_results=state, max_iterations=max_iterations,
                                            **self._options)

    def advance(self, state: LBfgsOptimizerResults, max_iterations: int, *, shape: list[int], scale: tf.Tensor,
                targets: Targets, gain: tf.Tensor | None = None) -> LBfgsOptimizerResults:
        """Continues ``state`` until it has done ``max_iterations`` iterations in all, in one call.

        ``gain``: the preconditioner's (``core.precondition``), for a program made ``filtered``.
        """
        grams = tuple(targets.grams[name] for name in self._names)
        if self._filtered != (gain is not None):
            raise ValueError("a filtered program takes the preconditioner's gain, and only it does")
        gain = tf.zeros([1, 1], tf.complex64) if gain is None else gain  # unused unless filtered
        if self._program is None:  # shapes left open: every rung's image and targets fit
            signature = [tf.nest.map_structure(_open, state), tf.TensorSpec([], tf.int32),
                         tf.TensorSpec([4], tf.int32), tf.TensorSpec([], tf.float32), _open(targets.content),
                         tuple(tf.TensorSpec(g.shape, g.dtype) for g in grams), _open(gain)]
            self._program = tf.function(self._chunk, input_signature=signature, autograph=False)
        with accepting_first_step(self._accept), lean_history():  # in force while it traces
            return self._program(state, tf.constant(max_iterations, tf.int32), tf.constant(shape, tf.int32),
                                 tf.cast(scale, tf.float32), targets.content, grams, gain)

    def terms_at(self, position: tf.Tensor) -> LossTerms | None:
        """The terms of ``position`` if it is the image the program evaluated last, else None."""
        last = self._last_x.read_value()  # the variable's own shape is left open: its value's is not
        if last.shape != position.shape or not bool(tf.reduce_all(tf.equal(last, position))):
            return None
        return LossTerms(*tf.unstack(self._last_terms))


def _open(tensor: tf.Tensor) -> tf.TensorSpec:
    return tf.TensorSpec([None] * tensor.shape.rank, tensor.dtype)


# Programs by extractor (one per network and set of layers), then by the rest of their key.
_PROGRAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def chunk_program(parts: LossParts, *, correction_pairs: int, options: dict, accept_first_step: bool,
                  jit_compile: bool, filtered: bool = False) -> ChunkProgram:
    """The program for ``parts``' network and specification, made once and shared by every rung."""
    key = (parts.spec, correction_pairs, tuple(sorted(options.items())), accept_first_step, jit_compile, filtered)
    programs = _PROGRAMS.setdefault(parts.extractor, {})
    if key not in programs:
        programs[key] = ChunkProgram(parts, options=options, accept_first_step=accept_first_step,
                                     jit_compile=jit_compile, filtered=filtered)
    return programs[key]
