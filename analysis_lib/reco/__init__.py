"""Reconstruction: candidates, event shapes and selections from ntuple events; runs on real ntuples, so it imports nothing of the simulation."""
