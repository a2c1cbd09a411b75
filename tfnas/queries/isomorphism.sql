-- isomorphism.sql — how much proxy scores and accuracies vary WITHIN classes of isomorphic
-- cells (architectures.iso_class: 6,466 classes of cells that compute the same function).
--
-- Returns one row per (dataset, quantity), quantity being every stored proxy (default
-- configuration, view default_scores) and every accuracy column, over the classes with at least
-- two members that have a finite value:
--   classes              such classes
--   members              their architectures
--   identical            classes whose members all have exactly the same value
--   mean_within_sd       mean over those classes of the members' standard deviation
--   max_within_range     the largest max - min inside one class
--   between_sd           standard deviation of the class means (over every class)
--   within_between       mean_within_sd / between_sd (0: the quantity depends only on the
--                        function; for accuracies: the benchmark's own noise floor)
-- A proxy with within_between > 0 scores isomorphic cells differently: it measures something
-- besides the function the cell computes (e.g. how many weights sit on edges that add nothing).
--
-- Run: tfnas sql isomorphism [--db out/tfnas.duckdb]
WITH accuracy AS (
    UNPIVOT (SELECT dataset, arch_code, test_acc_12ep, test_acc_200ep, valid_acc_12ep,
                    valid_acc_200ep FROM arch_accuracies)
    ON test_acc_12ep, test_acc_200ep, valid_acc_12ep, valid_acc_200ep
    INTO NAME quantity VALUE value
), observed AS (
    SELECT dataset, iso_class, proxy AS quantity, score AS value FROM default_scores
    UNION ALL
    SELECT dataset, iso_class, quantity, value FROM accuracy JOIN architectures USING (arch_code)
), per_class AS (
    SELECT dataset, quantity, iso_class, count(*) AS n, avg(value) AS mean,
        stddev_pop(value) AS sd, max(value) - min(value) AS spread
    FROM observed WHERE isfinite(value)
    GROUP BY dataset, quantity, iso_class
)
SELECT dataset, quantity,
    count(*) FILTER (n >= 2) AS classes,
    CAST(sum(n) FILTER (n >= 2) AS BIGINT) AS members,
    count(*) FILTER (n >= 2 AND spread = 0) AS identical,
    avg(sd) FILTER (n >= 2) AS mean_within_sd,
    max(spread) FILTER (n >= 2) AS max_within_range,
    stddev_samp(mean) AS between_sd,
    avg(sd) FILTER (n >= 2) / stddev_samp(mean) AS within_between
FROM per_class
GROUP BY dataset, quantity
ORDER BY dataset, quantity;
