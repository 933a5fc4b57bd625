"""The simulation model: population, activation, curves, placement, outcomes, and the
one block simulator that runs them in order. Imports measure/ and the base modules.
"""
