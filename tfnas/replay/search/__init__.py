"""Architecture search replayed against the precomputed table (no network is trained or scored).

- :mod:`tfnas.replay.search.arrays`: one dataset's scores, accuracies and scoring seconds as numpy
  arrays indexed by ``arch_code``.
- :mod:`tfnas.replay.search.random_search`: random search (Mellor et al. 2021, §5).
- :mod:`tfnas.replay.search.evolution`: regularized evolution (Real et al. 2019).
- :mod:`tfnas.replay.search.runs`: what every run reports (chosen arch, its accuracy,
  search time …).

Both searches run ``R`` independent runs at once, vectorised across runs with numpy.
"""

from tfnas.replay.search.arrays import ScoreTable
from tfnas.replay.search.evolution import regularized_evolution
from tfnas.replay.search.random_search import random_search
from tfnas.replay.search.runs import summarise_runs

__all__ = ["ScoreTable", "random_search", "regularized_evolution", "summarise_runs"]
