"""Every number we compare with, in one place: the paper ("Distilling Reinforcement Learning into
Single-Batch Datasets": Tables 1, 2, 3, 5 and its cost figures) and HaDES (behaviour distillation
with evolution strategies: its MinAtar and brax results). Mean ± std as published; no JAX.

Keys: Table 1 by ``(N, k)`` (N-D cart-pole, k states) and learner-distribution name
(``networks.distributions.DIST_NAMES``: ``ortho`` is Λ); MuJoCo by our task names
(``tasks.mujoco.ENVS``); Atari and MinAtar by game name.
"""

from __future__ import annotations

import math

# ----------------------------------------------------------------------------------------------
# Table 1: N-D cart-pole, k-shot over 1000 learners (mean, std). Columns: Λ (the training
# distribution), Ortho std=1, Xe, Xe std=1, Random h (width 32..256), Random L (1..6 hidden layers;
# the authors' code had no activations for this one).
TABLE1_COLUMNS = ("ortho", "ortho-std1", "xe", "xe-std1", "random-h", "random-L")
_T1 = {
    (1, 2): ((500, 0), (269, 204), (202, 212), (278, 212), (500, 0), (500, 0)),
    (1, 512): ((500, 0), (291, 227), (178, 211), (280, 204), (499, 6.4), (500, 0)),
    (2, 3): ((364, 151), (15.4, 12.6), (68.1, 58.6), (69.1, 60.9), (433, 124), (417, 160)),
    (2, 512): ((339, 144), (17.2, 15.2), (71.3, 62.2), (73.2, 61.6), (445, 122), (445, 117)),
    (3, 4): ((261, 118), (12.4, 3.7), (41.7, 27.9), (43.3, 30.1), (375, 141), (331, 171)),
    (3, 512): ((245, 114), (12.6, 3.7), (43.5, 29.3), (45.9, 28.5), (421, 134), (387, 135)),
    (4, 5): ((128, 40.8), (12.2, 2.3), (36.5, 19.1), (36.0, 18.6), (164, 58.5), (159, 65.6)),
    (4, 512): ((129, 41.5), (12.3, 2.8), (39.6, 18.7), (39.3, 18.4), (200, 71.1), (189, 52.3)),
    (5, 6): ((88.4, 29.5), (12.7, 2.5), (36.6, 14.6), (36.3, 14.3), (109, 35.1), (125, 50.9)),
    (5, 512): ((85.4, 28.1), (13.0, 2.5), (42.9, 15.5), (42.0, 15.2), (142, 15.2), (160, 37.1)),
}
TABLE1: dict[tuple[int, int], dict[str, tuple[float, float]]] = {
    cell: dict(zip(TABLE1_COLUMNS, row)) for cell, row in _T1.items()}
# The paper's Random-L cells came from learners without activations (the authors' code).
TABLE1_ALIASES = {"random-L-noact": "random-L"}
# The k_min - 1 claim: 2-D cart-pole at k = 2 scores about 40.6.
KMIN_MINUS_ONE = {(2, 2): 40.6}


def table1_cell(dims: int, k: int, dist: str) -> tuple[float, float] | None:
    """(mean, std) of the paper's Table 1 for ``dist`` at (N = dims, k), or None if not reported."""
    row = TABLE1.get((dims, k), {})
    return row.get(dist, row.get(TABLE1_ALIASES.get(dist, ""), None))


def table1_lambda(dims: int, k: int) -> float | None:
    """The Λ-column mean at (N, k), or the k_min - 1 claim's value; None if the paper has none."""
    cell = table1_cell(dims, k, "ortho")
    return cell[0] if cell else KMIN_MINUS_ONE.get((dims, k))


def cartpole_kmin(dims: int) -> int:
    """Eq. 3 for N-D cart-pole (c = 2N actions): k_min = ceil(2N / 2) + 1 = N + 1."""
    return kmin_for(2 * dims)


def kmin_for(num_actions: int) -> int:
    """Eq. 3: k_min = ceil(c / 2) + 1 for c discrete actions."""
    return math.ceil(num_actions / 2) + 1


