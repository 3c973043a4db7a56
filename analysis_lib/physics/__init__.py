"""Physics models: cross sections, widths and lifetimes, as small pure functions."""
