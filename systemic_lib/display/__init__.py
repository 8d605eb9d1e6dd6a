"""What people see: charts (draw a result they are given), report sections (what each page shows, as escaped HTML),
the report helpers a notebook calls, and the widgets for JupyterLab."""
