"""Input and output: ROOT ntuples with the branch mapping, published curves and tables, and the files a run writes."""
