-- seed_variance.sql — how much a proxy's score moves when only the seed changes.
--
-- Reads proxy_scores directly (all configurations, not only the default one). For each
-- architecture scored with at least two seeds under the same (dataset, proxy, batch_size,
-- augment) it takes one score per seed (the latest created_at when a seed was scored on
-- several data batches) and the sample standard deviation of its finite scores over seeds.
-- Returns one row per (dataset, proxy, batch_size, augment):
--   n_archs           architectures with >= 2 seeds
--   mean_seeds        average number of seeds per architecture
--   mean_within_sd    mean over architectures of the score's std over seeds
--   median_within_sd  median of the same
--   max_within_sd     largest of the same
--   between_arch_sd   std over architectures of their mean score (the spread a proxy ranks)
--   noise_ratio       mean_within_sd / between_arch_sd (small = the seed hardly matters)
--   n_archs_nonfinite architectures with a -inf score on some seed (left out of the stds)
--
-- Run: tfnas sql seed_variance [--db out/tfnas.duckdb]
WITH one_per_seed AS (
    SELECT *
    FROM proxy_scores
    QUALIFY row_number() OVER (PARTITION BY dataset, proxy, batch_size, augment, arch_code, seed
                               ORDER BY created_at DESC, data_fingerprint) = 1
), per_arch AS (
    SELECT dataset, proxy, batch_size, augment, arch_code,
        count(*) AS n_seeds,
        count(*) FILTER (NOT isfinite(score)) AS n_nonfinite,
        stddev_samp(score) FILTER (isfinite(score)) AS within_sd,
        avg(score) FILTER (isfinite(score)) AS mean_score
    FROM one_per_seed
    GROUP BY dataset, proxy, batch_size, augment, arch_code
    HAVING count(*) >= 2
)
SELECT dataset, proxy, batch_size, augment,
    count(*) AS n_archs,
    avg(n_seeds) AS mean_seeds,
    avg(within_sd) AS mean_within_sd,
    median(within_sd) AS median_within_sd,
    max(within_sd) AS max_within_sd,
    stddev_samp(mean_score) AS between_arch_sd,
    avg(within_sd) / stddev_samp(mean_score) AS noise_ratio,
    count(*) FILTER (n_nonfinite > 0) AS n_archs_nonfinite
FROM per_arch
GROUP BY dataset, proxy, batch_size, augment
ORDER BY dataset, proxy, batch_size, augment;
