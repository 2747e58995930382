"""Depth tier: ADMMClassifier at one and more hidden layers against
MLPClassifier (adam) at the same depth, with a per-layer diagnosis.

    python benchmarks/depth.py                                # xor, satimage; (100,), (100, 100)
    python benchmarks/depth.py --datasets letter --depths 100 100,100 100,50
    python benchmarks/depth.py --candidate deep_training=joint,beta_hidden=1.0

Each (dataset, depth) is one 75/25 stratified split (``--seed``), features
standardised on the training part. Besides test and training accuracy and
fit time, every ADMM fit whose last solver covers the whole network (one
hidden layer, or ``deep_training='joint'``) is diagnosed at its end
(float64 state, serial backend, so that the state can be read): per hidden
layer, the relative
residual of ``z_l = W_l a_{l-1}`` in the training state, the distance of the
state's activations from the network's own forward pass ``h(W_l a_{l-1} +
b_l)``, and the share of (row, unit) pairs active in each; and the training
accuracy of the state's outputs ``z_L`` themselves. A state that fits the
labels while the network's forward pass has drifted away from it is an
optimisation failure of the splitting, not of the network's capacity.
Prints a table and writes every fit to JSON (``--out``).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from admm_sklearn import ADMMClassifier  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _xor_of_nonlinear(n=8000, d=10, seed=0):
    """label = [x0^2 + x1^2 > 1.4] xor [sin(2 x2) + x3 / 2 > 0], 10 Gaussians."""
    X = np.random.default_rng(seed).standard_normal((n, d))
    radial = X[:, 0] ** 2 + X[:, 1] ** 2 > 1.4
    wave = np.sin(2 * X[:, 2]) + 0.5 * X[:, 3] > 0
    return X, (radial ^ wave).astype(int)


def _shared(name):
    def load():
        path = SHARED / f"{name}.npz"
        if not path.exists():
            return None
        with np.load(path) as data:
            return data["X"].astype(np.float64), data["y"]
    return load


DATASETS = {"xor": _xor_of_nonlinear, "letter": _shared("letter"),
            "satimage": _shared("satimage"), "pendigits": _shared("pendigits")}


def diagnose(est, X, y):
    """Per-layer state-against-network figures of a fit kept with warm_start."""
    solver, shard = est._solver, est._solver_shards[0]
    a_net, a_state, layers = shard.x.astype(np.float64), shard.x, []
    for layer, (W, b) in enumerate(solver.weights[:-1]):
        z_state = np.asarray(shard.z[layer], dtype=np.float64)
        residual = z_state - (a_state @ W.T + b)
        a_net = np.maximum(a_net @ W.T + b, 0.0)
        a_state = np.asarray(shard.a[layer], dtype=np.float64)
        layers.append({
            "z_residual": float(np.linalg.norm(residual) / np.linalg.norm(z_state)),
            "a_state_vs_forward": float(np.linalg.norm(a_state - a_net)
                                        / np.linalg.norm(a_state)),
            "active_state": float(np.mean(a_state > 0)),
            "active_forward": float(np.mean(a_net > 0)),
        })
    z_out = np.asarray(shard.z[-1])
    codes = np.searchsorted(est.classes_, y)
    predicted = (z_out[:, 0] > 0).astype(int) if z_out.shape[1] == 1 else z_out.argmax(1)
    return {"state_train_accuracy": float(np.mean(predicted == codes)), "layers": layers}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["xor", "satimage"])
    parser.add_argument("--depths", nargs="+", default=["100", "100,100"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidate", action="append", default=[],
                        help="name=value,... ADMM parameters (repeatable)")
    parser.add_argument("--no-mlp", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "depth.json"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    rows = []
    for name in args.datasets:
        data = DATASETS[name]()
        if data is None:
            print(f"{name}: skipped, {SHARED / (name + '.npz')} is missing")
            continue
        X, y = data
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=args.seed)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        for depth in args.depths:
            hidden = tuple(int(w) for w in depth.split(","))
            models = [] if args.no_mlp else [("MLPClassifier (adam)", MLPClassifier(
                hidden, random_state=args.seed))]
            for candidate in [""] + args.candidate:
                params = dict(kv.split("=", 1) for kv in candidate.split(",") if kv)
                params = {k: _parse(v) for k, v in params.items()}
                models.append((f"ADMM {candidate}".strip(), ADMMClassifier(
                    hidden, random_state=args.seed, backend="serial", dtype="float64",
                    warm_start=True, **params)))
            for label, model in models:
                start = time.perf_counter()
                model.fit(X_tr, y_tr)
                seconds = time.perf_counter() - start
                row = {"dataset": name, "hidden": list(hidden), "model": label,
                       "seed": args.seed, "seconds": seconds,
                       "test_accuracy": float(model.score(X_te, y_te)),
                       "train_accuracy": float(model.score(X_tr, y_tr))}
                if (isinstance(model, ADMMClassifier)
                        and len(model._solver.weights) == len(model.coefs_)):
                    row.update(diagnose(model, X_tr, y_tr))
                rows.append(row)
                print(_line(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    return rows


def _parse(value):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _line(row):
    text = (f"{row['dataset']:10s} {str(tuple(row['hidden'])):12s} {row['model']:32s} "
            f"test {row['test_accuracy']:.4f} train {row['train_accuracy']:.4f} "
            f"{row['seconds']:6.1f} s")
    if "layers" in row:
        text += f" | state train {row['state_train_accuracy']:.4f}"
        for k, layer in enumerate(row["layers"], 1):
            text += (f" | L{k}: z res {layer['z_residual']:.3f}, a state/fwd "
                     f"{layer['a_state_vs_forward']:.3f}, active {layer['active_state']:.2f}"
                     f"/{layer['active_forward']:.2f}")
    return text


if __name__ == "__main__":
    main()
