"""Run under ``mpiexec -n P``: the bytes each sweep's reductions move equal
the plan's model, for one and two hidden layers."""

import numpy as np
from mpi4py import MPI

from admm_sklearn._backends import MPIBackend
from admm_sklearn._engine import ADMMSolver
from admm_sklearn._plan import bytes_per_sweep, reduction_sizes


class CountingBackend(MPIBackend):
    def allreduce(self, arrays):
        self.counted.append(sum(np.asarray(a).size for a in arrays))
        return super().allreduce(arrays)


comm = MPI.COMM_WORLD
rng = np.random.default_rng(comm.Get_rank())
X = rng.normal(size=(300, 7))
for hidden, k in (((13,), 1), ((11, 6), 4)):
    Y = np.eye(k)[rng.integers(0, k, len(X))] if k > 1 else rng.integers(0, 2, (300, 1))
    sizes = (7,) + hidden + (k,)
    backend = CountingBackend()
    backend.counted = []
    backend.scatter(X, Y.astype(float), np.float32)
    solver = ADMMSolver(sizes, alpha=1e-3, dtype=np.float32, multipliers="all",
                        loss="log_loss")
    solver.initialize(backend, "forward", seed=0)
    solver.step(backend, True)
    backend.counted = []
    solver.step(backend, True)
    assert backend.counted == reduction_sizes(sizes), (backend.counted, reduction_sizes(sizes))
    assert 8 * sum(backend.counted) == bytes_per_sweep(sizes)
# W_1 solved every other sweep: its cross Gram reduces on every second sweep
sizes = (7, 13, 1)
Y = rng.integers(0, 2, (300, 1)).astype(float)
backend = CountingBackend()
backend.counted = []
backend.scatter(X, Y, np.float32)
solver = ADMMSolver(sizes, alpha=1e-3, dtype=np.float32, multipliers="all", loss="log_loss",
                    input_interval=2)
solver.initialize(backend, "forward", seed=0)
backend.counted = []
solver.step(backend, True)
solver.step(backend, True)
assert 8 * sum(backend.counted) == 2 * bytes_per_sweep(sizes, input_interval=2)
print(f"rank {comm.Get_rank()}: OK", flush=True)
