WITH "t17" AS (
  SELECT
    "t15"."_v",
    "t15"."product_id",
    "t15"."event_at" AS "_t1",
    CAST(FLOOR(EPOCH(CAST("t15"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_b1"
  FROM (
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
        "t0"."event_type" = 'view'
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
        "t11"."_v",
        "t11"."event_at",
        "t11"."product_id",
        "t11"."properties",
        "t11"."_m1",
        "t11"."_m2",
        "t11"."_m3",
        "t11"."_line_value"
      FROM (
        SELECT
          "t7"."_v",
          "t7"."event_at",
          "t7"."properties",
          "t7"."_m1",
          "t7"."_m2",
          "t7"."_m3",
          "t10"."_pid" AS "product_id",
          "t10"."_line_value"
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
            "t0"."event_type" = 'view'
            AND (
              (
                "t0"."user_id" IS NOT NULL
              ) OR (
                "t0"."anonymous_id" IS NOT NULL
              )
            )
            AND "t0"."product_id" IS NULL
            AND NULLIF(REGEXP_EXTRACT("t0"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') IS NOT NULL
        ) AS "t7"
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
        ) AS "t10"
          ON "t7"."_order" = "t10"."_oid"
      ) AS "t11"
    ) AS "t13"
  ) AS "t15"
  WHERE
    "t15"."_m1"
), "_stored_later_steps" AS MATERIALIZED (
  SELECT
    "t16"."_v",
    "t16"."event_at",
    "t16"."product_id",
    "t16"."_m1",
    "t16"."_m2",
    "t16"."_m3",
    (
      CAST(CASE WHEN "t16"."_m1" THEN 1 WHEN "t16"."_m2" THEN 2 WHEN "t16"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
    ) + (
      0 + (
        CAST("t16"."_m1" AS BIGINT) * 1
      ) + (
        CAST("t16"."_m2" AS BIGINT) * 2
      ) + (
        CAST("t16"."_m3" AS BIGINT) * 4
      )
    ) AS "_key",
    CAST(FLOOR(EPOCH(CAST("t16"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_bk"
  FROM (
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
        "t0"."event_type" IN ('add_to_cart', 'purchase')
        AND (
          (
            "t0"."user_id" IS NOT NULL
          ) OR (
            "t0"."anonymous_id" IS NOT NULL
          )
        )
        AND "t0"."product_id" IS NOT NULL
    ) AS "t4"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        "t12"."_v",
        "t12"."event_at",
        "t12"."product_id",
        "t12"."properties",
        "t12"."_m1",
        "t12"."_m2",
        "t12"."_m3",
        "t12"."_line_value"
      FROM (
        SELECT
          "t8"."_v",
          "t8"."event_at",
          "t8"."properties",
          "t8"."_m1",
          "t8"."_m2",
          "t8"."_m3",
          "t10"."_pid" AS "product_id",
          "t10"."_line_value"
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
            "t0"."event_type" IN ('add_to_cart', 'purchase')
            AND (
              (
                "t0"."user_id" IS NOT NULL
              ) OR (
                "t0"."anonymous_id" IS NOT NULL
              )
            )
            AND "t0"."product_id" IS NULL
            AND NULLIF(REGEXP_EXTRACT("t0"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') IS NOT NULL
        ) AS "t8"
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
        ) AS "t10"
          ON "t8"."_order" = "t10"."_oid"
      ) AS "t12"
    ) AS "t14"
  ) AS "t16"
  WHERE
    "t16"."_m2" OR "t16"."_m3"
), "t25" AS (
  SELECT DISTINCT
    "t22"."_v",
    "t22"."product_id",
    "t22"."event_at",
    "t22"."_key",
    "t22"."_bk"
  FROM "_stored_later_steps" AS "t22"
  WHERE
    "t22"."_m2"
)
SELECT
  SUM(CAST("t42"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t42"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t42"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t42"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t42"."_dur1", 0.9) AS "q1_90",
  SUM(CAST("t42"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t42"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t42"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t42"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t42"."_dur2", 0.9) AS "q2_90",
  SUM(CAST("t42"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t42"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t42"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t42"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t42"."_dur3", 0.9) AS "q3_90",
  SUM(CAST((
    "t42"."_dur3" >= 0
  ) AND (
    "t42"."_dur3" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h0",
  SUM(CAST((
    "t42"."_dur3" >= 60
  ) AND (
    "t42"."_dur3" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h1",
  SUM(CAST((
    "t42"."_dur3" >= 300
  ) AND (
    "t42"."_dur3" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h2",
  SUM(CAST((
    "t42"."_dur3" >= 900
  ) AND (
    "t42"."_dur3" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h3",
  SUM(CAST((
    "t42"."_dur3" >= 1800
  ) AND (
    "t42"."_dur3" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h4",
  SUM(CAST((
    "t42"."_dur3" >= 3600
  ) AND (
    "t42"."_dur3" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h5",
  SUM(CAST((
    "t42"."_dur3" >= 10800
  ) AND (
    "t42"."_dur3" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h6",
  SUM(CAST((
    "t42"."_dur3" >= 21600
  ) AND (
    "t42"."_dur3" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h7",
  SUM(CAST((
    "t42"."_dur3" >= 43200
  ) AND (
    "t42"."_dur3" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t42"."_level" >= 3) AS "h8"
FROM (
  SELECT
    "t41"."_v",
    MAX("t41"."_level") AS "_level",
    MIN("t41"."_first") AS "_first",
    MIN("t41"."_dur1") AS "_dur1",
    MIN("t41"."_dur2") AS "_dur2",
    MIN("t41"."_dur3") AS "_dur3"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t39"."_v",
        "t39"."product_id",
        MAX("t39"."_level") AS "_level",
        MIN("t39"."_first") AS "_first",
        MIN("t39"."_dur1") AS "_dur1",
        MIN("t39"."_dur2") AS "_dur2",
        MIN("t39"."_dur3") AS "_dur3"
      FROM (
        SELECT
          *
        FROM (
          SELECT
            *
          FROM (
            SELECT
              "t36"."_v",
              "t36"."product_id",
              MAX("t36"."_lev") AS "_level",
              MIN("t36"."event_at") FILTER(WHERE
                "t36"."_m1") AS "_first",
              MIN("t36"."_d1") AS "_dur1",
              MIN("t36"."_d2") AS "_dur2",
              MIN("t36"."_d3") AS "_dur3"
            FROM (
              SELECT
                "t35"."_v",
                "t35"."event_at",
                "t35"."product_id",
                "t35"."_m1",
                "t35"."_m2",
                "t35"."_m3",
                "t35"."_key",
                "t35"."_s2",
                "t35"."_s3",
                CASE
                  WHEN "t35"."_m3"
                  AND (
                    "t35"."_s3" IS NOT NULL
                  )
                  AND (
                    "t35"."event_at" <= (
                      "t35"."_s3" + INTERVAL '86400' SECOND
                    )
                  )
                  THEN 3
                  ELSE CASE
                    WHEN "t35"."_m2"
                    AND (
                      "t35"."_s2" IS NOT NULL
                    )
                    AND (
                      "t35"."event_at" <= (
                        "t35"."_s2" + INTERVAL '86400' SECOND
                      )
                    )
                    THEN 2
                    ELSE CASE WHEN "t35"."_m1" THEN 1 ELSE 0 END
                  END
                END AS "_lev",
                "t35"."_m1" AS "_ok1",
                CASE WHEN "t35"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
                "t35"."_m2"
                AND (
                  "t35"."_s2" IS NOT NULL
                )
                AND (
                  "t35"."event_at" <= (
                    "t35"."_s2" + INTERVAL '86400' SECOND
                  )
                ) AS "_ok2",
                CASE
                  WHEN "t35"."_m2"
                  AND (
                    "t35"."_s2" IS NOT NULL
                  )
                  AND (
                    "t35"."event_at" <= (
                      "t35"."_s2" + INTERVAL '86400' SECOND
                    )
                  )
                  THEN CAST(FLOOR(EPOCH(CAST("t35"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t35"."_s2" AS TIMESTAMP))) AS BIGINT)
                  ELSE CAST(NULL AS BIGINT)
                END AS "_d2",
                "t35"."_m3"
                AND (
                  "t35"."_s3" IS NOT NULL
                )
                AND (
                  "t35"."event_at" <= (
                    "t35"."_s3" + INTERVAL '86400' SECOND
                  )
                ) AS "_ok3",
                CASE
                  WHEN "t35"."_m3"
                  AND (
                    "t35"."_s3" IS NOT NULL
                  )
                  AND (
                    "t35"."event_at" <= (
                      "t35"."_s3" + INTERVAL '86400' SECOND
                    )
                  )
                  THEN CAST(FLOOR(EPOCH(CAST("t35"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t35"."_s3" AS TIMESTAMP))) AS BIGINT)
                  ELSE CAST(NULL AS BIGINT)
                END AS "_d3"
              FROM (
                SELECT
                  "t34"."_v",
                  "t34"."event_at",
                  "t34"."product_id",
                  "t34"."_m1",
                  "t34"."_m2",
                  "t34"."_m3",
                  "t34"."_key",
                  "t34"."_s2",
                  MAX("t34"."_s2") FILTER(WHERE
                    "t34"."_m2") OVER (
                    PARTITION BY "t34"."_v", "t34"."product_id"
                    ORDER BY "t34"."event_at" ASC, "t34"."_key" ASC
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                  ) AS "_s3"
                FROM (
                  SELECT
                    "t24"."_v",
                    "t24"."event_at",
                    "t24"."product_id",
                    "t24"."_m1",
                    "t24"."_m2",
                    "t24"."_m3",
                    "t24"."_key",
                    "t33"."_s2"
                  FROM "_stored_later_steps" AS "t24"
                  LEFT OUTER JOIN (
                    SELECT
                      "t31"."_v",
                      "t31"."product_id",
                      "t31"."event_at",
                      "t31"."_key",
                      MAX("t31"."_t1") AS "_s2"
                    FROM (
                      SELECT
                        "t19"."_v",
                        "t19"."product_id",
                        "t19"."_t1",
                        "t19"."_b1",
                        "t30"."_v" AS "_v_right",
                        "t30"."product_id" AS "product_id_right",
                        "t30"."event_at",
                        "t30"."_key",
                        "t30"."_bk",
                        "t30"."_bj"
                      FROM "t17" AS "t19"
                      INNER JOIN (
                        SELECT
                          *
                        FROM (
                          SELECT
                            "t26"."_v",
                            "t26"."product_id",
                            "t26"."event_at",
                            "t26"."_key",
                            "t26"."_bk",
                            "t26"."_bk" AS "_bj"
                          FROM "t25" AS "t26"
                        ) AS "t27"
                        UNION ALL
                        SELECT
                          *
                        FROM (
                          SELECT
                            "t26"."_v",
                            "t26"."product_id",
                            "t26"."event_at",
                            "t26"."_key",
                            "t26"."_bk",
                            "t26"."_bk" - 1 AS "_bj"
                          FROM "t25" AS "t26"
                        ) AS "t28"
                      ) AS "t30"
                        ON "t19"."_v" = "t30"."_v"
                        AND "t19"."product_id" = "t30"."product_id"
                        AND "t30"."_bj" = "t19"."_b1"
                        AND "t19"."_t1" <= "t30"."event_at"
                    ) AS "t31"
                    GROUP BY
                      1,
                      2,
                      3,
                      4
                  ) AS "t33"
                    ON "t24"."_v" = "t33"."_v"
                    AND "t24"."product_id" = "t33"."product_id"
                    AND "t24"."event_at" = "t33"."event_at"
                    AND "t24"."_key" = "t33"."_key"
                ) AS "t34"
              ) AS "t35"
            ) AS "t36"
            GROUP BY
              1,
              2
          ) AS "t37"
        ) AS "t38"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            *
          FROM (
            SELECT
              "t18"."_v",
              "t18"."product_id",
              1 AS "_level",
              MIN("t18"."_t1") AS "_first",
              0 AS "_dur1",
              CAST(NULL AS BIGINT) AS "_dur2",
              CAST(NULL AS BIGINT) AS "_dur3"
            FROM "t17" AS "t18"
            GROUP BY
              1,
              2
          ) AS "t21"
        ) AS "t23"
      ) AS "t39"
      GROUP BY
        1,
        2
    ) AS "t40"
    WHERE
      "t40"."_level" >= 1
  ) AS "t41"
  GROUP BY
    1
) AS "t42"
