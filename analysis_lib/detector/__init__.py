"""Detector and datasets: the experiments' detector models and beams, their frames, and the dataset registry."""
