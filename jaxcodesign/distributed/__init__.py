"""Scale-out: device-sharded sweeps (:mod:`.sharding`), Ray as evaluation backend
(:mod:`.ray_backend`) and the append-only evaluation journal (:mod:`.journal`).

Submodules are imported on use (``from jaxcodesign.distributed import sharding``) so that importing
the package never imports Ray.
"""
