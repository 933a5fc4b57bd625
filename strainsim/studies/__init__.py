"""Studies: specs (one declared schema), trials, the sweep, calibration, the activation
benchmark and the parallel runners; the only layer that combines measure, model and stats.
"""
