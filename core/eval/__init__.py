"""The eval wing: comparative evaluation of two models, scoring replies with the suites' scorers, reports,
and the generate -> train -> score pipeline every suite's `train` runs.

The top wing: may import every other wing.
"""
