WITH "t3" AS NOT MATERIALIZED (
  SELECT
    "t1"."_v",
    "t1"."event_at" AS "_t1",
    CAST(FLOOR(EPOCH(CAST("t1"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_b1"
  FROM (
    SELECT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
      "t0"."event_at",
      "t0"."event_type" = 'view' AS "_m1",
      "t0"."event_type" = 'add_to_cart' AS "_m2",
      "t0"."event_type" = 'checkout' AS "_m3",
      "t0"."event_type" = 'purchase' AS "_m4"
    FROM "events" AS "t0"
    WHERE
      "t0"."event_type" = 'view'
      AND (
        (
          "t0"."user_id" IS NOT NULL
        ) OR (
          "t0"."anonymous_id" IS NOT NULL
        )
      )
  ) AS "t1"
), "_stored_later_steps" AS MATERIALIZED (
  SELECT
    "t2"."_v",
    "t2"."event_at",
    "t2"."_m1",
    "t2"."_m2",
    "t2"."_m3",
    "t2"."_m4",
    (
      CAST(CASE
        WHEN "t2"."_m1"
        THEN 1
        WHEN "t2"."_m2"
        THEN 2
        WHEN "t2"."_m3"
        THEN 3
        WHEN "t2"."_m4"
        THEN 4
        ELSE 5
      END AS BIGINT) * 16
    ) + (
      0 + (
        CAST("t2"."_m1" AS BIGINT) * 1
      ) + (
        CAST("t2"."_m2" AS BIGINT) * 2
      ) + (
        CAST("t2"."_m3" AS BIGINT) * 4
      ) + (
        CAST("t2"."_m4" AS BIGINT) * 8
      )
    ) AS "_key",
    CAST(FLOOR(EPOCH(CAST("t2"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_bk"
  FROM (
    SELECT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
      "t0"."event_at",
      "t0"."event_type" = 'view' AS "_m1",
      "t0"."event_type" = 'add_to_cart' AS "_m2",
      "t0"."event_type" = 'checkout' AS "_m3",
      "t0"."event_type" = 'purchase' AS "_m4"
    FROM "events" AS "t0"
    WHERE
      "t0"."event_type" IN ('add_to_cart', 'checkout', 'purchase')
      AND (
        (
          "t0"."user_id" IS NOT NULL
        ) OR (
          "t0"."anonymous_id" IS NOT NULL
        )
      )
  ) AS "t2"
  WHERE
    "t2"."_m2" OR "t2"."_m3" OR "t2"."_m4"
), "t11" AS (
  SELECT DISTINCT
    "t8"."_v",
    "t8"."event_at",
    "t8"."_key",
    "t8"."_bk"
  FROM "_stored_later_steps" AS "t8"
  WHERE
    "t8"."_m2"
)
SELECT
  SUM(CAST("t28"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t28"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t28"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t28"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t28"."_dur1", 0.9) AS "q1_90",
  SUM(CAST("t28"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t28"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t28"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t28"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t28"."_dur2", 0.9) AS "q2_90",
  SUM(CAST("t28"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t28"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t28"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t28"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t28"."_dur3", 0.9) AS "q3_90",
  SUM(CAST("t28"."_level" >= 4 AS BIGINT)) AS "c4",
  QUANTILE_CONT("t28"."_dur4", 0.25) AS "q4_25",
  QUANTILE_CONT("t28"."_dur4", 0.5) AS "q4_50",
  QUANTILE_CONT("t28"."_dur4", 0.75) AS "q4_75",
  QUANTILE_CONT("t28"."_dur4", 0.9) AS "q4_90",
  SUM(CAST((
    "t28"."_dur4" >= 0
  ) AND (
    "t28"."_dur4" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h0",
  SUM(CAST((
    "t28"."_dur4" >= 60
  ) AND (
    "t28"."_dur4" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h1",
  SUM(CAST((
    "t28"."_dur4" >= 300
  ) AND (
    "t28"."_dur4" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h2",
  SUM(CAST((
    "t28"."_dur4" >= 900
  ) AND (
    "t28"."_dur4" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h3",
  SUM(CAST((
    "t28"."_dur4" >= 1800
  ) AND (
    "t28"."_dur4" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h4",
  SUM(CAST((
    "t28"."_dur4" >= 3600
  ) AND (
    "t28"."_dur4" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h5",
  SUM(CAST((
    "t28"."_dur4" >= 10800
  ) AND (
    "t28"."_dur4" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h6",
  SUM(CAST((
    "t28"."_dur4" >= 21600
  ) AND (
    "t28"."_dur4" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h7",
  SUM(CAST((
    "t28"."_dur4" >= 43200
  ) AND (
    "t28"."_dur4" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t28"."_level" >= 4) AS "h8"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t26"."_v",
      MAX("t26"."_level") AS "_level",
      MIN("t26"."_first") AS "_first",
      MIN("t26"."_dur1") AS "_dur1",
      MIN("t26"."_dur2") AS "_dur2",
      MIN("t26"."_dur3") AS "_dur3",
      MIN("t26"."_dur4") AS "_dur4"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "t23"."_v",
            MAX("t23"."_lev") AS "_level",
            MIN("t23"."event_at") FILTER(WHERE
              "t23"."_m1") AS "_first",
            MIN("t23"."_d1") AS "_dur1",
            MIN("t23"."_d2") AS "_dur2",
            MIN("t23"."_d3") AS "_dur3",
            MIN("t23"."_d4") AS "_dur4"
          FROM (
            SELECT
              "t22"."_v",
              "t22"."event_at",
              "t22"."_m1",
              "t22"."_m2",
              "t22"."_m3",
              "t22"."_m4",
              "t22"."_key",
              "t22"."_s2",
              "t22"."_s3",
              "t22"."_s4",
              CASE
                WHEN "t22"."_m4"
                AND (
                  "t22"."_s4" IS NOT NULL
                )
                AND (
                  "t22"."event_at" <= (
                    "t22"."_s4" + INTERVAL '86400' SECOND
                  )
                )
                THEN 4
                ELSE CASE
                  WHEN "t22"."_m3"
                  AND (
                    "t22"."_s3" IS NOT NULL
                  )
                  AND (
                    "t22"."event_at" <= (
                      "t22"."_s3" + INTERVAL '86400' SECOND
                    )
                  )
                  THEN 3
                  ELSE CASE
                    WHEN "t22"."_m2"
                    AND (
                      "t22"."_s2" IS NOT NULL
                    )
                    AND (
                      "t22"."event_at" <= (
                        "t22"."_s2" + INTERVAL '86400' SECOND
                      )
                    )
                    THEN 2
                    ELSE CASE WHEN "t22"."_m1" THEN 1 ELSE 0 END
                  END
                END
              END AS "_lev",
              "t22"."_m1" AS "_ok1",
              CASE WHEN "t22"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
              "t22"."_m2"
              AND (
                "t22"."_s2" IS NOT NULL
              )
              AND (
                "t22"."event_at" <= (
                  "t22"."_s2" + INTERVAL '86400' SECOND
                )
              ) AS "_ok2",
              CASE
                WHEN "t22"."_m2"
                AND (
                  "t22"."_s2" IS NOT NULL
                )
                AND (
                  "t22"."event_at" <= (
                    "t22"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                THEN CAST(FLOOR(EPOCH(CAST("t22"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t22"."_s2" AS TIMESTAMP))) AS BIGINT)
                ELSE CAST(NULL AS BIGINT)
              END AS "_d2",
              "t22"."_m3"
              AND (
                "t22"."_s3" IS NOT NULL
              )
              AND (
                "t22"."event_at" <= (
                  "t22"."_s3" + INTERVAL '86400' SECOND
                )
              ) AS "_ok3",
              CASE
                WHEN "t22"."_m3"
                AND (
                  "t22"."_s3" IS NOT NULL
                )
                AND (
                  "t22"."event_at" <= (
                    "t22"."_s3" + INTERVAL '86400' SECOND
                  )
                )
                THEN CAST(FLOOR(EPOCH(CAST("t22"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t22"."_s3" AS TIMESTAMP))) AS BIGINT)
                ELSE CAST(NULL AS BIGINT)
              END AS "_d3",
              "t22"."_m4"
              AND (
                "t22"."_s4" IS NOT NULL
              )
              AND (
                "t22"."event_at" <= (
                  "t22"."_s4" + INTERVAL '86400' SECOND
                )
              ) AS "_ok4",
              CASE
                WHEN "t22"."_m4"
                AND (
                  "t22"."_s4" IS NOT NULL
                )
                AND (
                  "t22"."event_at" <= (
                    "t22"."_s4" + INTERVAL '86400' SECOND
                  )
                )
                THEN CAST(FLOOR(EPOCH(CAST("t22"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t22"."_s4" AS TIMESTAMP))) AS BIGINT)
                ELSE CAST(NULL AS BIGINT)
              END AS "_d4"
            FROM (
              SELECT
                "t21"."_v",
                "t21"."event_at",
                "t21"."_m1",
                "t21"."_m2",
                "t21"."_m3",
                "t21"."_m4",
                "t21"."_key",
                "t21"."_s2",
                "t21"."_s3",
                MAX("t21"."_s3") FILTER(WHERE
                  "t21"."_m3") OVER (
                  PARTITION BY "t21"."_v"
                  ORDER BY "t21"."event_at" ASC, "t21"."_key" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                ) AS "_s4"
              FROM (
                SELECT
                  "t20"."_v",
                  "t20"."event_at",
                  "t20"."_m1",
                  "t20"."_m2",
                  "t20"."_m3",
                  "t20"."_m4",
                  "t20"."_key",
                  "t20"."_s2",
                  MAX("t20"."_s2") FILTER(WHERE
                    "t20"."_m2") OVER (
                    PARTITION BY "t20"."_v"
                    ORDER BY "t20"."event_at" ASC, "t20"."_key" ASC
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                  ) AS "_s3"
                FROM (
                  SELECT
                    "t10"."_v",
                    "t10"."event_at",
                    "t10"."_m1",
                    "t10"."_m2",
                    "t10"."_m3",
                    "t10"."_m4",
                    "t10"."_key",
                    "t19"."_s2"
                  FROM "_stored_later_steps" AS "t10"
                  LEFT OUTER JOIN (
                    SELECT
                      "t17"."_v",
                      "t17"."event_at",
                      "t17"."_key",
                      MAX("t17"."_t1") AS "_s2"
                    FROM (
                      SELECT
                        "t5"."_v",
                        "t5"."_t1",
                        "t5"."_b1",
                        "t16"."_v" AS "_v_right",
                        "t16"."event_at",
                        "t16"."_key",
                        "t16"."_bk",
                        "t16"."_bj"
                      FROM "t3" AS "t5"
                      INNER JOIN (
                        SELECT
                          *
                        FROM (
                          SELECT
                            "t12"."_v",
                            "t12"."event_at",
                            "t12"."_key",
                            "t12"."_bk",
                            "t12"."_bk" AS "_bj"
                          FROM "t11" AS "t12"
                        ) AS "t13"
                        UNION ALL
                        SELECT
                          *
                        FROM (
                          SELECT
                            "t12"."_v",
                            "t12"."event_at",
                            "t12"."_key",
                            "t12"."_bk",
                            "t12"."_bk" - 1 AS "_bj"
                          FROM "t11" AS "t12"
                        ) AS "t14"
                      ) AS "t16"
                        ON "t5"."_v" = "t16"."_v"
                        AND "t16"."_bj" = "t5"."_b1"
                        AND "t5"."_t1" <= "t16"."event_at"
                    ) AS "t17"
                    GROUP BY
                      1,
                      2,
                      3
                  ) AS "t19"
                    ON "t10"."_v" = "t19"."_v"
                    AND "t10"."event_at" = "t19"."event_at"
                    AND "t10"."_key" = "t19"."_key"
                ) AS "t20"
              ) AS "t21"
            ) AS "t22"
          ) AS "t23"
          GROUP BY
            1
        ) AS "t24"
      ) AS "t25"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t6"."_v",
          "t6"."_level",
          CAST("t6"."_first" AS TIMESTAMP) AS "_first",
          "t6"."_dur1",
          "t6"."_dur2",
          "t6"."_dur3",
          "t6"."_dur4"
        FROM (
          SELECT
            "t4"."_v",
            1 AS "_level",
            MIN("t4"."_t1") AS "_first",
            0 AS "_dur1",
            CAST(NULL AS BIGINT) AS "_dur2",
            CAST(NULL AS BIGINT) AS "_dur3",
            CAST(NULL AS BIGINT) AS "_dur4"
          FROM "t3" AS "t4"
          GROUP BY
            1
        ) AS "t6"
      ) AS "t9"
    ) AS "t26"
    GROUP BY
      1
  ) AS "t27"
  WHERE
    "t27"."_level" >= 1
) AS "t28"
