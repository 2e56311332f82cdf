-- retention_expr(start_event='view', return_event='purchase', grain='month', periods=6, start='2024-01-01', end='2024-06-30')
-- compiled by ibis 12.0.0, sqlglot 30.0.3; rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1
WITH "t9" AS (
  SELECT
    "t4"."v",
    (
      (
        EXTRACT(year FROM CAST(DATE_TRUNC('MONTH', "t4"."at") AS DATE)) * 12
      ) + EXTRACT(month FROM CAST(DATE_TRUNC('MONTH', "t4"."at") AS DATE))
    ) - 1 AS "c"
  FROM (
    SELECT
      "t2"."_v" AS "v",
      MIN("t2"."event_at") AS "at"
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
        "t0"."event_at" >= MAKE_TIMESTAMP(2024, 1, 1, 0, 0, 0.0)
        AND "t0"."event_at" < MAKE_TIMESTAMP(2024, 7, 1, 0, 0, 0.0)
        AND COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
        AND "t0"."event_type" = 'view'
    ) AS "t2"
    GROUP BY
      1
  ) AS "t4"
)
SELECT
  *
FROM (
  SELECT
    'exact' AS "kind",
    "t17"."c",
    "t17"."n",
    "t17"."k"
  FROM (
    SELECT
      "t16"."c",
      "t16"."n",
      COUNT(*) AS "k"
    FROM (
      SELECT
        "t15"."v",
        "t15"."c",
        "t15"."i",
        "t15"."i" - "t15"."c" AS "n"
      FROM (
        SELECT
          "t11"."v",
          "t11"."c",
          "t6"."i"
        FROM "t9" AS "t11"
        INNER JOIN (
          SELECT
            "t3"."v",
            (
              (
                EXTRACT(year FROM "t3"."p") * 12
              ) + EXTRACT(month FROM "t3"."p")
            ) - 1 AS "i"
          FROM (
            SELECT DISTINCT
              COALESCE("t0"."user_id", "t0"."anonymous_id") AS "v",
              CAST(DATE_TRUNC('MONTH', "t0"."event_at") AS DATE) AS "p"
            FROM "events" AS "t0"
            WHERE
              "t0"."event_at" >= MAKE_TIMESTAMP(2024, 1, 1, 0, 0, 0.0)
              AND "t0"."event_at" < MAKE_TIMESTAMP(2024, 7, 1, 0, 0, 0.0)
              AND COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
              AND "t0"."event_type" = 'purchase'
          ) AS "t3"
        ) AS "t6"
          ON "t11"."v" = "t6"."v"
      ) AS "t15"
      WHERE
        (
          "t15"."i" - "t15"."c"
        ) >= 0 AND (
          "t15"."i" - "t15"."c"
        ) <= 6
    ) AS "t16"
    GROUP BY
      1,
      2
  ) AS "t17"
) AS "t18"
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
      -2 AS "n",
      0 AS "k"
    FROM (
      SELECT
        (
          (
            EXTRACT(year FROM CAST(DATE_TRUNC('MONTH', MAX("t1"."event_at")) AS DATE)) * 12
          ) + EXTRACT(month FROM CAST(DATE_TRUNC('MONTH', MAX("t1"."event_at")) AS DATE))
        ) - 1 AS "c"
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
          "t0"."event_at" >= MAKE_TIMESTAMP(2024, 1, 1, 0, 0, 0.0)
          AND "t0"."event_at" < MAKE_TIMESTAMP(2024, 7, 1, 0, 0, 0.0)
          AND COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
      ) AS "t1"
    ) AS "t7"
  ) AS "t8"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      'size' AS "kind",
      "t12"."c",
      -1 AS "n",
      "t12"."k"
    FROM (
      SELECT
        "t10"."c",
        COUNT(*) AS "k"
      FROM "t9" AS "t10"
      GROUP BY
        1
    ) AS "t12"
  ) AS "t13"
) AS "t14"
