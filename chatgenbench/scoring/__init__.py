"""Scoring: a prediction file in, the results JSON out.

- ``evaluation``: :func:`~chatgenbench.scoring.evaluation.evaluate`, the whole run;
- ``stepwise``: the step-wise metrics per sample and per slice;
- ``images``: the image metrics over a render folder;
- ``oracle``: the step ablations (reference values for chosen steps);
- ``uncertainty``: bootstrap intervals and per-sample records;
- ``results`` and ``result_schema``: assembling the results and the schema of every key;
- ``report``: the terminal summary of a results file.
"""
