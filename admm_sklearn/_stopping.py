"""When the sweeps stop: the rule that ends a fit once its network stops improving.

A fit (:mod:`admm_sklearn._fit`) scores the network it would return (output
layer refitted) every few sweeps after the warm-up, by its loss on the
training rows or, with ``early_stopping``, on held-out rows; a
:class:`StoppingRule` says when to score and when to stop. The ADMM
objective itself is no guide: the multiplier steps make it rise as the
constraints tighten.
"""

from dataclasses import dataclass

import numpy as np

#: ``n_iter_no_change='auto'`` without early stopping: the patience, in
#: sweeps, on the training loss. The rule also waits as long as the fit
#: took to reach its lowest loss (``growing``); with both, no mean test
#: accuracy of ten sets fell by more than 0.2 points (docs/what_we_tried.rst,
#: "The stopping rule").
PATIENCE_TRAINING = 150
#: Training-loss checks run every this many sweeps: each runs a few passes
#: of the output refit, and every 10 sweeps they cost letter 17% of its fit.
EVERY_TRAINING = 20
#: Passes of the output refit per training-loss check, warm-started from
#: the last check's.
PASSES_TRAINING = 5

#: ... and with early stopping: the validation score can stall for 200
#: sweeps and more and then rise again; 200 stopped radial bands in such a
#: plateau (docs/what_we_tried.rst, "Early stopping").
PATIENCE_VALIDATION = 400
#: Sweeps between two validation checks.
EVERY_VALIDATION = 10
#: Most passes of the output refit at each validation check: the checks only
#: rank networks. With the fit's whole budget, early stopping on letter took
#: 46.6 s, with this cap 27.5 s (10.4 s without early stopping), with the
#: same mean test accuracy on every set (docs/what_we_tried.rst, "Early
#: stopping").
PASSES_VALIDATION = 30
#: ``tol`` of the output refit at each check (the network returned is
#: refitted to ``polish_output``'s 1e-5): a check only ranks networks by
#: their loss, and the refit, warm-started from the last check, would
#: otherwise run all its passes every time (on letter the validation checks
#: then took more time than the sweeps; docs/what_we_tried.rst, "Early
#: stopping").
CHECK_TOL = 1e-3


@dataclass
class StoppingRule:
    """Score every ``every`` sweeps after the warm-up; stop once the lowest
    loss has not fallen by ``tol`` for ``patience`` sweeps, and, if
    ``growing``, for as many sweeps as it took to reach it (a fit that needed
    400 sweeps to its best may need 400 more to beat it). ``passes``: the
    output refit's budget per check."""

    every: int
    patience: int
    tol: float
    passes: int
    growing: bool
    best_loss: float = np.inf
    best_sweep: int = None

    @classmethod
    def for_fit(cls, tol, n_iter_no_change, validation, share=1.0):
        """The rule of a fit scored on held-out rows (``validation``) or on
        its training rows, from the estimator's ``tol`` (``None``: 0) and
        ``n_iter_no_change`` (``'auto'`` or sweeps).

        ``share``: this fit's sweeps as a share of the estimator's
        ``max_iter`` (below 1 for the upper stages of a layer-wise fit,
        :data:`~admm_sklearn._layerwise.UPPER_STAGE_SWEEPS`); the automatic
        patience on the training loss shrinks with it. On the small sets at
        depth the upper stages' features already separate the rows and the
        stages waited the whole patience after an early best: half of it
        took 5-23% of the sweeps off (digits 0 vs 2, wine, digits, breast
        cancer, pendigits) and changed no mean test accuracy by more than
        about one test row, on 14 sets at (100, 100) and 4 at (64, 64, 64)
        (docs/what_we_tried.rst, 13.9)."""
        tol = 0.0 if tol is None else tol
        if validation:
            patience = PATIENCE_VALIDATION if n_iter_no_change == "auto" else n_iter_no_change
            return cls(EVERY_VALIDATION, patience, tol, PASSES_VALIDATION, growing=False)
        patience = (max(EVERY_TRAINING, round(PATIENCE_TRAINING * min(share, 1.0)))
                    if n_iter_no_change == "auto" else n_iter_no_change)
        return cls(EVERY_TRAINING, patience, tol, PASSES_TRAINING, growing=True)

    def due(self, sweep):
        """Whether sweep number ``sweep`` (after the warm-up) is scored."""
        return sweep % self.every == 0

    def record(self, sweep, loss):
        """Take the loss scored at ``sweep``; ``True`` when it is the lowest yet."""
        if self.best_sweep is None or loss < self.best_loss - self.tol:
            self.best_sweep = sweep
        lowest = loss < self.best_loss
        self.best_loss = min(self.best_loss, loss)
        return lowest

    def done(self, sweep):
        """Whether the fit stops after sweep number ``sweep``."""
        if self.best_sweep is None:
            return False
        wait = max(self.patience, self.best_sweep) if self.growing else self.patience
        return sweep - self.best_sweep >= wait
