"""One run of the solver for an estimator: data -> fitted attributes.

The estimator (:mod:`admm_sklearn._estimator`) has validated the data and
made the backend; here the rows are scattered, the sweeps run (after a
subset start on large sets, with early stopping's checks if asked), and the
network the user gets is built from the solver's weights.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ._dask_input import encode_chunks, is_dask_collection
from ._engine import ADMMSolver, forward
from ._losses import LOSSES

#: Sweeps between two validation scores when ``early_stopping``: each
#: score runs the output refit, so scoring every sweep would cost more than
#: the sweeps themselves.
VALIDATION_EVERY = 10


class _Fit:
    """One run of the solver for an estimator: data -> fitted attributes.

    ``targets`` is the fit's target encoding: ``transform(y)`` gives the rows
    the solver fits, ``to_raw`` / ``from_raw`` map the output layer between
    those units and the user's, ``score_sums`` / ``score`` give the
    validation score from sums that add up over processes, and
    ``attributes()`` the encoding's fitted attributes (``classes_``).
    """

    def __init__(self, est, hidden, dtype, backend, targets):
        self.est, self.hidden, self.dtype = est, hidden, dtype
        self.backend, self.targets = backend, targets

    def _input_moments(self, X):
        """``(shift, n_rows)``: the column means of the training inputs over
        all processes, in float64 (the shards hold ``X - shift``, see
        :class:`~admm_sklearn._shard.Shard`), and the number of rows over all
        processes (``None`` for dask input, which is never subsampled)."""
        if is_dask_collection(X):
            return np.asarray(X.mean(axis=0).compute(), dtype=np.float64), None
        total, count = self.backend.allreduce([X.sum(axis=0, dtype=np.float64),
                                               np.array([float(len(X))])])
        return total / max(count[0], 1.0), int(count[0])

    def _on_raw_inputs(self, weights, sign=-1.0):
        """Weights on ``x - shift`` as weights on ``x`` (``sign=-1``: ``b_1 -
        W_1 shift``), or back (``sign=+1``)."""
        W, b = weights[0]
        return [(W, b + sign * (W @ self.shift))] + list(weights[1:])

    def _validate(self, weights, X, Y, w):
        """``(score, loss)`` of the network ``weights`` (encoded units) on the
        held-out rows ``X`` with encoded targets ``Y``: the estimator's score
        and the fit's own loss per unit of sample weight."""
        weights = self._on_raw_inputs(weights)
        coefs = [W.T for W, _ in weights]
        outputs = forward(X, coefs, [b for _, b in weights], self.est.activation)
        loss_sums = np.array([LOSSES[self.est.loss].value(Y, outputs, w),
                              len(Y) if w is None else np.sum(w, dtype=np.float64)])
        sums, loss_sums = self.backend.allreduce(
            [self.targets.score_sums(outputs, Y, w), loss_sums])
        return self.targets.score(sums), loss_sums[0] / max(loss_sums[1], 1e-300)

    def _refit(self, solver, weights):
        """``weights`` with the output layer refitted on their own features."""
        return weights[:-1] + [solver.polish_output(self.backend, weights,
                                                    self.est.n_polish_iter)]

    def _refit_on_all_rows(self, solver, weights):
        """``weights`` with the output layer refitted on every training row,
        the held-out ones included: they chose the network, and the convex
        output problem on its fixed features gains from them like any
        estimator refitted on all its data. The shards of the sweeps are
        kept (they resume under ``warm_start``) or released first."""
        backend, kept = self.backend, None
        if self.est.warm_start:
            kept, backend.shards = backend.shards, []
        else:
            backend.release()
        try:
            backend.scatter(*self.all_rows, self.shift)
            return self._refit(solver, weights)
        finally:
            if kept is not None:
                backend.release()
                backend.shards = kept

    def run(self, X, y, sample_weight):
        est, backend = self.est, self.backend
        rng = check_random_state(est.random_state)
        # Every process must draw the same seed (MPI ranks too).
        seed = backend.allgather(int(rng.randint(np.iinfo(np.int32).max)))[0]
        dask_input = is_dask_collection(X)
        # encoded once, in float64: the validation rows are scored on it as is
        Y = None if dask_input else self.targets.transform(y)
        validation = None
        if est.early_stopping:  # never with dask input (refused when validating it)
            self.all_rows = (X, Y.astype(self.dtype), self.dtype, sample_weight)
            w = np.ones(len(y)) if sample_weight is None else sample_weight
            X, X_val, y, _, Y, Y_val, w, w_val = train_test_split(
                X, y, Y, w, test_size=est.validation_fraction, random_state=seed,
                stratify=y if self.targets.stratify else None)
            sample_weight = None if sample_weight is None else w
            validation = (X_val, Y_val, w_val)
        Y = encode_chunks(self.targets, y, self.dtype) if dask_input else Y.astype(self.dtype)
        sizes = (X.shape[1],) + self.hidden + (Y.shape[1],)
        self.shift, n_rows = self._input_moments(X)

        solver = getattr(est, "_solver", None) if est.warm_start else None
        fingerprint = _fingerprint(X, y, sample_weight)
        resume = (solver is not None and solver.layer_sizes == sizes
                  and getattr(est, "_train_fingerprint", None) == fingerprint)
        if not resume:
            solver = self._new_solver(sizes)
        history = {k: [] for k in ("objective", "loss", "residual", "multiplier_term",
                                   "weight_change", "seconds", "n_samples")}
        if est.early_stopping:
            history["validation_score"], history["validation_loss"] = [], []
        if resume and est.history_ is not None:
            history = {k: list(v) for k, v in est.history_.items()}

        start = None if resume else self._warm_start_weights()
        if start is None and not resume and not dask_input:
            rows = self._subset_rows(len(X), n_rows, seed)
            if rows is not None:
                start = self._subset_start(X[rows], Y[rows],
                                           None if sample_weight is None else sample_weight[rows],
                                           seed, sizes, history)
        if resume:
            backend.shards = est._solver_shards
        elif dask_input:
            backend.scatter_chunks(X, Y, sample_weight, self.dtype, self.shift)
        else:
            backend.scatter(X, Y, self.dtype, sample_weight, self.shift)
        try:
            with backend.running():
                if not resume:
                    solver.initialize(backend, est.init if start is None else "forward", seed,
                                      start, est.init_scale)
                n_sweeps = est.max_iter - (0 if resume else len(history["objective"]))
                converged, weights, best_score = self._sweeps(solver, n_sweeps, history,
                                                              validation)
            return self._result(solver, weights, history, converged, best_score, sizes,
                                fingerprint)
        except BaseException:
            backend.release()  # the shards' memory, on a cluster too
            raise

    def _new_solver(self, sizes):
        est = self.est
        return ADMMSolver(sizes, est.activation, est._resolved_beta(sizes[-1]), est.gamma,
                          est.alpha, self.dtype, est.multipliers, est.beta_hidden, est.loss,
                          est.balance)

    def _warm_start_weights(self):
        """The fitted network (as the solver's weights) when ``warm_start``
        continues it on new data with the same hidden layers, else ``None``."""
        est = self.est
        if not (est.warm_start and hasattr(est, "coefs_")):
            return None
        if [c.shape[1] for c in est.coefs_[:-1]] != list(self.hidden):
            return None
        weights = [(W.T, b) for W, b in zip(est.coefs_, est.intercepts_)]
        weights = self._on_raw_inputs(weights, sign=1.0)
        weights[-1] = self.targets.from_raw(*weights[-1])
        return weights

    def _subset_rows(self, n_local, n_rows, seed):
        """This process's rows of the subset start, or ``None`` for none.

        Row ``i`` (global index) is in it when the ``i``-th draw of a
        generator seeded by the fit is below ``start_fraction``: the subset
        does not depend on how rows are spread over processes, so MPI runs
        agree with serial ones. Every process decides from the global row
        count ``n_rows``, so all take the same branch.
        """
        fraction = self.est._resolved_start_fraction(n_rows)
        if fraction >= 1.0:
            return None
        offset = self.backend.row_offset(n_local)
        draws = np.random.default_rng(seed).random(offset + n_local)[offset:]
        return np.flatnonzero(draws < fraction)

    def _subset_start(self, X, Y, sample_weight, seed, sizes, history):
        """Sweeps on a random subset of the rows; returns their network.

        A full-batch sweep learns about as much from a few tens of thousands
        of rows as from all of them, at a fraction of the cost, so the first
        ``max_iter // 2`` sweeps (or fewer, if they converge) run on the
        subset, on their own shards and solver; the fit on all rows then
        starts from that network (output layer refitted, as a fit on the
        subset would return it) by a forward pass (section 13 of
        ``docs/what_we_tried.rst``).
        """
        est, backend = self.est, self.backend
        solver = self._new_solver(sizes)
        backend.scatter(X, Y, self.dtype, sample_weight, self.shift)
        try:
            with backend.running():
                solver.initialize(backend, est.init, seed, None, est.init_scale)
                _, weights, _ = self._sweeps(solver, est.max_iter // 2, history, None)
        finally:
            backend.release()
        return weights

    def _sweeps(self, solver, n_sweeps, history, validation):
        """Up to ``n_sweeps`` sweeps on the scattered shards, recorded in
        ``history``; returns ``(converged, weights, best_score)``: the network
        to return (the one of lowest loss on the held-out rows ``validation =
        (X, Y, w)`` if given, its output layer refitted on all rows, and its
        validation score; else the last one, output layer refitted, and
        ``None``)."""
        est = self.est
        best_loss, best_weights, best_sweep, stall, converged = np.inf, None, 0, 0, False
        best_score, last_output = None, None
        for sweep in range(n_sweeps):
            previous = [W for W, _ in solver.weights]
            stats = solver.step(self.backend, solver.n_iter >= est.n_warmup_iter)
            solver.check_finite(stats)
            stats["weight_change"] = _relative_change(previous, solver.weights)
            stats["n_samples"] = solver.n_samples
            for k in history:
                if not k.startswith("validation_"):
                    history[k].append(float(stats[k]))
            in_warmup = solver.n_iter <= est.n_warmup_iter
            score = loss = np.nan
            if validation is not None:
                # Only after the warm-up, every VALIDATION_EVERY sweeps and
                # at the last one: the network the user would get (output
                # refit included) evaluated on the held-out rows. The fit's
                # own loss chooses: on a tenth of a few thousand rows,
                # accuracy moves by single rows and its maximum over dozens
                # of checks is mostly noise (section 13 of
                # docs/what_we_tried.rst).
                if not in_warmup and (solver.n_iter % VALIDATION_EVERY == 0
                                      or sweep == n_sweeps - 1):
                    # warm-started from the last check's refit output
                    # layer, near the optimum for slowly moving features
                    refit = self._refit(solver, solver.weights[:-1] + [
                        solver.weights[-1] if last_output is None else last_output])
                    last_output = refit[-1]
                    score, loss = self._validate(refit, *validation)
                    if loss < best_loss - est.tol or best_weights is None:
                        best_sweep = solver.n_iter
                    if loss < best_loss:
                        best_loss, best_score, best_weights = loss, score, refit
                stall = 0 if best_weights is None else solver.n_iter - best_sweep
            else:
                # With multiplier steps the objective need not decrease;
                # ADMM has converged when its iterates stop moving.
                improved = stats["weight_change"] >= est.tol
                stall = 0 if (improved or in_warmup) else stall + 1
            if "validation_score" in history:
                history["validation_score"].append(score)
                history["validation_loss"].append(loss)
            self._report(solver, len(history["objective"]))
            if est.verbose:
                print(f"Iteration {len(history['objective'])}, "
                      f"objective = {stats['objective']:.6g}, "
                      f"residual = {stats['residual']:.3g}, time = {stats['seconds']:.3f}s"
                      + (f", validation score = {score:.4f}" if validation else ""))
            if stall >= est.n_iter_no_change:
                converged = True
                break
        if best_weights is not None:
            return converged, self._refit_on_all_rows(solver, best_weights), best_score
        return converged, self._refit(solver, solver.weights), None

    def _report(self, solver, sweep):
        """Hand the network the fit would return after ``sweep`` sweeps to
        the estimator's ``_sweep_monitor``, if it has one and wants this
        sweep: time-to-accuracy curves score one fit as it goes
        (:func:`admm_sklearn._compare.accuracy_curve`)."""
        monitor = getattr(self.est, "_sweep_monitor", None)
        if monitor is not None and monitor.wants(sweep):
            monitor(sweep, self._network(self._refit(solver, solver.weights)))

    def _network(self, weights):
        """The fitted attributes that predict: ``weights`` (encoded units, on
        shifted inputs) in the user's units, and the targets' attributes."""
        weights = self._on_raw_inputs(weights[:-1] + [self.targets.to_raw(*weights[-1])])
        return {
            **self.targets.attributes(),
            # float64 whatever the state's dtype: the first layer's bias
            # carries the input shift (b_1 - W_1 shift), whose digits float32
            # would lose for inputs with a large offset
            "coefs_": [np.array(W.T, dtype=np.float64) for W, _ in weights],
            "intercepts_": [np.array(b, dtype=np.float64) for _, b in weights],
        }

    def _result(self, solver, weights, history, converged, best_score, sizes, fingerprint):
        """The fitted attributes of the network ``weights`` (encoded units)."""
        est, backend = self.est, self.backend
        if not converged:
            warnings.warn(
                f"{type(est).__name__}: maximum iterations ({est.max_iter}) reached before "
                "the weights stopped changing by tol.", ConvergenceWarning, stacklevel=3)
        result = {
            **self._network(weights),
            "n_iter_": len(history["objective"]),
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


def _fingerprint(X, y, sample_weight):
    """Cheap identity of the training rows, to decide whether state can resume."""
    if is_dask_collection(X):  # dask names are tokens of the data
        return (X.name, y.name, None if sample_weight is None else sample_weight.name)
    step = max(1, len(X) // 64)
    return (X.shape, float(np.sum(X[::step], dtype=np.float64)), len(y),
            None if sample_weight is None else float(np.sum(sample_weight[::step])))


def _relative_change(previous, weights):
    """``max_l ||W_l - W_l_prev|| / ||W_l||``: how far a sweep moved the weights."""
    return max(float(np.linalg.norm(W - P) / max(np.linalg.norm(W), 1e-300))
               for P, (W, _) in zip(previous, weights))
