WITH "t1" AS NOT MATERIALIZED (
  SELECT
    COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
    "t0"."event_at",
    CASE WHEN "t0"."event_type" = 'view' THEN "t0"."channel" ELSE CAST(NULL AS TEXT) END AS "_by",
    "t0"."event_type" = 'view' AS "_m1",
    "t0"."event_type" = 'add_to_cart' AS "_m2",
    "t0"."event_type" = 'purchase' AS "_m3"
  FROM "events" AS "t0"
  WHERE
    "t0"."event_type" IN ('add_to_cart', 'purchase', 'view')
    AND (
      (
        "t0"."user_id" IS NOT NULL
      ) OR (
        "t0"."anonymous_id" IS NOT NULL
      )
    )
), "t4" AS (
  SELECT
    "t3"."_v",
    ROW_NUMBER() OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) - 1 AS "_id"
  FROM (
    SELECT DISTINCT
      "t2"."_v"
    FROM "t1" AS "t2"
  ) AS "t3"
)
SELECT
  "t19"."by",
  SUM(CAST("t19"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t19"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t19"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t19"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t19"."_dur1", 0.9) AS "q1_90",
  SUM(CAST("t19"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t19"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t19"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t19"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t19"."_dur2", 0.9) AS "q2_90",
  SUM(CAST("t19"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t19"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t19"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t19"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t19"."_dur3", 0.9) AS "q3_90",
  SUM(CAST((
    "t19"."_dur3" >= 0
  ) AND (
    "t19"."_dur3" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h0",
  SUM(CAST((
    "t19"."_dur3" >= 60
  ) AND (
    "t19"."_dur3" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h1",
  SUM(CAST((
    "t19"."_dur3" >= 300
  ) AND (
    "t19"."_dur3" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h2",
  SUM(CAST((
    "t19"."_dur3" >= 900
  ) AND (
    "t19"."_dur3" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h3",
  SUM(CAST((
    "t19"."_dur3" >= 1800
  ) AND (
    "t19"."_dur3" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h4",
  SUM(CAST((
    "t19"."_dur3" >= 3600
  ) AND (
    "t19"."_dur3" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h5",
  SUM(CAST((
    "t19"."_dur3" >= 10800
  ) AND (
    "t19"."_dur3" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h6",
  SUM(CAST((
    "t19"."_dur3" >= 21600
  ) AND (
    "t19"."_dur3" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h7",
  SUM(CAST((
    "t19"."_dur3" >= 43200
  ) AND (
    "t19"."_dur3" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t19"."_level" >= 3) AS "h8"
FROM (
  SELECT
    "t18"."_v",
    "t18"."_level",
    "t18"."_first",
    "t18"."_dur1",
    "t18"."_dur2",
    "t18"."_dur3",
    "t18"."_byv",
    COALESCE("t18"."_byv", '(unknown)') AS "by"
  FROM (
    SELECT
      "t8"."_vtext" AS "_v",
      "t17"."_level",
      "t17"."_first",
      "t17"."_dur1",
      "t17"."_dur2",
      "t17"."_dur3",
      "t17"."_byv"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t14"."_v",
          MAX("t14"."_lev") AS "_level",
          MIN("t14"."event_at") FILTER(WHERE
            "t14"."_m1") AS "_first",
          MIN("t14"."_d1") AS "_dur1",
          MIN("t14"."_d2") AS "_dur2",
          MIN("t14"."_d3") AS "_dur3",
          FIRST("t14"."_by" ORDER BY "t14"."_rn") FILTER(WHERE
            "t14"."_m1") AS "_byv"
        FROM (
          SELECT
            "t13"."_v",
            "t13"."event_at",
            "t13"."_by",
            "t13"."_m1",
            "t13"."_m2",
            "t13"."_m3",
            "t13"."_key",
            "t13"."_rn",
            "t13"."_s2",
            "t13"."_s3",
            CASE
              WHEN "t13"."_m3"
              AND (
                "t13"."_s3" IS NOT NULL
              )
              AND (
                "t13"."event_at" <= (
                  "t13"."_s3" + INTERVAL '86400' SECOND
                )
              )
              THEN 3
              ELSE CASE
                WHEN "t13"."_m2"
                AND (
                  "t13"."_s2" IS NOT NULL
                )
                AND (
                  "t13"."event_at" <= (
                    "t13"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                THEN 2
                ELSE CASE WHEN "t13"."_m1" THEN 1 ELSE 0 END
              END
            END AS "_lev",
            "t13"."_m1" AS "_ok1",
            CASE WHEN "t13"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
            "t13"."_m2"
            AND (
              "t13"."_s2" IS NOT NULL
            )
            AND (
              "t13"."event_at" <= (
                "t13"."_s2" + INTERVAL '86400' SECOND
              )
            ) AS "_ok2",
            CASE
              WHEN "t13"."_m2"
              AND (
                "t13"."_s2" IS NOT NULL
              )
              AND (
                "t13"."event_at" <= (
                  "t13"."_s2" + INTERVAL '86400' SECOND
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t13"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t13"."_s2" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d2",
            "t13"."_m3"
            AND (
              "t13"."_s3" IS NOT NULL
            )
            AND (
              "t13"."event_at" <= (
                "t13"."_s3" + INTERVAL '86400' SECOND
              )
            ) AS "_ok3",
            CASE
              WHEN "t13"."_m3"
              AND (
                "t13"."_s3" IS NOT NULL
              )
              AND (
                "t13"."event_at" <= (
                  "t13"."_s3" + INTERVAL '86400' SECOND
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t13"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t13"."_s3" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d3"
          FROM (
            SELECT
              "t12"."_v",
              "t12"."event_at",
              "t12"."_by",
              "t12"."_m1",
              "t12"."_m2",
              "t12"."_m3",
              "t12"."_key",
              "t12"."_rn",
              "t12"."_s2",
              MAX("t12"."_s2") FILTER(WHERE
                "t12"."_m2") OVER (
                PARTITION BY "t12"."_v"
                ORDER BY "t12"."event_at" ASC, "t12"."_key" ASC, "t12"."_by" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
              ) AS "_s3"
            FROM (
              SELECT
                "t11"."_v",
                "t11"."event_at",
                "t11"."_by",
                "t11"."_m1",
                "t11"."_m2",
                "t11"."_m3",
                "t11"."_key",
                ROW_NUMBER() OVER (
                  PARTITION BY "t11"."_v"
                  ORDER BY "t11"."event_at" ASC, "t11"."_key" ASC, "t11"."_by" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                ) - 1 AS "_rn",
                MAX("t11"."event_at") FILTER(WHERE
                  "t11"."_m1") OVER (
                  PARTITION BY "t11"."_v"
                  ORDER BY "t11"."event_at" ASC, "t11"."_key" ASC, "t11"."_by" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                ) AS "_s2"
              FROM (
                SELECT
                  "t6"."_id" AS "_v",
                  "t10"."event_at",
                  "t10"."_by",
                  "t10"."_m1",
                  "t10"."_m2",
                  "t10"."_m3",
                  "t10"."_key"
                FROM (
                  SELECT
                    "t2"."_v",
                    "t2"."event_at",
                    "t2"."_by",
                    "t2"."_m1",
                    "t2"."_m2",
                    "t2"."_m3",
                    (
                      CAST(CASE WHEN "t2"."_m1" THEN 1 WHEN "t2"."_m2" THEN 2 WHEN "t2"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
                    ) + (
                      0 + (
                        CAST("t2"."_m1" AS BIGINT) * 1
                      ) + (
                        CAST("t2"."_m2" AS BIGINT) * 2
                      ) + (
                        CAST("t2"."_m3" AS BIGINT) * 4
                      )
                    ) AS "_key"
                  FROM "t1" AS "t2"
                ) AS "t10"
                INNER JOIN "t4" AS "t6"
                  ON "t10"."_v" = "t6"."_v"
              ) AS "t11"
            ) AS "t12"
          ) AS "t13"
        ) AS "t14"
        GROUP BY
          1
      ) AS "t15"
      WHERE
        "t15"."_level" >= 1
    ) AS "t17"
    INNER JOIN (
      SELECT
        "t5"."_id" AS "_vid",
        "t5"."_v" AS "_vtext"
      FROM "t4" AS "t5"
    ) AS "t8"
      ON "t17"."_v" = "t8"."_vid"
  ) AS "t18"
) AS "t19"
GROUP BY
  1
