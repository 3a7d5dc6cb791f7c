"""jaxcodesign.surrogates: heteroscedastic teacher / student / NPN surrogates (Flax linen).

Public API (see ``docs/ARCHITECTURE.md``): :class:`SurrogateConfig`, :func:`fit_surrogate`,
:class:`SurrogateState`, :func:`predict` -> :class:`Prediction`, :func:`acquisition_fn`.
"""

from jaxcodesign.surrogates.surrogate import (TRACE_COUNTS, Prediction, SurrogateConfig,
                                              SurrogateState, acquisition_fn, bucket_size,
                                              fit_surrogate, predict)

__all__ = ["SurrogateConfig", "SurrogateState", "Prediction", "fit_surrogate", "predict",
           "acquisition_fn", "bucket_size", "TRACE_COUNTS"]
