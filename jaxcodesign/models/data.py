"""Datasets for the accuracy oracles: scikit-learn digits by default, any ``.npz`` by path.

The default data set is scikit-learn's handwritten digits (``sklearn.datasets.load_digits``: 1,797
8x8 grey-level images with values 0..16, 10 classes; it ships with scikit-learn, so nothing is
downloaded). It is split ONCE, stratified, from a seed into train / validation / test (default
60 / 20 / 20 %); the split never changes between epochs or models (one of the known traps of the
original code was a validation split re-drawn every epoch). Pixels are scaled to [0, 1] (divided by 16).

Two layouts of the same data:

* ``"image"``: float32[N, 8, 8, 1] (NHWC) for CNNs;
* ``"sequence"``: float32[N, 8, 8] = 8 tokens (image rows) of 8 features for transformers.

Any other data set is given as an ``.npz`` file with arrays ``x_train, y_train, x_val, y_val, x_test,
y_test``; :func:`load_npz` validates keys, shapes, dtypes and label ranges and raises
:class:`jaxcodesign.errors.ConfigError` naming the key and the expected shape BEFORE any training.
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import numpy as np

from jaxcodesign.errors import ConfigError

SPLIT_KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
LAYOUTS = ("image", "sequence", "raw")


class Dataset(NamedTuple):
  """A fixed train / validation / test split.

  ``x_*``: float32[N_*, ...] (the same trailing shape in all three splits); ``y_*``: int32[N_*] labels
  in ``[0, num_classes)``.
  """
  x_train: np.ndarray
  y_train: np.ndarray
  x_val: np.ndarray
  y_val: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int
  name: str

  @property
  def input_shape(self) -> tuple:
    """Shape of one example (without the batch dimension)."""
    return tuple(self.x_train.shape[1:])


def _to_layout(x: np.ndarray, layout: str, field: str) -> np.ndarray:
  """Converts a batch of 2-D images / sequences ``[N, H, W]`` or ``[N, H, W, C]`` to ``layout``."""
  if layout == "raw":
    return x
  if layout == "image":
    if x.ndim == 3:
      return x[..., None]
    if x.ndim == 4:
      return x
    raise ConfigError(f"invalid value for field {field!r}: shape {x.shape}; "
                      "allowed for layout 'image': [N, H, W] or [N, H, W, C]")
  if layout == "sequence":
    if x.ndim == 3:
      return x
    if x.ndim == 4:  # rows as tokens, (W * C) features per token
      return x.reshape(x.shape[0], x.shape[1], -1)
    raise ConfigError(f"invalid value for field {field!r}: shape {x.shape}; "
                      "allowed for layout 'sequence': [N, T, F] or [N, H, W, C]")
  raise ConfigError(f"invalid value for field 'layout': {layout!r}; allowed: {list(LAYOUTS)}")


def load_digits_dataset(seed: int = 0, layout: str = "image",
                        fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> Dataset:
  """The scikit-learn digits split into fixed stratified train / val / test sets.

  Args:
    seed: split seed (the same seed always gives the same split).
    layout: 'image' (float32[N, 8, 8, 1]) or 'sequence' (float32[N, 8, 8]: 8 tokens x 8 features).
    fractions: (train, val, test), positive, summing to 1.

  Returns:
    :class:`Dataset` with pixel values in [0, 1] (raw 0..16 divided by 16) and int32 labels 0..9.
    With the defaults: 1,077 / 360 / 360 examples.

  Raises:
    ConfigError: for an unknown layout or invalid fractions.
  """
  from sklearn.datasets import load_digits
  from sklearn.model_selection import train_test_split

  if layout not in ("image", "sequence"):
    raise ConfigError(f"invalid value for field 'layout': {layout!r}; allowed: ['image', 'sequence']")
  f = np.asarray(fractions, np.float64)
  if f.shape != (3,) or np.any(f <= 0) or abs(f.sum() - 1.0) > 1e-6:
    raise ConfigError(f"invalid value for field 'fractions': {fractions!r}; "
                      "allowed: three positive numbers (train, val, test) summing to 1")
  digits = load_digits()
  x = (digits.images.astype(np.float32) / 16.0)  # [1797, 8, 8] in [0, 1]
  y = digits.target.astype(np.int32)
  idx = np.arange(len(y))
  idx_train, idx_rest = train_test_split(idx, train_size=float(f[0]), stratify=y, random_state=seed)
  idx_val, idx_test = train_test_split(idx_rest, train_size=float(f[1] / (f[1] + f[2])),
                                       stratify=y[idx_rest], random_state=seed)
  parts = []
  for ids in (idx_train, idx_val, idx_test):
    parts += [_to_layout(x[ids], layout, "x"), y[ids]]
  return Dataset(*parts, num_classes=10, name=f"digits(seed={seed})")


def validate_arrays(arrays, name: str = "npz", layout: str = "raw",
                    num_classes: int | None = None) -> Dataset:
  """Validates a mapping with the six split arrays and returns a :class:`Dataset`.

  Checks: all of ``x_train, y_train, x_val, y_val, x_test, y_test`` present; every ``x_*`` numeric with
  at least 2 dimensions and the same per-example shape as ``x_train``; every ``y_*`` a 1-D integer
  array ``[N]`` with ``N`` equal to the length of the matching ``x_*``; labels in ``[0, num_classes)``
  (``num_classes`` defaults to ``max label + 1`` over all splits, at least 2); every split non-empty;
  all values finite.

  Raises:
    ConfigError: naming the key and the expected shape / range.
  """
  missing = [k for k in SPLIT_KEYS if k not in arrays]
  if missing:
    raise ConfigError(f"dataset {name}: missing key(s) {missing}; required keys: {list(SPLIT_KEYS)}")
  xs, ys = {}, {}
  for split in ("train", "val", "test"):
    x = np.asarray(arrays[f"x_{split}"])
    y = np.asarray(arrays[f"y_{split}"])
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.number):
      raise ConfigError(f"dataset {name}: key 'x_{split}' has shape {x.shape} and dtype {x.dtype}; "
                        "expected a numeric array [N, ...] with at least 2 dimensions")
    if x.shape[0] == 0:
      raise ConfigError(f"dataset {name}: key 'x_{split}' is empty; expected [N, ...] with N >= 1")
    if not np.all(np.isfinite(x)):
      raise ConfigError(f"dataset {name}: key 'x_{split}' contains NaN or inf values")
    if split != "train" and x.shape[1:] != xs["train"].shape[1:]:
      raise ConfigError(f"dataset {name}: key 'x_{split}' has shape {x.shape}; expected "
                        f"[N, {', '.join(str(d) for d in xs['train'].shape[1:])}] (the shape of x_train)")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
      raise ConfigError(f"dataset {name}: key 'y_{split}' has shape {y.shape}; expected [{x.shape[0]}] "
                        f"(one label per row of x_{split})")
    if not np.issubdtype(y.dtype, np.integer):
      if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
      else:
        raise ConfigError(f"dataset {name}: key 'y_{split}' has dtype {y.dtype}; expected integer labels")
    xs[split], ys[split] = x.astype(np.float32), y.astype(np.int32)
  max_label = max(int(v.max()) for v in ys.values())
  n_cls = int(num_classes) if num_classes is not None else max(2, max_label + 1)
  for split, y in ys.items():
    if int(y.min()) < 0 or int(y.max()) >= n_cls:
      raise ConfigError(f"dataset {name}: key 'y_{split}' has labels in [{int(y.min())}, {int(y.max())}]; "
                        f"expected labels in [0, {n_cls - 1}]")
  parts = []
  for split in ("train", "val", "test"):
    parts += [_to_layout(xs[split], layout, f"x_{split}"), ys[split]]
  return Dataset(*parts, num_classes=n_cls, name=name)


def load_npz(path, layout: str = "raw", num_classes: int | None = None) -> Dataset:
  """Loads and validates an ``.npz`` data set (keys ``x_train, y_train, x_val, y_val, x_test, y_test``).

  Args:
    path: file path.
    layout: 'raw' (as stored), 'image' ([N,H,W] -> [N,H,W,1]) or 'sequence' ([N,H,W,C] -> [N,H,W*C]).
    num_classes: expected number of classes (default: max label + 1).

  Raises:
    ConfigError: missing file, missing key, wrong shape / dtype, labels out of range.
  """
  p = pathlib.Path(path)
  if not p.is_file():
    raise ConfigError(f"invalid value for field 'dataset': {str(path)!r}; the file does not exist "
                      "(allowed: 'digits' or the path of an .npz file)")
  with np.load(p, allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
  return validate_arrays(arrays, name=p.name, layout=layout, num_classes=num_classes)


def load_dataset(spec="digits", seed: int = 0, layout: str = "image") -> Dataset:
  """``'digits'`` (see :func:`load_digits_dataset`), a path to an ``.npz``, or a :class:`Dataset` as is.

  Raises:
    ConfigError: for an unknown spec or an invalid file.
  """
  if isinstance(spec, Dataset):
    return spec
  if isinstance(spec, str) and spec == "digits":
    return load_digits_dataset(seed=seed, layout=layout)
  if isinstance(spec, (str, pathlib.Path)) and str(spec).endswith(".npz"):
    return load_npz(spec, layout=layout)
  raise ConfigError(f"invalid value for field 'dataset': {spec!r}; allowed: 'digits' or a path to an .npz file")
