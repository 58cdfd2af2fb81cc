/* +++
id = "3.5"
title = "Ensure CloudTrail logs are encrypted at rest using KMS CMKs"
severity = "medium"
tags = { cis_v3 = "3.5", level = "2", type = "automated" }
+++ */
WITH trails AS (
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
)
SELECT arn AS resource, account, region,
       CASE WHEN kms_key IS NOT NULL THEN 'ok' ELSE 'alarm' END AS status,
       name || CASE WHEN kms_key IS NOT NULL THEN ' encrypts its logs with a KMS key' ELSE ' does not encrypt its logs with a KMS key' END AS reason
FROM status
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::CloudTrail::Trail is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::CloudTrail::Trail')
