/* +++
id = "4.1"
title = "Ensure unauthorized API calls are monitored"
severity = "medium"
tags = { cis_v3 = "4.1", level = "2", type = "manual" }
cause = "none"
+++ */
WITH verdict AS (
  SELECT count(*) AS n_filters, coalesce(sum(alarms), 0) AS n_alarms,
         coalesce(sum(notifying_alarms), 0) AS n_notifying, min(alarm_name) AS alarm_name,
         coalesce(sum(times_fired), 0) AS times, CAST(max(last_fired) AS VARCHAR) AS last_fired
  FROM report.metric_alarms
  WHERE filter_name = 'CIS-UnauthorizedAPICalls'
)
SELECT 'CIS-UnauthorizedAPICalls' AS resource, CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS region,
       CASE WHEN n_filters = 0 OR n_alarms = 0 OR n_notifying = 0 THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN n_filters = 0 THEN 'no metric filter CIS-UnauthorizedAPICalls for unauthorized API calls (loglake monitor install-pack cis)'
            WHEN n_alarms = 0 THEN 'metric filter CIS-UnauthorizedAPICalls has no alarm on its metric'
            WHEN n_notifying = 0 THEN 'alarm ' || alarm_name || ' notifies nobody (no enabled alarm action)'
            ELSE 'alarm ' || alarm_name || ' watches unauthorized API calls; it fired ' || CAST(times AS VARCHAR) || ' time(s) in the period'
       END AS reason,
       alarm_name, times AS times_fired, last_fired
FROM verdict
