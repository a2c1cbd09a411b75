"""Architecture search replayed against the precomputed table (no network is trained or scored).

- :mod:`tfnas.search.arrays`: one dataset's scores, accuracies and scoring seconds as numpy
  arrays indexed by ``arch_code``.
- :mod:`tfnas.search.random_search`: random search (Mellor et al. 2021, §5).
- :mod:`tfnas.search.evolution`: regularized evolution (Real et al. 2019).
- :mod:`tfnas.search.runs`: what every run reports (chosen arch, its accuracy, search time …).

Both searches run ``R`` independent runs at once, vectorised across runs with numpy.
"""

from tfnas.search.arrays import ScoreTable
from tfnas.search.evolution import regularized_evolution
from tfnas.search.random_search import random_search
from tfnas.search.runs import summarise_runs

__all__ = ["ScoreTable", "random_search", "regularized_evolution", "summarise_runs"]
