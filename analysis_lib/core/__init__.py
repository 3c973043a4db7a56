"""Core: constants and conventions, units, errors, run parameters, kinematics and data paths; imports nothing of the other stages."""
