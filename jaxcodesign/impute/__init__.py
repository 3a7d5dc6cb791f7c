"""jaxcodesign.impute: DINI, data imputation by neural inversion (Tuli & Jha, Sci. Rep. 2022).

* :mod:`~jaxcodesign.impute.corrupt`: MCAR, MAR, MNAR, MPAR, MSAR masks from a PRNG key.
* :mod:`~jaxcodesign.impute.dini`: the forward/reverse surrogates and the interleaved
  training / inversion loop (:func:`fit_dini`, :func:`impute_new`, :func:`forward_predict`).
* :class:`DINIImputer`: the scikit-learn transformer.
* :mod:`~jaxcodesign.impute.data`: CSV I/O with missing cells and the six DINI fixture tables.
"""

from jaxcodesign.impute import corrupt, data, dini
from jaxcodesign.impute.corrupt import STRATEGIES
from jaxcodesign.impute.dini import DINIConfig, fit_dini, forward_predict, impute_new
from jaxcodesign.impute.estimator import DINIImputer

__all__ = ["STRATEGIES", "corrupt", "data", "dini", "DINIConfig", "fit_dini", "impute_new", "forward_predict",
           "DINIImputer"]
