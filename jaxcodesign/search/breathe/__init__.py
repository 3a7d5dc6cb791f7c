"""BREATHE: second-order gradients and heteroscedastic emulation based design space exploration.

Tuli, Sheu & Jha, arXiv:2308.08666 (2023). V-BREATHE (:mod:`.vector`) searches mixed vector spaces
with surrogates of every objective and constraint (:mod:`.gp`), a hypervolume acquisition
(:mod:`.acquisition`) and GOBI with legality forcing at every step (:mod:`.optimiser`,
:mod:`.legality`); G-BREATHE (:mod:`.graph`) searches typed graph spaces with a GNN surrogate and
legal mutation / crossover proposals. See ``docs/breathe.md``.
"""

from jaxcodesign.search.breathe.legality import (VectorEncoding, encoding_from_bounds,
                                                 encoding_from_space, legality_force)
from jaxcodesign.search.breathe.vector import Breathe, BreatheConfig, minimise, propose

__all__ = ["Breathe", "BreatheConfig", "minimise", "propose", "VectorEncoding",
           "encoding_from_bounds", "encoding_from_space", "legality_force"]
