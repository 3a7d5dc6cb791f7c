"""jaxcodesign.surrogates: heteroscedastic teacher / student / NPN surrogates (Flax linen), and the
hybrid network + random-forest surrogate used by ``launch.surrogate`` for ranking.

Public API (see ``docs/ARCHITECTURE.md`` and ``docs/surrogates.md``): :class:`SurrogateConfig`,
:func:`fit_surrogate`, :class:`SurrogateState`, :func:`predict` -> :class:`Prediction` (also for a
:class:`HybridState`), :func:`acquisition_fn` (GOBI; ``maximise=`` gives the direction),
:class:`HybridConfig`, :func:`fit_hybrid`, :class:`HybridState`.
"""

from jaxcodesign.surrogates.hybrid import HybridConfig, HybridState, fit_hybrid, predict_hybrid
from jaxcodesign.surrogates.surrogate import (TRACE_COUNTS, Prediction, SurrogateConfig,
                                              SurrogateState, acquisition_fn, fit_surrogate,
                                              is_surrogate_state, predict)

__all__ = ["SurrogateConfig", "SurrogateState", "Prediction", "fit_surrogate", "predict",
           "acquisition_fn", "is_surrogate_state", "HybridConfig", "HybridState", "fit_hybrid",
           "predict_hybrid", "TRACE_COUNTS"]
