"""Which sweeps solve the first layer's weights: every one, or every other on wide inputs.

On inputs much wider than the first hidden layer a sweep's time goes to
two products with the inputs: ``W_1 a_0`` for the ``z_1`` update (eq. 7)
and ``z_1 [a_0; 1]^T`` for the next ``W_1`` solve (eq. 3), ``2 n d_0 d_1``
multiply-adds each, against ``O(n d_1 (d_2 + c))`` for the rest of the
sweep (MNIST's 784 pixels, (100,): 27.7 of 46 ms a sweep on 2 cores).
Solving ``W_1`` every ``k``-th sweep only, the sweeps in between keep
``W_1`` (and so ``W_1 a_0 + b_1``, kept per shard) and update everything
else; the cross Gram is formed on the sweep before a solve. With ``k = 2``
each sweep multiplies by the inputs once instead of twice. Every other
sub-step is unchanged, so each sweep still lowers the penalty objective
over the blocks it updates.

Measured (``docs/what_we_tried.rst``, "Wide and sparse inputs"): on wide
dense inputs a held ``W_1`` costs no learning per sweep (MNIST, seed 0:
0.9372 after 290 sweeps against 0.9380 after 270; the SVHN shape 0.9600
against 0.9623, 290 sweeps both), while on narrow inputs, where layer 1
is where the network learns and its products are cheap, it does (spirals
0.865 against 0.885), so ``'auto'`` holds ``W_1`` only on wide ones.
"""

#: ``input_solve_interval='auto'``: inputs at least this many times as wide
#: as the first hidden layer count as wide ...
WIDE_INPUT_RATIO = 4
#: ... and have ``W_1`` solved every this many sweeps (the rest: every sweep).
WIDE_INPUT_INTERVAL = 2


def resolve_interval(interval, layer_sizes, mostly_zeros):
    """Sweeps between two solves of ``W_1`` for ``interval`` (an int or
    ``'auto'``), network ``layer_sizes`` ``(d_0, d_1, ..., d_L)``.
    ``mostly_zeros``: whether the inputs are sparse data (text, one-hot
    codes; :func:`~admm_sklearn._input_solve.make_input_solve` decides, by
    density, so that sparse and dense storage give one model), whose
    products cost their stored entries, not ``d_0``: those keep every
    sweep. A network without hidden layers solves its only layer every
    sweep."""
    if len(layer_sizes) < 3:
        return 1
    if interval != "auto":
        return int(interval)
    wide = not mostly_zeros and layer_sizes[0] >= WIDE_INPUT_RATIO * layer_sizes[1]
    return WIDE_INPUT_INTERVAL if wide else 1


def input_step(interval, sweep):
    """``(solve, cross)`` at sweep number ``sweep`` (0-based): whether ``W_1``
    is solved at its start, and whether its pass forms the cross Gram that
    the next solve needs (on the sweep just before it)."""
    return sweep % interval == 0, (sweep + 1) % interval == 0
