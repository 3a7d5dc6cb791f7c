"""Inputs spanning 10^6 and 2 x 10^-3, objectives 12 orders of magnitude apart."""
import numpy as np

bounds = [[0, 1e6], [-1e-3, 1e-3]]
ref_point = [2e12, 10.0]


def evaluate(x):
  return np.array([x[0] ** 2, (x[1] * 1e3 - 0.5) ** 2 + x[0] / 1e6])
