WITH "t10" AS (
  SELECT
    *
  FROM (
    SELECT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
      CAST("t0"."event_at" AS TIMESTAMP) AS "event_at",
      "t0"."product_id",
      "t0"."properties",
      "t0"."event_type" = 'view' AS "_m1",
      "t0"."event_type" = 'add_to_cart' AS "_m2",
      "t0"."event_type" = 'purchase' AS "_m3",
      CAST(NULL AS DOUBLE) AS "_line_value"
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
      AND "t0"."product_id" IS NOT NULL
  ) AS "t3"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      "t8"."_v",
      "t8"."event_at",
      "t8"."product_id",
      "t8"."properties",
      "t8"."_m1",
      "t8"."_m2",
      "t8"."_m3",
      "t8"."_line_value"
    FROM (
      SELECT
        "t5"."_v",
        "t5"."event_at",
        "t5"."properties",
        "t5"."_m1",
        "t5"."_m2",
        "t5"."_m3",
        "t7"."_pid" AS "product_id",
        "t7"."_line_value"
      FROM (
        SELECT
          COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
          "t0"."event_at",
          "t0"."product_id",
          "t0"."properties",
          "t0"."event_type" = 'view' AS "_m1",
          "t0"."event_type" = 'add_to_cart' AS "_m2",
          "t0"."event_type" = 'purchase' AS "_m3",
          NULLIF(REGEXP_EXTRACT("t0"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') AS "_order"
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
          AND "t0"."product_id" IS NULL
          AND NULLIF(REGEXP_EXTRACT("t0"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') IS NOT NULL
      ) AS "t5"
      INNER JOIN (
        SELECT
          "t2"."order_id" AS "_oid",
          "t2"."product_id" AS "_pid",
          SUM((
            "t2"."quantity" * "t2"."unit_price"
          ) - "t2"."discount_amount") AS "_line_value"
        FROM (
          SELECT
            *
          FROM "order_items" AS "t1"
          WHERE
            "t1"."product_id" IS NOT NULL
        ) AS "t2"
        GROUP BY
          1,
          2
      ) AS "t7"
        ON "t5"."_order" = "t7"."_oid"
    ) AS "t8"
  ) AS "t9"
), "t13" AS (
  SELECT
    "t12"."_v",
    ROW_NUMBER() OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) - 1 AS "_id"
  FROM (
    SELECT DISTINCT
      "t11"."_v"
    FROM "t10" AS "t11"
  ) AS "t12"
)
SELECT
  SUM(CAST("t27"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t27"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t27"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t27"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t27"."_dur1", 0.9) AS "q1_90",
  SUM(CAST("t27"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t27"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t27"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t27"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t27"."_dur2", 0.9) AS "q2_90",
  SUM(CAST("t27"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t27"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t27"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t27"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t27"."_dur3", 0.9) AS "q3_90",
  SUM(CAST((
    "t27"."_dur3" >= 0
  ) AND (
    "t27"."_dur3" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h0",
  SUM(CAST((
    "t27"."_dur3" >= 60
  ) AND (
    "t27"."_dur3" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h1",
  SUM(CAST((
    "t27"."_dur3" >= 300
  ) AND (
    "t27"."_dur3" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h2",
  SUM(CAST((
    "t27"."_dur3" >= 900
  ) AND (
    "t27"."_dur3" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h3",
  SUM(CAST((
    "t27"."_dur3" >= 1800
  ) AND (
    "t27"."_dur3" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h4",
  SUM(CAST((
    "t27"."_dur3" >= 3600
  ) AND (
    "t27"."_dur3" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h5",
  SUM(CAST((
    "t27"."_dur3" >= 10800
  ) AND (
    "t27"."_dur3" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h6",
  SUM(CAST((
    "t27"."_dur3" >= 21600
  ) AND (
    "t27"."_dur3" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h7",
  SUM(CAST((
    "t27"."_dur3" >= 43200
  ) AND (
    "t27"."_dur3" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t27"."_level" >= 3) AS "h8"
FROM (
  SELECT
    "t17"."_vtext" AS "_v",
    "t26"."_level",
    "t26"."_first",
    "t26"."_dur1",
    "t26"."_dur2",
    "t26"."_dur3"
  FROM (
    SELECT
      "t24"."_v",
      MAX("t24"."_level") AS "_level",
      MIN("t24"."_first") AS "_first",
      MIN("t24"."_dur1") AS "_dur1",
      MIN("t24"."_dur2") AS "_dur2",
      MIN("t24"."_dur3") AS "_dur3"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t22"."_v",
          "t22"."product_id",
          MAX("t22"."_lev") AS "_level",
          MIN("t22"."event_at") FILTER(WHERE
            "t22"."_m1") AS "_first",
          MIN("t22"."_d1") AS "_dur1",
          MIN("t22"."_d2") AS "_dur2",
          MIN("t22"."_d3") AS "_dur3"
        FROM (
          SELECT
            "t21"."_v",
            "t21"."event_at",
            "t21"."product_id",
            "t21"."_m1",
            "t21"."_m2",
            "t21"."_m3",
            "t21"."_key",
            "t21"."_l1",
            "t21"."_l2",
            "t21"."_l3",
            CASE
              WHEN (
                "t21"."_l1" IS NOT NULL
              )
              AND (
                "t21"."_l2" IS NOT NULL
              )
              AND (
                "t21"."_l3" IS NOT NULL
              )
              AND (
                (
                  LEAST("t21"."_l1", "t21"."_l2", "t21"."_l3") + INTERVAL '86400' SECOND
                ) >= "t21"."event_at"
              )
              THEN 3
              ELSE CASE
                WHEN (
                  "t21"."_l1" IS NOT NULL
                )
                AND (
                  "t21"."_l2" IS NOT NULL
                )
                AND (
                  (
                    LEAST("t21"."_l1", "t21"."_l2") + INTERVAL '86400' SECOND
                  ) >= "t21"."event_at"
                )
                THEN 2
                ELSE CASE
                  WHEN (
                    "t21"."_l1" IS NOT NULL
                  )
                  AND (
                    (
                      "t21"."_l1" + INTERVAL '86400' SECOND
                    ) >= "t21"."event_at"
                  )
                  THEN 1
                  ELSE 0
                END
              END
            END AS "_lev",
            (
              "t21"."_l1" IS NOT NULL
            )
            AND (
              (
                "t21"."_l1" + INTERVAL '86400' SECOND
              ) >= "t21"."event_at"
            ) AS "_ok1",
            CASE
              WHEN (
                "t21"."_l1" IS NOT NULL
              )
              AND (
                (
                  "t21"."_l1" + INTERVAL '86400' SECOND
                ) >= "t21"."event_at"
              )
              THEN CAST(FLOOR(EPOCH(CAST("t21"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t21"."_l1" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d1",
            (
              "t21"."_l1" IS NOT NULL
            )
            AND (
              "t21"."_l2" IS NOT NULL
            )
            AND (
              (
                LEAST("t21"."_l1", "t21"."_l2") + INTERVAL '86400' SECOND
              ) >= "t21"."event_at"
            ) AS "_ok2",
            CASE
              WHEN (
                "t21"."_l1" IS NOT NULL
              )
              AND (
                "t21"."_l2" IS NOT NULL
              )
              AND (
                (
                  LEAST("t21"."_l1", "t21"."_l2") + INTERVAL '86400' SECOND
                ) >= "t21"."event_at"
              )
              THEN CAST(FLOOR(EPOCH(CAST("t21"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST(LEAST("t21"."_l1", "t21"."_l2") AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d2",
            (
              "t21"."_l1" IS NOT NULL
            )
            AND (
              "t21"."_l2" IS NOT NULL
            )
            AND (
              "t21"."_l3" IS NOT NULL
            )
            AND (
              (
                LEAST("t21"."_l1", "t21"."_l2", "t21"."_l3") + INTERVAL '86400' SECOND
              ) >= "t21"."event_at"
            ) AS "_ok3",
            CASE
              WHEN (
                "t21"."_l1" IS NOT NULL
              )
              AND (
                "t21"."_l2" IS NOT NULL
              )
              AND (
                "t21"."_l3" IS NOT NULL
              )
              AND (
                (
                  LEAST("t21"."_l1", "t21"."_l2", "t21"."_l3") + INTERVAL '86400' SECOND
                ) >= "t21"."event_at"
              )
              THEN CAST(FLOOR(EPOCH(CAST("t21"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST(LEAST("t21"."_l1", "t21"."_l2", "t21"."_l3") AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d3"
          FROM (
            SELECT
              "t20"."_v",
              "t20"."event_at",
              "t20"."product_id",
              "t20"."_m1",
              "t20"."_m2",
              "t20"."_m3",
              "t20"."_key",
              MAX("t20"."event_at") FILTER(WHERE
                "t20"."_m1") OVER (
                PARTITION BY "t20"."_v", "t20"."product_id"
                ORDER BY "t20"."event_at" ASC, "t20"."_key" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
              ) AS "_l1",
              MAX("t20"."event_at") FILTER(WHERE
                "t20"."_m2") OVER (
                PARTITION BY "t20"."_v", "t20"."product_id"
                ORDER BY "t20"."event_at" ASC, "t20"."_key" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
              ) AS "_l2",
              MAX("t20"."event_at") FILTER(WHERE
                "t20"."_m3") OVER (
                PARTITION BY "t20"."_v", "t20"."product_id"
                ORDER BY "t20"."event_at" ASC, "t20"."_key" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
              ) AS "_l3"
            FROM (
              SELECT
                "t15"."_id" AS "_v",
                "t19"."event_at",
                "t19"."product_id",
                "t19"."_m1",
                "t19"."_m2",
                "t19"."_m3",
                "t19"."_key"
              FROM (
                SELECT
                  "t11"."_v",
                  "t11"."event_at",
                  "t11"."product_id",
                  "t11"."_m1",
                  "t11"."_m2",
                  "t11"."_m3",
                  (
                    CAST(CASE WHEN "t11"."_m1" THEN 1 WHEN "t11"."_m2" THEN 2 WHEN "t11"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
                  ) + (
                    0 + (
                      CAST("t11"."_m1" AS BIGINT) * 1
                    ) + (
                      CAST("t11"."_m2" AS BIGINT) * 2
                    ) + (
                      CAST("t11"."_m3" AS BIGINT) * 4
                    )
                  ) AS "_key"
                FROM "t10" AS "t11"
              ) AS "t19"
              INNER JOIN "t13" AS "t15"
                ON "t19"."_v" = "t15"."_v"
            ) AS "t20"
          ) AS "t21"
        ) AS "t22"
        GROUP BY
          1,
          2
      ) AS "t23"
      WHERE
        "t23"."_level" >= 1
    ) AS "t24"
    GROUP BY
      1
  ) AS "t26"
  INNER JOIN (
    SELECT
      "t14"."_id" AS "_vid",
      "t14"."_v" AS "_vtext"
    FROM "t13" AS "t14"
  ) AS "t17"
    ON "t26"."_v" = "t17"."_vid"
) AS "t27"
