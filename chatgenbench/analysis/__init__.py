"""Analyses over results: comparing two runs, step ablations, pairwise statistics.

- ``comparison``: ``chatgenbench compare`` (paired differences, permutation tests);
- ``ablation``: ``chatgenbench ablate`` (the paper's Table 6);
- ``pairwise``: win rates and the Bradley-Terry fit of the user study (Figure 4).
"""
