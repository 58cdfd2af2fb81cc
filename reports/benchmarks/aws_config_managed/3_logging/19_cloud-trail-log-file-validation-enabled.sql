/* +++
id = "cloud-trail-log-file-validation-enabled"
title = "Trails sign digest files of their logs"
severity = "medium"
tags = { identifier = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED" }
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
       CASE WHEN validation THEN 'ok' ELSE 'alarm' END AS status,
       name || CASE WHEN validation THEN ' signs digest files (log file validation)' ELSE ' does not validate its log files' END AS reason
FROM status
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::CloudTrail::Trail is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::CloudTrail::Trail')
