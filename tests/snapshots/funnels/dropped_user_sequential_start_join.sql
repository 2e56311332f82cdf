WITH "t3" AS NOT MATERIALIZED (
  SELECT
    "t1"."_v",
    "t1"."user_id",
    "t1"."event_at" AS "_t1",
    CAST(FLOOR(EPOCH(CAST("t1"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_b1"
  FROM (
    SELECT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
      "t0"."event_at",
      "t0"."user_id",
      "t0"."event_type" = 'view' AS "_m1",
      "t0"."event_type" = 'add_to_cart' AS "_m2",
      "t0"."event_type" = 'purchase' AS "_m3"
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
    "t2"."user_id",
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
    ) AS "_key",
    CAST(FLOOR(EPOCH(CAST("t2"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_bk"
  FROM (
    SELECT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
      "t0"."event_at",
      "t0"."user_id",
      "t0"."event_type" = 'view' AS "_m1",
      "t0"."event_type" = 'add_to_cart' AS "_m2",
      "t0"."event_type" = 'purchase' AS "_m3"
    FROM "events" AS "t0"
    WHERE
      "t0"."event_type" IN ('add_to_cart', 'purchase')
      AND (
        (
          "t0"."user_id" IS NOT NULL
        ) OR (
          "t0"."anonymous_id" IS NOT NULL
        )
      )
  ) AS "t2"
  WHERE
    "t2"."_m2" OR "t2"."_m3"
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
  "t27"."_v" AS "visitor",
  MAX("t27"."user_id") AS "user_id"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t25"."_v",
      MAX("t25"."_level") AS "_level",
      MIN("t25"."_first") AS "_first",
      MAX("t25"."user_id") AS "user_id",
      MIN("t25"."_dur1") AS "_dur1",
      MIN("t25"."_dur2") AS "_dur2",
      MIN("t25"."_dur3") AS "_dur3"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "t22"."_v",
            MAX("t22"."_lev") AS "_level",
            MIN("t22"."event_at") FILTER(WHERE
              "t22"."_m1") AS "_first",
            MAX("t22"."user_id") AS "user_id",
            MIN("t22"."_d1") AS "_dur1",
            MIN("t22"."_d2") AS "_dur2",
            MIN("t22"."_d3") AS "_dur3"
          FROM (
            SELECT
              "t21"."_v",
              "t21"."event_at",
              "t21"."user_id",
              "t21"."_m1",
              "t21"."_m2",
              "t21"."_m3",
              "t21"."_key",
              "t21"."_s2",
              "t21"."_s3",
              CASE
                WHEN "t21"."_m3"
                AND (
                  "t21"."_s3" IS NOT NULL
                )
                AND (
                  "t21"."event_at" <= (
                    "t21"."_s3" + INTERVAL '86400' SECOND
                  )
                )
                THEN 3
                ELSE CASE
                  WHEN "t21"."_m2"
                  AND (
                    "t21"."_s2" IS NOT NULL
                  )
                  AND (
                    "t21"."event_at" <= (
                      "t21"."_s2" + INTERVAL '86400' SECOND
                    )
                  )
                  THEN 2
                  ELSE CASE WHEN "t21"."_m1" THEN 1 ELSE 0 END
                END
              END AS "_lev",
              "t21"."_m1" AS "_ok1",
              CASE WHEN "t21"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
              "t21"."_m2"
              AND (
                "t21"."_s2" IS NOT NULL
              )
              AND (
                "t21"."event_at" <= (
                  "t21"."_s2" + INTERVAL '86400' SECOND
                )
              ) AS "_ok2",
              CASE
                WHEN "t21"."_m2"
                AND (
                  "t21"."_s2" IS NOT NULL
                )
                AND (
                  "t21"."event_at" <= (
                    "t21"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                THEN CAST(FLOOR(EPOCH(CAST("t21"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t21"."_s2" AS TIMESTAMP))) AS BIGINT)
                ELSE CAST(NULL AS BIGINT)
              END AS "_d2",
              "t21"."_m3"
              AND (
                "t21"."_s3" IS NOT NULL
              )
              AND (
                "t21"."event_at" <= (
                  "t21"."_s3" + INTERVAL '86400' SECOND
                )
              ) AS "_ok3",
              CASE
                WHEN "t21"."_m3"
                AND (
                  "t21"."_s3" IS NOT NULL
                )
                AND (
                  "t21"."event_at" <= (
                    "t21"."_s3" + INTERVAL '86400' SECOND
                  )
                )
                THEN CAST(FLOOR(EPOCH(CAST("t21"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t21"."_s3" AS TIMESTAMP))) AS BIGINT)
                ELSE CAST(NULL AS BIGINT)
              END AS "_d3"
            FROM (
              SELECT
                "t20"."_v",
                "t20"."event_at",
                "t20"."user_id",
                "t20"."_m1",
                "t20"."_m2",
                "t20"."_m3",
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
                  "t9"."_v",
                  "t9"."event_at",
                  "t9"."user_id",
                  "t9"."_m1",
                  "t9"."_m2",
                  "t9"."_m3",
                  "t9"."_key",
                  "t19"."_s2"
                FROM "_stored_later_steps" AS "t9"
                LEFT OUTER JOIN (
                  SELECT
                    "t17"."_v",
                    "t17"."event_at",
                    "t17"."_key",
                    MAX("t17"."_t1") AS "_s2"
                  FROM (
                    SELECT
                      "t5"."_v",
                      "t5"."user_id",
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
                  ON "t9"."_v" = "t19"."_v"
                  AND "t9"."event_at" = "t19"."event_at"
                  AND "t9"."_key" = "t19"."_key"
              ) AS "t20"
            ) AS "t21"
          ) AS "t22"
          GROUP BY
            1
        ) AS "t23"
      ) AS "t24"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          "t7"."_v",
          "t7"."_level",
          CAST("t7"."_first" AS TIMESTAMP) AS "_first",
          "t7"."user_id",
          "t7"."_dur1",
          "t7"."_dur2",
          "t7"."_dur3"
        FROM (
          SELECT
            "t4"."_v",
            1 AS "_level",
            MIN("t4"."_t1") AS "_first",
            MAX("t4"."user_id") AS "user_id",
            0 AS "_dur1",
            CAST(NULL AS BIGINT) AS "_dur2",
            CAST(NULL AS BIGINT) AS "_dur3"
          FROM "t3" AS "t4"
          GROUP BY
            1
        ) AS "t7"
      ) AS "t10"
    ) AS "t25"
    GROUP BY
      1
  ) AS "t26"
  WHERE
    "t26"."_level" >= 1 AND "t26"."_level" = 1
) AS "t27"
GROUP BY
  1
