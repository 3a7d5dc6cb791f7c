"""EdgeTran (Tuli & Jha, IEEE TMC 2024) parts that are not surrogates: the ProTran profiler of the
user's own device (:mod:`jaxcodesign.edgetran.profiler`) and GPTran grow-and-prune refinement
(:mod:`jaxcodesign.edgetran.gptran`). The device surrogates live in
:mod:`jaxcodesign.surrogates.devices`."""
