-- cohort_expr(grain='month', periods=12)
-- compiled by ibis 12.0.0, sqlglot 30.0.3; rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1
WITH "t11" AS (
  SELECT
    "t10"."cid",
    CAST(DATE_TRUNC('MONTH', "t10"."at") AS DATE) AS "p",
    SUM("t10"."valid") AS "valid",
    SUM("t10"."revenue") AS "revenue"
  FROM (
    SELECT
      *
    FROM (
      SELECT
        "t0"."customer_id" AS "cid",
        CAST("t0"."ordered_at" AS TIMESTAMP) AS "at",
        CAST("t0"."status" <> 'cancelled' AS BIGINT) AS "valid",
        (
          "t0"."gross_amount" - "t0"."discount_amount"
        ) - CASE
          WHEN "t0"."status" IN ('cancelled', 'refunded')
          THEN "t0"."gross_amount"
          ELSE 0.0
        END AS "revenue"
      FROM "orders" AS "t0"
      WHERE
        "t0"."customer_id" IS NOT NULL
    ) AS "t5"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          COALESCE("t2"."customer_id", "t4"."_ocid") AS "cid",
          "t2"."returned_at" AS "at",
          0 AS "valid",
          -(
            "t2"."amount"
          ) AS "revenue"
        FROM "returns" AS "t2"
        LEFT OUTER JOIN (
          SELECT
            "t0"."order_id" AS "_oid",
            "t0"."customer_id" AS "_ocid"
          FROM "orders" AS "t0"
        ) AS "t4"
          ON "t2"."order_id" = "t4"."_oid"
      ) AS "t6"
      WHERE
        "t6"."cid" IS NOT NULL
    ) AS "t8"
  ) AS "t10"
  GROUP BY
    1,
    2
), "t18" AS (
  SELECT
    "t14"."cid" AS "v",
    MIN("t14"."i") AS "c"
  FROM (
    SELECT
      "t12"."cid",
      "t12"."valid",
      "t12"."revenue",
      (
        (
          EXTRACT(year FROM "t12"."p") * 12
        ) + EXTRACT(month FROM "t12"."p")
      ) - 1 AS "i"
    FROM "t11" AS "t12"
    WHERE
      "t12"."valid" > 0
  ) AS "t14"
  GROUP BY
    1
), "t26" AS (
  SELECT
    "t21"."v",
    "t21"."c",
    "t17"."i"
  FROM "t18" AS "t21"
  INNER JOIN (
    SELECT
      "t12"."cid" AS "v",
      (
        (
          EXTRACT(year FROM "t12"."p") * 12
        ) + EXTRACT(month FROM "t12"."p")
      ) - 1 AS "i"
    FROM "t11" AS "t12"
    WHERE
      "t12"."valid" > 0
  ) AS "t17"
    ON "t21"."v" = "t17"."v"
)
SELECT
  *
FROM (
  SELECT
    "t39"."kind",
    "t39"."c",
    "t39"."n",
    "t39"."k",
    0.0 AS "revenue"
  FROM (
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
                EXTRACT(year FROM CAST(DATE_TRUNC('MONTH', MAX("t0"."ordered_at")) AS DATE)) * 12
              ) + EXTRACT(month FROM CAST(DATE_TRUNC('MONTH', MAX("t0"."ordered_at")) AS DATE))
            ) - 1 AS "c"
          FROM "orders" AS "t0"
        ) AS "t7"
      ) AS "t9"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          'size' AS "kind",
          "t22"."c",
          -1 AS "n",
          "t22"."k"
        FROM (
          SELECT
            "t19"."c",
            COUNT(*) AS "k"
          FROM "t18" AS "t19"
          GROUP BY
            1
        ) AS "t22"
      ) AS "t23"
    ) AS "t24"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          'exact' AS "kind",
          "t32"."c",
          "t32"."n",
          "t32"."k"
        FROM (
          SELECT
            "t30"."c",
            "t30"."n",
            COUNT(*) AS "k"
          FROM (
            SELECT
              "t27"."v",
              "t27"."c",
              "t27"."i",
              "t27"."i" - "t27"."c" AS "n"
            FROM "t26" AS "t27"
            WHERE
              (
                "t27"."i" - "t27"."c"
              ) >= 0 AND (
                "t27"."i" - "t27"."c"
              ) <= 12
          ) AS "t30"
          GROUP BY
            1,
            2
        ) AS "t32"
      ) AS "t35"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          'unbounded' AS "kind",
          "t36"."c",
          "t36"."n",
          "t36"."k"
        FROM (
          SELECT
            "t33"."c",
            LEAST("t33"."m", 12) AS "n",
            COUNT(*) AS "k"
          FROM (
            SELECT
              "t29"."v",
              "t29"."c",
              MAX("t29"."n") AS "m"
            FROM (
              SELECT
                "t27"."v",
                "t27"."c",
                "t27"."i",
                "t27"."i" - "t27"."c" AS "n"
              FROM "t26" AS "t27"
              WHERE
                (
                  "t27"."i" - "t27"."c"
                ) >= 0
            ) AS "t29"
            GROUP BY
              1,
              2
          ) AS "t33"
          GROUP BY
            1,
            2
        ) AS "t36"
      ) AS "t37"
    ) AS "t38"
  ) AS "t39"
) AS "t40"
UNION ALL
SELECT
  *
FROM (
  SELECT
    'revenue' AS "kind",
    "t31"."c",
    "t31"."n",
    0 AS "k",
    "t31"."revenue"
  FROM (
    SELECT
      "t28"."c",
      "t28"."n",
      SUM("t28"."revenue") AS "revenue"
    FROM (
      SELECT
        "t25"."cid",
        "t25"."valid",
        "t25"."revenue",
        "t25"."i",
        "t25"."v",
        "t25"."c",
        "t25"."i" - "t25"."c" AS "n"
      FROM (
        SELECT
          "t16"."cid",
          "t16"."valid",
          "t16"."revenue",
          "t16"."i",
          "t20"."v",
          "t20"."c"
        FROM (
          SELECT
            "t12"."cid",
            "t12"."valid",
            "t12"."revenue",
            (
              (
                EXTRACT(year FROM "t12"."p") * 12
              ) + EXTRACT(month FROM "t12"."p")
            ) - 1 AS "i"
          FROM "t11" AS "t12"
        ) AS "t16"
        INNER JOIN "t18" AS "t20"
          ON "t16"."cid" = "t20"."v"
      ) AS "t25"
      WHERE
        (
          "t25"."i" - "t25"."c"
        ) >= 0 AND (
          "t25"."i" - "t25"."c"
        ) <= 12
    ) AS "t28"
    GROUP BY
      1,
      2
  ) AS "t31"
) AS "t34"
