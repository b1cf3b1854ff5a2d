"""Builders for tests and demos: models with RANDOM weights, saved the ways real weights come.

Nothing here is used to score anything real. No Stable Diffusion, CLIP, HPS or ImageReward weights
can be had on our machines, so the tests (and the CPU speed runs in ``benchmarks/``) build models of
the real architectures, or tiny ones, with seeded random weights, save them in the on-disk layouts
of the real weights, and load them back through the same loaders a user's real weights take. Their
images are noise and their scores mean nothing; a result made with them must say so.

- :mod:`chatgenbench.testing.sd_models`: SD 1.5 / SDXL pipelines (tiny, or SD 1.5 full size) saved
  as diffusers folders, original-layout single files and LoRAs.
- :mod:`chatgenbench.testing.demo_weights`: ``chatgenbench weights demo``, random weights for a
  whole catalogue and for every image metric. Each metric writes its own tiny random model
  (:meth:`chatgenbench.metrics.base.ImageMetric.write_random_weights`, e.g.
  :func:`chatgenbench.metrics.clip_score.write_clip`) in the layout its loader reads.
"""
