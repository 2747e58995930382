"""Piecewise-linear activations ``h`` and their pieces.

Each activation is stored twice: as a vectorised forward function (used in
prediction and in the activation update, eq. 6) and as a list of linear
pieces ``h(z) = slope * z + offset`` on ``[lo, hi]``. The pieces are what
makes the output update (eq. 7) solvable globally in closed form: on each
piece the problem is a 1-D quadratic, so the global minimiser is the best of
one clipped stationary point per piece (paper, section 3.1).
"""

import numpy as np

_INF = np.inf


def _relu(x, out=None):
    return np.maximum(x, 0, out=out)


def _hard_sigmoid(x, out=None):
    return np.clip(x, 0, 1, out=out)


def _identity(x, out=None):
    if out is None:
        return x.copy()
    out[...] = x
    return out


#: name -> (forward function, pieces as (lo, hi, slope, offset)).
ACTIVATIONS = {
    "relu": (_relu, ((-_INF, 0.0, 0.0, 0.0), (0.0, _INF, 1.0, 0.0))),
    "hard_sigmoid": (
        _hard_sigmoid,
        ((-_INF, 0.0, 0.0, 0.0), (0.0, 1.0, 1.0, 0.0), (1.0, _INF, 0.0, 1.0)),
    ),
    "identity": (_identity, ((-_INF, _INF, 1.0, 0.0),)),
}

#: Activations with ``h(c z) = c h(z)`` for every ``c > 0``: a hidden unit's
#: incoming weights can be scaled by ``c`` and its outgoing ones by ``1 / c``
#: without changing the network (what ``balance`` uses).
POSITIVELY_HOMOGENEOUS = frozenset({"relu", "identity"})
