"""One fit of an estimator: data -> fitted attributes.

The estimator (:mod:`admm_sklearn._estimator`) has validated the data and
made the backend; here the rows are scattered, the sweeps run (after a
subset start on large sets; with early stopping, a first run on all but
the held-out rows chooses their number), and the network the user gets is
built from the solver's weights.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ._constant_inputs import varying_columns, widen
from ._dask_input import encode_chunks, is_dask_collection
from ._engine import ADMMSolver, forward
from ._input_solve import RIDGE_FAN_IN
from ._losses import LOSSES
from ._stopping import CHECK_TOL, StoppingRule
from ._unit_refit import UnitRefit, applies as unit_refit_applies


class _Fit:
    """One fit of an estimator: data -> fitted attributes.

    ``targets`` is the fit's target encoding: ``transform(y)`` gives the rows
    the solver fits, ``to_raw`` / ``from_raw`` map the output layer between
    those units and the user's, ``score_sums`` / ``score`` give the
    validation score from sums that add up over processes, and
    ``attributes()`` the encoding's fitted attributes (``classes_``).

    ``frozen`` lists fitted layers ``(coef, intercept)`` (the MLP
    estimators' orientation) below the ones this fit trains: ``X`` is then
    their output, and the network returned starts with them (a stage of
    :mod:`admm_sklearn._layerwise`; ``sweep_offset`` is the sweeps of the
    stages before it, for the sweep monitor). ``resume_allowed=False``: this
    fit does not start from the previous one whatever ``warm_start`` says
    (a stage whose lower layers were fitted anew), though it still keeps
    its state for the next. ``max_iter``: this fit's sweeps, if not the
    estimator's. ``output_used=False``: the caller keeps only the hidden
    layer of the network returned (a layer-wise stage below the last), so
    its output layer is not refitted after the sweeps unless the unit
    passes, which start from that refit, run (on a separable multiclass set
    the refit's Newton steps take hundreds of Hessian products: a tenth of
    digits' fit at (100, 100)).
    """

    def __init__(self, est, hidden, dtype, backend, targets, frozen=(), sweep_offset=0,
                 resume_allowed=True, max_iter=None, output_used=True):
        self.est, self.hidden, self.dtype = est, hidden, dtype
        self.backend, self.targets = backend, targets
        self.frozen, self.sweep_offset = list(frozen), sweep_offset
        self.resume_allowed = bool(est.warm_start and resume_allowed)
        self.max_iter = est.max_iter if max_iter is None else max_iter
        self.output_used = output_used
        self.stop_on_training_loss = est.tol is not None
        # the inputs that vary (_constant_inputs; None: all), set per _train
        self.keep, self.n_features = None, None
        self.n_unit_refit_passes = 0  # set per _train, counted by _refine_units

    def _input_moments(self, X):
        """``(shift, n_rows)``: the column means of the training inputs over
        all processes, in float64 (the shards hold ``X - shift``, see
        :class:`~admm_sklearn._shard.Shard`), and the number of rows over all
        processes (``None`` for dask input, which is never subsampled)."""
        if is_dask_collection(X):
            return np.asarray(X.mean(axis=0).compute(), dtype=np.float64), None
        return column_means(X, self.backend)

    def _on_raw_inputs(self, weights, sign=-1.0):
        """Weights on ``x - shift`` as weights on ``x`` (``sign=-1``: ``b_1 -
        W_1 shift``), or back (``sign=+1``), both on the kept inputs."""
        W, b = weights[0]
        return [(W, b + sign * (W @ self.shift))] + list(weights[1:])

    def _on_all_inputs(self, weights):
        """Weights on the raw kept inputs as weights on every raw input."""
        if self.keep is None:
            return weights
        W, b = weights[0]
        return [(widen(W, self.keep, self.n_features), b)] + list(weights[1:])

    def _validate(self, weights, X, Y, w):
        """``(score, loss)`` of the network ``weights`` (encoded units) on the
        held-out rows ``X`` with encoded targets ``Y``: the estimator's score
        and the fit's own loss per unit of sample weight."""
        weights = self._on_all_inputs(self._on_raw_inputs(weights))
        coefs = [W.T for W, _ in weights]
        outputs = forward(X, coefs, [b for _, b in weights], self.est.activation)
        loss_sums = np.array([LOSSES[self.est.loss].value(Y, outputs, w),
                              len(Y) if w is None else np.sum(w, dtype=np.float64)])
        sums, loss_sums = self.backend.allreduce(
            [self.targets.score_sums(outputs, Y, w), loss_sums])
        return self.targets.score(sums), loss_sums[0] / max(loss_sums[1], 1e-300)

    def _refit(self, solver, weights):
        """``weights`` with the output layer refitted on their own features,
        in at most ``n_polish_iter`` passes."""
        return weights[:-1] + [solver.polish_output(self.backend, weights,
                                                    self.est.n_polish_iter)]

    def run(self, X, y, sample_weight, seed=None):
        """Fit on ``(X, y, sample_weight)``; returns the fitted attributes.

        With ``early_stopping``, a first run on all but the held-out rows
        picks the number of sweeps (:meth:`_select_n_sweeps`); the network
        returned is then that many sweeps on all the rows, the same network
        as a fit without early stopping and that ``max_iter`` (the held-out
        rows chose the count; like any estimator refitted on all its data,
        the network gains from them: on small sets the tenth held out cost
        up to 1.5 points, ``docs/what_we_tried.rst``, "Early stopping").
        """
        est, backend = self.est, self.backend
        if seed is None:
            seed = agreed_seed(est.random_state, backend)
        # numpy targets are encoded once, in float64 (early stopping scores
        # its held-out rows on them as they are); dask ones on the workers
        Y = (encode_chunks(self.targets, y, self.dtype) if is_dask_collection(X)
             else self.targets.transform(y))
        sizes = (X.shape[1],) + self.hidden + (Y.shape[1],)
        selection = None
        if est.early_stopping:  # never with dask input (refused when validating it)
            selection = self._select_n_sweeps(X, y, Y, sample_weight, seed, sizes)

        fingerprint = _fingerprint(X, y, sample_weight)
        history = _new_history()
        kept = getattr(est, "_solver", None) if self.resume_allowed else None
        resume = (selection is None and kept is not None
                  and kept.layer_sizes[1:] == sizes[1:]
                  and getattr(est, "_train_fingerprint", None) == fingerprint)
        if resume and est.history_ is not None:
            history = {k: list(est.history_[k]) for k in history}
        max_iter = self.max_iter if selection is None else selection["n_sweeps"]
        # the count early stopping chose is run in full
        self.stop_on_training_loss = selection is None and est.tol is not None
        solver, converged, weights, _ = self._train(
            X, Y, sample_weight, seed, sizes, max_iter, history, kept if resume else None)
        best_score = None
        if selection is not None:
            converged, best_score = selection["converged"], selection["best_score"]
            history.update(selection["validation"])
        return self._result(solver, weights, history, converged, best_score, sizes,
                            fingerprint)

    def _select_n_sweeps(self, X, y, Y, sample_weight, seed, sizes):
        """Early stopping's choice of the number of sweeps.

        Holds out ``validation_fraction`` of the rows (stratified for
        classifiers) and runs the sweeps on the others, scoring the network
        the fit would return (output refit included) on the held-out rows
        every 10 sweeps after the warm-up; stops once the
        lowest validation loss is ``n_iter_no_change`` sweeps old. Returns
        ``n_sweeps`` (the sweep of that lowest loss; ``max_iter`` if no
        check ran), ``best_score`` (that network's validation score),
        ``converged`` and ``validation`` (the per-sweep validation scores
        and losses, for ``history_``). The run's state is released.
        """
        est = self.est
        w = np.ones(len(y)) if sample_weight is None else sample_weight
        error = None
        try:
            X, X_val, Y, Y_val, w, w_val = train_test_split(
                X, Y, w, test_size=est.validation_fraction, random_state=seed,
                stratify=y if self.targets.stratify else None)
        except ValueError as exc:  # raised below on every process, never a hang
            error = str(exc)
        errors = self.backend.allgather(error)
        failed = [(r, e) for r, e in enumerate(errors) if e is not None]
        if failed:
            rank, message = failed[0]
            where = f" on MPI rank {rank}" if len(errors) > 1 else ""
            raise ValueError(f"early_stopping's validation split failed{where}: {message}")
        history = _new_history(validation=True)
        try:
            _, converged, _, best = self._train(
                X, Y, None if sample_weight is None else w, seed, sizes, self.max_iter,
                history, validation=(X_val, Y_val, w_val))
        finally:
            self.backend.release()
        n_sweeps, best_score = best if best is not None else (self.max_iter, None)
        return {"n_sweeps": n_sweeps, "best_score": best_score, "converged": converged,
                "validation": {k: v for k, v in history.items() if k.startswith("validation_")}}

    def _train(self, X, Y, sample_weight, seed, sizes, max_iter, history, resume=None,
               validation=None):
        """Scatter the rows, start, and sweep: ``max_iter`` sweeps in all,
        the subset start's included (recorded in ``history``), or, when
        resuming the kept solver ``resume``, ``max_iter`` more. Returns
        ``(solver, converged, weights, best)`` as :meth:`_sweeps`; the shards
        stay scattered for the caller, released on failure."""
        est, backend = self.est, self.backend
        dask_input = is_dask_collection(X)
        self.shift, n_rows = self._input_moments(X)
        self.n_features = X.shape[1]
        self.keep = varying_columns(X, self.shift, n_rows, backend)
        if self.keep is not None:  # a copy of the varying columns, scattered below
            X, self.shift = X[:, self.keep], self.shift[self.keep]
            sizes = (X.shape[1],) + tuple(sizes[1:])
        solver = resume if resume is not None else self._new_solver(sizes)
        start = None if resume is not None else self._warm_start_weights()
        if start is None and resume is None and not dask_input:
            rows = self._subset_rows(X.shape[0], n_rows, seed)
            if rows is not None:
                start = self._subset_start(
                    X[rows], Y[rows], None if sample_weight is None else sample_weight[rows],
                    seed, sizes, max_iter // 2, history)
        if resume is not None:
            backend.shards = est._solver_shards
        elif dask_input:
            backend.scatter_chunks(X, Y, sample_weight, self.dtype, self.shift)
        else:
            backend.scatter(X, Y, self.dtype, sample_weight, self.shift)
        del X  # the shards hold their own copy (of the varying columns)
        try:
            with backend.running():
                if resume is None:
                    solver.initialize(backend, est.init if start is None else "forward", seed,
                                      start, est.init_scale)
                n_sweeps = max_iter - (0 if resume is not None else len(history["objective"]))
                passes = unit_refit_applies(solver, est.unit_refit_passes, self.frozen)
                converged, weights, best = self._sweeps(solver, n_sweeps, history, validation,
                                                        self.output_used or passes)
                if weights is not None:
                    self.n_unit_refit_passes = 0
                    if passes:
                        weights = self._refine_units(solver, weights)
        except BaseException:
            backend.release()  # the shards' memory, on a cluster too
            raise
        return solver, converged, weights, best

    def _refine_units(self, solver, weights):
        """``weights`` after the first layer's unit passes
        (:mod:`~admm_sklearn._unit_refit`; the caller has checked that they
        apply); their number is kept for ``n_unit_refit_passes_``."""
        refit = UnitRefit(solver, self.backend, weights, features_only=not self.output_used)
        weights = refit.run(self.est.unit_refit_passes)
        self.n_unit_refit_passes = refit.n_passes
        return weights

    def _new_solver(self, sizes):
        est = self.est
        # the fan-in ridge for the network's own inputs, not for the features
        # an upper stage of a layer-wise fit reads (_input_solve.RIDGE_FAN_IN),
        # which the classifier scales as one (BaseADMM._upper_input_scale)
        return ADMMSolver(sizes, est.activation, est._resolved_beta(sizes[-1]), est.gamma,
                          est.alpha, self.dtype, est.multipliers, est.beta_hidden, est.loss,
                          est.balance, est._ridge_max_samples,
                          ridge_fan_in=None if self.frozen else RIDGE_FAN_IN,
                          input_interval=est.input_solve_interval,
                          input_scale=est._upper_input_scale if self.frozen else "per_feature")

    def _warm_start_weights(self):
        """The fitted network (as the solver's weights) when ``warm_start``
        continues it on new data with the same hidden layers, else ``None``."""
        est, below = self.est, len(self.frozen)
        if not (self.resume_allowed and hasattr(est, "coefs_")):
            return None
        if [c.shape[1] for c in est.coefs_[below:-1]] != list(self.hidden):
            return None
        weights = [(W.T, b) for W, b in zip(est.coefs_[below:], est.intercepts_[below:])]
        if self.keep is not None:
            weights[0] = (weights[0][0][:, self.keep], weights[0][1])
        weights = self._on_raw_inputs(weights, sign=1.0)
        weights[-1] = self.targets.from_raw(*weights[-1])
        return weights

    def _subset_rows(self, n_local, n_rows, seed):
        """This process's rows of the subset start, or ``None`` for none.

        Row ``i`` (global index) is in it when the ``i``-th draw of a
        generator seeded by the fit is below ``start_fraction``: the subset
        does not depend on how rows are spread over processes, so MPI runs
        agree with serial ones. Every process decides from the global row
        count ``n_rows``, so all take the same branch. A process jumps its
        generator ahead to its first row (PCG64 draws one 64-bit word per
        double) rather than drawing every row before its own: the last rank
        of a run on 10^8 rows would otherwise draw 800 MB of numbers.
        """
        fraction = self.est._resolved_start_fraction(n_rows)
        if fraction >= 1.0:
            return None
        generator = np.random.PCG64(seed)  # the stream of default_rng(seed)
        generator.advance(self.backend.row_offset(n_local))
        draws = np.random.Generator(generator).random(n_local)
        return np.flatnonzero(draws < fraction)

    def _subset_start(self, X, Y, sample_weight, seed, sizes, n_sweeps, history):
        """Sweeps on a random subset of the rows; returns their network.

        A full-batch sweep learns about as much from a few tens of thousands
        of rows as from all of them, at a fraction of the cost, so the first
        ``n_sweeps`` (``max_iter // 2``) sweeps (or fewer, if they converge)
        run on the subset, on their own shards and solver; the fit on all
        rows then starts from that network (output layer refitted, as a fit
        on the subset would return it) by a forward pass (``docs/what_we_tried.rst``,
        "Large data").
        """
        est, backend = self.est, self.backend
        solver = self._new_solver(sizes)
        backend.scatter(X, Y, self.dtype, sample_weight, self.shift)
        try:
            with backend.running():
                solver.initialize(backend, est.init, seed, None, est.init_scale)
                _, weights, _ = self._sweeps(solver, n_sweeps, history, None)
        finally:
            backend.release()
        return weights

    def _sweeps(self, solver, n_sweeps, history, validation, refit=True):
        """Up to ``n_sweeps`` sweeps on the scattered shards, recorded in
        ``history``; returns ``(converged, weights, best)``. Without
        ``validation``: the last network (output layer refitted, unless
        ``refit`` is off) and ``best=None``. With the held-out rows
        ``validation = (X, Y, w)``: ``weights=None`` and ``best = (sweep,
        score)`` of the check with the lowest validation loss (sweeps
        counted in ``history``), or ``None`` if no check ran.

        After the warm-up, the network the fit would return (output layer
        refitted) is scored by its loss, on the held-out rows with
        ``validation``, else on the training rows (unless
        ``stop_on_training_loss`` is off), when the
        :class:`~admm_sklearn._stopping.StoppingRule` says, and the sweeps
        end when it says.
        """
        est = self.est
        checks = validation is not None or self.stop_on_training_loss
        rule = StoppingRule.for_fit(est.tol, est.n_iter_no_change, validation is not None,
                                    share=self.max_iter / est.max_iter)
        best, converged, last_output = None, False, None
        # early stopping's choosing run (its subset start included): records
        # the validation columns, and returns no network to report
        choosing = "validation_score" in history
        for sweep in range(n_sweeps):
            stats = solver.step(self.backend, solver.n_iter >= est.n_warmup_iter)
            solver.check_finite(stats)
            stats["n_samples"] = solver.n_samples
            score = loss = np.nan
            # The network the user would get is scored by the fit's own
            # loss, not by accuracy: on a tenth of a few thousand rows,
            # accuracy moves by single rows and its maximum over dozens of
            # checks is mostly noise (docs/what_we_tried.rst, "Early
            # stopping"). The validation also scores the last sweep. The
            # refit is warm-started from the last check's, near the optimum
            # for slowly moving features.
            if checks and solver.n_iter > est.n_warmup_iter and (
                    rule.due(solver.n_iter)
                    or (validation is not None and sweep == n_sweeps - 1)):
                output = solver.weights[-1] if last_output is None else last_output
                last_output, score, loss = self._check(solver, output, validation, rule.passes)
                if rule.record(solver.n_iter, loss):
                    best = (len(history["objective"]) + 1, score)
            stats["network_loss"] = loss
            for k in history:
                if not k.startswith("validation_"):
                    history[k].append(float(stats[k]))
            if choosing:
                history["validation_score"].append(score)
                history["validation_loss"].append(loss)
            else:
                self._report(solver, len(history["objective"]))
            if est.verbose:
                print(f"Iteration {len(history['objective'])}, "
                      f"objective = {stats['objective']:.6g}, "
                      f"residual = {stats['residual']:.3g}, time = {stats['seconds']:.3f}s"
                      + (f", validation score = {score:.4f}" if validation else "")
                      + (f", training loss = {loss:.6g}" if checks and not validation
                         and not np.isnan(loss) else ""))
            if rule.done(solver.n_iter):
                converged = True
                break
        if validation is not None:
            return converged, None, best
        return converged, self._refit(solver, solver.weights) if refit else solver.weights, None

    def _check(self, solver, output, validation, passes):
        """``(output_layer, score, loss)`` of one check of the stopping rule:
        the network of the solver's hidden layers with its output layer
        refitted from ``output`` (in at most ``passes`` passes, to
        CHECK_TOL), scored on the held-out rows ``validation`` (the
        estimator's score and the loss), or on the training rows (the loss;
        score ``nan``)."""
        weights = solver.weights[:-1] + [output]
        passes = min(self.est.n_polish_iter, passes)
        if validation is not None:
            refit = weights[:-1] + [solver.polish_output(self.backend, weights, passes,
                                                         tol=CHECK_TOL)]
            return (refit[-1],) + self._validate(refit, *validation)
        refit, loss = solver.polish_output(self.backend, weights, passes, tol=CHECK_TOL,
                                           with_loss=True)
        return refit, np.nan, loss

    def _report(self, solver, sweep):
        """Hand the network the fit would return after ``sweep`` sweeps to
        the estimator's ``_sweep_monitor``, if it has one and wants this
        sweep: time-to-accuracy curves score one fit as it goes
        (:func:`admm_sklearn._compare.accuracy_curve`)."""
        monitor = getattr(self.est, "_sweep_monitor", None)
        sweep += self.sweep_offset
        if monitor is not None and monitor.wants(sweep):
            monitor(sweep, self._network(self._refit(solver, solver.weights)))

    def _network(self, weights):
        """The fitted attributes that predict: ``weights`` (encoded units, on
        shifted inputs) in the user's units, and the targets' attributes."""
        weights = self._on_all_inputs(
            self._on_raw_inputs(weights[:-1] + [self.targets.to_raw(*weights[-1])]))
        return {
            **self.targets.attributes(),
            # float64 whatever the state's dtype: the first layer's bias
            # carries the input shift (b_1 - W_1 shift), whose digits float32
            # would lose for inputs with a large offset
            "coefs_": [W for W, _ in self.frozen]
            + [np.array(W.T, dtype=np.float64) for W, _ in weights],
            "intercepts_": [b for _, b in self.frozen]
            + [np.array(b, dtype=np.float64) for _, b in weights],
        }

    def _result(self, solver, weights, history, converged, best_score, sizes, fingerprint):
        """The fitted attributes of the network ``weights`` (encoded units)."""
        est, backend = self.est, self.backend
        if not converged and (est.tol is not None or est.early_stopping):
            warnings.warn(
                f"{type(est).__name__}: maximum iterations ({self.max_iter}) reached before "
                "the network's loss stopped falling by tol.", ConvergenceWarning, stacklevel=3)
        result = {
            **self._network(weights),
            "n_iter_": len(history["objective"]),
            "n_unit_refit_passes_": self.n_unit_refit_passes,
            "beta_": solver.beta,
            "n_layers_": len(sizes),
            "n_outputs_": sizes[-1],
            "out_activation_": "identity",
            "loss_curve_": [o / n for o, n in zip(history["objective"], history["n_samples"])],
            "history_": history,
            "validation_scores_": None if not est.early_stopping else [
                v for v in history["validation_score"] if not np.isnan(v)],
            "best_validation_score_": best_score,
        }
        result["loss_"] = result["loss_curve_"][-1]
        if est.warm_start:
            result.update(_solver=solver, _solver_shards=backend.shards,
                          _train_fingerprint=fingerprint)
        else:
            backend.release()
            result.update(_solver=None, _solver_shards=None, _train_fingerprint=None)
        return result


def column_means(X, backend):
    """``(means, n_rows)``: the column means of ``X`` (numpy or sparse) over
    the rows of all processes, in float64, and their number of rows."""
    # np.asarray: a sparse X sums to a 1 x d matrix
    total, count = backend.allreduce([np.asarray(X.sum(axis=0, dtype=np.float64)).ravel(),
                                      np.array([float(X.shape[0])])])
    return total / max(count[0], 1.0), int(count[0])


def agreed_seed(random_state, backend, headroom=0):
    """The fit's seed from ``random_state``, the same on every process (MPI
    ranks take rank 0's); below ``2**31 - 1 - headroom``, so that ``seed +
    k`` for ``k <= headroom`` is still a valid seed."""
    high = np.iinfo(np.int32).max - headroom
    return backend.allgather(int(check_random_state(random_state).randint(high)))[0]


def _new_history(validation=False):
    """Empty per-sweep records (``history_``)."""
    keys = ("objective", "loss", "residual", "multiplier_term", "weight_change",
            "network_loss", "seconds", "n_samples")
    if validation:
        keys += ("validation_score", "validation_loss")
    return {k: [] for k in keys}


def _fingerprint(X, y, sample_weight):
    """Cheap identity of the training rows, to decide whether state can resume."""
    if is_dask_collection(X):  # dask names are tokens of the data
        return (X.name, y.name, None if sample_weight is None else sample_weight.name)
    step = max(1, X.shape[0] // 64)
    return (X.shape, float(X[::step].sum(dtype=np.float64)), len(y),
            None if sample_weight is None else float(np.sum(sample_weight[::step])))
