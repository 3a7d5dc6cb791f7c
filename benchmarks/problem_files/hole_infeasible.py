"""Two objectives; infeasible in a slab 10 % wide in the third input."""
bounds = [[0, 1], [0, 1], [0, 1]]
ref_point = [1.5, 1.5]


def evaluate(x):
  return [x[0], 1 - x[0] + x[1]]


def constraints(x):
  return [0.05 - abs(x[2] - 0.77)]
