"""Analysis: histograms, signal shapes, classifiers, the peak search, counting windows, samples and pseudo-data, scans and the result type."""
