"""DINI: data imputation by neural inversion (Tuli & Jha, "DINI: data imputation using neural
inversion for edge computing", Scientific Reports 12, 2022).

A table ``z = [x | y]`` (inputs ``x``: the first ``d - K`` columns, outputs ``y``: the last ``K``)
with missing cells is imputed by alternating, for ``rounds`` rounds,

1. **training** a forward surrogate ``f: x -> y`` and a reverse surrogate ``g: y -> x`` (Flax MLPs
   with LeakyReLU(0.01) and dropout) on the current table, the loss on OBSERVED target cells only;
2. **inversion**: the missing cells (and only those) are free variables; Adam steps (vmapped over
   rows) minimise ``|f(x) - y|^2 + |g(y, x_obs) - x|^2`` through the frozen surrogates ("neural
   inversion", GOBI on the data), clipped to the column range [0, 1] after each step; each round only
   the ``impute_fraction`` schedule of missing cells with the lowest MC-dropout std (over
   ``mc_samples`` stochastic passes) moves: the uncertainty gate of the paper;
3. **early stopping** on a validation set of OBSERVED cells (``val_fraction`` of them, hidden from the
   model and imputed like the missing cells): the round with the lowest validation RMSE is kept,
   ``patience`` rounds without improvement stop. The ground truth of the missing cells is never used.

Departures from the original code (issue 12, documented in docs/dini.md):

* real non-linearities: the original built ``nn.LeakyReLU(negative_slope=True)``, i.e. the identity,
  so its surrogates were affine (``legacy=True`` reproduces that activation only);
* the reverse surrogate is conditioned on the observed inputs as well (``g(y, x_obs, mask)``) and
  trained as a masked denoiser (``context_mask`` of the observed inputs hidden at random each step):
  a reverse map from the ``K`` outputs alone cannot recover ``d - K`` inputs;
* the start is a sklearn ``IterativeImputer`` (BayesianRidge) fill (``init``) instead of zeros, and
  the final table is the validation-chosen blend ``w_0 dini + w_1 init + sum_k w_{k+1} stack_k`` of
  the DINI result, the start fill and the ``stack`` imputers' fills (default: an ExtraTrees
  ``IterativeImputer``), weights on the simplex grid of step 0.1, chosen on the observed validation
  cells only (stacked generalisation, Wolpert 1992, with validation cells held out of every
  component);
* mixed column types: continuous, binary and ordinal columns are predicted softly (regression in
  [0, 1]); categorical columns (only when declared) are one-hot blocks predicted with a softmax and
  cross-entropy, imputed as the most probable category.

All jitted steps take fixed shapes (rows padded to :func:`jaxcodesign.padding.bucket_size`), so the
rounds never recompile (tested by the jit cache sizes in tests/test_impute_dini.py).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcodesign.errors import ConfigError, DataError, check_in
from jaxcodesign.padding import bucket_size, round_up

COLUMN_TYPES = ("continuous", "binary", "ordinal", "categorical")
INITS = ("iterative", "mean", "knn", "trees")
TREES_NEAREST = 24   # columns each column's ExtraTrees model sees in the 'trees' imputer
__all__ = ["COLUMN_TYPES", "INITS", "DINIConfig", "Schema", "DINIState", "DINIResult", "infer_types",
           "make_schema", "fit_dini", "impute_new", "forward_predict", "MLP"]


@dataclasses.dataclass(frozen=True)
class DINIConfig:
  """Hyper-parameters of :func:`fit_dini` (hashable: a static argument of the jitted steps).

  Attributes:
    hidden, layers: width and depth of both surrogates.
    dropout: dropout rate (training and MC-dropout uncertainty).
    rounds: maximum interleaved train/inversion rounds.
    train_steps: full-batch Adam steps per round; lr, weight_decay: AdamW of the surrogates.
    invert_steps: Adam steps of the inversion per round; invert_lr: its step size (normalised units).
    forward_weight: scale of the forward term's ``|f(x) - y|^2`` gradient into the inputs (the
      inversion through ``f``; 1 = plain gradient, 0 = outputs follow ``f`` but inputs only ``g``).
    context_mask: fraction of observed inputs hidden at random in each training step of the
      reverse surrogate (masked denoising).
    impute_fraction: fraction of missing cells (lowest MC-dropout std) moved in round 1; round r moves
      ``min(1, r * impute_fraction)``.
    mc_samples: stochastic passes for the MC-dropout std.
    patience: rounds without validation improvement before stopping.
    val_fraction: fraction of the observed cells held out for early stopping and the blend.
    init: start fill: 'iterative' (sklearn IterativeImputer, BayesianRidge), 'trees'
      (IterativeImputer with ExtraTreesRegressor(20 trees)), 'knn' (KNNImputer(5)) or 'mean'.
    stack: further imputers (names from :data:`INITS`, none equal to ``init``) whose fills join the
      blend; () blends the DINI result with the start fill only.
    blend: choose the weights of ``w_0 dini + w_1 init + sum_k w_{k+1} stack_k`` (simplex grid,
      step 0.1) on the validation cells; False keeps the DINI result alone.
    legacy: the original code's identity activation (``LeakyReLU(negative_slope=True)``).
  """
  hidden: int = 64
  layers: int = 2
  dropout: float = 0.1
  rounds: int = 12
  train_steps: int = 200
  lr: float = 3e-3
  weight_decay: float = 1e-4
  invert_steps: int = 20
  invert_lr: float = 2e-2
  forward_weight: float = 0.03
  context_mask: float = 0.3
  impute_fraction: float = 0.5
  mc_samples: int = 8
  patience: int = 3
  val_fraction: float = 0.05
  init: str = "iterative"
  stack: tuple = ("trees",)
  blend: bool = True
  legacy: bool = False

  def validate(self) -> "DINIConfig":
    check_in("init", self.init, INITS)
    if isinstance(self.stack, str) or not isinstance(self.stack, (tuple, list)):
      raise ConfigError(f"invalid value for field 'stack': {self.stack!r}; allowed: a tuple of names "
                        f"from {list(INITS)}")
    for name in self.stack:
      check_in("stack", name, INITS)
    if self.init in self.stack or len(set(self.stack)) != len(self.stack):
      raise ConfigError(f"invalid value for field 'stack': {self.stack!r}; allowed: distinct names "
                        f"from {list(INITS)} other than init={self.init!r}")
    for name in ("hidden", "layers", "rounds", "train_steps", "mc_samples", "patience"):
      if int(getattr(self, name)) < 1:
        raise ConfigError(f"invalid value for field {name!r}: {getattr(self, name)!r}; allowed: >= 1")
    if int(self.invert_steps) < 0:
      raise ConfigError(f"invalid value for field 'invert_steps': {self.invert_steps!r}; allowed: >= 0")
    for name in ("dropout", "context_mask", "val_fraction"):
      v = float(getattr(self, name))
      if not 0.0 <= v < 1.0:
        raise ConfigError(f"invalid value for field {name!r}: {v!r}; allowed: 0 <= value < 1")
    if not 0.0 < float(self.impute_fraction) <= 1.0:
      raise ConfigError(f"invalid value for field 'impute_fraction': {self.impute_fraction!r}; "
                        "allowed: 0 < value <= 1")
    return self


class MLP(nn.Module):
  """``layers`` x (Dense(hidden) -> LeakyReLU(0.01) -> Dropout) -> Dense(out), plus a linear skip
  Dense(out) of the input (so the surrogate is at least a linear regression). ``[..., in] -> [..., out]``."""
  hidden: int
  layers: int
  out: int
  dropout: float
  legacy: bool = False

  @nn.compact
  def __call__(self, h, deterministic: bool = True):
    skip = nn.Dense(self.out, name="skip")(h)
    for _ in range(self.layers):
      h = nn.Dense(self.hidden)(h)
      h = h if self.legacy else nn.leaky_relu(h, 0.01)
      h = nn.Dropout(self.dropout)(h, deterministic=deterministic)
    return nn.Dense(self.out)(h) + skip


# ----------------------------------------------------------------------------- schema / encoding

class Schema(NamedTuple):
  """Column layout: types, levels (normalised values of discrete columns) and the encoded width.

  Attributes:
    types: per column, one of :data:`COLUMN_TYPES`.
    levels: per column, sorted normalised level values (categorical/binary/ordinal) or None.
    n_inputs: number of input columns ``d - K``.
    enc_cols: per encoded feature, its column; a categorical column spans ``len(levels)`` features.
    enc_level: per encoded feature, its level index (-1 for a one-feature column).
  """
  types: tuple[str, ...]
  levels: tuple[Any, ...]
  n_inputs: int
  enc_cols: np.ndarray
  enc_level: np.ndarray

  @property
  def width(self) -> int:
    return int(len(self.enc_cols))

  @property
  def n_enc_inputs(self) -> int:
    return int(np.sum(self.enc_cols < self.n_inputs))


def infer_types(z: np.ndarray, max_levels: int = 20) -> tuple[str, ...]:
  """'binary' (2 observed values), 'ordinal' (integer-valued, 3..max_levels values), else
  'continuous'. Categorical is never inferred (integer codes cannot tell categories from ranks)."""
  out = []
  for j in range(z.shape[1]):
    v = z[:, j][~np.isnan(z[:, j])]
    u = np.unique(v)
    if len(u) == 2:
      out.append("binary")
    elif 3 <= len(u) <= max_levels and np.allclose(u, np.round(u)):
      out.append("ordinal")
    else:
      out.append("continuous")
  return tuple(out)


def make_schema(z_norm: np.ndarray, types: Sequence[str], n_inputs: int) -> Schema:
  """Schema of a normalised table ``z_norm [n, d]`` (NaN missing)."""
  d = z_norm.shape[1]
  if len(types) != d:
    raise ConfigError(f"invalid value for field 'column_types': {len(types)} types for {d} columns")
  enc_cols, enc_level, levels = [], [], []
  for j, t in enumerate(types):
    check_in(f"column_types[{j}]", t, COLUMN_TYPES)
    col = z_norm[:, j][~np.isnan(z_norm[:, j])]
    lv = np.unique(col) if t != "continuous" else None
    levels.append(None if lv is None else tuple(float(a) for a in lv))
    if t == "categorical":
      enc_cols += [j] * len(lv)
      enc_level += list(range(len(lv)))
    else:
      enc_cols.append(j)
      enc_level.append(-1)
  return Schema(tuple(types), tuple(levels), int(n_inputs), np.asarray(enc_cols, np.int32),
                np.asarray(enc_level, np.int32))


def encode(z: np.ndarray, schema: Schema) -> np.ndarray:
  """Normalised table (no NaN) ``[n, d]`` -> encoded ``[n, width]`` (one-hot for categorical)."""
  out = np.zeros((z.shape[0], schema.width), np.float32)
  for k, (j, lvl) in enumerate(zip(schema.enc_cols, schema.enc_level)):
    if lvl < 0:
      out[:, k] = z[:, j]
    else:
      lv = np.asarray(schema.levels[j])
      nearest = np.argmin(np.abs(z[:, j][:, None] - lv[None, :]), axis=1)
      out[:, k] = (nearest == lvl)
  return out


def decode(e: np.ndarray, schema: Schema) -> np.ndarray:
  """Encoded ``[n, width]`` -> normalised table ``[n, d]`` (categorical: the most probable level)."""
  d = len(schema.types)
  out = np.zeros((e.shape[0], d))
  for j in range(d):
    ks = np.nonzero(schema.enc_cols == j)[0]
    if schema.types[j] == "categorical":
      out[:, j] = np.asarray(schema.levels[j])[np.argmax(e[:, ks], axis=1)]
    else:
      out[:, j] = e[:, ks[0]]
  return out


class _Layout(NamedTuple):
  """Encoded features placed in a padded layout ``[x features | pad | y features | pad]`` whose
  widths are rounded up to multiples of 8 and 4, so tables of similar width share compiled steps
  (padding features are zero, never observed, never movable)."""
  pos: np.ndarray        # [W] padded position of each encoded feature
  dx: int                # padded input width
  dy: int                # padded output width
  is_cat: np.ndarray     # bool [dx + dy]
  block: np.ndarray      # float32 [dx + dy, n_blocks >= 1] categorical block membership

  def pad(self, e: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, self.dx + self.dy), np.float32)
    out[:e.shape[0], self.pos] = e
    return out

  def unpad(self, e_pad, n: int) -> np.ndarray:
    return np.asarray(e_pad)[:n][:, self.pos]


def _layout(schema: Schema) -> _Layout:
  w_in = schema.n_enc_inputs
  w_out = schema.width - w_in
  dx, dy = round_up(max(w_in, 1), 8), round_up(max(w_out, 1), 4)
  pos = np.concatenate([np.arange(w_in), dx + np.arange(w_out)]).astype(np.int32)
  cat_cols = [j for j, t in enumerate(schema.types) if t == "categorical"]
  block = np.zeros((dx + dy, max(1, len(cat_cols))), np.float32)
  for c, j in enumerate(cat_cols):
    block[pos[schema.enc_cols == j], c] = 1.0
  is_cat = np.zeros(dx + dy, bool)
  is_cat[pos] = schema.enc_level >= 0
  return _Layout(pos, dx, dy, is_cat, block)


# ----------------------------------------------------------------------------- jitted core

class _Static(NamedTuple):
  """Everything static for the jitted steps (hashable)."""
  cfg: DINIConfig
  dx: int          # encoded input width
  dy: int          # encoded output width


def _nets(st: _Static):
  c = st.cfg
  fwd = MLP(c.hidden, c.layers, st.dy, c.dropout, c.legacy)
  rev = MLP(c.hidden, c.layers, st.dx, c.dropout, c.legacy)
  return fwd, rev


def _activate(logits, is_cat, block):
  """Network outputs -> predictions in encoded space: identity for one-feature columns, softmax
  within each categorical block. Returns (pred, log_prob)."""
  m = jnp.max(jnp.where(is_cat, logits, -jnp.inf), axis=-1, keepdims=True)
  m = jnp.where(jnp.isfinite(m), m, 0.0)
  ex = jnp.exp(jnp.where(is_cat, logits - m, -jnp.inf))
  denom = ex @ block                                  # [..., blocks]
  lse = jnp.log(jnp.maximum(denom, 1e-30)) + m
  lse_f = lse @ block.T                               # per feature
  logp = logits - lse_f
  pred = jnp.where(is_cat, jnp.exp(logp), logits)
  return pred, logp


def _apply(st: _Static, params, e, ctx_mask, is_cat, block, key=None):
  """Both surrogates on encoded rows ``e [n, W]``.

  ``ctx_mask [n, W]`` (1 = hidden) hides input features from the reverse surrogate's context. The
  forward surrogate sees ``x`` whole (the inversion differentiates through it). Returns
  ``(pred [n, W], logp [n, W])``: columns ``:dx`` from ``g``, ``dx:`` from ``f``.
  """
  fwd, rev = _nets(st)
  x, y = e[..., :st.dx], e[..., st.dx:]
  mx = ctx_mask[..., :st.dx]
  det = key is None
  rngs = None if det else {"dropout": key}
  kf = None if det else jax.random.fold_in(key, 1)
  out_y = fwd.apply(params["f"], x, deterministic=det, rngs=None if det else {"dropout": kf})
  rev_in = jnp.concatenate([y, x * (1.0 - mx), mx], axis=-1)
  out_x = rev.apply(params["g"], rev_in, deterministic=det, rngs=rngs)
  logits = jnp.concatenate([out_x, out_y], axis=-1)
  return _activate(logits, is_cat, block)


def _init_params(st: _Static, key):
  fwd, rev = _nets(st)
  kf, kg = jax.random.split(key)
  return {"f": fwd.init(kf, jnp.zeros((1, st.dx))),
          "g": rev.init(kg, jnp.zeros((1, st.dy + 2 * st.dx)))}


def _optimizer(cfg: DINIConfig):
  return optax.adamw(cfg.lr, weight_decay=cfg.weight_decay)


def _train_loss(st, params, e, obs, hid, row_w, is_cat, block, key):
  """Masked-denoising loss on observed cells: MSE (one-feature columns) + CE (categorical)."""
  k_m, k_d = jax.random.split(key)
  hide = (jax.random.uniform(k_m, e.shape) < st.cfg.context_mask) & (obs > 0)
  ctx = jnp.where(hid > 0, True, hide).astype(e.dtype)      # missing cells are always hidden
  pred, logp = _apply(st, params, e, ctx, is_cat, block, k_d)
  # reverse-surrogate targets: hidden observed inputs; forward targets: all observed outputs
  tgt_w = obs * jnp.concatenate([ctx[:, :st.dx] * (obs[:, :st.dx] > 0),
                                 jnp.ones_like(e[:, st.dx:])], axis=1)
  tgt_w = tgt_w * row_w[:, None]
  sq = jnp.where(is_cat, -e * logp, (pred - e) ** 2)
  return jnp.sum(sq * tgt_w) / jnp.maximum(jnp.sum(tgt_w * jnp.where(is_cat, e, 1.0)), 1.0)


@functools.partial(jax.jit, static_argnums=0)
def _train_round(st: _Static, params, opt_state, e, obs, hid, row_w, is_cat, block, key):
  opt = _optimizer(st.cfg)

  def step(carry, k):
    p, s = carry
    loss, g = jax.value_and_grad(lambda q: _train_loss(st, q, e, obs, hid, row_w, is_cat, block, k))(p)
    upd, s = opt.update(g, s, p)
    return (optax.apply_updates(p, upd), s), loss

  (params, opt_state), losses = jax.lax.scan(step, (params, opt_state),
                                             jax.random.split(key, st.cfg.train_steps))
  return params, opt_state, losses[-1]


@functools.partial(jax.jit, static_argnums=0)
def _mc_std(st: _Static, params, e, miss, is_cat, block, key):
  """MC-dropout mean and std of the predictions ``[n, W]`` (missing inputs hidden from g)."""
  keys = jax.random.split(key, st.cfg.mc_samples)
  preds = jax.vmap(lambda k: _apply(st, params, e, miss, is_cat, block, k)[0])(keys)
  return preds.mean(0), preds.std(0)


@functools.partial(jax.jit, static_argnums=0)
def _invert_round(st: _Static, params, e, miss, movable, is_cat, block):
  """Adam on the movable missing cells of every row (vmapped over rows), clipped to [0, 1]."""
  opt = optax.adam(st.cfg.invert_lr)

  def row_loss(er, mr):
    # reverse term on the hidden (missing) inputs only, forward term on all outputs; the forward
    # term's gradient into the inputs is scaled by forward_weight (value unchanged)
    x = er[:st.dx]
    x_eff = jax.lax.stop_gradient(x) + st.cfg.forward_weight * (x - jax.lax.stop_gradient(x))
    pred, _ = _apply(st, params, jnp.concatenate([x_eff, er[st.dx:]])[None], mr[None], is_cat, block)
    w = jnp.concatenate([mr[:st.dx], jnp.ones((st.dy,))])
    return jnp.sum(w * (pred[0] - er) ** 2)

  grad_rows = jax.vmap(jax.grad(row_loss))

  def step(carry, _):
    u, s = carry
    g = grad_rows(u, miss) * movable
    upd, s = opt.update(g, s, u)
    u = jnp.clip(optax.apply_updates(u, upd), 0.0, 1.0)
    return (jnp.where(movable > 0, u, e), s), None

  (u, _), _ = jax.lax.scan(step, (e, opt.init(e)), None, length=st.cfg.invert_steps)
  return u


# ----------------------------------------------------------------------------- driver

class DINIState(NamedTuple):
  """A fitted DINI model (normalised units inside).

  Attributes:
    params: {'f': forward, 'g': reverse} Flax parameters.
    static: the static config of the jitted steps.
    schema: column layout. lo, span: per-column min-max normalisation (original units).
    alpha: the validation-chosen blend weight of the DINI result (``weights[0]``).
    weights: blend weights of (DINI, init, *stack) (sum 1).
    init_model: the fitted sklearn imputer of the start (None for 'mean'), col_mean: column means.
    stack_models: the fitted sklearn imputers of ``config.stack`` (None where 'mean' or weight 0).
    history: per round, dict(round, train_loss, val_rmse).
  """
  params: Any
  static: _Static
  schema: Schema
  lo: np.ndarray
  span: np.ndarray
  alpha: float
  init_model: Any
  col_mean: np.ndarray
  history: list
  weights: tuple
  stack_models: tuple


class DINIResult(NamedTuple):
  """Output of :func:`fit_dini`.

  Attributes:
    imputed: float64 ``[n, d]`` in original units; observed cells are the input values exactly.
    std: float64 ``[n, d]``: MC-dropout std of each imputed cell (original units; 0 at observed).
    state: the fitted :class:`DINIState`.
  """
  imputed: np.ndarray
  std: np.ndarray
  state: DINIState


def _init_fill(cfg: DINIConfig, zn: np.ndarray, seed: int, name: str | None = None):
  """Fill of a normalised table (NaN missing) by imputer ``name`` (default ``cfg.init``) and the
  fitted imputer (None for 'mean')."""
  name = cfg.init if name is None else name
  col_mean = np.nanmean(zn, axis=0)
  col_mean = np.where(np.isnan(col_mean), 0.5, col_mean)
  if name == "mean" or not np.isnan(zn).any():
    return np.where(np.isnan(zn), col_mean, zn), None, col_mean
  if name == "knn":
    from sklearn.impute import KNNImputer
    model = KNNImputer(n_neighbors=5, keep_empty_features=True)
  else:
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer
    est, near = None, None
    if name == "trees":
      from sklearn.ensemble import ExtraTreesRegressor
      est = ExtraTreesRegressor(n_estimators=20, random_state=seed, n_jobs=1)
      # at most TREES_NEAREST other columns per column (sklearn's correlation-weighted sample):
      # the trees' cost then grows linearly in the width beyond that, not quadratically; tables
      # up to TREES_NEAREST + 1 columns use every other column (unchanged)
      near = TREES_NEAREST
    model = IterativeImputer(est, max_iter=10, random_state=seed, keep_empty_features=True,
                             n_nearest_features=near)
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fill = model.fit_transform(zn)
  return np.clip(np.where(np.isnan(zn), fill, zn), 0.0, 1.0), model, col_mean


def _apply_fill(model: Any, col_mean: np.ndarray, zn: np.ndarray) -> np.ndarray:
  """Fill of new normalised rows by a fitted imputer of :func:`_init_fill` (None: column means)."""
  if model is None:
    fill = np.where(np.isnan(zn), col_mean, zn)
  else:
    import warnings
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      fill = model.transform(zn)
  return np.clip(np.where(np.isnan(zn), fill, zn), 0.0, 1.0)


def _simplex_grid(m: int, steps: int = 10) -> np.ndarray:
  """All weight vectors of length ``m`` with entries in {0, 1/steps, ..., 1} summing to 1."""
  def rec(m, left):
    if m == 1:
      return [[left]]
    return [[i] + r for i in range(left, -1, -1) for r in rec(m - 1, left - i)]
  return np.asarray(rec(m, steps), dtype=np.float64) / steps


def _gate(std: np.ndarray, miss: np.ndarray, frac: float) -> np.ndarray:
  """Movable = missing cells whose std is within the lowest ``frac`` quantile of missing stds."""
  if frac >= 1.0 or not miss.any():
    return miss.copy()
  thr = np.quantile(std[miss], frac)
  return miss & (std <= thr)


def _enc_mask(mask: np.ndarray, schema: Schema) -> np.ndarray:
  return mask[:, schema.enc_cols]


def fit_dini(key: jax.Array, x, n_outputs: int = 1, config: DINIConfig | None = None,
             column_types: Sequence[str] | None = None) -> DINIResult:
  """Imputes the NaN cells of ``x`` with DINI and returns the fitted surrogates.

  Args:
    key: JAX PRNG key (initialisation, dropout, context masks, validation cells).
    x: ``[n, d]`` numeric table in any units, NaN = missing. Columns ``d - n_outputs ..`` are the
      outputs ``y`` of the forward surrogate, the others its inputs ``x``.
    n_outputs: ``K``, ``1 <= K < d`` (a one-column table is its own output: the forward surrogate
      then has no inputs and predicts that column from nothing but its bias, like a mean fill).
    config: :class:`DINIConfig`.
    column_types: per column one of :data:`COLUMN_TYPES`; default :func:`infer_types`.

  Returns:
    :class:`DINIResult` (imputed table in original units, MC-dropout std, state).

  Raises:
    DataError: not a 2-D numeric table, or a column with no observed cell.
    ConfigError: bad ``n_outputs`` or config field.
  """
  cfg = (config or DINIConfig()).validate()
  z = np.array(x, dtype=np.float64)
  if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
    raise DataError(f"invalid value for field 'x': shape {z.shape}; allowed: [n >= 1, d >= 1]")
  if np.isinf(z).any():
    raise DataError("invalid value for field 'x': infinite cells; allowed: finite numbers or NaN")
  n, d = z.shape
  empty = np.nonzero(np.all(np.isnan(z), axis=0))[0]
  if len(empty):
    raise DataError(f"column {int(empty[0]) + 1} has no observed cell; allowed: columns with at "
                    "least one observed value")
  if d == 1:
    n_outputs = 1
  if not 1 <= int(n_outputs) <= max(1, d - 1):
    raise ConfigError(f"invalid value for field 'n_outputs': {n_outputs!r}; allowed: 1..{max(1, d - 1)}")
  lo = np.nanmin(z, axis=0)
  span = np.nanmax(z, axis=0) - lo
  span = np.where(span > 0, span, 1.0)
  zn = (z - lo) / span
  miss = np.isnan(zn)
  n_in = d - int(n_outputs) if d > 1 else 0
  types = tuple(column_types) if column_types is not None else infer_types(z)
  schema = make_schema(zn, types, n_in)

  seed = int(jax.random.randint(jax.random.fold_in(key, 7), (), 0, 2**31 - 1))
  k_val, k_init, k_loop = jax.random.split(key, 3)
  # validation cells: a random val_fraction of the observed cells (never a column's last observed)
  obs_idx = np.flatnonzero(~miss)
  n_val = int(round(cfg.val_fraction * len(obs_idx))) if miss.any() else 0
  val = np.zeros_like(miss)
  if n_val > 0:
    pick = np.asarray(jax.random.choice(k_val, len(obs_idx), (n_val,), replace=False))
    val.flat[obs_idx[pick]] = True
    for j in np.nonzero(np.all(miss | val, axis=0))[0]:
      val[np.nonzero(val[:, j])[0][0], j] = False
  hidden = miss | val
  zh = np.where(hidden, np.nan, zn)
  fill0, init_model, col_mean = _init_fill(cfg, zh, seed)

  lay = _layout(schema)
  st = _Static(cfg, lay.dx, lay.dy)
  is_cat, block = jnp.asarray(lay.is_cat), jnp.asarray(lay.block)
  rows = bucket_size(n, 64)
  e0 = lay.pad(encode(fill0, schema), rows)
  hid_e = lay.pad(_enc_mask(hidden, schema).astype(np.float32), rows)
  obs_e = lay.pad(1.0 - _enc_mask(hidden, schema).astype(np.float32), rows)
  row_w = (np.arange(rows) < n).astype(np.float32)
  params = _init_params(st, k_init)
  opt_state = _optimizer(cfg).init(params)
  e = jnp.asarray(e0)
  obs_j, hid_j, roww_j = jnp.asarray(obs_e), jnp.asarray(hid_e), jnp.asarray(row_w)
  hid_bool = hid_e > 0

  def val_rmse(e_now):
    if not val.any():
      return 0.0
    zd = decode(lay.unpad(e_now, n), schema)
    return float(np.sqrt(np.mean((zd[val] - zn[val]) ** 2)))

  history = [{"round": 0, "train_loss": float("nan"), "val_rmse": val_rmse(e0)}]
  best = (np.inf, 0, np.asarray(e0))
  stale = 0
  std_now = np.zeros_like(e0)
  for r in range(1, cfg.rounds + 1):
    k_loop, k_t, k_s = jax.random.split(k_loop, 3)
    params, opt_state, loss = _train_round(st, params, opt_state, e, obs_j, hid_j, roww_j, is_cat,
                                           block, k_t)
    _, std = _mc_std(st, params, e, hid_j, is_cat, block, k_s)
    std_now = np.asarray(std)
    movable = _gate(std_now, hid_bool, min(1.0, r * cfg.impute_fraction)).astype(np.float32)
    e = _invert_round(st, params, e, hid_j, jnp.asarray(movable), is_cat, block)
    v = val_rmse(e)
    history.append({"round": r, "train_loss": float(loss), "val_rmse": v})
    # patience counts against the best DINI round (round 0, the start fill, stays a candidate of the
    # blend below but does not stop the surrogates while they are still learning)
    if r == 1 or v < best[0] - 1e-6:
      best, stale = (v, r, np.asarray(e)), 0
    else:
      stale += 1
      if stale >= cfg.patience:
        break
  # the imputation of the best validation round is kept; the surrogates keep all their training
  # (they are fitted to observed cells only, so more training is not selected on the imputation)
  _, best_round, e_best = best
  z_dini = decode(lay.unpad(e_best, n), schema)
  grid = _simplex_grid(2 + len(cfg.stack))   # weights of (DINI, init, *stack)
  weights = grid[0]                          # (1, 0, ..., 0): the DINI result alone
  fills = [fill0] + [None] * len(cfg.stack)
  stack_models = [None] * len(cfg.stack)
  if cfg.blend and val.any():
    cands = [fill0] + [_init_fill(cfg, zh, seed, nm)[0] for nm in cfg.stack]
    # ties keep the first grid point, i.e. the most DINI weight
    errs = [float(np.sqrt(np.mean((_blend(z_dini, cands, w, schema)[val] - zn[val]) ** 2)))
            for w in grid]
    weights = grid[int(np.argmin(errs))]
    # refitted on ALL observed cells (the validation cells were hidden while the weights were
    # chosen): the start imputer always (impute_new starts from it), the others where weighted
    zo = np.where(miss, np.nan, zn)
    fills[0], init_model, col_mean = _init_fill(cfg, zo, seed)
    for i, nm in enumerate(cfg.stack):
      if weights[2 + i] > 0:
        fills[1 + i], stack_models[i], _ = _init_fill(cfg, zo, seed, nm)
  zb = _blend(z_dini, fills, weights, schema)
  out_n = np.where(miss, zb, zn)
  imputed = np.where(miss, out_n * span + lo, z)
  std_cells = np.where(miss, _cell_std(lay.unpad(std_now, n), schema) * span, 0.0)
  state = DINIState(params, st, schema, lo, span, float(weights[0]), init_model, col_mean, history,
                    tuple(float(w) for w in weights), tuple(stack_models))
  return DINIResult(imputed, std_cells, state)


def _blend(z_dini, fills, weights, schema: Schema):
  """``sum_i w_i z_i`` over (DINI, *fills) (components of weight 0 may be None); a categorical
  column takes the level of the component of largest weight (ties: the first)."""
  comps = [z_dini] + list(fills)
  out = np.zeros_like(z_dini)
  for w, c in zip(weights, comps):
    if w > 0:
      out = out + w * c
  top = comps[int(np.argmax(weights))]
  for j, t in enumerate(schema.types):
    if t == "categorical":
      out[:, j] = top[:, j]
  return out


def impute_new(state: DINIState, x, key: jax.Array | None = None) -> DINIResult:
  """Imputes the NaN cells of new rows with fitted surrogates (inversion only, no training).

  The start fill comes from the fitted start imputer; ``rounds`` inversion rounds with the same
  uncertainty gate; the fitted weights blend the result with the start and stack imputers' fills of
  the new rows. Observed cells are returned exactly. Raises DataError for a wrong number of columns.
  """
  st, schema = state.static, state.schema
  z = np.array(x, dtype=np.float64)
  d = len(schema.types)
  if z.ndim != 2 or z.shape[1] != d:
    raise DataError(f"invalid value for field 'x': shape {z.shape}; allowed: [n, {d}] as in fit")
  n = z.shape[0]
  zn = (z - state.lo) / state.span
  miss = np.isnan(zn)
  fill0 = _apply_fill(state.init_model, state.col_mean, zn)
  if not miss.any():
    return DINIResult(z.copy(), np.zeros_like(z), state)
  key = jax.random.key(0) if key is None else key
  lay = _layout(schema)
  is_cat, block = jnp.asarray(lay.is_cat), jnp.asarray(lay.block)
  rows = bucket_size(n, 64)
  e = jnp.asarray(lay.pad(encode(fill0, schema), rows))
  hid = lay.pad(_enc_mask(miss, schema).astype(np.float32), rows)
  hid_j = jnp.asarray(hid)
  std_now = np.zeros_like(hid)
  n_rounds = max(1, sum(1 for h in state.history if h["round"] > 0))
  for r in range(1, n_rounds + 1):
    key, k_s = jax.random.split(key)
    _, std = _mc_std(st, state.params, e, hid_j, is_cat, block, k_s)
    std_now = np.asarray(std)
    movable = _gate(std_now, hid > 0, min(1.0, r * st.cfg.impute_fraction)).astype(np.float32)
    e = _invert_round(st, state.params, e, hid_j, jnp.asarray(movable), is_cat, block)
  fills = [fill0] + [_apply_fill(m, state.col_mean, zn) if w > 0 else None
                     for w, m in zip(state.weights[2:], state.stack_models)]
  zb = _blend(decode(lay.unpad(e, n), schema), fills, state.weights, schema)
  imputed = np.where(miss, zb * state.span + state.lo, z)
  std_cells = _cell_std(lay.unpad(std_now, n), schema) * state.span
  return DINIResult(imputed, np.where(miss, std_cells, 0.0), state)


def _cell_std(std_enc: np.ndarray, schema: Schema) -> np.ndarray:
  """Per-cell std ``[n, d]`` from encoded stds (a categorical column: the max over its levels)."""
  out = np.zeros((std_enc.shape[0], len(schema.types)))
  for j in range(len(schema.types)):
    out[:, j] = std_enc[:, schema.enc_cols == j].max(axis=1)
  return out


def forward_predict(state: DINIState, x_inputs) -> np.ndarray:
  """The trained forward surrogate on complete new input rows.

  Args:
    x_inputs: ``[m, d - K]`` input columns in original units (no NaN).

  Returns:
    float64 ``[m, K]`` predicted outputs in original units (categorical outputs: the most probable
    level).

  Raises:
    DataError: wrong width or NaN inputs.
  """
  st, schema = state.static, state.schema
  d_in = schema.n_inputs
  xi = np.asarray(x_inputs, dtype=np.float64)
  if xi.ndim != 2 or xi.shape[1] != d_in or np.isnan(xi).any():
    raise DataError(f"invalid value for field 'x_inputs': shape {xi.shape}; allowed: [m, {d_in}] "
                    "complete input rows")
  d = len(schema.types)
  zn = np.zeros((xi.shape[0], d))
  zn[:, :d_in] = (xi - state.lo[:d_in]) / state.span[:d_in]
  lay = _layout(schema)
  e = jnp.asarray(lay.pad(encode(zn, schema), xi.shape[0]))
  pred, _ = _apply(st, state.params, e, jnp.zeros_like(e), jnp.asarray(lay.is_cat),
                   jnp.asarray(lay.block))
  zd = decode(lay.unpad(pred, xi.shape[0]), schema)
  return zd[:, d_in:] * state.span[d_in:] + state.lo[d_in:]
