/* +++
id = "multi-region-cloudtrail-enabled"
title = "A multi-region trail logs the account's API calls"
severity = "critical"
tags = { identifier = "MULTI_REGION_CLOUD_TRAIL_ENABLED" }
+++ */
WITH accounts AS (SELECT DISTINCT awsaccountid AS account FROM report.config_state),
trails AS (
  SELECT s.awsaccountid AS account, s.awsregion AS region, s.arn,
         json_extract_scalar(s.configuration, '$.name') AS name,
         json_extract_scalar(s.configuration, '$.isMultiRegionTrail') = 'true' AS multi_region,
         json_extract_scalar(s.configuration, '$.isOrganizationTrail') = 'true' AS organization,
         json_extract_scalar(s.configuration, '$.logFileValidationEnabled') = 'true' AS validation,
         json_extract_scalar(s.configuration, '$.kmsKeyId') AS kms_key,
         json_extract_scalar(s.configuration, '$.s3BucketName') AS bucket
  FROM report.config_state s WHERE s.resourcetype = 'AWS::CloudTrail::Trail'
),
switches AS (
  SELECT eventid, eventname, eventtime, recipientaccountid AS account,
         json_extract_scalar(requestparameters, '$.name') AS target,
         row_number() OVER (PARTITION BY json_extract_scalar(requestparameters, '$.name')
                            ORDER BY eventtime DESC, eventid DESC) AS n
  FROM report.cloudtrail
  WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('StopLogging', 'StartLogging')
    AND errorcode IS NULL
),
status AS (
  SELECT t.*, w.eventname AS last_switch, w.eventid AS switch_event,
         coalesce(w.eventname, 'StartLogging') = 'StartLogging' AS logging
  FROM trails t LEFT JOIN switches w ON w.n = 1 AND (w.target = t.arn OR w.target = t.name)
),
good AS (
  SELECT * FROM status WHERE multi_region AND logging
),
stopped AS (
  SELECT a.account, s.arn, s.name, s.switch_event,
         row_number() OVER (PARTITION BY a.account ORDER BY s.arn) AS n
  FROM status s JOIN accounts a ON s.account = a.account OR s.organization
  WHERE s.multi_region AND NOT s.logging
),
covered AS (
  SELECT a.account, min(g.name) AS trail
  FROM accounts a LEFT JOIN good g ON g.account = a.account OR g.organization
  GROUP BY a.account
)
SELECT c.account AS resource, c.account, 'global' AS region,
       CASE WHEN c.trail IS NOT NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN c.trail IS NOT NULL THEN 'multi-region trail ' || c.trail || ' is logging'
            WHEN s.name IS NOT NULL THEN 'multi-region trail ' || s.name || ' is not logging'
            ELSE 'no multi-region trail covers the account' END AS reason,
       CASE WHEN c.trail IS NULL THEN s.switch_event END AS cause_event_id,
       CASE WHEN c.trail IS NULL THEN s.arn END AS cause_resource
FROM covered c
LEFT JOIN stopped s ON s.n = 1 AND s.account = c.account
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::CloudTrail::Trail is not recorded by AWS Config in this lake', CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::CloudTrail::Trail')
