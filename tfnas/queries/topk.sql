-- topk.sql — the k best architectures by each proxy, with their NATS-Bench accuracies.
--
-- Returns one row per (dataset, proxy, rank) with rank 1..k (k = 10 unless set beforehand with
-- SET VARIABLE topk = 20;), for every stored proxy: arch_code, arch_index, arch_str, score and
-- the accuracies test_acc_12ep, test_acc_200ep, valid_acc_12ep, valid_acc_200ep (%; NULL where
-- unknown). Higher score is better; ties go to the lower arch_code. Scores are those of the
-- default configuration (view default_scores: seed 0, batch 128, no augmentation).
--
-- Run: tfnas sql topk [--db out/tfnas.duckdb]
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY dataset, proxy ORDER BY score DESC, arch_code)
        AS rank
    FROM default_scores
)
SELECT dataset, proxy, rank, arch_code, arch_index, arch_str, score,
    test_acc_12ep, test_acc_200ep, valid_acc_12ep, valid_acc_200ep
FROM ranked
WHERE rank <= coalesce(getvariable('topk'), 10)
ORDER BY dataset, proxy, rank;
