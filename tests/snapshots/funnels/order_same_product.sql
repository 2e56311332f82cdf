WITH "t18" AS (
  SELECT
    *
  FROM (
    SELECT
      COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
      CAST("t1"."event_at" AS TIMESTAMP) AS "event_at",
      "t1"."product_id",
      "t1"."properties",
      "t1"."event_type" = 'view' AS "_m1",
      "t1"."event_type" = 'add_to_cart' AS "_m2",
      "t1"."event_type" = 'purchase' AS "_m3",
      CAST(NULL AS DOUBLE) AS "_line_value"
    FROM "events" AS "t1"
    WHERE
      "t1"."event_type" = 'view'
      AND (
        (
          "t1"."user_id" IS NOT NULL
        ) OR (
          "t1"."anonymous_id" IS NOT NULL
        )
      )
      AND "t1"."product_id" IS NOT NULL
  ) AS "t6"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      "t14"."_v",
      "t14"."event_at",
      "t14"."product_id",
      "t14"."properties",
      "t14"."_m1",
      "t14"."_m2",
      "t14"."_m3",
      "t14"."_line_value"
    FROM (
      SELECT
        "t10"."_v",
        "t10"."event_at",
        "t10"."properties",
        "t10"."_m1",
        "t10"."_m2",
        "t10"."_m3",
        "t13"."_pid" AS "product_id",
        "t13"."_line_value"
      FROM (
        SELECT
          COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
          "t1"."event_at",
          "t1"."product_id",
          "t1"."properties",
          "t1"."event_type" = 'view' AS "_m1",
          "t1"."event_type" = 'add_to_cart' AS "_m2",
          "t1"."event_type" = 'purchase' AS "_m3",
          NULLIF(REGEXP_EXTRACT("t1"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') AS "_order"
        FROM "events" AS "t1"
        WHERE
          "t1"."event_type" = 'view'
          AND (
            (
              "t1"."user_id" IS NOT NULL
            ) OR (
              "t1"."anonymous_id" IS NOT NULL
            )
          )
          AND "t1"."product_id" IS NULL
          AND NULLIF(REGEXP_EXTRACT("t1"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') IS NOT NULL
      ) AS "t10"
      INNER JOIN (
        SELECT
          "t5"."order_id" AS "_oid",
          "t5"."product_id" AS "_pid",
          SUM((
            "t5"."quantity" * "t5"."unit_price"
          ) - "t5"."discount_amount") AS "_line_value"
        FROM (
          SELECT
            *
          FROM "order_items" AS "t2"
          WHERE
            "t2"."product_id" IS NOT NULL
        ) AS "t5"
        GROUP BY
          1,
          2
      ) AS "t13"
        ON "t10"."_order" = "t13"."_oid"
    ) AS "t14"
  ) AS "t16"
), "_stored_later_steps" AS MATERIALIZED (
  SELECT
    "t19"."_v",
    "t19"."event_at",
    "t19"."product_id",
    "t19"."properties",
    "t19"."_m1",
    "t19"."_m2",
    "t19"."_m3",
    "t19"."_line_value",
    (
      CAST(CASE WHEN "t19"."_m1" THEN 1 WHEN "t19"."_m2" THEN 2 WHEN "t19"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
    ) + (
      0 + (
        CAST("t19"."_m1" AS BIGINT) * 1
      ) + (
        CAST("t19"."_m2" AS BIGINT) * 2
      ) + (
        CAST("t19"."_m3" AS BIGINT) * 4
      )
    ) AS "_key",
    CAST(FLOOR(EPOCH(CAST("t19"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_bk"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
        CAST("t1"."event_at" AS TIMESTAMP) AS "event_at",
        "t1"."product_id",
        "t1"."properties",
        "t1"."event_type" = 'view' AS "_m1",
        "t1"."event_type" = 'add_to_cart' AS "_m2",
        "t1"."event_type" = 'purchase' AS "_m3",
        CAST(NULL AS DOUBLE) AS "_line_value"
      FROM "events" AS "t1"
      WHERE
        "t1"."event_type" IN ('add_to_cart', 'purchase')
        AND (
          (
            "t1"."user_id" IS NOT NULL
          ) OR (
            "t1"."anonymous_id" IS NOT NULL
          )
        )
        AND "t1"."product_id" IS NOT NULL
    ) AS "t7"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        "t15"."_v",
        "t15"."event_at",
        "t15"."product_id",
        "t15"."properties",
        "t15"."_m1",
        "t15"."_m2",
        "t15"."_m3",
        "t15"."_line_value"
      FROM (
        SELECT
          "t11"."_v",
          "t11"."event_at",
          "t11"."properties",
          "t11"."_m1",
          "t11"."_m2",
          "t11"."_m3",
          "t13"."_pid" AS "product_id",
          "t13"."_line_value"
        FROM (
          SELECT
            COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
            "t1"."event_at",
            "t1"."product_id",
            "t1"."properties",
            "t1"."event_type" = 'view' AS "_m1",
            "t1"."event_type" = 'add_to_cart' AS "_m2",
            "t1"."event_type" = 'purchase' AS "_m3",
            NULLIF(REGEXP_EXTRACT("t1"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') AS "_order"
          FROM "events" AS "t1"
          WHERE
            "t1"."event_type" IN ('add_to_cart', 'purchase')
            AND (
              (
                "t1"."user_id" IS NOT NULL
              ) OR (
                "t1"."anonymous_id" IS NOT NULL
              )
            )
            AND "t1"."product_id" IS NULL
            AND NULLIF(REGEXP_EXTRACT("t1"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '') IS NOT NULL
        ) AS "t11"
        INNER JOIN (
          SELECT
            "t5"."order_id" AS "_oid",
            "t5"."product_id" AS "_pid",
            SUM((
              "t5"."quantity" * "t5"."unit_price"
            ) - "t5"."discount_amount") AS "_line_value"
          FROM (
            SELECT
              *
            FROM "order_items" AS "t2"
            WHERE
              "t2"."product_id" IS NOT NULL
          ) AS "t5"
          GROUP BY
            1,
            2
        ) AS "t13"
          ON "t11"."_order" = "t13"."_oid"
      ) AS "t15"
    ) AS "t17"
  ) AS "t19"
  WHERE
    "t19"."_m2" OR "t19"."_m3"
), "t28" AS (
  SELECT DISTINCT
    "t26"."_v",
    "t26"."product_id",
    "t26"."event_at",
    "t26"."_key",
    "t26"."_bk"
  FROM "_stored_later_steps" AS "t26"
  WHERE
    "t26"."_m2"
), "t47" AS (
  SELECT
    "t46"."_v",
    "t46"."event_at",
    "t46"."product_id",
    "t46"."_m1",
    "t46"."_m2",
    "t46"."_m3",
    "t46"."_key",
    "t46"."_s2",
    "t46"."_val",
    ROW_NUMBER() OVER (
      PARTITION BY "t46"."_v", "t46"."product_id"
      ORDER BY "t46"."event_at" ASC, "t46"."_key" ASC, "t46"."_val" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - 1 AS "_rn",
    COALESCE(
      SUM(CAST("t46"."_m3" AS BIGINT)) OVER (
        PARTITION BY "t46"."_v", "t46"."product_id"
        ORDER BY "t46"."event_at" ASC, "t46"."_key" ASC, "t46"."_val" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
      ),
      0
    ) AS "_seg",
    MAX("t46"."event_at") FILTER(WHERE
      "t46"."_m3") OVER (
      PARTITION BY "t46"."_v", "t46"."product_id"
      ORDER BY "t46"."event_at" ASC, "t46"."_key" ASC, "t46"."_val" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
    ) AS "_b",
    MAX("t46"."_s2") FILTER(WHERE
      "t46"."_m2") OVER (
      PARTITION BY "t46"."_v", "t46"."product_id"
      ORDER BY "t46"."event_at" ASC, "t46"."_key" ASC, "t46"."_val" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
    ) AS "_s3"
  FROM (
    SELECT
      "t45"."_v",
      "t45"."event_at",
      "t45"."product_id",
      "t45"."_m1",
      "t45"."_m2",
      "t45"."_m3",
      "t45"."_key",
      "t45"."_s2",
      CASE
        WHEN "t45"."_m3"
        THEN COALESCE("t45"."_line_value", "t45"."_own", "t45"."_list_price")
        ELSE COALESCE("t45"."_own", "t45"."_list_price")
      END AS "_val"
    FROM (
      SELECT
        "t44".*
        EXCLUDE ("_pid")
      FROM (
        SELECT
          "t43"."_v",
          "t43"."event_at",
          "t43"."product_id",
          "t43"."properties",
          "t43"."_m1",
          "t43"."_m2",
          "t43"."_m3",
          "t43"."_line_value",
          "t43"."_key",
          "t43"."_s2",
          "t43"."_own",
          "t4"."_pid",
          "t4"."_list_price"
        FROM (
          SELECT
            "t41"."_v",
            "t41"."event_at",
            "t41"."product_id",
            "t41"."properties",
            "t41"."_m1",
            "t41"."_m2",
            "t41"."_m3",
            "t41"."_line_value",
            "t41"."_key",
            "t41"."_s2",
            CASE
              WHEN "t41"."properties" IS NOT NULL
              THEN COALESCE(
                TRY_CAST(NULLIF(REGEXP_EXTRACT("t41"."properties", '"price"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE),
                TRY_CAST(NULLIF(REGEXP_EXTRACT("t41"."properties", '"value"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE)
              )
              ELSE CAST(NULL AS DOUBLE)
            END AS "_own"
          FROM (
            SELECT
              "t27"."_v",
              "t27"."event_at",
              "t27"."product_id",
              "t27"."properties",
              "t27"."_m1",
              "t27"."_m2",
              "t27"."_m3",
              "t27"."_line_value",
              "t27"."_key",
              "t40"."_s2"
            FROM "_stored_later_steps" AS "t27"
            LEFT OUTER JOIN (
              SELECT
                "t38"."_v",
                "t38"."product_id",
                "t38"."event_at",
                "t38"."_key",
                MAX("t38"."_t1") AS "_s2"
              FROM (
                SELECT
                  "t22"."_v",
                  "t22"."product_id",
                  "t22"."_t1",
                  "t22"."_b1",
                  "t37"."_v" AS "_v_right",
                  "t37"."product_id" AS "product_id_right",
                  "t37"."event_at",
                  "t37"."_key",
                  "t37"."_bk",
                  "t37"."_bj"
                FROM (
                  SELECT
                    "t20"."_v",
                    "t20"."product_id",
                    "t20"."event_at" AS "_t1",
                    CAST(FLOOR(EPOCH(CAST("t20"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_b1"
                  FROM "t18" AS "t20"
                  WHERE
                    "t20"."_m1"
                ) AS "t22"
                INNER JOIN (
                  SELECT
                    *
                  FROM (
                    SELECT
                      "t30"."_v",
                      "t30"."product_id",
                      "t30"."event_at",
                      "t30"."_key",
                      "t30"."_bk",
                      "t30"."_bk" AS "_bj"
                    FROM "t28" AS "t30"
                  ) AS "t32"
                  UNION ALL
                  SELECT
                    *
                  FROM (
                    SELECT
                      "t30"."_v",
                      "t30"."product_id",
                      "t30"."event_at",
                      "t30"."_key",
                      "t30"."_bk",
                      "t30"."_bk" - 1 AS "_bj"
                    FROM "t28" AS "t30"
                  ) AS "t33"
                ) AS "t37"
                  ON "t22"."_v" = "t37"."_v"
                  AND "t22"."product_id" = "t37"."product_id"
                  AND "t37"."_bj" = "t22"."_b1"
                  AND "t22"."_t1" <= "t37"."event_at"
              ) AS "t38"
              GROUP BY
                1,
                2,
                3,
                4
            ) AS "t40"
              ON "t27"."_v" = "t40"."_v"
              AND "t27"."product_id" = "t40"."product_id"
              AND "t27"."event_at" = "t40"."event_at"
              AND "t27"."_key" = "t40"."_key"
          ) AS "t41"
        ) AS "t43"
        LEFT OUTER JOIN (
          SELECT
            "t0"."product_id" AS "_pid",
            "t0"."price" AS "_list_price"
          FROM "products" AS "t0"
        ) AS "t4"
          ON "t43"."product_id" = "t4"."_pid"
      ) AS "t44"
    ) AS "t45"
  ) AS "t46"
)
SELECT
  SUM(CAST("t65"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t65"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t65"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t65"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t65"."_dur1", 0.9) AS "q1_90",
  SUM("t65"."_val1") FILTER(WHERE
    "t65"."_level" >= 1) AS "v1",
  SUM(CAST("t65"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t65"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t65"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t65"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t65"."_dur2", 0.9) AS "q2_90",
  SUM("t65"."_val2") FILTER(WHERE
    "t65"."_level" >= 2) AS "v2",
  SUM("t65"."_val1") FILTER(WHERE
    "t65"."_level" = 1) AS "lost2",
  SUM(CAST("t65"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t65"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t65"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t65"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t65"."_dur3", 0.9) AS "q3_90",
  SUM("t65"."_val3") FILTER(WHERE
    "t65"."_level" >= 3) AS "v3",
  SUM("t65"."_val2") FILTER(WHERE
    "t65"."_level" = 2) AS "lost3",
  SUM(CAST((
    "t65"."_dur3" >= 0
  ) AND (
    "t65"."_dur3" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h0",
  SUM(CAST((
    "t65"."_dur3" >= 60
  ) AND (
    "t65"."_dur3" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h1",
  SUM(CAST((
    "t65"."_dur3" >= 300
  ) AND (
    "t65"."_dur3" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h2",
  SUM(CAST((
    "t65"."_dur3" >= 900
  ) AND (
    "t65"."_dur3" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h3",
  SUM(CAST((
    "t65"."_dur3" >= 1800
  ) AND (
    "t65"."_dur3" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h4",
  SUM(CAST((
    "t65"."_dur3" >= 3600
  ) AND (
    "t65"."_dur3" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h5",
  SUM(CAST((
    "t65"."_dur3" >= 10800
  ) AND (
    "t65"."_dur3" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h6",
  SUM(CAST((
    "t65"."_dur3" >= 21600
  ) AND (
    "t65"."_dur3" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h7",
  SUM(CAST((
    "t65"."_dur3" >= 43200
  ) AND (
    "t65"."_dur3" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t65"."_level" >= 3) AS "h8"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t63"."_v",
      "t63"."product_id",
      "t63"."_j" AS "_seg",
      COALESCE("t56"."_level", 1) AS "_level",
      "t63"."_first",
      0 AS "_dur1",
      "t63"."_v1" AS "_val1",
      "t56"."_dur2",
      "t56"."_val2",
      "t56"."_dur3",
      "t56"."_val3"
    FROM (
      SELECT
        "t61".*
        EXCLUDE ("_tv")
      FROM (
        SELECT
          "t60"."_v",
          "t60"."product_id",
          "t60"."_j",
          "t60"."_tv",
          "t60"."_tv"."t" AS "_first",
          NULLIF("t60"."_tv"."v", CAST('inf' AS DOUBLE)) AS "_v1"
        FROM (
          SELECT
            "t59"."_v",
            "t59"."product_id",
            "t59"."_j",
            MIN("t59"."_tv") AS "_tv"
          FROM (
            SELECT
              "t36"."_v",
              "t36"."product_id",
              COALESCE("t58"."_j", 0) AS "_j",
              {'t': "t36"."_t1", 'v': COALESCE("t36"."_val1", CAST('inf' AS DOUBLE))} AS "_tv"
            FROM (
              SELECT
                "t31"."_v",
                "t31"."product_id",
                "t31"."event_at" AS "_t1",
                COALESCE("t31"."_own", "t31"."_list_price") AS "_val1"
              FROM (
                SELECT
                  "t29".*
                  EXCLUDE ("_pid")
                FROM (
                  SELECT
                    "t25"."_v",
                    "t25"."event_at",
                    "t25"."product_id",
                    "t25"."properties",
                    "t25"."_m1",
                    "t25"."_m2",
                    "t25"."_m3",
                    "t25"."_line_value",
                    "t25"."_own",
                    "t4"."_pid",
                    "t4"."_list_price"
                  FROM (
                    SELECT
                      "t20"."_v",
                      "t20"."event_at",
                      "t20"."product_id",
                      "t20"."properties",
                      "t20"."_m1",
                      "t20"."_m2",
                      "t20"."_m3",
                      "t20"."_line_value",
                      CASE
                        WHEN "t20"."properties" IS NOT NULL
                        THEN COALESCE(
                          TRY_CAST(NULLIF(REGEXP_EXTRACT("t20"."properties", '"price"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE),
                          TRY_CAST(NULLIF(REGEXP_EXTRACT("t20"."properties", '"value"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE)
                        )
                        ELSE CAST(NULL AS DOUBLE)
                      END AS "_own"
                    FROM "t18" AS "t20"
                    WHERE
                      "t20"."_m1"
                  ) AS "t25"
                  LEFT OUTER JOIN (
                    SELECT
                      "t0"."product_id" AS "_pid",
                      "t0"."price" AS "_list_price"
                    FROM "products" AS "t0"
                  ) AS "t4"
                    ON "t25"."product_id" = "t4"."_pid"
                ) AS "t29"
              ) AS "t31"
            ) AS "t36"
            LEFT OUTER JOIN (
              SELECT
                *
              FROM (
                SELECT
                  "t48"."_v",
                  "t48"."product_id",
                  COALESCE("t48"."_b", MAKE_TIMESTAMP(1, 1, 1, 0, 0, 0.0)) AS "_lo",
                  "t48"."event_at" AS "_hi",
                  "t48"."_seg" AS "_j"
                FROM "t47" AS "t48"
                WHERE
                  "t48"."_m3"
              ) AS "t49"
              UNION ALL
              SELECT
                *
              FROM (
                SELECT
                  "t53"."_v",
                  "t53"."product_id",
                  "t53"."_lo",
                  MAKE_TIMESTAMP(9999, 12, 31, 0, 0, 0.0) AS "_hi",
                  "t53"."_j"
                FROM (
                  SELECT
                    "t51"."_v",
                    "t51"."product_id",
                    MAX("t51"."event_at") AS "_lo",
                    MAX("t51"."_seg") + 1 AS "_j"
                  FROM (
                    SELECT
                      "t48"."_v",
                      "t48"."event_at",
                      "t48"."product_id",
                      "t48"."_m1",
                      "t48"."_m2",
                      "t48"."_m3",
                      "t48"."_key",
                      "t48"."_s2",
                      "t48"."_val",
                      "t48"."_rn",
                      "t48"."_seg",
                      "t48"."_b",
                      "t48"."_s3",
                      CASE
                        WHEN "t48"."_m3"
                        AND (
                          "t48"."_s3" IS NOT NULL
                        )
                        AND (
                          "t48"."event_at" <= (
                            "t48"."_s3" + INTERVAL '86400' SECOND
                          )
                        )
                        AND (
                          (
                            "t48"."_b" IS NULL
                          ) OR (
                            "t48"."_s3" > "t48"."_b"
                          )
                        )
                        THEN 3
                        ELSE CASE
                          WHEN "t48"."_m2"
                          AND (
                            "t48"."_s2" IS NOT NULL
                          )
                          AND (
                            "t48"."event_at" <= (
                              "t48"."_s2" + INTERVAL '86400' SECOND
                            )
                          )
                          AND (
                            (
                              "t48"."_b" IS NULL
                            ) OR (
                              "t48"."_s2" > "t48"."_b"
                            )
                          )
                          THEN 2
                          ELSE CASE WHEN "t48"."_m1" THEN 1 ELSE 0 END
                        END
                      END AS "_lev",
                      "t48"."_m1" AS "_ok1",
                      CASE WHEN "t48"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
                      "t48"."_val" AS "_rv1",
                      "t48"."_m2"
                      AND (
                        "t48"."_s2" IS NOT NULL
                      )
                      AND (
                        "t48"."event_at" <= (
                          "t48"."_s2" + INTERVAL '86400' SECOND
                        )
                      )
                      AND (
                        (
                          "t48"."_b" IS NULL
                        ) OR (
                          "t48"."_s2" > "t48"."_b"
                        )
                      ) AS "_ok2",
                      CASE
                        WHEN "t48"."_m2"
                        AND (
                          "t48"."_s2" IS NOT NULL
                        )
                        AND (
                          "t48"."event_at" <= (
                            "t48"."_s2" + INTERVAL '86400' SECOND
                          )
                        )
                        AND (
                          (
                            "t48"."_b" IS NULL
                          ) OR (
                            "t48"."_s2" > "t48"."_b"
                          )
                        )
                        THEN CAST(FLOOR(EPOCH(CAST("t48"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t48"."_s2" AS TIMESTAMP))) AS BIGINT)
                        ELSE CAST(NULL AS BIGINT)
                      END AS "_d2",
                      "t48"."_val" AS "_rv2",
                      "t48"."_m3"
                      AND (
                        "t48"."_s3" IS NOT NULL
                      )
                      AND (
                        "t48"."event_at" <= (
                          "t48"."_s3" + INTERVAL '86400' SECOND
                        )
                      )
                      AND (
                        (
                          "t48"."_b" IS NULL
                        ) OR (
                          "t48"."_s3" > "t48"."_b"
                        )
                      ) AS "_ok3",
                      CASE
                        WHEN "t48"."_m3"
                        AND (
                          "t48"."_s3" IS NOT NULL
                        )
                        AND (
                          "t48"."event_at" <= (
                            "t48"."_s3" + INTERVAL '86400' SECOND
                          )
                        )
                        AND (
                          (
                            "t48"."_b" IS NULL
                          ) OR (
                            "t48"."_s3" > "t48"."_b"
                          )
                        )
                        THEN CAST(FLOOR(EPOCH(CAST("t48"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t48"."_s3" AS TIMESTAMP))) AS BIGINT)
                        ELSE CAST(NULL AS BIGINT)
                      END AS "_d3",
                      "t48"."_val" AS "_rv3"
                    FROM "t47" AS "t48"
                    WHERE
                      "t48"."_m3"
                  ) AS "t51"
                  GROUP BY
                    1,
                    2
                ) AS "t53"
              ) AS "t55"
            ) AS "t58"
              ON "t36"."_v" = "t58"."_v"
              AND "t36"."product_id" = "t58"."product_id"
              AND "t58"."_lo" < "t36"."_t1"
              AND "t36"."_t1" <= "t58"."_hi"
          ) AS "t59"
          GROUP BY
            1,
            2,
            3
        ) AS "t60"
      ) AS "t61"
    ) AS "t63"
    LEFT OUTER JOIN (
      SELECT
        *
      FROM (
        SELECT
          "t50"."_v",
          "t50"."product_id",
          "t50"."_seg",
          MAX("t50"."_lev") AS "_level",
          MIN("t50"."event_at") FILTER(WHERE
            "t50"."_m1") AS "_first",
          MIN("t50"."_d1") AS "_dur1",
          FIRST("t50"."_rv1" ORDER BY "t50"."_rn") FILTER(WHERE
            "t50"."_ok1") AS "_val1",
          MIN("t50"."_d2") AS "_dur2",
          FIRST("t50"."_rv2" ORDER BY "t50"."_rn") FILTER(WHERE
            "t50"."_ok2") AS "_val2",
          MIN("t50"."_d3") AS "_dur3",
          FIRST("t50"."_rv3" ORDER BY "t50"."_rn") FILTER(WHERE
            "t50"."_ok3") AS "_val3"
        FROM (
          SELECT
            "t48"."_v",
            "t48"."event_at",
            "t48"."product_id",
            "t48"."_m1",
            "t48"."_m2",
            "t48"."_m3",
            "t48"."_key",
            "t48"."_s2",
            "t48"."_val",
            "t48"."_rn",
            "t48"."_seg",
            "t48"."_b",
            "t48"."_s3",
            CASE
              WHEN "t48"."_m3"
              AND (
                "t48"."_s3" IS NOT NULL
              )
              AND (
                "t48"."event_at" <= (
                  "t48"."_s3" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t48"."_b" IS NULL
                ) OR (
                  "t48"."_s3" > "t48"."_b"
                )
              )
              THEN 3
              ELSE CASE
                WHEN "t48"."_m2"
                AND (
                  "t48"."_s2" IS NOT NULL
                )
                AND (
                  "t48"."event_at" <= (
                    "t48"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                AND (
                  (
                    "t48"."_b" IS NULL
                  ) OR (
                    "t48"."_s2" > "t48"."_b"
                  )
                )
                THEN 2
                ELSE CASE WHEN "t48"."_m1" THEN 1 ELSE 0 END
              END
            END AS "_lev",
            "t48"."_m1" AS "_ok1",
            CASE WHEN "t48"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
            "t48"."_val" AS "_rv1",
            "t48"."_m2"
            AND (
              "t48"."_s2" IS NOT NULL
            )
            AND (
              "t48"."event_at" <= (
                "t48"."_s2" + INTERVAL '86400' SECOND
              )
            )
            AND (
              (
                "t48"."_b" IS NULL
              ) OR (
                "t48"."_s2" > "t48"."_b"
              )
            ) AS "_ok2",
            CASE
              WHEN "t48"."_m2"
              AND (
                "t48"."_s2" IS NOT NULL
              )
              AND (
                "t48"."event_at" <= (
                  "t48"."_s2" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t48"."_b" IS NULL
                ) OR (
                  "t48"."_s2" > "t48"."_b"
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t48"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t48"."_s2" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d2",
            "t48"."_val" AS "_rv2",
            "t48"."_m3"
            AND (
              "t48"."_s3" IS NOT NULL
            )
            AND (
              "t48"."event_at" <= (
                "t48"."_s3" + INTERVAL '86400' SECOND
              )
            )
            AND (
              (
                "t48"."_b" IS NULL
              ) OR (
                "t48"."_s3" > "t48"."_b"
              )
            ) AS "_ok3",
            CASE
              WHEN "t48"."_m3"
              AND (
                "t48"."_s3" IS NOT NULL
              )
              AND (
                "t48"."event_at" <= (
                  "t48"."_s3" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t48"."_b" IS NULL
                ) OR (
                  "t48"."_s3" > "t48"."_b"
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t48"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t48"."_s3" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d3",
            "t48"."_val" AS "_rv3"
          FROM "t47" AS "t48"
        ) AS "t50"
        GROUP BY
          1,
          2,
          3
      ) AS "t52"
      WHERE
        "t52"."_level" >= 2
    ) AS "t56"
      ON "t63"."_v" = "t56"."_v"
      AND "t63"."product_id" = "t56"."product_id"
      AND "t63"."_j" = "t56"."_seg"
  ) AS "t64"
  WHERE
    "t64"."_level" >= 1
) AS "t65"
