"""``python -m admm_sklearn plan``: the model's exact parts, and bad input."""

import numpy as np
import pytest

from admm_sklearn._backends import SerialBackend
from admm_sklearn._cli import main
from admm_sklearn._engine import ADMMSolver
from admm_sklearn._plan import (
    allreduce_seconds,
    bytes_per_sweep,
    layer_sizes,
    plan,
    state_bytes_per_sample,
)

CALIBRATION = {"c0": 1e-3, "c1": 1e-6}


@pytest.mark.parametrize("hidden,classes,dtype,multipliers,interval", [
    ((13,), 2, "float32", "all", 1), ((11, 6), 4, "float64", "all", 1),
    ((9,), 3, "float32", "bregman", 1), ((13,), 2, "float32", "all", 2)])
def test_state_model_counts_every_array_of_a_shard(hidden, classes, dtype, multipliers,
                                                    interval):
    n, d = 500, 7
    sizes = layer_sizes(d, hidden, classes)
    rng = np.random.default_rng(0)
    backend = SerialBackend()
    backend.scatter(rng.normal(size=(n, d)), np.zeros((n, sizes[-1])), dtype)
    solver = ADMMSolver(sizes, dtype=dtype, multipliers=multipliers, input_interval=interval)
    solver.initialize(backend, "forward", seed=0)
    solver.step(backend, True)  # a held W_1's products are kept from the first sweep
    shard = backend.shards[0]
    arrays = [shard.x, shard.y, shard.lam, *shard.a, *shard.z, *shard.u, *shard.v]
    arrays += [] if shard.m_input is None else [shard.m_input]
    assert sum(a.nbytes for a in arrays) == n * state_bytes_per_sample(
        sizes, dtype, multipliers, input_interval=interval)


def test_bytes_per_sweep_for_the_papers_higgs_network():
    # (28, 300, 1): layer 1's cross Gram 300 x 29, the output's cross Gram
    # 1 x 301, the Gram of a_1 301 x 301, one penalty, three output
    # statistics (loss, residual, multiplier term)
    assert bytes_per_sweep((28, 300, 1)) == 8 * (300 * 29 + 301 + 301 ** 2 + 1 + 3)


def test_allreduce_model_and_rank_scaling():
    assert allreduce_seconds(1e6, 1, 1e-6, 1e-9) == 0.0
    assert allreduce_seconds(1e6, 2, 1e-6, 1e-9) == pytest.approx(2e-6 + 1e-3)
    assert allreduce_seconds(1e6, 1024, 1e-6, 1e-9) == pytest.approx(
        20e-6 + 2 * 1023 / 1024 * 1e-3)
    one = plan(10_000_000, 28, (300,), 2, 1, calibration=CALIBRATION)
    many = plan(10_000_000, 28, (300,), 2, 1000, calibration=CALIBRATION)
    assert many["memory_bytes"]["state"] * 1000 == pytest.approx(one["memory_bytes"]["state"])
    assert many["compute_seconds"] < one["compute_seconds"] / 100
    assert many["allreduce_seconds"] > 0 == one["allreduce_seconds"]
    slow = plan(10_000_000, 28, (300,), 2, 1000, interconnect="ethernet-10g",
                calibration=CALIBRATION)
    bound = slow["communication_bound_ranks"]
    at = plan(10_000_000, 28, (300,), 2, bound, interconnect="ethernet-10g",
              calibration=CALIBRATION)
    below = plan(10_000_000, 28, (300,), 2, bound // 2, interconnect="ethernet-10g",
                 calibration=CALIBRATION)
    assert at["allreduce_seconds"] > at["compute_seconds"]
    assert below["allreduce_seconds"] <= below["compute_seconds"]


@pytest.mark.parametrize("argv,message", [
    (["--samples", "1000", "--features", "5", "--ranks", "0"], "ranks must be a positive"),
    (["--samples", "10", "--features", "5", "--ranks", "11"], "cannot exceed samples"),
    (["--samples", "1000", "--features", "5", "--dtype", "float16"], "dtype must be"),
    (["--samples", "1000", "--features", "5", "--interconnect", "carrier-pigeon"],
     "interconnect must be"),
    (["--samples", "1000", "--features", "0"], "features must be"),
])
def test_impossible_input_is_refused_with_a_clear_message(argv, message, capsys):
    assert main(["plan", *argv]) == 2
    assert message in capsys.readouterr().out


def test_plan_command_prints_every_part(capsys):
    assert main(["plan", "--samples", "20000", "--features", "10", "--hidden", "16,8",
                 "--classes", "3", "--ranks", "4"]) == 0
    out = capsys.readouterr().out
    for part in ("per-sample ADMM state", "interpreter and libraries", "bytes per rank",
                 "calibrated here", "communication exceeds half"):
        assert part in out


def test_state_model_counts_a_sparse_shard():
    import scipy.sparse as sp

    n, d, per_row = 2000, 300, 6
    sizes = layer_sizes(d, (13,), 2)
    X = sp.random(n, d, density=per_row / d, random_state=0, format="csr")
    backend = SerialBackend()
    backend.scatter(X, np.zeros((n, 1)), "float32")
    solver = ADMMSolver(sizes, dtype="float32")
    solver.initialize(backend, "forward", seed=0)
    shard = backend.shards[0]
    arrays = [shard.x.X.data, shard.x.X.indices, shard.x.X.indptr, shard.y, shard.lam,
              *shard.a, *shard.z, *shard.u, *shard.v]
    # (scipy's index arrays may be 4 or 8 bytes wide; the model counts 4 and 8)
    assert sum(a.nbytes for a in arrays) == pytest.approx(
        n * state_bytes_per_sample(sizes, "float32", "bregman", stored_per_row=X.nnz / n),
        rel=0.05)


def test_plan_for_wide_sparse_inputs_solves_layer_1_iteratively():
    dense = plan(200_000, 100_000, (100,), 2, 1, calibration=CALIBRATION)
    sparse = plan(200_000, 100_000, (100,), 2, 1, calibration=CALIBRATION, stored_per_row=20)
    assert dense["input_solve"] == "iterative"  # a 75 GiB Gram is never formed
    assert sparse["input_solve"] == "iterative"
    assert sparse["memory_bytes"]["data"] < dense["memory_bytes"]["data"] / 100
    assert sparse["memory_bytes"]["fixed"] < 2 ** 30
    assert sparse["bytes_per_sweep"] > bytes_per_sweep(sparse["layer_sizes"])  # CG products
    narrow = plan(10_000, 20, (100,), 2, 1, calibration=CALIBRATION, stored_per_row=3)
    assert narrow["input_solve"] == "direct"
    # sparse data keep every sweep's solve; wide dense inputs hold W_1
    assert sparse["input_solve_interval"] == narrow["input_solve_interval"] == 1
    images = plan(10_000, 784, (100,), 10, 1, calibration=CALIBRATION)
    assert images["input_solve_interval"] == 2
    assert images["bytes_per_sweep"] == bytes_per_sweep(images["layer_sizes"],
                                                        input_interval=2)
    with pytest.raises(ValueError, match="stored entries per row"):
        plan(1000, 20, (100,), 2, 1, calibration=CALIBRATION, stored_per_row=21)
