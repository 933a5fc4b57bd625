"""Statistics: effect sizes, pooling, sensitivity analyses, study tables and trial
sequential analysis. Imports nothing of the simulation.
"""
