WITH "t4" AS NOT MATERIALIZED (
  SELECT
    COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
    "t1"."event_at",
    "t1"."user_id",
    "t1"."event_type" = 'view' AS "_m1",
    "t1"."event_type" = 'add_to_cart' AS "_m2",
    "t1"."event_type" = 'purchase' AS "_m3"
  FROM "events" AS "t1"
  WHERE
    "t1"."event_type" IN ('add_to_cart', 'purchase', 'view')
    AND (
      (
        "t1"."user_id" IS NOT NULL
      ) OR (
        "t1"."anonymous_id" IS NOT NULL
      )
    )
), "t7" AS (
  SELECT
    "t6"."_v",
    ROW_NUMBER() OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) - 1 AS "_id"
  FROM (
    SELECT DISTINCT
      "t5"."_v"
    FROM "t4" AS "t5"
  ) AS "t6"
)
SELECT
  "t22"."by",
  SUM(CAST("t22"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t22"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t22"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t22"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t22"."_dur1", 0.9) AS "q1_90",
  SUM(CAST("t22"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t22"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t22"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t22"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t22"."_dur2", 0.9) AS "q2_90",
  SUM(CAST("t22"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t22"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t22"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t22"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t22"."_dur3", 0.9) AS "q3_90",
  SUM(CAST((
    "t22"."_dur3" >= 0
  ) AND (
    "t22"."_dur3" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h0",
  SUM(CAST((
    "t22"."_dur3" >= 60
  ) AND (
    "t22"."_dur3" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h1",
  SUM(CAST((
    "t22"."_dur3" >= 300
  ) AND (
    "t22"."_dur3" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h2",
  SUM(CAST((
    "t22"."_dur3" >= 900
  ) AND (
    "t22"."_dur3" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h3",
  SUM(CAST((
    "t22"."_dur3" >= 1800
  ) AND (
    "t22"."_dur3" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h4",
  SUM(CAST((
    "t22"."_dur3" >= 3600
  ) AND (
    "t22"."_dur3" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h5",
  SUM(CAST((
    "t22"."_dur3" >= 10800
  ) AND (
    "t22"."_dur3" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h6",
  SUM(CAST((
    "t22"."_dur3" >= 21600
  ) AND (
    "t22"."_dur3" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h7",
  SUM(CAST((
    "t22"."_dur3" >= 43200
  ) AND (
    "t22"."_dur3" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t22"."_level" >= 3) AS "h8"
FROM (
  SELECT
    "t21"."_v",
    "t21"."_level",
    "t21"."_first",
    "t21"."_dur1",
    "t21"."_dur2",
    "t21"."_dur3",
    "t21"."_uid1",
    "t21"."_byv",
    COALESCE("t21"."_byv", '(unknown)') AS "by"
  FROM (
    SELECT
      "t11"."_vtext" AS "_v",
      "t20"."_level",
      "t20"."_first",
      "t20"."_dur1",
      "t20"."_dur2",
      "t20"."_dur3",
      "t20"."_uid1",
      "t3"."_cval" AS "_byv"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t17"."_v",
          MAX("t17"."_lev") AS "_level",
          MIN("t17"."event_at") FILTER(WHERE
            "t17"."_m1") AS "_first",
          MIN("t17"."_d1") AS "_dur1",
          MIN("t17"."_d2") AS "_dur2",
          MIN("t17"."_d3") AS "_dur3",
          FIRST("t17"."user_id" ORDER BY "t17"."_rn") FILTER(WHERE
            "t17"."_m1") AS "_uid1"
        FROM (
          SELECT
            "t16"."_v",
            "t16"."event_at",
            "t16"."user_id",
            "t16"."_m1",
            "t16"."_m2",
            "t16"."_m3",
            "t16"."_key",
            "t16"."_rn",
            "t16"."_s2",
            "t16"."_s3",
            CASE
              WHEN "t16"."_m3"
              AND (
                "t16"."_s3" IS NOT NULL
              )
              AND (
                "t16"."event_at" <= (
                  "t16"."_s3" + INTERVAL '86400' SECOND
                )
              )
              THEN 3
              ELSE CASE
                WHEN "t16"."_m2"
                AND (
                  "t16"."_s2" IS NOT NULL
                )
                AND (
                  "t16"."event_at" <= (
                    "t16"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                THEN 2
                ELSE CASE WHEN "t16"."_m1" THEN 1 ELSE 0 END
              END
            END AS "_lev",
            "t16"."_m1" AS "_ok1",
            CASE WHEN "t16"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
            "t16"."_m2"
            AND (
              "t16"."_s2" IS NOT NULL
            )
            AND (
              "t16"."event_at" <= (
                "t16"."_s2" + INTERVAL '86400' SECOND
              )
            ) AS "_ok2",
            CASE
              WHEN "t16"."_m2"
              AND (
                "t16"."_s2" IS NOT NULL
              )
              AND (
                "t16"."event_at" <= (
                  "t16"."_s2" + INTERVAL '86400' SECOND
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t16"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t16"."_s2" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d2",
            "t16"."_m3"
            AND (
              "t16"."_s3" IS NOT NULL
            )
            AND (
              "t16"."event_at" <= (
                "t16"."_s3" + INTERVAL '86400' SECOND
              )
            ) AS "_ok3",
            CASE
              WHEN "t16"."_m3"
              AND (
                "t16"."_s3" IS NOT NULL
              )
              AND (
                "t16"."event_at" <= (
                  "t16"."_s3" + INTERVAL '86400' SECOND
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t16"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t16"."_s3" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d3"
          FROM (
            SELECT
              "t15"."_v",
              "t15"."event_at",
              "t15"."user_id",
              "t15"."_m1",
              "t15"."_m2",
              "t15"."_m3",
              "t15"."_key",
              "t15"."_rn",
              "t15"."_s2",
              MAX("t15"."_s2") FILTER(WHERE
                "t15"."_m2") OVER (
                PARTITION BY "t15"."_v"
                ORDER BY "t15"."event_at" ASC, "t15"."_key" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
              ) AS "_s3"
            FROM (
              SELECT
                "t14"."_v",
                "t14"."event_at",
                "t14"."user_id",
                "t14"."_m1",
                "t14"."_m2",
                "t14"."_m3",
                "t14"."_key",
                ROW_NUMBER() OVER (
                  PARTITION BY "t14"."_v"
                  ORDER BY "t14"."event_at" ASC, "t14"."_key" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                ) - 1 AS "_rn",
                MAX("t14"."event_at") FILTER(WHERE
                  "t14"."_m1") OVER (
                  PARTITION BY "t14"."_v"
                  ORDER BY "t14"."event_at" ASC, "t14"."_key" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                ) AS "_s2"
              FROM (
                SELECT
                  "t9"."_id" AS "_v",
                  "t13"."event_at",
                  "t13"."user_id",
                  "t13"."_m1",
                  "t13"."_m2",
                  "t13"."_m3",
                  "t13"."_key"
                FROM (
                  SELECT
                    "t5"."_v",
                    "t5"."event_at",
                    "t5"."user_id",
                    "t5"."_m1",
                    "t5"."_m2",
                    "t5"."_m3",
                    (
                      CAST(CASE WHEN "t5"."_m1" THEN 1 WHEN "t5"."_m2" THEN 2 WHEN "t5"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
                    ) + (
                      0 + (
                        CAST("t5"."_m1" AS BIGINT) * 1
                      ) + (
                        CAST("t5"."_m2" AS BIGINT) * 2
                      ) + (
                        CAST("t5"."_m3" AS BIGINT) * 4
                      )
                    ) AS "_key"
                  FROM "t4" AS "t5"
                ) AS "t13"
                INNER JOIN "t7" AS "t9"
                  ON "t13"."_v" = "t9"."_v"
              ) AS "t14"
            ) AS "t15"
          ) AS "t16"
        ) AS "t17"
        GROUP BY
          1
      ) AS "t18"
      WHERE
        "t18"."_level" >= 1
    ) AS "t20"
    INNER JOIN (
      SELECT
        "t8"."_id" AS "_vid",
        "t8"."_v" AS "_vtext"
      FROM "t7" AS "t8"
    ) AS "t11"
      ON "t20"."_v" = "t11"."_vid"
    LEFT OUTER JOIN (
      SELECT
        "t0"."customer_id" AS "_cid",
        "t0"."region" AS "_cval"
      FROM "customers" AS "t0"
    ) AS "t3"
      ON "t20"."_uid1" = "t3"."_cid"
  ) AS "t21"
) AS "t22"
GROUP BY
  1
