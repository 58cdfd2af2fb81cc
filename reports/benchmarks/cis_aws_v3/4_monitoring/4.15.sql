/* +++
id = "4.15"
title = "Ensure AWS Organizations changes are monitored"
severity = "low"
tags = { cis_v3 = "4.15", level = "1", type = "manual" }
cause = "none"
+++ */
WITH filters AS (
  SELECT filter_name FROM report.metric_filters WHERE strpos(filter_pattern, 'organizations.amazonaws.com') > 0
)
SELECT coalesce((SELECT min(filter_name) FROM filters), 'organizations') AS resource,
       CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS region,
       CASE WHEN (SELECT count(*) FROM filters) > 0 THEN 'ok' ELSE 'info' END AS status,
       CASE WHEN (SELECT count(*) FROM filters) > 0 THEN 'a metric filter watches organizations.amazonaws.com events'
            ELSE 'no metric filter watches AWS Organizations changes (only needed in the management account)' END AS reason
