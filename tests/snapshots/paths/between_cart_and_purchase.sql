-- path_counts(start='add_to_cart', end='purchase', length=4)
-- compiled by ibis 12.0.0, sqlglot 30.0.3; rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1
SELECT
  "t13"."p1",
  "t13"."p2",
  "t13"."p3",
  "t13"."p4",
  COUNT(*) AS "sessions"
FROM (
  SELECT
    "t12"."visitor",
    "t12"."_sid",
    "t12"."_sno",
    "t12"."event_at",
    "t12"."event_type",
    "t12"."product_id",
    "t12"."category",
    "t12"."_anchor",
    "t12"."p1",
    CASE WHEN FALSE THEN CAST(NULL AS TEXT) ELSE "t12"."p2" END AS "p2",
    CASE
      WHEN FALSE OR COALESCE("t12"."e2", FALSE)
      THEN CAST(NULL AS TEXT)
      ELSE "t12"."p3"
    END AS "p3",
    CASE
      WHEN FALSE OR COALESCE("t12"."e2", FALSE) OR COALESCE("t12"."e3", FALSE)
      THEN CAST(NULL AS TEXT)
      ELSE "t12"."p4"
    END AS "p4",
    "t12"."e2",
    "t12"."e3",
    "t12"."e4"
  FROM (
    SELECT
      "t11"."visitor",
      "t11"."_sid",
      "t11"."_sno",
      "t11"."event_at",
      "t11"."event_type",
      "t11"."product_id",
      "t11"."category",
      (
        "t11"."event_type" = 'add_to_cart'
      )
      AND (
        SUM(CAST("t11"."event_type" = 'add_to_cart' AS BIGINT)) OVER (
          PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
          ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) = 1
      ) AS "_anchor",
      "t11"."event_type" AS "p1",
      LEAD("t11"."event_type", 1) OVER (
        PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
        ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "p2",
      LEAD("t11"."event_type", 2) OVER (
        PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
        ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "p3",
      LEAD("t11"."event_type", 3) OVER (
        PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
        ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "p4",
      LEAD("t11"."event_type" = 'purchase', 1) OVER (
        PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
        ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "e2",
      LEAD("t11"."event_type" = 'purchase', 2) OVER (
        PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
        ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "e3",
      LEAD("t11"."event_type" = 'purchase', 3) OVER (
        PARTITION BY "t11"."visitor", "t11"."_sid", "t11"."_sno"
        ORDER BY "t11"."event_at" ASC, "t11"."event_type" ASC, "t11"."product_id" ASC, "t11"."category" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) AS "e4"
    FROM (
      SELECT
        "t10".*
        EXCLUDE ("_prev")
      FROM (
        SELECT
          *
        FROM (
          SELECT
            "t8"."visitor",
            "t8"."_sid",
            "t8"."_sno",
            "t8"."event_at",
            "t8"."event_type",
            "t8"."product_id",
            "t8"."category",
            LAG("t8"."event_type") OVER (
              PARTITION BY "t8"."visitor", "t8"."_sid", "t8"."_sno"
              ORDER BY "t8"."event_at" ASC, "t8"."event_type" ASC, "t8"."product_id" ASC, "t8"."category" ASC
              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            ) AS "_prev"
          FROM (
            SELECT
              "t7"."visitor",
              "t7"."_sid",
              "t7"."_sno",
              "t7"."event_at",
              "t7"."event_type",
              "t7"."product_id",
              "t7"."category"
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  "t0"."event_at",
                  "t0"."user_id",
                  "t0"."anonymous_id",
                  "t0"."session_id",
                  "t0"."event_type",
                  "t0"."product_id",
                  "t0"."category",
                  "t0"."channel",
                  "t0"."source",
                  "t0"."medium",
                  "t0"."campaign",
                  "t0"."properties",
                  COALESCE("t0"."user_id", "t0"."anonymous_id") AS "visitor",
                  "t0"."session_id" AS "_sid",
                  CAST(NULL AS BIGINT) AS "_sno"
                FROM "events" AS "t0"
                WHERE
                  COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
                  AND "t0"."session_id" IS NOT NULL
              ) AS "t1"
              UNION ALL
              SELECT
                *
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    "t4".*
                    EXCLUDE ("_new")
                  FROM (
                    SELECT
                      "t3"."event_at",
                      "t3"."user_id",
                      "t3"."anonymous_id",
                      "t3"."session_id",
                      "t3"."event_type",
                      "t3"."product_id",
                      "t3"."category",
                      "t3"."channel",
                      "t3"."source",
                      "t3"."medium",
                      "t3"."campaign",
                      "t3"."properties",
                      "t3"."visitor",
                      "t3"."_new",
                      CAST(NULL AS TEXT) AS "_sid",
                      SUM("t3"."_new") OVER (
                        PARTITION BY "t3"."visitor"
                        ORDER BY "t3"."event_at" ASC
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                      ) AS "_sno"
                    FROM (
                      SELECT
                        "t2"."event_at",
                        "t2"."user_id",
                        "t2"."anonymous_id",
                        "t2"."session_id",
                        "t2"."event_type",
                        "t2"."product_id",
                        "t2"."category",
                        "t2"."channel",
                        "t2"."source",
                        "t2"."medium",
                        "t2"."campaign",
                        "t2"."properties",
                        "t2"."visitor",
                        CASE
                          WHEN (
                            LAG("t2"."event_at") OVER (
                              PARTITION BY "t2"."visitor"
                              ORDER BY "t2"."event_at" ASC
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                            ) IS NULL
                          )
                          OR (
                            "t2"."event_at" >= (
                              LAG("t2"."event_at") OVER (
                                PARTITION BY "t2"."visitor"
                                ORDER BY "t2"."event_at" ASC
                                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                              ) + INTERVAL '1800' SECOND
                            )
                          )
                          THEN 1
                          ELSE 0
                        END AS "_new"
                      FROM (
                        SELECT
                          "t0"."event_at",
                          "t0"."user_id",
                          "t0"."anonymous_id",
                          "t0"."session_id",
                          "t0"."event_type",
                          "t0"."product_id",
                          "t0"."category",
                          "t0"."channel",
                          "t0"."source",
                          "t0"."medium",
                          "t0"."campaign",
                          "t0"."properties",
                          COALESCE("t0"."user_id", "t0"."anonymous_id") AS "visitor"
                        FROM "events" AS "t0"
                        WHERE
                          COALESCE("t0"."user_id", "t0"."anonymous_id") IS NOT NULL
                          AND "t0"."session_id" IS NULL
                      ) AS "t2"
                    ) AS "t3"
                  ) AS "t4"
                ) AS "t5"
              ) AS "t6"
            ) AS "t7"
          ) AS "t8"
        ) AS "t9"
        WHERE
          (
            "t9"."_prev" IS NULL
          ) OR (
            "t9"."_prev" <> "t9"."event_type"
          )
      ) AS "t10"
    ) AS "t11"
  ) AS "t12"
  WHERE
    "t12"."_anchor"
    AND (
      FALSE
      OR COALESCE("t12"."e2", FALSE)
      OR COALESCE("t12"."e3", FALSE)
      OR COALESCE("t12"."e4", FALSE)
    )
) AS "t13"
GROUP BY
  1,
  2,
  3,
  4
