"""The run engine: ``systemic report`` plans jobs (one notebook for one service of one council), runs them on this
machine or a Dask cluster in warm kernels, and writes each report atomically."""
