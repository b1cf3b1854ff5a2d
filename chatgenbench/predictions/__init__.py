"""Predictions: what a method answers, read and validated, and the contract of a method.

- ``reading``: reading a prediction file (JSONL, CSV, Parquet) into rows, bounded, parsed as data
  (:func:`~chatgenbench.predictions.reading.read_prediction_rows`);
- ``report``: what validation reports (:class:`~chatgenbench.predictions.report.Problem`,
  :class:`~chatgenbench.predictions.report.Prediction`,
  :class:`~chatgenbench.predictions.report.ValidationReport`) and the limits a file is held to;
- ``validation``: checking every row against the benchmark
  (:func:`~chatgenbench.predictions.validation.validate_predictions`);
- ``adapters``: the baseline contract (an adapter turns benchmark rows into predictions) and
  running one (``chatgenbench predict``);
- ``efficiency``: seconds per sample, device and parameters of a method (the paper's Table 5).
"""
