-- retention_expr(grain='week', periods=8, mode='unbounded', by='channel')
-- compiled by ibis 12.0.0, sqlglot 30.0.3; rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1
WITH "t4" AS (
  SELECT
    "t2"."v",
    CAST(FLOOR((
      DATE_DIFF('DAY', MAKE_DATE(1970, 1, 1), "t2"."p") + 3
    ) / (
      7
    )) AS BIGINT) AS "i"
  FROM (
    SELECT DISTINCT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "v",
      CAST(DATE_TRUNC('WEEK', "t0"."event_at") AS DATE) AS "p"
    FROM "events" AS "t0"
    WHERE
      COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
  ) AS "t2"
), "t8" AS (
  SELECT
    "t3"."v",
    COALESCE("t3"."key", '(unknown)') AS "key",
    CAST(FLOOR(
      (
        DATE_DIFF('DAY', MAKE_DATE(1970, 1, 1), CAST(DATE_TRUNC('WEEK', "t3"."at") AS DATE)) + 3
      ) / (
        7
      )
    ) AS BIGINT) AS "c"
  FROM (
    SELECT
      "t1"."_v" AS "v",
      MIN("t1"."event_at") AS "at",
      FIRST(COALESCE("t1"."channel", '(unknown)') ORDER BY "t1"."event_at") AS "key"
    FROM (
      SELECT
        "t0"."event_at",
        "t0"."user_id",
        "t0"."anonymous_id",
        "t0"."session_id",
        "t0"."event_type",
        "t0"."product_id",
        "t0"."category",
        "t0"."channel",
        "t0"."source",
        "t0"."medium",
        "t0"."campaign",
        "t0"."properties",
        COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v"
      FROM "events" AS "t0"
      WHERE
        COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
    ) AS "t1"
    GROUP BY
      1
  ) AS "t3"
)
SELECT
  *
FROM (
  SELECT
    'unbounded' AS "kind",
    "t18"."c",
    "t18"."key",
    "t18"."n",
    "t18"."k"
  FROM (
    SELECT
      "t17"."c",
      "t17"."key",
      LEAST("t17"."m", 8) AS "n",
      COUNT(*) AS "k"
    FROM (
      SELECT
        "t16"."v",
        "t16"."c",
        "t16"."key",
        MAX("t16"."n") AS "m"
      FROM (
        SELECT
          "t15"."v",
          "t15"."key",
          "t15"."c",
          "t15"."i",
          "t15"."i" - "t15"."c" AS "n"
        FROM (
          SELECT
            "t11"."v",
            "t11"."key",
            "t11"."c",
            "t6"."i"
          FROM "t8" AS "t11"
          INNER JOIN "t4" AS "t6"
            ON "t11"."v" = "t6"."v"
        ) AS "t15"
        WHERE
          (
            "t15"."i" - "t15"."c"
          ) >= 0
      ) AS "t16"
      GROUP BY
        1,
        2,
        3
    ) AS "t17"
    GROUP BY
      1,
      2,
      3
  ) AS "t18"
) AS "t19"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      'horizon' AS "kind",
      "t7"."c",
      CAST(NULL AS TEXT) AS "key",
      -2 AS "n",
      0 AS "k"
    FROM (
      SELECT
        MAX("t5"."i") AS "c"
      FROM "t4" AS "t5"
    ) AS "t7"
  ) AS "t9"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      'size' AS "kind",
      "t12"."c",
      "t12"."key",
      -1 AS "n",
      "t12"."k"
    FROM (
      SELECT
        "t10"."c",
        "t10"."key",
        COUNT(*) AS "k"
      FROM "t8" AS "t10"
      GROUP BY
        1,
        2
    ) AS "t12"
  ) AS "t13"
) AS "t14"
