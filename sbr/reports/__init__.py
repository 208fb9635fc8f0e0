"""Reports: the paper's Tables 2-11 as LaTeX/CSV, Fig. 1 and Fig. 3, and an index.

Pure functions over a tidy results frame (:mod:`~sbr.reports.aggregate`,
:mod:`~sbr.reports.latex`, :mod:`~sbr.reports.plots`); reading the tracking store and
writing files happens only in :mod:`sbr.reports.build`. Importing this package
imports neither mlflow, torch nor matplotlib.
"""

from __future__ import annotations

__all__: list[str] = []
