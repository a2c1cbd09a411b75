"""Replays against the database: searches (:mod:`tfnas.replay.search`), the study's tables
(:mod:`tfnas.replay.tables`), correlations (:mod:`tfnas.replay.correlations`) and figures
(:mod:`tfnas.replay.plots`). Scores come in through :mod:`db.read` only; nothing here imports
torch."""
