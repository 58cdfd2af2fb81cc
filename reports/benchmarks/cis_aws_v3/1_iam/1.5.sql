/* +++
id = "1.5"
title = "Ensure MFA is enabled for the 'root' user account"
severity = "critical"
tags = { cis_v3 = "1.5", level = "1", type = "automated" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
hits AS (
  SELECT recipientaccountid AS account, eventid, eventtime, eventname, sourceipaddress,
         row_number() OVER (PARTITION BY recipientaccountid ORDER BY eventtime, eventid) AS n,
         count(*) OVER (PARTITION BY recipientaccountid) AS times
  FROM report.cloudtrail
  WHERE eventname = 'ConsoleLogin' AND useridentity.type = 'Root' AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No' AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
)
SELECT a.account AS resource, a.account AS account, 'global' AS region,
       CASE WHEN h.eventid IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN h.eventid IS NULL THEN 'no root console sign-in without MFA in the period'
            ELSE 'the root user signed in to the console without MFA ' || CAST(h.times AS VARCHAR) || ' time(s) in the period, first at ' || h.eventtime END AS reason,
       h.eventid AS cause_event_id, h.times AS occurrences
FROM accounts a LEFT JOIN hits h ON h.account = a.account AND h.n = 1
