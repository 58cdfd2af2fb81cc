/* +++
id = "3.3"
title = "Ensure AWS Config is enabled in all regions"
severity = "high"
tags = { cis_v3 = "3.3", level = "2", type = "automated" }
+++ */
WITH regions AS (
  SELECT awsaccountid AS account, awsregion AS region, max(configurationitemcapturetime) AS last_item
  FROM report.config_history WHERE awsregion <> 'global' GROUP BY 1, 2
),
stops AS (
  SELECT recipientaccountid AS account, awsregion AS region, eventid, eventname, eventtime,
         row_number() OVER (PARTITION BY recipientaccountid, awsregion ORDER BY eventtime DESC, eventid DESC) AS n
  FROM report.cloudtrail
  WHERE eventname IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'StartConfigurationRecorder')
    AND errorcode IS NULL
)
SELECT r.account || '/' || r.region AS resource, r.account, r.region,
       CASE WHEN s.eventname IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder') THEN 'alarm'
            WHEN r.last_item >= (SELECT to_iso8601(as_of - INTERVAL '2' DAY) FROM report.context) THEN 'ok'
            ELSE 'alarm' END AS status,
       CASE WHEN s.eventname IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder') THEN 'the recorder was stopped by ' || s.eventname || ' at ' || s.eventtime
            ELSE 'AWS Config recorded its latest item at ' || r.last_item END AS reason,
       CASE WHEN s.eventname IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder') THEN s.eventid END AS cause_event_id
FROM regions r LEFT JOIN stops s ON s.account = r.account AND s.region = r.region AND s.n = 1
