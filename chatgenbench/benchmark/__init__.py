"""The benchmark: its records, its model catalogue, and every way of getting them.

- ``schema``: a benchmark record's fields (the ``datasets`` features);
- ``records``: turning raw annotation rows into records;
- ``catalog``: the model catalogue (name -> architecture, checkpoint or LoRA, weights);
- ``samplers``: the A1111 sampler names the arguments use;
- ``folder``: a benchmark folder on disk (Parquet splits, catalogue, info);
- ``official``, ``archives``, ``archive_images``, ``model_list``, ``inspection``: importing the
  official release (``chatgenbench prepare``) and inspecting it before import;
- ``synth``: synthetic benchmarks for tests and speed runs;
- ``loading``: :func:`~chatgenbench.benchmark.loading.load_benchmark` and ``open_benchmark``.
"""
