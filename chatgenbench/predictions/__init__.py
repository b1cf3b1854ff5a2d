"""Predictions: what a method answers, read and validated, and the contract of a method.

- ``validation``: reading a prediction file (JSONL, CSV, Parquet) and checking every row against
  the benchmark (:func:`~chatgenbench.predictions.validation.validate_predictions`);
- ``adapters``: the baseline contract (an adapter turns benchmark rows into predictions) and
  running one (``chatgenbench predict``);
- ``efficiency``: seconds per sample, device and parameters of a method (the paper's Table 5).
"""
