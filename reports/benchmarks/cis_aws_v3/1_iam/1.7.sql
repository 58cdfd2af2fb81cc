/* +++
id = "1.7"
title = "Eliminate use of the 'root' user for administrative and daily tasks"
severity = "high"
tags = { cis_v3 = "1.7", level = "1", type = "manual" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
hits AS (
  SELECT recipientaccountid AS account, eventid, eventtime, eventname, sourceipaddress,
         row_number() OVER (PARTITION BY recipientaccountid ORDER BY eventtime, eventid) AS n,
         count(*) OVER (PARTITION BY recipientaccountid) AS times
  FROM report.cloudtrail
  WHERE useridentity.type = 'Root' AND useridentity.invokedby IS NULL AND coalesce(eventtype, '') <> 'AwsServiceEvent'
)
SELECT a.account AS resource, a.account AS account, 'global' AS region,
       CASE WHEN h.eventid IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN h.eventid IS NULL THEN 'the root user made no call in the period'
            ELSE 'the root user made calls ' || CAST(h.times AS VARCHAR) || ' time(s) in the period, first at ' || h.eventtime END AS reason,
       h.eventid AS cause_event_id, h.times AS occurrences
FROM accounts a LEFT JOIN hits h ON h.account = a.account AND h.n = 1
