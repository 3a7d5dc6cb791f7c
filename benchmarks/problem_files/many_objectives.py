"""d = 12 (ten continuous, two integer), four objectives, no constraints."""
import numpy as np

bounds = [[0, 1]] * 10 + [[0, 7], [-3, 3]]
integers = [10, 11]
ref_point = [3.0, 3.0, 3.0, 3.0]


def evaluate(x):
  x = np.asarray(x)
  u = x[:10]
  return [u[0] + 0.1 * x[10], 1 - u[0] + u[1:].mean(), abs(x[11]) / 3 + u[2],
          (u[3] - 0.5) ** 2 + u[4]]
