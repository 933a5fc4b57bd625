"""Measurement: the activation-mapping engine, other markers, speckle tracking and
the readers of users' strain exports. Imports nothing above it.
"""
