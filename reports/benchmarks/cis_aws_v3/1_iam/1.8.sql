/* +++
id = "1.8"
title = "Ensure IAM password policy requires minimum length of 14 or greater"
severity = "medium"
tags = { cis_v3 = "1.8", level = "1", type = "automated" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
changes AS (
  SELECT recipientaccountid AS account, eventid, eventname, eventtime,
         CAST(json_extract_scalar(requestparameters, '$.minimumPasswordLength') AS INTEGER) AS length,
         row_number() OVER (PARTITION BY recipientaccountid ORDER BY eventtime DESC, eventid DESC) AS n
  FROM report.cloudtrail
  WHERE eventname IN ('UpdateAccountPasswordPolicy', 'DeleteAccountPasswordPolicy') AND errorcode IS NULL
)
SELECT a.account AS resource, a.account AS account, 'global' AS region,
       CASE WHEN c.eventid IS NULL THEN 'skip'
            WHEN c.eventname = 'UpdateAccountPasswordPolicy' AND coalesce(c.length, 6) >= 14 THEN 'ok'
            ELSE 'alarm' END AS status,
       CASE WHEN c.eventid IS NULL THEN 'the password policy did not change in the period and AWS Config does not record it'
            WHEN c.eventname = 'DeleteAccountPasswordPolicy' THEN 'the password policy was deleted at ' || c.eventtime
            ELSE 'the password policy set at ' || c.eventtime || ' requires ' || CAST(coalesce(c.length, 6) AS VARCHAR) || ' characters' END AS reason,
       CASE WHEN c.eventid IS NOT NULL AND NOT (c.eventname = 'UpdateAccountPasswordPolicy' AND coalesce(c.length, 6) >= 14) THEN c.eventid END AS cause_event_id,
       c.length AS minimum_length
FROM accounts a LEFT JOIN changes c ON c.account = a.account AND c.n = 1
