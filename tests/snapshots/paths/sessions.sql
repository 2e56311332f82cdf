-- sessionize(gap='30m')
-- compiled by ibis 12.0.0, sqlglot 30.0.3; rewrite with SHOPSCOPE_UPDATE_SNAPSHOTS=1
SELECT
  "t8".*
  EXCLUDE ("_sid", "_sno")
FROM (
  SELECT
    "t7"."event_at",
    "t7"."user_id",
    "t7"."anonymous_id",
    "t7"."session_id",
    "t7"."event_type",
    "t7"."product_id",
    "t7"."category",
    "t7"."channel",
    "t7"."source",
    "t7"."medium",
    "t7"."campaign",
    "t7"."properties",
    "t7"."visitor",
    "t7"."_sid",
    "t7"."_sno",
    CASE
      WHEN "t7"."_sid" IS NOT NULL
      THEN CAST(LENGTH("t7"."visitor") AS TEXT) || ':' || "t7"."visitor" || '/' || "t7"."_sid"
      ELSE CAST(LENGTH("t7"."visitor") AS TEXT) || ':' || "t7"."visitor" || '#' || CAST("t7"."_sno" AS TEXT)
    END AS "session"
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