# ----------------------------------------------------------------------------------------------
# Table 2: Atari, k = k_min, encoder rollback (end-episode reward at convergence; None = "–",
# never above random). "*" in the paper (not converged) is kept in TABLE2_NOT_CONVERGED.
TABLE2_COLUMNS = ("RL", "l=4", "l=3", "l=2", "l=1", "full")
TABLE2: dict[str, dict[str, tuple[float, float] | None]] = {
    "Centipede": {"RL": (8160, 4207), "l=4": (8597, 4769), "l=3": (8168, 4607), "l=2": (8243, 4760),
                  "l=1": (8121, 4386), "full": (8083, 4811)},
    "SpaceInvaders": {"RL": (1947, 464), "l=4": (2153, 804), "l=3": (1591, 652), "l=2": (710, 277),
                      "l=1": None, "full": (285, 16)},
    "MsPacman": {"RL": (3894, 839), "l=4": (3352, 455), "l=3": (2980, 956), "l=2": (2563, 1323),
                 "l=1": None, "full": (403, 281)},
    "Pong": {"RL": (17.3, 3.8), "l=4": (21.0, 0.1), "l=3": (12.4, 6.4), "l=2": None, "l=1": None, "full": None},
}
TABLE2_NOT_CONVERGED = {("SpaceInvaders", "l=3"), ("SpaceInvaders", "l=2"), ("SpaceInvaders", "full"),
                        ("MsPacman", "full"), ("Pong", "l=3")}
# Outer epochs to apparent convergence (Table 2's notes).
TABLE2_EPOCHS = {"Centipede": {"RL": 1000, "l=4": 3000, "l=3": 4000, "l=2": 5000, "l=1": 40_000, "full": 8000},
                 "Pong": {"RL": 5000, "l=4": 17_000}}
# Table 5: k_min per game (c actions).
KMIN_TABLE5 = {"Centipede": 10, "MsPacman": 6, "Pong": 4, "SpaceInvaders": 4}

# Cost on an A100 (Section 4.4 / Figure 5).
COST = {"distill_epoch_s": 3.73, "rl_epoch_s": 3.25, "learner_train_s": 0.18, "centipede_full_distill_s": 29_840}

# ----------------------------------------------------------------------------------------------
# Table 3: MuJoCo-v4, k = 64 (mean, std): the RL (PPO) column and full distillation.
TABLE3_RL = {"ant": (4919, 1488), "halfcheetah": (4486, 1359), "hopper": (2204, 765), "humanoid": (1602, 1097),
             "humanoidstandup": (212_265, 86_359), "inverted_double_pendulum": (8781, 1973),
             "reacher": (-5.23, 1.83), "walker2d": (4299, 1156)}
TABLE3 = {"ant": (3485, 953), "halfcheetah": (2526, 693), "hopper": (1858, 1012), "humanoid": (543.3, 127.7),
          "humanoidstandup": (139_717, 17_699), "inverted_double_pendulum": (1365, 2145),
          "reacher": (-8.00, 3.43), "walker2d": (200.8, 257.3)}

# ----------------------------------------------------------------------------------------------
# HaDES: published final population-mean fitness, mean of 3 seeds.
# brax, dataset size 64: HaDES-R (HaDES-F, fixed init). brax returns are NOT MuJoCo-v4 returns.
HADES_BRAX = {"hopper": (1787, 1837), "walker2d": (2438, 2722), "halfcheetah": (3318, 3628), "ant": (267, 1193),
              "humanoid": (1715, 4563), "humanoidstandup": (223_000, 251_000),
              "inverted_double_pendulum": (7715, 9091), "reacher": (-162, -195)}
HADES_HOPPER_SIZE_SWEEP = {4: 1745, 16: 1771, 64: 1802, 256: 1782}
# MinAtar (gymnax), dataset size 16, fixed one-hot labels.
HADES_MINATAR = {"Breakout": 11.9, "SpaceInvaders": 24.2, "Asterix": 5.3, "Freeway": 0.0}
HADES_MINATAR_K = 16
