-- retention_expr(periods=30)
-- compiled by ibis 12.0.0, sqlglot 30.0.3; rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1
WITH "t4" AS (
  SELECT
    "t3"."c",
    LEAST("t3"."i" - "t3"."c", 31) AS "n",
    COUNT(*) AS "k",
    MAX("t3"."i") AS "mx"
  FROM (
    SELECT
      "t2"."v",
      "t2"."i",
      MIN("t2"."i") OVER (PARTITION BY "t2"."v" ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS "c"
    FROM (
      SELECT
        "t1"."v",
        DATE_DIFF('DAY', MAKE_DATE(1970, 1, 1), "t1"."p") AS "i"
      FROM (
        SELECT DISTINCT
          COALESCE("t0"."user_id", "t0"."anonymous_id") AS "v",
          CAST(DATE_TRUNC('DAY', "t0"."event_at") AS DATE) AS "p"
        FROM "events" AS "t0"
        WHERE
          COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
      ) AS "t1"
    ) AS "t2"
  ) AS "t3"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    'exact' AS "kind",
    "t5"."c",
    "t5"."n",
    "t5"."k"
  FROM "t4" AS "t5"
  WHERE
    "t5"."n" <= 30
) AS "t6"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      'horizon' AS "kind",
      "t8"."c",
      -2 AS "n",
      0 AS "k"
    FROM (
      SELECT
        MAX("t5"."mx") AS "c"
      FROM "t4" AS "t5"
    ) AS "t8"
  ) AS "t9"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      'size' AS "kind",
      "t5"."c",
      -1 AS "n",
      "t5"."k"
    FROM "t4" AS "t5"
    WHERE
      "t5"."n" = 0
  ) AS "t7"
) AS "t10"
