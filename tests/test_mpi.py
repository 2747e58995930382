"""MPI backend, run under ``mpiexec -n 2`` from the normal pytest command.

Each test launches a script in tests/mpi_scripts with a timeout, so a
deadlock fails the test instead of hanging the suite.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "mpi_scripts"
TIMEOUT = 120


def _mpiexec():
    # The mpich wheel installs mpiexec beside the interpreter.
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec (install the [mpi] extra)")
    return found


def run_mpi(script, *args, n=2):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([_mpiexec(), "-n", str(n), sys.executable, str(SCRIPTS / script),
                           *args], capture_output=True, text=True, timeout=TIMEOUT, env=env,
                          cwd=ROOT)
    return proc


@pytest.mark.parametrize("init", ["forward", "gaussian", "subset", "early_stopping", "joint",
                                  "depth3", "deep_refit", "deep_regression", "stopping",
                                  "sparse", "iterative",
                                  "held_input", "constant_columns"])
def test_mpi_fit_equals_serial_fit_on_all_rows(init):
    proc = run_mpi("fit_agrees.py", init)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("OK") == 2


@pytest.mark.parametrize("case,message", [
    ("n_features", "features"),
    ("nan", "NaN"),
    ("zero_rows", "0 sample"),
    ("one_dimensional", "2D array"),
    ("early_stopping_split", "validation split failed on MPI rank 1"),
])
def test_bad_data_on_one_rank_raises_on_every_rank(case, message, tmp_path):
    lines = _per_rank_results(case, tmp_path)
    assert all(ln.startswith("RAISED") and message in ln for ln in lines), lines


@pytest.mark.parametrize("case", ["labels_on_one_rank", "dtype"])
def test_benign_differences_between_ranks_are_handled(case, tmp_path):
    lines = _per_rank_results(case, tmp_path)
    assert all(ln.startswith("FIT") for ln in lines), lines
    # every rank agrees on the classes, including one seen on rank 1 only
    assert len(set(lines)) == 1, lines


def _per_rank_results(case, tmp_path):
    proc = run_mpi("fit_fails_together.py", case, str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [(tmp_path / f"rank{r}.txt").read_text() for r in range(2)]


def test_mpi_example_reads_its_rows_fits_and_saves(tmp_path):
    out = tmp_path / "model.pkl"
    proc = run_mpi(str(ROOT / "examples" / "mpi_fit.py"), "--out", str(out), "--hidden", "16")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "training accuracy" in proc.stdout and out.exists()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_mpi_weighted_fit_equals_serial_weighted_and_repeated_rows(task):
    proc = run_mpi("weights_agree.py", task)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("OK") == 2


def test_allreduce_bytes_per_sweep_equal_the_plan_model():
    proc = run_mpi("count_bytes.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("OK") == 2
