"""Simulation: event generators, detector response, and the cached production of ntuples."""
