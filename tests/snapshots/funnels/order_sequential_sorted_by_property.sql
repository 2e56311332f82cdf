WITH "t16" AS (
  SELECT
    "t15"."_v",
    ROW_NUMBER() OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) - 1 AS "_id"
  FROM (
    SELECT DISTINCT
      "t14"."_v"
    FROM (
      SELECT
        "t13".*
        EXCLUDE ("_oid")
      FROM (
        SELECT
          "t12"."_v",
          "t12"."event_at",
          "t12"."product_id",
          "t12"."properties",
          "t12"."_by",
          "t12"."_m1",
          "t12"."_m2",
          "t12"."_m3",
          "t12"."_own",
          "t12"."_list_price",
          "t12"."_order",
          "t5"."_oid",
          "t5"."_net"
        FROM (
          SELECT
            "t10"."_v",
            "t10"."event_at",
            "t10"."product_id",
            "t10"."properties",
            "t10"."_by",
            "t10"."_m1",
            "t10"."_m2",
            "t10"."_m3",
            "t10"."_own",
            "t10"."_list_price",
            CASE
              WHEN (
                "t10"."properties" IS NOT NULL
              ) AND "t10"."_m3"
              THEN NULLIF(REGEXP_EXTRACT("t10"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '')
              ELSE CAST(NULL AS TEXT)
            END AS "_order"
          FROM (
            SELECT
              "t9".*
              EXCLUDE ("_pid")
            FROM (
              SELECT
                "t8"."_v",
                "t8"."event_at",
                "t8"."product_id",
                "t8"."properties",
                "t8"."_by",
                "t8"."_m1",
                "t8"."_m2",
                "t8"."_m3",
                "t8"."_own",
                "t6"."_pid",
                "t6"."_list_price"
              FROM (
                SELECT
                  COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
                  "t1"."event_at",
                  "t1"."product_id",
                  "t1"."properties",
                  CASE WHEN "t1"."event_type" = 'view' THEN "t1"."channel" ELSE CAST(NULL AS TEXT) END AS "_by",
                  "t1"."event_type" = 'view' AS "_m1",
                  "t1"."event_type" = 'add_to_cart' AS "_m2",
                  "t1"."event_type" = 'purchase' AS "_m3",
                  CASE
                    WHEN "t1"."properties" IS NOT NULL
                    THEN COALESCE(
                      TRY_CAST(NULLIF(REGEXP_EXTRACT("t1"."properties", '"price"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE),
                      TRY_CAST(NULLIF(REGEXP_EXTRACT("t1"."properties", '"value"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE)
                    )
                    ELSE CAST(NULL AS DOUBLE)
                  END AS "_own"
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
              ) AS "t8"
              LEFT OUTER JOIN (
                SELECT
                  "t2"."product_id" AS "_pid",
                  "t2"."price" AS "_list_price"
                FROM "products" AS "t2"
              ) AS "t6"
                ON "t8"."product_id" = "t6"."_pid"
            ) AS "t9"
          ) AS "t10"
        ) AS "t12"
        LEFT OUTER JOIN (
          SELECT
            "t0"."order_id" AS "_oid",
            "t0"."net_amount" AS "_net"
          FROM "orders" AS "t0"
        ) AS "t5"
          ON "t12"."_order" = "t5"."_oid"
      ) AS "t13"
    ) AS "t14"
  ) AS "t15"
)
SELECT
  "t31"."by",
  SUM(CAST("t31"."_level" >= 1 AS BIGINT)) AS "c1",
  QUANTILE_CONT("t31"."_dur1", 0.25) AS "q1_25",
  QUANTILE_CONT("t31"."_dur1", 0.5) AS "q1_50",
  QUANTILE_CONT("t31"."_dur1", 0.75) AS "q1_75",
  QUANTILE_CONT("t31"."_dur1", 0.9) AS "q1_90",
  SUM("t31"."_val1") FILTER(WHERE
    "t31"."_level" >= 1) AS "v1",
  SUM(CAST("t31"."_level" >= 2 AS BIGINT)) AS "c2",
  QUANTILE_CONT("t31"."_dur2", 0.25) AS "q2_25",
  QUANTILE_CONT("t31"."_dur2", 0.5) AS "q2_50",
  QUANTILE_CONT("t31"."_dur2", 0.75) AS "q2_75",
  QUANTILE_CONT("t31"."_dur2", 0.9) AS "q2_90",
  SUM("t31"."_val2") FILTER(WHERE
    "t31"."_level" >= 2) AS "v2",
  SUM("t31"."_val1") FILTER(WHERE
    "t31"."_level" = 1) AS "lost2",
  SUM(CAST("t31"."_level" >= 3 AS BIGINT)) AS "c3",
  QUANTILE_CONT("t31"."_dur3", 0.25) AS "q3_25",
  QUANTILE_CONT("t31"."_dur3", 0.5) AS "q3_50",
  QUANTILE_CONT("t31"."_dur3", 0.75) AS "q3_75",
  QUANTILE_CONT("t31"."_dur3", 0.9) AS "q3_90",
  SUM("t31"."_val3") FILTER(WHERE
    "t31"."_level" >= 3) AS "v3",
  SUM("t31"."_val2") FILTER(WHERE
    "t31"."_level" = 2) AS "lost3",
  SUM(CAST((
    "t31"."_dur3" >= 0
  ) AND (
    "t31"."_dur3" < 60
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h0",
  SUM(CAST((
    "t31"."_dur3" >= 60
  ) AND (
    "t31"."_dur3" < 300
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h1",
  SUM(CAST((
    "t31"."_dur3" >= 300
  ) AND (
    "t31"."_dur3" < 900
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h2",
  SUM(CAST((
    "t31"."_dur3" >= 900
  ) AND (
    "t31"."_dur3" < 1800
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h3",
  SUM(CAST((
    "t31"."_dur3" >= 1800
  ) AND (
    "t31"."_dur3" < 3600
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h4",
  SUM(CAST((
    "t31"."_dur3" >= 3600
  ) AND (
    "t31"."_dur3" < 10800
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h5",
  SUM(CAST((
    "t31"."_dur3" >= 10800
  ) AND (
    "t31"."_dur3" < 21600
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h6",
  SUM(CAST((
    "t31"."_dur3" >= 21600
  ) AND (
    "t31"."_dur3" < 43200
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h7",
  SUM(CAST((
    "t31"."_dur3" >= 43200
  ) AND (
    "t31"."_dur3" <= 86400.0
  ) AS BIGINT)) FILTER(WHERE
    "t31"."_level" >= 3) AS "h8"
FROM (
  SELECT
    "t30"."_v",
    "t30"."_seg",
    "t30"."_level",
    "t30"."_first",
    "t30"."_dur1",
    "t30"."_val1",
    "t30"."_dur2",
    "t30"."_val2",
    "t30"."_dur3",
    "t30"."_val3",
    "t30"."_byv",
    COALESCE("t30"."_byv", '(unknown)') AS "by"
  FROM (
    SELECT
      "t20"."_vtext" AS "_v",
      "t29"."_seg",
      "t29"."_level",
      "t29"."_first",
      "t29"."_dur1",
      "t29"."_val1",
      "t29"."_dur2",
      "t29"."_val2",
      "t29"."_dur3",
      "t29"."_val3",
      "t29"."_byv"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t26"."_v",
          "t26"."_seg",
          MAX("t26"."_lev") AS "_level",
          MIN("t26"."event_at") FILTER(WHERE
            "t26"."_m1") AS "_first",
          MIN("t26"."_d1") AS "_dur1",
          FIRST("t26"."_rv1" ORDER BY "t26"."_rn") FILTER(WHERE
            "t26"."_ok1") AS "_val1",
          MIN("t26"."_d2") AS "_dur2",
          FIRST("t26"."_rv2" ORDER BY "t26"."_rn") FILTER(WHERE
            "t26"."_ok2") AS "_val2",
          MIN("t26"."_d3") AS "_dur3",
          FIRST("t26"."_rv3" ORDER BY "t26"."_rn") FILTER(WHERE
            "t26"."_ok3") AS "_val3",
          FIRST("t26"."_by" ORDER BY "t26"."_rn") FILTER(WHERE
            "t26"."_m1") AS "_byv"
        FROM (
          SELECT
            "t25"."_v",
            "t25"."event_at",
            "t25"."product_id",
            "t25"."_by",
            "t25"."_m1",
            "t25"."_m2",
            "t25"."_m3",
            "t25"."_val",
            "t25"."_key",
            "t25"."_rn",
            "t25"."_seg",
            "t25"."_b",
            "t25"."_s2",
            "t25"."_s3",
            CASE
              WHEN "t25"."_m3"
              AND (
                "t25"."_s3" IS NOT NULL
              )
              AND (
                "t25"."event_at" <= (
                  "t25"."_s3" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t25"."_b" IS NULL
                ) OR (
                  "t25"."_s3" > "t25"."_b"
                )
              )
              THEN 3
              ELSE CASE
                WHEN "t25"."_m2"
                AND (
                  "t25"."_s2" IS NOT NULL
                )
                AND (
                  "t25"."event_at" <= (
                    "t25"."_s2" + INTERVAL '86400' SECOND
                  )
                )
                AND (
                  (
                    "t25"."_b" IS NULL
                  ) OR (
                    "t25"."_s2" > "t25"."_b"
                  )
                )
                THEN 2
                ELSE CASE WHEN "t25"."_m1" THEN 1 ELSE 0 END
              END
            END AS "_lev",
            "t25"."_m1" AS "_ok1",
            CASE WHEN "t25"."_m1" THEN 0 ELSE CAST(NULL AS BIGINT) END AS "_d1",
            "t25"."_val" AS "_rv1",
            "t25"."_m2"
            AND (
              "t25"."_s2" IS NOT NULL
            )
            AND (
              "t25"."event_at" <= (
                "t25"."_s2" + INTERVAL '86400' SECOND
              )
            )
            AND (
              (
                "t25"."_b" IS NULL
              ) OR (
                "t25"."_s2" > "t25"."_b"
              )
            ) AS "_ok2",
            CASE
              WHEN "t25"."_m2"
              AND (
                "t25"."_s2" IS NOT NULL
              )
              AND (
                "t25"."event_at" <= (
                  "t25"."_s2" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t25"."_b" IS NULL
                ) OR (
                  "t25"."_s2" > "t25"."_b"
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t25"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t25"."_s2" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d2",
            "t25"."_val" AS "_rv2",
            "t25"."_m3"
            AND (
              "t25"."_s3" IS NOT NULL
            )
            AND (
              "t25"."event_at" <= (
                "t25"."_s3" + INTERVAL '86400' SECOND
              )
            )
            AND (
              (
                "t25"."_b" IS NULL
              ) OR (
                "t25"."_s3" > "t25"."_b"
              )
            ) AS "_ok3",
            CASE
              WHEN "t25"."_m3"
              AND (
                "t25"."_s3" IS NOT NULL
              )
              AND (
                "t25"."event_at" <= (
                  "t25"."_s3" + INTERVAL '86400' SECOND
                )
              )
              AND (
                (
                  "t25"."_b" IS NULL
                ) OR (
                  "t25"."_s3" > "t25"."_b"
                )
              )
              THEN CAST(FLOOR(EPOCH(CAST("t25"."event_at" AS TIMESTAMP))) AS BIGINT) - CAST(FLOOR(EPOCH(CAST("t25"."_s3" AS TIMESTAMP))) AS BIGINT)
              ELSE CAST(NULL AS BIGINT)
            END AS "_d3",
            "t25"."_val" AS "_rv3"
          FROM (
            SELECT
              "t24"."_v",
              "t24"."event_at",
              "t24"."product_id",
              "t24"."_by",
              "t24"."_m1",
              "t24"."_m2",
              "t24"."_m3",
              "t24"."_val",
              "t24"."_key",
              "t24"."_rn",
              "t24"."_seg",
              "t24"."_b",
              "t24"."_s2",
              MAX("t24"."_s2") FILTER(WHERE
                "t24"."_m2") OVER (
                PARTITION BY "t24"."_v"
                ORDER BY "t24"."event_at" ASC, "t24"."_key" ASC, "t24"."_by" ASC, "t24"."_val" ASC
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
              ) AS "_s3"
            FROM (
              SELECT
                "t23"."_v",
                "t23"."event_at",
                "t23"."product_id",
                "t23"."_by",
                "t23"."_m1",
                "t23"."_m2",
                "t23"."_m3",
                "t23"."_val",
                "t23"."_key",
                ROW_NUMBER() OVER (
                  PARTITION BY "t23"."_v"
                  ORDER BY "t23"."event_at" ASC, "t23"."_key" ASC, "t23"."_by" ASC, "t23"."_val" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                ) - 1 AS "_rn",
                COALESCE(
                  SUM(CAST("t23"."_m3" AS BIGINT)) OVER (
                    PARTITION BY "t23"."_v"
                    ORDER BY "t23"."event_at" ASC, "t23"."_key" ASC, "t23"."_by" ASC, "t23"."_val" ASC
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                  ),
                  0
                ) AS "_seg",
                MAX("t23"."event_at") FILTER(WHERE
                  "t23"."_m3") OVER (
                  PARTITION BY "t23"."_v"
                  ORDER BY "t23"."event_at" ASC, "t23"."_key" ASC, "t23"."_by" ASC, "t23"."_val" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                ) AS "_b",
                MAX("t23"."event_at") FILTER(WHERE
                  "t23"."_m1") OVER (
                  PARTITION BY "t23"."_v"
                  ORDER BY "t23"."event_at" ASC, "t23"."_key" ASC, "t23"."_by" ASC, "t23"."_val" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 preceding
                ) AS "_s2"
              FROM (
                SELECT
                  "t18"."_id" AS "_v",
                  "t22"."event_at",
                  "t22"."product_id",
                  "t22"."_by",
                  "t22"."_m1",
                  "t22"."_m2",
                  "t22"."_m3",
                  "t22"."_val",
                  "t22"."_key"
                FROM (
                  SELECT
                    "t14"."_v",
                    "t14"."event_at",
                    "t14"."product_id",
                    "t14"."_by",
                    "t14"."_m1",
                    "t14"."_m2",
                    "t14"."_m3",
                    CASE
                      WHEN "t14"."_m3"
                      THEN COALESCE("t14"."_net", "t14"."_own", "t14"."_list_price")
                      ELSE COALESCE("t14"."_own", "t14"."_list_price")
                    END AS "_val",
                    (
                      CAST(CASE WHEN "t14"."_m1" THEN 1 WHEN "t14"."_m2" THEN 2 WHEN "t14"."_m3" THEN 3 ELSE 4 END AS BIGINT) * 8
                    ) + (
                      0 + (
                        CAST("t14"."_m1" AS BIGINT) * 1
                      ) + (
                        CAST("t14"."_m2" AS BIGINT) * 2
                      ) + (
                        CAST("t14"."_m3" AS BIGINT) * 4
                      )
                    ) AS "_key"
                  FROM (
                    SELECT
                      "t13".*
                      EXCLUDE ("_oid")
                    FROM (
                      SELECT
                        "t12"."_v",
                        "t12"."event_at",
                        "t12"."product_id",
                        "t12"."properties",
                        "t12"."_by",
                        "t12"."_m1",
                        "t12"."_m2",
                        "t12"."_m3",
                        "t12"."_own",
                        "t12"."_list_price",
                        "t12"."_order",
                        "t5"."_oid",
                        "t5"."_net"
                      FROM (
                        SELECT
                          "t10"."_v",
                          "t10"."event_at",
                          "t10"."product_id",
                          "t10"."properties",
                          "t10"."_by",
                          "t10"."_m1",
                          "t10"."_m2",
                          "t10"."_m3",
                          "t10"."_own",
                          "t10"."_list_price",
                          CASE
                            WHEN (
                              "t10"."properties" IS NOT NULL
                            ) AND "t10"."_m3"
                            THEN NULLIF(REGEXP_EXTRACT("t10"."properties", '"order_id"\s*:\s*"?([^",}]*)', 1), '')
                            ELSE CAST(NULL AS TEXT)
                          END AS "_order"
                        FROM (
                          SELECT
                            "t9".*
                            EXCLUDE ("_pid")
                          FROM (
                            SELECT
                              "t8"."_v",
                              "t8"."event_at",
                              "t8"."product_id",
                              "t8"."properties",
                              "t8"."_by",
                              "t8"."_m1",
                              "t8"."_m2",
                              "t8"."_m3",
                              "t8"."_own",
                              "t6"."_pid",
                              "t6"."_list_price"
                            FROM (
                              SELECT
                                COALESCE("t1"."user_id", "t1"."anonymous_id") AS "_v",
                                "t1"."event_at",
                                "t1"."product_id",
                                "t1"."properties",
                                CASE WHEN "t1"."event_type" = 'view' THEN "t1"."channel" ELSE CAST(NULL AS TEXT) END AS "_by",
                                "t1"."event_type" = 'view' AS "_m1",
                                "t1"."event_type" = 'add_to_cart' AS "_m2",
                                "t1"."event_type" = 'purchase' AS "_m3",
                                CASE
                                  WHEN "t1"."properties" IS NOT NULL
                                  THEN COALESCE(
                                    TRY_CAST(NULLIF(REGEXP_EXTRACT("t1"."properties", '"price"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE),
                                    TRY_CAST(NULLIF(REGEXP_EXTRACT("t1"."properties", '"value"\s*:\s*"?([^",}]*)', 1), '') AS DOUBLE)
                                  )
                                  ELSE CAST(NULL AS DOUBLE)
                                END AS "_own"
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
                            ) AS "t8"
                            LEFT OUTER JOIN (
                              SELECT
                                "t2"."product_id" AS "_pid",
                                "t2"."price" AS "_list_price"
                              FROM "products" AS "t2"
                            ) AS "t6"
                              ON "t8"."product_id" = "t6"."_pid"
                          ) AS "t9"
                        ) AS "t10"
                      ) AS "t12"
                      LEFT OUTER JOIN (
                        SELECT
                          "t0"."order_id" AS "_oid",
                          "t0"."net_amount" AS "_net"
                        FROM "orders" AS "t0"
                      ) AS "t5"
                        ON "t12"."_order" = "t5"."_oid"
                    ) AS "t13"
                  ) AS "t14"
                ) AS "t22"
                INNER JOIN "t16" AS "t18"
                  ON "t22"."_v" = "t18"."_v"
              ) AS "t23"
            ) AS "t24"
          ) AS "t25"
        ) AS "t26"
        GROUP BY
          1,
          2
      ) AS "t27"
      WHERE
        "t27"."_level" >= 1
    ) AS "t29"
    INNER JOIN (
      SELECT
        "t17"."_id" AS "_vid",
        "t17"."_v" AS "_vtext"
      FROM "t16" AS "t17"
    ) AS "t20"
      ON "t29"."_v" = "t20"."_vid"
  ) AS "t30"
) AS "t31"
GROUP BY
  1
