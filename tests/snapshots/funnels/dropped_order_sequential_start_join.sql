WITH "_stored_later_steps" AS MATERIALIZED (
  SELECT
    "t7"."_v",
    "t7"."event_at",
    "t7"."user_id",
    "t7"."product_id",
    "t7"."properties",
    "t7"."_m1",
    "t7"."_m2",
    "t7"."_m3",
    (
      CAST(CASE WHEN "t7"."_m1" THEN 1 WHEN "t7"."_m2" THEN 2 WHEN "t7"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
    ) + (
      0 + (
        CAST("t7"."_m1" AS BIGINT) * 1
      ) + (
        CAST("t7"."_m2" AS BIGINT) * 2
      ) + (
        CAST("t7"."_m3" AS BIGINT) * 4
      )
    ) AS "_key",
    CAST(FLOOR(EPOCH(CAST("t7"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_bk"
  FROM (
    SELECT
      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
      "t0"."event_at",
      "t0"."user_id",
      "t0"."product_id",
      "t0"."properties",
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
  ) AS "t7"
  WHERE
    "t7"."_m2" OR "t7"."_m3"
), "t19" AS (
  SELECT DISTINCT
    "t16"."_v",
    "t16"."event_at",
    "t16"."_key",
    "t16"."_bk"
  FROM "_stored_later_steps" AS "t16"
  WHERE
    "t16"."_m2"
), "t39" AS (
  SELECT
    "t38"."_v",
    "t38"."event_at",
    "t38"."user_id",
    "t38"."product_id",
    "t38"."_m1",
    "t38"."_m2",
    "t38"."_m3",
    "t38"."_key",
    "t38"."_s2",
    "t38"."_val",
    ROW_NUMBER() OVER (
      PARTITION BY "t38"."_v"
      ORDER BY "t38"."event_at" ASC, "t38"."_key" ASC, "t38"."_val" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - 1 AS "_rn",
    COALESCE(
      SUM(CAST("t38"."_m3" AS BIGINT)) OVER (
        PARTITION BY "t38"."_v"
        ORDER BY "t38"."event_at" ASC, "t38"."_key" ASC, "t38"."_val" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
      ),
      0
    ) AS "_seg",
    MAX("t38"."event_at") FILTER(WHERE
      "t38"."_m3") OVER (
      PARTITION BY "t38"."_v"
      ORDER BY "t38"."event_at" ASC, "t38"."_key" ASC, "t38"."_val" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
    ) AS "_b",
    MAX("t38"."_s2") FILTER(WHERE
      "t38"."_m2") OVER (
      PARTITION BY "t38"."_v"
      ORDER BY "t38"."event_at" ASC, "t38"."_key" ASC, "t38"."_val" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
    ) AS "_s3"
  FROM (
    SELECT
      "t37"."_v",
      "t37"."event_at",
      "t37"."user_id",
      "t37"."product_id",
      "t37"."_m1",
      "t37"."_m2",
      "t37"."_m3",
      "t37"."_key",
      "t37"."_s2",
      CASE
        WHEN "t37"."_m3"
        THEN COALESCE("t37"."_net", "t37"."_own", "t37"."_list_price")
        ELSE COALESCE("t37"."_own", "t37"."_list_price")
      END AS "_val"
    FROM (
      SELECT
        "t36".*
        EXCLUDE ("_oid")
      FROM (
        SELECT
          "t35"."_v",
          "t35"."event_at",
          "t35"."user_id",
          "t35"."product_id",
          "t35"."properties",
          "t35"."_m1",
          "t35"."_m2",
          "t35"."_m3",
          "t35"."_key",
          "t35"."_s2",
          "t35"."_own",
          "t35"."_list_price",
          "t35"."_order",
          "t6"."_oid",
          "t6"."_net"
        FROM (
          SELECT
            "t33"."_v",
            "t33"."event_at",
            "t33"."user_id",
            "t33"."product_id",
            "t33"."properties",
            "t33"."_m1",
            "t33"."_m2",
            "t33"."_m3",
            "t33"."_key",
            "t33"."_s2",
            "t33"."_own",
            "t33"."_list_price",
            CASE
              WHEN (
                "t33"."properties" IS NOT NULL
              ) AND "t33"."_m3"
              THEN NULLIF(REGEXP_EXTRACT("t33"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '')
              ELSE CAST(NULL AS TEXT)
            END AS "_order"
          FROM (
            SELECT
              "t32".*
              EXCLUDE ("_pid")
            FROM (
              SELECT
                "t31"."_v",
                "t31"."event_at",
                "t31"."user_id",
                "t31"."product_id",
                "t31"."properties",
                "t31"."_m1",
                "t31"."_m2",
                "t31"."_m3",
                "t31"."_key",
                "t31"."_s2",
                "t31"."_own",
                "t5"."_pid",
                "t5"."_list_price"
              FROM (
                SELECT
                  "t29"."_v",
                  "t29"."event_at",
                  "t29"."user_id",
                  "t29"."product_id",
                  "t29"."properties",
                  "t29"."_m1",
                  "t29"."_m2",
                  "t29"."_m3",
                  "t29"."_key",
                  "t29"."_s2",
                  CASE
                    WHEN "t29"."properties" IS NOT NULL
                    THEN COALESCE(
                      TRY_CAST(NULLIF(REGEXP_EXTRACT("t29"."properties", '"price"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE),
                      TRY_CAST(NULLIF(REGEXP_EXTRACT("t29"."properties", '"value"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE)
                    )
                    ELSE CAST(NULL AS DOUBLE)
                  END AS "_own"
                FROM (
                  SELECT
                    "t17"."_v",
                    "t17"."event_at",
                    "t17"."user_id",
                    "t17"."product_id",
                    "t17"."properties",
                    "t17"."_m1",
                    "t17"."_m2",
                    "t17"."_m3",
                    "t17"."_key",
                    "t28"."_s2"
                  FROM "_stored_later_steps" AS "t17"
                  LEFT OUTER JOIN (
                    SELECT
                      "t26"."_v",
                      "t26"."event_at",
                      "t26"."_key",
                      MAX("t26"."_t1") AS "_s2"
                    FROM (
                      SELECT
                        "t12"."_v",
                        "t12"."user_id",
                        "t12"."_t1",
                        "t12"."_b1",
                        "t25"."_v" AS "_v_right",
                        "t25"."event_at",
                        "t25"."_key",
                        "t25"."_bk",
                        "t25"."_bj"
                      FROM (
                        SELECT
                          "t8"."_v",
                          "t8"."user_id",
                          "t8"."event_at" AS "_t1",
                          CAST(FLOOR(EPOCH(CAST("t8"."event_at" AS TIMESTAMP)) / 86400) AS BIGINT) AS "_b1"
                        FROM (
                          SELECT
                            COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
                            "t0"."event_at",
                            "t0"."user_id",
                            "t0"."product_id",
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
                        ) AS "t8"
                      ) AS "t12"
                      INNER JOIN (
                        SELECT
                          *
                        FROM (
                          SELECT
                            "t21"."_v",
                            "t21"."event_at",
                            "t21"."_key",
                            "t21"."_bk",
                            "t21"."_bk" AS "_bj"
                          FROM "t19" AS "t21"
                        ) AS "t22"
                        UNION ALL
                        SELECT
                          *
                        FROM (
                          SELECT
                            "t21"."_v",
                            "t21"."event_at",
                            "t21"."_key",
                            "t21"."_bk",
                            "t21"."_bk" - 1 AS "_bj"
                          FROM "t19" AS "t21"
                        ) AS "t23"
                      ) AS "t25"
                        ON "t12"."_v" = "t25"."_v"
                        AND "t25"."_bj" = "t12"."_b1"
                        AND "t12"."_t1" <= "t25"."event_at"
                    ) AS "t26"
                    GROUP BY
                      1,
                      2,
                      3
                  ) AS "t28"
                    ON "t17"."_v" = "t28"."_v"
                    AND "t17"."event_at" = "t28"."event_at"
                    AND "t17"."_key" = "t28"."_key"
                ) AS "t29"
              ) AS "t31"
              LEFT OUTER JOIN (
                SELECT
                  "t1"."product_id" AS "_pid",
                  "t1"."price" AS "_list_price"
                FROM "products" AS "t1"
              ) AS "t5"
                ON "t31"."product_id" = "t5"."_pid"
            ) AS "t32"
          ) AS "t33"
        ) AS "t35"
        LEFT OUTER JOIN (
          SELECT
            "t2"."order_id" AS "_oid",
            "t2"."net_amount" AS "_net"
          FROM "orders" AS "t2"
        ) AS "t6"
          ON "t35"."_order" = "t6"."_oid"
      ) AS "t36"
    ) AS "t37"
  ) AS "t38"
)
SELECT
  "t57"."_v" AS "visitor",
  MAX("t57"."user_id") AS "user_id"
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t55"."_v",
      "t55"."_j" AS "_seg",
      COALESCE("t48"."_level", 1) AS "_level",
      "t55"."_first",
      "t55"."user_id",
      0 AS "_dur1",
      "t55"."_v1" AS "_val1",
      "t48"."_dur2",
      "t48"."_val2",
      "t48"."_dur3",
      "t48"."_val3"
    FROM (
      SELECT
        "t53".*
        EXCLUDE ("_tv")
      FROM (
        SELECT
          "t52"."_v",
          "t52"."_j",
          "t52"."_tv",
          "t52"."user_id",
          "t52"."_tv"."t" AS "_first",
          NULLIF("t52"."_tv"."v", CAST('inf' AS DOUBLE)) AS "_v1"
        FROM (
          SELECT
            "t51"."_v",
            "t51"."_j",
            MIN("t51"."_tv") AS "_tv",
            MAX("t51"."user_id") AS "user_id"
          FROM (
            SELECT
              "t20"."_v",
              COALESCE("t50"."_j", 0) AS "_j",
              {'t': "t20"."_t1", 'v': COALESCE("t20"."_val1", CAST('inf' AS DOUBLE))} AS "_tv",
              "t20"."user_id"
            FROM (
              SELECT
                "t15"."_v",
                "t15"."user_id",
                "t15"."event_at" AS "_t1",
                COALESCE("t15"."_own", "t15"."_list_price") AS "_val1"
              FROM (
                SELECT
                  "t13".*
                  EXCLUDE ("_pid")
                FROM (
                  SELECT
                    "t10"."_v",
                    "t10"."event_at",
                    "t10"."user_id",
                    "t10"."product_id",
                    "t10"."properties",
                    "t10"."_m1",
                    "t10"."_m2",
                    "t10"."_m3",
                    "t10"."_own",
                    "t5"."_pid",
                    "t5"."_list_price"
                  FROM (
                    SELECT
                      COALESCE("t0"."user_id", "t0"."anonymous_id") AS "_v",
                      "t0"."event_at",
                      "t0"."user_id",
                      "t0"."product_id",
                      "t0"."properties",
                      "t0"."event_type" = 'view' AS "_m1",
                      "t0"."event_type" = 'add_to_cart' AS "_m2",
                      "t0"."event_type" = 'purchase' AS "_m3",
                      CASE
                        WHEN "t0"."properties" IS NOT NULL
                        THEN COALESCE(
                          TRY_CAST(NULLIF(REGEXP_EXTRACT("t0"."properties", '"price"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE),
                          TRY_CAST(NULLIF(REGEXP_EXTRACT("t0"."properties", '"value"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE)
                        )
                        ELSE CAST(NULL AS DOUBLE)
                      END AS "_own"
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
                  ) AS "t10"
                  LEFT OUTER JOIN (
                    SELECT
                      "t1"."product_id" AS "_pid",
                      "t1"."price" AS "_list_price"
                    FROM "products" AS "t1"
                  ) AS "t5"
                    ON "t10"."product_id" = "t5"."_pid"
                ) AS "t13"
              ) AS "t15"
            ) AS "t20"
            LEFT OUTER JOIN (
              SELECT
                *
              FROM (
                SELECT
                  "t40"."_v",
                  COALESCE("t40"."_b", MAKE_TIMESTAMP(1, 1, 1, 0, 0, 0.0)) AS "_lo",
                  "t40"."event_at" AS "_hi",
                  "t40"."_seg" AS "_j"
                FROM "t39" AS "t40"
                WHERE
                  "t40"."_m3"
              ) AS "t41"
              UNION ALL
              SELECT
                *
              FROM (
                SELECT
                  "t45"."_v",
                  "t45"."_lo",
                  MAKE_TIMESTAMP(9999, 12, 31, 0, 0, 0.0) AS "_hi",
                  "t45"."_j"
                FROM (
                  SELECT
                    "t43"."_v",
                    MAX("t43"."event_at") AS "_lo",
                    MAX("t43"."_seg") + 1 AS "_j"
                  FROM (
                    SELECT
                      "t40"."_v",
                      "t40"."event_at",
                      "t40"."user_id",
                      "t40"."product_id",
                      "t40"."_m1",
                      "t40"."_m2",
                      "t40"."_m3",
                      "t40"."_key",
                      "t40"."_s2",
                      "t40"."_val",
                      "t40"."_rn",
                      "t40"."_seg",
                      "t40"."_b",
                      "t40"."_s3",
                      CASE
                        WHEN "t40"."_m3"
                        AND (
                          "t40"."_s3" IS NOT NULL
                        )
                        AND (
                          "t40"."event_at" <= (
                            "t40"."_s3" + INTERVAL '86400' SECOND
                          )
                        )
                        AND (
                          (
                            "t40"."_b" IS NULL
                          ) OR (
                            "t40"."_s3" > "t40"."_b"
                          )
                        )
                        THEN 3
                        ELSE CASE
                          WHEN "t40"."_m2"
                          AND (
                            "t40"."_s2" IS NOT NULL
                          )
                          AND (
                            "t40"."event_at" <= (
                              "t40"."_s2" + INTERVAL '86400' SECOND
                            )
                          )
                          AND (
                            (
                              "t40"."_b" IS NULL
                            ) OR (
                              "t40"."_s2" > "t40"."_b"
                            )
                          )
                          THEN 2
                          ELSE CASE WHEN "t40"."_m1" THEN 1 ELSE 0 END
                        END
                      END AS "_lev",
                      "t40"."_m1" AS "_ok1",
                      CASE WHEN "t40"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
                      "t40"."_val" AS "_rv1",
                      "t40"."_m2"
                      AND (
                        "t40"."_s2" IS NOT NULL
                      )
                      AND (
                        "t40"."event_at" <= (
                          "t40"."_s2" + INTERVAL '86400' SECOND
                        )
                      )
                      AND (
                        (
                          "t40"."_b" IS NULL
                        ) OR (
                          "t40"."_s2" > "t40"."_b"
                        )
                      ) AS "_ok2",
                      CASE
                        WHEN "t40"."_m2"
                        AND (
                          "t40"."_s2" IS NOT NULL
                        )
                        AND (
                          "t40"."event_at" <= (
                            "t40"."_s2" + INTERVAL '86400' SECOND
                          )
                        )
                        AND (
                          (
                            "t40"."_b" IS NULL
                          ) OR (
                            "t40"."_s2" > "t40"."_b"
                          )
                        )
                        THEN CAST(FLOOR(EPOCH(CAST("t40"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t40"."_s2" AS TIMESTAMP))) AS BIGINT)
                        ELSE CAST(NULL AS BIGINT)
                      END AS "_d2",
                      "t40"."_val" AS "_rv2",
                      "t40"."_m3"
                      AND (
                        "t40"."_s3" IS NOT NULL
                      )
                      AND (
                        "t40"."event_at" <= (
                          "t40"."_s3" + INTERVAL '86400' SECOND
                        )
                      )
                      AND (
                        (
                          "t40"."_b" IS NULL
                        ) OR (
                          "t40"."_s3" > "t40"."_b"
                        )
                      ) AS "_ok3",
                      CASE
                        WHEN "t40"."_m3"
                        AND (
                          "t40"."_s3" IS NOT NULL
                        )
                        AND (
                          "t40"."event_at" <= (
                            "t40"."_s3" + INTERVAL '86400' SECOND
                          )
                        )
                        AND (
                          (
                            "t40"."_b" IS NULL
                          ) OR (
                            "t40"."_s3" > "t40"."_b"
                          )
                        )
                        THEN CAST(FLOOR(EPOCH(CAST("t40"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t40"."_s3" AS TIMESTAMP))) AS BIGINT)
                        ELSE CAST(NULL AS BIGINT)
                      END AS "_d3",
                      "t40"."_val" AS "_rv3"
                    FROM "t39" AS "t40"
                    WHERE
                      "t40"."_m3"
                  ) AS "t43"
                  GROUP BY
                    1
                ) AS "t45"
              ) AS "t47"
            ) AS "t50"
              ON "t20"."_v" = "t50"."_v"
              AND "t50"."_lo" < "t20"."_t1"
              AND "t20"."_t1" <= "t50"."_hi"
          ) AS "t51"
          GROUP BY
            1,
            2
        ) AS "t52"
      ) AS "t53"
    ) AS "t55"
    LEFT OUTER JOIN (
      SELECT
        *
      FROM (
        SELECT
          "t42"."_v",
          "t42"."_seg",
          MAX("t42"."_lev") AS "_level",
          MIN("t42"."event_at") FILTER(WHERE
            "t42"."_m1") AS "_first",
          MAX("t42"."user_id") AS "user_id",
          MIN("t42"."_d1") AS "_dur1",
          FIRST("t42"."_rv1" ORDER BY "t42"."_rn") FILTER(WHERE
            "t42"."_ok1") AS "_val1",
          MIN("t42"."_d2") AS "_dur2",
          FIRST("t42"."_rv2" ORDER BY "t42"."_rn") FILTER(WHERE
            "t42"."_ok2") AS "_val2",
          MIN("t42"."_d3") AS "_dur3",
          FIRST("t42"."_rv3" ORDER BY "t42"."_rn") FILTER(WHERE
            "t42"."_ok3") AS "_val3"
        FROM (
          SELECT
            "t40"."_v",
            "t40"."event_at",
            "t40"."user_id",
            "t40"."product_id",
            "t40"."_m1",
            "t40"."_m2",
            "t40"."_m3",
            "t40"."_key",
            "t40"."_s2",
            "t40"."_val",
            "t40"."_rn",
            "t40"."_seg",
            "t40"."_b",
            "t40"."_s3",
            CASE
              WHEN "t40"."_m3"
              AND (
                "t40"."_s3" IS NOT NULL
              )
              AND (
                "t40"."event_at" <= (
                  "t40"."_s3" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t40"."_b" IS NULL
                ) OR (
                  "t40"."_s3" > "t40"."_b"
                )
              )
              THEN 3
              ELSE CASE
                WHEN "t40"."_m2"
                AND (
                  "t40"."_s2" IS NOT NULL
                )
                AND (
                  "t40"."event_at" <= (
                    "t40"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                AND (
                  (
                    "t40"."_b" IS NULL
                  ) OR (
                    "t40"."_s2" > "t40"."_b"
                  )
                )
                THEN 2
                ELSE CASE WHEN "t40"."_m1" THEN 1 ELSE 0 END
              END
            END AS "_lev",
            "t40"."_m1" AS "_ok1",
            CASE WHEN "t40"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
            "t40"."_val" AS "_rv1",
            "t40"."_m2"
            AND (
              "t40"."_s2" IS NOT NULL
            )
            AND (
              "t40"."event_at" <= (
                "t40"."_s2" + INTERVAL '86400' SECOND
              )
            )
            AND (
              (
                "t40"."_b" IS NULL
              ) OR (
                "t40"."_s2" > "t40"."_b"
              )
            ) AS "_ok2",
            CASE
              WHEN "t40"."_m2"
              AND (
                "t40"."_s2" IS NOT NULL
              )
              AND (
                "t40"."event_at" <= (
                  "t40"."_s2" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t40"."_b" IS NULL
                ) OR (
                  "t40"."_s2" > "t40"."_b"
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t40"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t40"."_s2" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d2",
            "t40"."_val" AS "_rv2",
            "t40"."_m3"
            AND (
              "t40"."_s3" IS NOT NULL
            )
            AND (
              "t40"."event_at" <= (
                "t40"."_s3" + INTERVAL '86400' SECOND
              )
            )
            AND (
              (
                "t40"."_b" IS NULL
              ) OR (
                "t40"."_s3" > "t40"."_b"
              )
            ) AS "_ok3",
            CASE
              WHEN "t40"."_m3"
              AND (
                "t40"."_s3" IS NOT NULL
              )
              AND (
                "t40"."event_at" <= (
                  "t40"."_s3" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t40"."_b" IS NULL
                ) OR (
                  "t40"."_s3" > "t40"."_b"
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t40"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t40"."_s3" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d3",
            "t40"."_val" AS "_rv3"
          FROM "t39" AS "t40"
        ) AS "t42"
        GROUP BY
          1,
          2
      ) AS "t44"
      WHERE
        "t44"."_level" >= 2
    ) AS "t48"
      ON "t55"."_v" = "t48"."_v" AND "t55"."_j" = "t48"."_seg"
  ) AS "t56"
  WHERE
    "t56"."_level" >= 1 AND "t56"."_level" = 1
) AS "t57"
GROUP BY
  1
