"""Anchored alternating minimisation after a layer-wise fit (a failed idea).

Fits the layer-wise ``ADMMClassifier`` (seed given, 75/25 stratified split,
standardised inputs), then runs sweeps that start every time from the
network's own forward pass: the output pre-activations step towards the
+-1 targets (``z* = (y + beta z) / (1 + beta)``, the squared loss's
proximal step), each layer's target activations come from the layer above
by the ADMM activation solve anchored at the forward activations
(``(beta W^T W + gamma I) a = beta W^T (z* - b) + gamma a_fwd``), its
pre-activation targets from the ReLU step anchored at the forward
pre-activations, and every layer is refitted by least squares on its
forward inputs with a proximal term ``rho n ||W - W_old||^2``. No state is
kept between sweeps, so the sweeps cannot drift from the network, the
failure of joint sweeps from a layer-wise start. Prints test and training
accuracy::

    python benchmarks/depth_anchored_altmin.py parity_3_of_10 0 100,100 10 1 1e-4 100

(arguments: set, seed, hidden sizes, beta, gamma, rho, sweeps). See
docs/what_we_tried.rst, "Depth".
"""
import sys, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import numpy as np
from accuracy import load, standardised_split
from admm_sklearn import ADMMClassifier
warnings.simplefilter("ignore")
if len(sys.argv) < 8:
    sys.exit(__doc__)
name, seed = sys.argv[1], int(sys.argv[2]); hidden = tuple(int(h) for h in sys.argv[3].split(","))
beta, gamma, rho, sweeps = (float(v) for v in sys.argv[4:8])
X, y = load(name)
Xtr, Xte, ytr, yte = standardised_split(X, y, seed)
clf = ADMMClassifier(random_state=seed, hidden_layer_sizes=hidden).fit(Xtr, ytr)
print("layerwise", clf.score(Xte, yte), clf.score(Xtr, ytr), flush=True)
Ws = [c.T.copy() for c in clf.coefs_]; bs = [b.copy() for b in clf.intercepts_]
classes = clf.classes_
Y = (ytr[:, None] == classes[None, :]).astype(float) * 2 - 1
if len(classes) == 2: Y = Y[:, 1:]
def fwd(A):
    zs, As = [], [A]
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = As[-1] @ W.T + b; zs.append(z)
        As.append(np.maximum(z, 0) if l < len(Ws) - 1 else z)
    return zs, As
def acc(A, yy):
    z = fwd(A)[0][-1]
    p = classes[(z[:, 0] > 0).astype(int)] if z.shape[1] == 1 else classes[z.argmax(1)]
    return np.mean(p == yy)
def relu_z(a_t, z0, beta, gamma):
    # argmin gamma (a_t - relu(z))^2 + beta (z - z0)^2, entrywise
    zpos = np.maximum((gamma * a_t + beta * z0) / (gamma + beta), 0)
    zneg = np.minimum(z0, 0)
    fpos = gamma * (a_t - zpos) ** 2 + beta * (zpos - z0) ** 2
    fneg = gamma * a_t ** 2 + beta * (zneg - z0) ** 2
    return np.where(fpos <= fneg, zpos, zneg)
def lsq(A, Z, W, b, rho):
    n = len(A); A1 = np.hstack([A, np.ones((n, 1))])
    G = A1.T @ A1; R = rho * n * np.eye(G.shape[0]); R[-1, -1] = 0
    Wb0 = np.hstack([W, b[:, None]]).T
    sol = np.linalg.solve(G + R, A1.T @ Z + R @ Wb0)
    return sol[:-1].T, sol[-1]
for s in range(1, int(sweeps) + 1):
    zs, As = fwd(Xtr)
    L = len(Ws)
    zt = (Y + beta * zs[-1]) / (1 + beta)  # squared loss prox toward labels
    targets = [None] * L; targets[-1] = zt
    for l in range(L - 1, 0, -1):
        W, b = Ws[l], bs[l]
        M = beta * W.T @ W + gamma * np.eye(W.shape[1])
        at = np.linalg.solve(M, (beta * (targets[l] - b) @ W + gamma * As[l]).T).T
        targets[l - 1] = relu_z(at, zs[l - 1], beta, gamma)
    for l in range(L):
        Ws[l], bs[l] = lsq(As[l], targets[l], Ws[l], bs[l], rho)
    if s % max(1, int(sweeps) // 10) == 0 or s <= 2:
        print(f"sweep {s} test {acc(Xte, yte):.4f} train {acc(Xtr, ytr):.4f}", flush=True)
