/* +++
id = "4.3"
title = "Ensure usage of 'root' account is monitored"
severity = "medium"
tags = { cis_v3 = "4.3", level = "1", type = "manual" }
cause = "none"
+++ */
WITH filters AS (
  SELECT filter_name, metric_name, metric_namespace FROM report.metric_filters
  WHERE filter_name = 'CIS-RootAccountUsage'
),
alarms AS (
  SELECT a.alarm_name, a.actions_enabled, cardinality(a.alarm_actions) AS targets
  FROM report.alarms a JOIN filters f ON a.metric_name = f.metric_name AND a.namespace = f.metric_namespace
),
fired AS (
  SELECT count(*) AS times, max(timestamp) AS last_time FROM report.alarm_history
  WHERE alarm_name IN (SELECT alarm_name FROM alarms)
    AND history_item_type = 'StateUpdate' AND history_summary LIKE '%to ALARM'
),
verdict AS (
  SELECT (SELECT count(*) FROM filters) AS n_filters,
         (SELECT count(*) FROM alarms) AS n_alarms,
         (SELECT count(*) FROM alarms WHERE actions_enabled AND targets > 0) AS n_notifying,
         (SELECT min(alarm_name) FROM alarms) AS alarm_name,
         times, CAST(last_time AS VARCHAR) AS last_fired
  FROM fired
)
SELECT 'CIS-RootAccountUsage' AS resource, CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS region,
       CASE WHEN n_filters = 0 OR n_alarms = 0 OR n_notifying = 0 THEN 'alarm' ELSE 'ok' END AS status,
       CASE WHEN n_filters = 0 THEN 'no metric filter CIS-RootAccountUsage for use of the root user (loglake monitor install-pack cis)'
            WHEN n_alarms = 0 THEN 'metric filter CIS-RootAccountUsage has no alarm on its metric'
            WHEN n_notifying = 0 THEN 'alarm ' || alarm_name || ' notifies nobody (no enabled alarm action)'
            ELSE 'alarm ' || alarm_name || ' watches use of the root user; it fired ' || CAST(times AS VARCHAR) || ' time(s) in the period'
       END AS reason,
       alarm_name, times AS times_fired, last_fired
FROM verdict
