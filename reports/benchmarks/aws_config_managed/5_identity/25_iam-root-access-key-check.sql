/* +++
id = "iam-root-access-key-check"
title = "The root user has no access key"
severity = "critical"
tags = { identifier = "IAM_ROOT_ACCESS_KEY_CHECK" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
hits AS (
  SELECT recipientaccountid AS account, eventid, eventtime, eventname, sourceipaddress,
         row_number() OVER (PARTITION BY recipientaccountid ORDER BY eventtime, eventid) AS n,
         count(*) OVER (PARTITION BY recipientaccountid) AS times
  FROM report.cloudtrail
  WHERE useridentity.type = 'Root' AND useridentity.invokedby IS NULL AND coalesce(eventtype, '') <> 'AwsServiceEvent' AND (useridentity.accesskeyid LIKE 'AKIA%' OR (eventname = 'CreateAccessKey' AND errorcode IS NULL AND json_extract_scalar(requestparameters, '$.userName') IS NULL))
)
SELECT a.account AS resource, a.account AS account, 'global' AS region,
       CASE WHEN h.eventid IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN h.eventid IS NULL THEN 'no call signed with a root access key and no root access key created in the period'
            ELSE 'the root user signed calls with a long-term access key or created one ' || CAST(h.times AS VARCHAR) || ' time(s) in the period, first at ' || h.eventtime END AS reason,
       h.eventid AS cause_event_id, h.times AS occurrences
FROM accounts a LEFT JOIN hits h ON h.account = a.account AND h.n = 1
