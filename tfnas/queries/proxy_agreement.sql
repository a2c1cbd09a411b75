-- proxy_agreement.sql — do two proxies agree on which architectures are good?
--
-- Returns one row per dataset and pair of proxies (proxy_a < proxy_b alphabetically), over the
-- architectures scored by both:
--   n                 architectures scored by both proxies
--   spearman          Spearman rho between the two proxies' scores (average ranks for ties,
--                     -inf ranks lowest)
--   k                 size of the top sets compared (100 unless SET VARIABLE agreement_k = ...;)
--   top_k_overlap     architectures in both proxies' top k (higher is better; ties in score go
--                     to the lower arch_code, which matters for params and flops: they take
--                     few distinct values)
--   top_k_fraction    top_k_overlap / k
-- Every stored proxy takes part. Scores are those of the default configuration (view
-- default_scores: seed 0, batch 128, no augmentation).
--
-- Run: tfnas sql proxy_agreement [--db out/tfnas.duckdb]
WITH pairs AS (
    SELECT a.dataset, a.arch_code, a.proxy AS proxy_a, b.proxy AS proxy_b,
        a.score AS score_a, b.score AS score_b
    FROM default_scores a JOIN default_scores b
        ON a.dataset = b.dataset AND a.arch_code = b.arch_code AND a.proxy < b.proxy
), ranked AS (
    SELECT *,
        rank() OVER (PARTITION BY dataset, proxy_a, proxy_b ORDER BY score_a)
            + (count(*) OVER (PARTITION BY dataset, proxy_a, proxy_b, score_a) - 1) / 2
            AS rank_a,
        rank() OVER (PARTITION BY dataset, proxy_a, proxy_b ORDER BY score_b)
            + (count(*) OVER (PARTITION BY dataset, proxy_a, proxy_b, score_b) - 1) / 2
            AS rank_b,
        row_number() OVER (PARTITION BY dataset, proxy_a, proxy_b
                           ORDER BY score_a DESC, arch_code) AS top_a,
        row_number() OVER (PARTITION BY dataset, proxy_a, proxy_b
                           ORDER BY score_b DESC, arch_code) AS top_b
    FROM pairs
), settings AS (
    SELECT coalesce(getvariable('agreement_k'), 100) AS k
)
SELECT dataset, proxy_a, proxy_b,
    count(*) AS n,
    corr(rank_a, rank_b) AS spearman,
    any_value(k) AS k,
    count(*) FILTER (top_a <= k AND top_b <= k) AS top_k_overlap,
    count(*) FILTER (top_a <= k AND top_b <= k) / any_value(k) AS top_k_fraction
FROM ranked CROSS JOIN settings
GROUP BY dataset, proxy_a, proxy_b
ORDER BY dataset, proxy_a, proxy_b;
