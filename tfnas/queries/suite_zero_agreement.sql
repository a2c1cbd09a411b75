-- suite_zero_agreement.sql — do imported NAS-Bench-Suite-Zero scores rank the architectures as
-- tfnas's own scores of the same proxy do?
--
-- Returns one row per imported file, dataset and proxy that tfnas also holds, over the
-- architectures both hold:
--   source     the import's data_fingerprint: 'suite-zero:' + 16 hex of the file's SHA-256
--   dataset, proxy   (tfnas's proxy name: NASLib's nwot is naswot)
--   n          architectures both hold
--   spearman   Spearman rho between Suite-Zero's and tfnas's scores (average ranks for ties,
--              -inf lowest); 1 = the same ranking
-- Suite-Zero's rows are as `tfnas db import --format suite-zero FILE` stored them (seed 0,
-- batch 32; names, units and signs converted to tfnas's: db/suite_zero.py); tfnas's are the
-- default configuration (view default_scores: seed 0, batch 128, no augmentation). Low values
-- for a data-free proxy (params, flops, synflow) would mean a wrong architecture mapping.
-- `tfnas db import` prints the same numbers (computed with scipy) after importing.
--
-- Run: tfnas sql suite_zero_agreement [--db out/tfnas.duckdb]
WITH pairs AS (
    SELECT s.data_fingerprint AS source, s.dataset, s.proxy, s.arch_code,
        s.score AS suite_zero, t.score AS tfnas
    FROM proxy_scores s JOIN default_scores t USING (dataset, proxy, arch_code)
    WHERE s.data_fingerprint LIKE 'suite-zero:%'
), ranked AS (
    SELECT *,
        rank() OVER (PARTITION BY source, dataset, proxy ORDER BY suite_zero)
            + (count(*) OVER (PARTITION BY source, dataset, proxy, suite_zero) - 1) / 2
            AS rank_suite_zero,
        rank() OVER (PARTITION BY source, dataset, proxy ORDER BY tfnas)
            + (count(*) OVER (PARTITION BY source, dataset, proxy, tfnas) - 1) / 2
            AS rank_tfnas
    FROM pairs
)
SELECT source, dataset, proxy, count(*) AS n, corr(rank_suite_zero, rank_tfnas) AS spearman
FROM ranked
GROUP BY source, dataset, proxy
ORDER BY source, dataset, proxy;
