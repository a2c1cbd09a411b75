-- correlations.sql — how well each proxy ranks architectures by their NATS-Bench accuracy.
--
-- Returns one row per (dataset, proxy, accuracy), accuracy being one of the columns
-- test_acc_12ep, test_acc_200ep, valid_acc_12ep, valid_acc_200ep, for every stored proxy:
--   n            architectures with both a score and that accuracy
--   n_nonfinite  how many of them score -inf (e.g. a singular NASWOT kernel)
--   pearson      Pearson r of score vs accuracy over the finite scores only
--   spearman     Spearman rho over all n: Pearson r of average ranks (ties share the mean of
--                their ranks, as scipy.stats.spearmanr does); -inf scores rank lowest
-- Scores are those of the default configuration (view default_scores: seed 0, batch 128, no
-- augmentation; another configuration: the view scores with a WHERE on seed, batch_size,
-- augment). Higher is better for every proxy, so a good proxy has a positive correlation.
--
-- Run: tfnas sql correlations [--db out/tfnas.duckdb]
WITH accuracies AS (
    UNPIVOT (SELECT dataset, arch_code, test_acc_12ep, test_acc_200ep, valid_acc_12ep,
                    valid_acc_200ep FROM arch_accuracies)
    ON test_acc_12ep, test_acc_200ep, valid_acc_12ep, valid_acc_200ep
    INTO NAME accuracy VALUE accuracy_pct
), pairs AS (
    SELECT dataset, proxy, accuracy, score, accuracy_pct
    FROM default_scores JOIN accuracies USING (dataset, arch_code)
), ranked AS (
    -- average rank = lowest rank of the tie group + (size of the tie group - 1) / 2
    SELECT *,
        rank() OVER (PARTITION BY dataset, proxy, accuracy ORDER BY score)
            + (count(*) OVER (PARTITION BY dataset, proxy, accuracy, score) - 1) / 2
            AS score_rank,
        rank() OVER (PARTITION BY dataset, proxy, accuracy ORDER BY accuracy_pct)
            + (count(*) OVER (PARTITION BY dataset, proxy, accuracy, accuracy_pct) - 1) / 2
            AS accuracy_rank
    FROM pairs
)
SELECT dataset, proxy, accuracy,
    count(*) AS n,
    count(*) FILTER (NOT isfinite(score)) AS n_nonfinite,
    corr(score, accuracy_pct) FILTER (isfinite(score)) AS pearson,
    corr(score_rank, accuracy_rank) AS spearman
FROM ranked
GROUP BY dataset, proxy, accuracy
ORDER BY dataset, proxy, accuracy;
